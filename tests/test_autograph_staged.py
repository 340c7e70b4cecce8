"""AutoGraph with symbolic tensors: inside a trace, conditions on tensors become cond and loops
become while_loop. cond works in traces (both branches traced, merged with select), so `if`
results are checked by running the compiled function for both branch values. Loops are checked
against a stand-in that traces cond and body once each, as the graph while_loop does, and records
what they saw; end-to-end loops run the real one (here and in tests/test_autograph_function.py)."""
import os

import numpy as np
import pytest

import tracejit as tf
from tracejit import control_flow

HERE = os.path.basename(__file__)


def traced(f, **options):
    """@function over the converted function (what @function does once it calls convert)."""
    return tf.function(tf.autograph.to_graph(f), **options)


def scalar(x, dtype=np.float32):
    return tf.constant(np.asarray(x, dtype))


class TracingWhileLoop:
    """Stands in for the graph while_loop: traces cond and body once each, records what they
    saw, and returns the body's outputs (the state after one iteration)."""

    def __init__(self):
        self.calls = []

    def __call__(self, cond, body, loop_vars, **options):
        test = cond(*loop_vars)
        result = body(*loop_vars)
        self.calls.append(dict(loop_vars=loop_vars, test=test, result=result, options=options))
        return result


@pytest.fixture
def while_loop(monkeypatch):
    fake = TracingWhileLoop()
    monkeypatch.setattr(control_flow, "while_loop", fake)
    return fake


@pytest.fixture
def cond_calls(monkeypatch):
    calls = []
    real = control_flow.cond

    def recording(pred, true_fn, false_fn, name=None):
        calls.append(pred)
        return real(pred, true_fn, false_fn)
    monkeypatch.setattr(control_flow, "cond", recording)
    return calls


# ---- if -------------------------------------------------------------------------------------
def relu_plus(x):
    if tf.reduce_sum(x) > 0:
        y = x * 2.0
        label = 1
    else:
        y = -x
        label = -1
    return y, label


def test_tensor_if_is_one_trace_that_takes_either_branch(cond_calls):
    f = traced(relu_plus)
    y, label = f(tf.constant([1.0, 2.0]))
    assert y.numpy().tolist() == [2.0, 4.0] and label.numpy() == 1
    y, label = f(tf.constant([-1.0, -2.0]))
    assert y.numpy().tolist() == [1.0, 2.0] and label.numpy() == -1
    assert f.experimental_get_tracing_count() == 1
    assert len(cond_calls) == 1 and cond_calls[0].is_symbolic


def test_python_condition_inside_trace_stays_python(cond_calls):
    def f(x, training):
        if training:
            x = x * 0.5
        return x
    g = traced(f)
    assert g(scalar(4.0), True).numpy() == 2.0 and g(scalar(4.0), False).numpy() == 4.0
    assert g.experimental_get_tracing_count() == 2 and cond_calls == []


def test_constant_condition_inside_trace_is_decided_while_tracing(cond_calls):
    def f(x):
        flag = tf.constant(True)
        if flag:
            x = x + 1.0
        return x
    assert traced(f)(scalar(1.0)).numpy() == 2.0 and cond_calls == []


def test_elif_chain_and_returns_under_tensor_conditions():
    def sign(x):
        if x > 0:
            return 1.0
        elif x < 0:
            return -1.0
        return 0.0
    f = traced(sign)
    assert [f(scalar(v)).numpy() for v in (3.0, -2.0, 0.0)] == [1.0, -1.0, 0.0]
    assert f.experimental_get_tracing_count() == 1


def test_variable_defined_in_one_branch_is_an_error_naming_it_and_its_line():
    def f(x):
        if x > 0:
            z = x
        return z
    line = f.__code__.co_firstlineno + 1
    with pytest.raises(ValueError, match=rf"'z' must also be initialized in the else branch \(if statement at "
                                         rf"{HERE}:{line}\)"):
        traced(f)(scalar(1.0))


def test_return_in_only_one_branch_is_an_error():
    def f(x):
        if x > 0:
            return x
    with pytest.raises(ValueError, match="the else branch must also have a return statement"):
        traced(f)(scalar(1.0))


def test_branches_must_agree_on_dtype_and_shape():
    def dtypes(x):
        if x > 0:
            y = 1
        else:
            y = x
        return y

    def shapes(x):
        if tf.reduce_sum(x) > 0:
            y = x
        else:
            y = tf.stack([x, x])
        return y
    with pytest.raises(TypeError, match="'y' has dtype int32 in the main branch, but dtype float32 in the else"):
        traced(dtypes)(scalar(1.0))
    with pytest.raises(ValueError, match=r"'y' has shape \(2,\) in the main branch, but shape \(2, 2\)"):
        traced(shapes)(tf.constant([1.0, 2.0]))


def test_only_variables_used_after_the_if_are_merged():
    def f(x):
        if x > 0:
            temporary = x * 3.0          # defined in one branch only, but never used afterwards
            y = temporary + 1.0
        else:
            y = x
        return y
    g = traced(f)
    assert g(scalar(1.0)).numpy() == 4.0 and g(scalar(-1.0)).numpy() == -1.0


def test_python_values_modified_in_tensor_branches_become_tensors():
    def f(x):
        count = 0
        if x > 0:
            count += 1
        return count
    g = traced(f)
    assert g(scalar(1.0)).numpy() == 1 and g(scalar(-1.0)).numpy() == 0


def test_attributes_and_variables_assigned_in_tensor_branches_are_merged():
    class Model:
        def __init__(self):
            self.v = tf.Variable(0.0)
            self.last = tf.constant(0.0)

        def step(self, x):
            if x > 0:
                self.v.assign_add(x)
                self.last = x
            else:
                self.last = -x
            return self.last

    model = Model()
    f = tf.function(tf.autograph.to_graph(model.step))
    assert f(scalar(2.0)).numpy() == 2.0 and model.v.numpy() == 2.0
    assert f(scalar(-5.0)).numpy() == 5.0 and model.v.numpy() == 2.0


def test_boolean_operators_and_ternary_on_tensors(cond_calls):
    def f(x, y):
        both = x > 0 and y > 0
        either = x > 0 or y > 0
        neither = not either
        bigger = x if x > y else y
        return both, either, neither, bigger
    g = traced(f)
    for a, b in [(1.0, 2.0), (1.0, -2.0), (-1.0, -2.0)]:
        both, either, neither, bigger = g(scalar(a), scalar(b))
        assert (bool(both.numpy()), bool(either.numpy()), bool(neither.numpy()), float(bigger.numpy())) == \
            (a > 0 and b > 0, a > 0 or b > 0, not (a > 0 or b > 0), max(a, b))
    assert len(cond_calls) == 3          # and, or, ternary are lazy: each a cond; `not` is logical_not


def helper_abs(x):
    if x < 0:
        x = -x
    return x


def test_called_user_functions_are_converted_recursively():
    def f(x):
        return helper_abs(x) + 1.0
    g = traced(f)
    assert g(scalar(-3.0)).numpy() == 4.0 and g(scalar(3.0)).numpy() == 4.0


def test_do_not_convert_inside_a_trace_stays_python():
    @tf.autograph.experimental.do_not_convert
    def plain(x):
        if x < 0:
            return -x
        return x

    def f(x):
        return plain(x)
    with pytest.raises(tf.errors.TracingError, match="bool"):
        traced(f)(scalar(1.0))


def test_lambda_and_nested_function_in_a_trace():
    clip = lambda x: x if x < 10.0 else tf.constant(10.0)  # noqa: E731

    def f(x):
        def double_if_small(y):
            if y < 5.0:
                y = y * 2.0
            return y
        return clip(double_if_small(x))
    g = traced(f)
    assert [g(scalar(v)).numpy() for v in (1.0, 6.0, 20.0)] == [2.0, 6.0, 10.0]


def test_break_under_tensor_condition_in_a_python_loop_unrolls_with_guards():
    def first_above(values, threshold):
        found = tf.constant(-1)
        for i in range(4):
            if values[i] > threshold:
                found = tf.constant(i)
                break
        return found
    g = traced(first_above)
    values = tf.constant([1.0, 5.0, 2.0, 7.0])
    assert [g(values, scalar(t)).numpy() for t in (0.0, 3.0, 6.0, 9.0)] == [0, 1, 3, -1]
    assert g.experimental_get_tracing_count() == 1


def test_return_under_tensor_condition_in_a_python_loop():
    def first_signed(values, threshold):
        for i in range(3):
            if values[i] > threshold:
                return values[i]
            else:
                return -values[i]
    g = traced(first_signed)
    values = tf.constant([1.0, 2.0, 3.0])
    assert [g(values, scalar(t)).numpy() for t in (0.5, 2.5)] == [1.0, -1.0]


def test_return_on_only_some_paths_of_an_unrolled_loop_is_an_error_as_in_tf():
    def first_above(values, threshold):
        for i in range(3):
            if values[i] > threshold:
                return values[i]
        return -1.0
    with pytest.raises(ValueError, match="the else branch must also have a return statement"):
        traced(first_above)(tf.constant([1.0, 2.0, 3.0]), scalar(0.5))


def test_loop_local_variable_set_in_a_tensor_if_of_an_unrolled_loop():
    def f(x):
        total = tf.constant(0.0)
        scratch = tf.constant(0.0)     # reassigned before each use: local to the loop body
        for i in range(2):
            if x > i:
                scratch = x
            else:
                scratch = -x
            total = total + scratch
            scratch = tf.constant(5.0)
        return total
    g = traced(f)
    assert [g(scalar(v)).numpy() for v in (3.0, 0.5, -1.0)] == [6.0, 0.0, 2.0]


def test_python_while_with_tensor_body_unrolls():
    def f(x):
        i = 0
        while i < 3:
            x = x * 2.0
            i += 1
        return x
    assert traced(f)(scalar(1.0)).numpy() == 8.0


# ---- loops: staged as while_loop ------------------------------------------------------------
def count_down(x):
    steps = 0
    while x > 0:
        x = x - 1.0
        steps += 1
    return x, steps


def test_while_on_a_symbolic_condition_runs_as_a_graph_while_loop():
    f = traced(count_down)
    for start in (3.0, 0.5, -1.0):
        x, steps = f(scalar(start))
        assert (x.numpy(), steps.numpy()) == count_down(start)
    assert f.experimental_get_tracing_count() == 1


def test_while_on_a_symbolic_condition_becomes_while_loop(while_loop):
    x, steps = traced(count_down)(scalar(3.0))
    (call,) = while_loop.calls
    state = call["loop_vars"]
    assert [t.dtype for t in state] == [tf.int32, tf.float32]          # (steps, x): sorted names
    assert all(isinstance(t, tf.Tensor) for t in state) and state[1].is_symbolic
    assert call["test"].is_symbolic and call["test"].dtype == tf.bool
    assert (x.numpy(), steps.numpy()) == (2.0, 1)                        # one traced iteration


def test_while_whose_condition_turns_symbolic_stages_the_rest(while_loop):
    def f(x):
        i = 0
        while i < 1 or x > 0:
            i += 1
            x = x - 1.0
        return i
    assert traced(f)(scalar(5.0)).numpy() == 2        # one Python iteration, then one traced
    (call,) = while_loop.calls
    assert [t.dtype for t in call["loop_vars"]] == [tf.int32, tf.float32]


def test_loop_variables_must_be_defined_before_a_staged_loop(while_loop):
    def f(x):
        while x > 0:
            last = x
            x = x - 1.0
        return last
    line = f.__code__.co_firstlineno + 1
    with pytest.raises(ValueError, match=rf"'last' must be defined before the loop \(loop at {HERE}:{line}\)"):
        traced(f)(scalar(3.0))


def test_loop_variables_must_keep_their_dtype_and_shape(while_loop):
    def dtype_change(x):
        n = 0
        while x > 0:
            x = x - 1.0
            n = tf.cast(n, tf.float32) + 0.5
        return n

    def shape_change(x):
        while tf.reduce_sum(x) > 0:
            x = tf.concat([x, x], axis=0)
        return x
    with pytest.raises(TypeError, match="'n' has dtype int32 before the loop, but dtype float32 after one"):
        traced(dtype_change)(scalar(3.0))
    with pytest.raises(ValueError, match=r"'x' has shape \(2,\) before the loop, but shape \(4,\) after one "
                                         "iteration.*set_loop_options"):
        traced(shape_change)(tf.constant([1.0, 2.0]))


def test_set_loop_options_reaches_the_while_loop(while_loop):
    def f(x):
        while tf.reduce_sum(x) > 0:
            tf.autograph.experimental.set_loop_options(maximum_iterations=7,
                                                       shape_invariants=[(x, tf.TensorShape([None]))])
            x = tf.concat([x, x], axis=0)
        return x
    assert "set_loop_options" not in tf.autograph.to_code(f)
    traced(f)(tf.constant([1.0, 2.0]))
    options = while_loop.calls[0]["options"]
    assert options["maximum_iterations"] == 7 and options["shape_invariants"] == [tf.TensorShape([None])]


def test_break_and_return_in_a_staged_loop_are_loop_variables(while_loop):
    def f(x):
        total = tf.constant(0.0)
        while x > 0:
            x = x - 1.0
            if total > 10.0:
                break
            total = total + x
        return total
    code = tf.autograph.to_code(f)
    assert "ag__.and_(lambda: ag__.not_(break_), lambda: x > 0)" in code
    traced(f)(scalar(4.0))
    state = while_loop.calls[0]["loop_vars"]
    assert [t.dtype for t in state] == [tf.bool, tf.float32, tf.float32]   # (break_, total, x)


def test_for_over_a_symbolic_tensor_iterates_its_rows(while_loop):
    def f(matrix):
        total = tf.zeros([3])
        for row in matrix:
            total = total + row
        return total
    traced(f)(tf.ones([4, 3]))
    (call,) = while_loop.calls
    index, total = call["loop_vars"]
    assert index.dtype == tf.int32 and total.shape == (3,)
    assert call["options"]["maximum_iterations"].numpy() == 4
    assert call["result"][1].shape == (3,) and call["result"][1].is_symbolic


def test_for_over_tf_range_of_a_symbolic_bound(while_loop):
    def f(n):
        total = 0
        for i in tf.range(n):
            total += i
        return total
    assert "ag__.converted_call(tf.range, (n,), None)" in tf.autograph.to_code(f)
    traced(f)(tf.constant(5))
    (call,) = while_loop.calls
    iterate, total = call["loop_vars"]
    assert iterate.dtype == tf.int32 and total.dtype == tf.int32
    assert call["options"]["maximum_iterations"].is_symbolic


def test_a_symbolic_range_used_as_a_tensor_says_only_a_for_loop_can_use_it():
    def f(n):
        return tf.range(n) * 2
    with pytest.raises(tf.errors.TracingError, match="can only be iterated by a `for` loop"):
        traced(f)(tf.constant(3))
    with pytest.raises(tf.errors.TracingError, match="can only be iterated by a `for` loop"):
        traced(lambda n: tf.reduce_sum(tf.range(n)))(tf.constant(3))


def test_for_over_python_range_of_a_symbolic_bound_and_enumerate(while_loop):
    def f(n, values):
        total = 0.0
        for i in range(n):
            total += 1.0
        for j, v in enumerate(values):
            total += v
        return total
    traced(f)(tf.constant(3), tf.constant([1.0, 2.0]))
    assert len(while_loop.calls) == 2
    assert while_loop.calls[1]["options"]["maximum_iterations"].numpy() == 2


def test_len_of_a_symbolic_tensor_is_its_static_length():
    def f(x):
        return x * len(x)
    assert traced(f)(tf.constant([1, 2, 3])).numpy().tolist() == [3, 6, 9]


# ---- the staged iteration protocol, driven eagerly ------------------------------------------
def run_staged(iterable):
    """What the staged for loop computes, run step by step on concrete tensors."""
    from tracejit.autograph.py_builtins import SymbolicEnumerate
    index, elements = iterable.initial_index(), []
    while bool(iterable.has_next(index)):
        element = iterable.element(index)
        elements.append(tuple(values_of(e) for e in element) if isinstance(iterable, SymbolicEnumerate)
                        else values_of(element))
        index = iterable.advance(index)
    return elements, int(iterable.maximum_iterations().numpy())


def values_of(value):
    return value.numpy().tolist() if isinstance(value, tf.Tensor) else value


@pytest.mark.parametrize("bounds", [(0, 5, 1), (5, 0, -2), (0, 5, 2), (3, 3, 1), (2, -1, 1), (-4, 4, 3)])
def test_symbolic_range_steps_like_python_range(bounds):
    from tracejit.autograph.py_builtins import SymbolicRange
    elements, bound = run_staged(SymbolicRange.from_arguments(*[tf.constant(b) for b in bounds]))
    assert elements == list(range(*bounds)) and bound == len(range(*bounds))


def test_symbolic_float_range_and_enumerate_positions():
    from tracejit.autograph.py_builtins import SymbolicEnumerate, SymbolicRange, TensorRows
    floats = SymbolicRange.from_arguments(tf.constant(0.0), 1.0, 0.25)
    elements, bound = run_staged(floats)
    assert elements == [0.0, 0.25, 0.5, 0.75] and bound == 4
    elements, _ = run_staged(SymbolicEnumerate(SymbolicRange.from_arguments(10, tf.constant(0), -3), 1))
    assert elements == [(1, 10), (2, 7), (3, 4), (4, 1)]
    elements, bound = run_staged(SymbolicEnumerate(TensorRows(tf.constant([[1, 2], [3, 4]])), 0))
    assert elements == [(0, [1, 2]), (1, [3, 4])] and bound == 2
