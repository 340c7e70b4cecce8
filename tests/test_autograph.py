"""AutoGraph conversion: converted functions run eagerly must behave exactly like the Python
functions they come from (Python values and concrete tensors take the Python path), and
to_code shows the operator form. Staged (symbolic) behaviour is in test_autograph_staged.py."""
import functools
import os
import traceback
import warnings

import numpy as np
import pytest

import tracejit as tf
from tracejit import autograph

HERE = os.path.basename(__file__)


def converted(f):
    result = tf.autograph.to_graph(f)
    assert result is not f, "the function was not converted"
    return result


def values_of(result):
    """Python scalars from (nested) results, so tensor and Python results compare."""
    if isinstance(result, (list, tuple)):
        return type(result)(values_of(r) for r in result)
    if isinstance(result, tf.Tensor):
        return result.numpy().tolist()
    return result


def same_as_python(f, *argument_lists):
    g = converted(f)
    for arguments in argument_lists:
        assert values_of(g(*arguments)) == values_of(f(*arguments)), arguments


# ---- if -------------------------------------------------------------------------------------
def branchy(x):
    if x > 10:
        y = x * 2
    elif x > 0:
        y = x + 1
    else:
        y = -x
    if x == 3:
        y += 100
    return y


@pytest.mark.parametrize("x", [20, 3, 5, -4])
def test_if_elif_else_python_values(x):
    assert converted(branchy)(x) == branchy(x)


@pytest.mark.parametrize("x", [20.0, 3.0, -4.0])
def test_if_on_concrete_tensor_takes_the_python_path(x):
    result = converted(branchy)(tf.constant(x))
    assert isinstance(result, tf.Tensor) and result.numpy() == branchy(x)


def test_variable_defined_in_one_branch_is_unbound_like_python():
    def f(flag):
        if flag:
            y = 1
        return y
    g = converted(f)
    assert g(True) == 1
    with pytest.raises(UnboundLocalError, match="'y'"):
        g(False)


def test_if_with_side_effects_only():
    log = []

    def f(x):
        if x:
            log.append("yes")
        else:
            log.append("no")
    converted(f)(True)
    converted(f)(False)
    assert log == ["yes", "no"]


# ---- while ----------------------------------------------------------------------------------
def summation(n):
    i, total = 0, 0
    while i < n:
        total += i * i
        i += 1
    return total


def test_while_python_and_concrete_tensor():
    g = converted(summation)
    assert g(10) == 285
    assert g(tf.constant(10)) == 285             # the loop variables stay Python ints, as in Python


def test_while_with_else_and_break():
    def f(n, stop):
        i = 0
        while i < n:
            if i == stop:
                break
            i += 1
        else:
            i = -1
        return i
    same_as_python(f, (5, 2), (5, 9), (0, 0))


def test_while_loop_local_variable_is_not_carried():
    def f(n):
        i, out = 0, []
        while i < n:
            doubled = i * 2         # assigned before use in every iteration: local to the body
            out.append(doubled)
            i += 1
        return out
    same_as_python(f, (4,))


# ---- for ------------------------------------------------------------------------------------
def test_for_over_list_range_dict_and_generator():
    def f(items):
        total = 0
        for x in items:
            total += x
        return total
    g = converted(f)
    assert g([1, 2, 3]) == 6 and g(range(5)) == 10 and g({1: "a", 2: "b"}) == 3 and g(i for i in (4, 5)) == 9


def test_for_over_concrete_tensor_iterates_first_dimension():
    def f(t):
        rows = []
        for row in t:
            rows.append(tf.reduce_sum(row))
        return rows
    result = converted(f)(tf.constant([[1, 2], [3, 4], [5, 6]]))
    assert [r.numpy() for r in result] == [3, 7, 11]


def test_for_enumerate_and_tf_range_on_concrete_tensors():
    def f(t):
        total = 0
        for i, x in enumerate(t):
            total += i * x
        for j in tf.range(3):
            total += j
        return total
    assert converted(f)(tf.constant([5, 6, 7])).numpy() == 0 * 5 + 1 * 6 + 2 * 7 + 3


def test_for_target_used_after_loop_and_tuple_targets():
    def f(pairs):
        last = None
        for a, (b, c) in pairs:
            last = a + b + c
        return last, a
    same_as_python(f, ([(1, (2, 3)), (4, (5, 6))],))


def test_for_else():
    def f(items, wanted):
        for x in items:
            if x == wanted:
                found = x
                break
        else:
            found = None
        return found
    same_as_python(f, ([1, 2, 3], 2), ([1, 2, 3], 7), ([], 1))


# ---- break / continue / return --------------------------------------------------------------
def jumps(items):
    total = 0
    for x in items:
        if x < 0:
            continue
        if x > 100:
            break
        total += x
        if total > 50:
            return -total
    return total


@pytest.mark.parametrize("items", [[1, -2, 3], [1, 200, 3], [30, 30, 30], []])
def test_break_continue_return_in_for(items):
    assert converted(jumps)(items) == jumps(items)


def test_nested_loops_break_only_the_inner_one():
    def f(n):
        pairs = []
        for i in range(n):
            j = 0
            while True:
                if j > i:
                    break
                if (i + j) % 2:
                    j += 1
                    continue
                pairs.append((i, j))
                j += 1
        return pairs
    same_as_python(f, (4,))


def test_return_from_nested_ifs_and_loops():
    def f(x):
        if x > 0:
            for i in range(10):
                if i * x > 12:
                    return i
            return None
        elif x == 0:
            return "zero"
        return "negative"
    same_as_python(f, (3,), (1,), (0,), (-1,))


def test_bare_return_and_no_return():
    def f(x):
        if x:
            return
        x = 1

    def g(x):
        pass
    same_as_python(f, (True,), (False,))
    assert tf.autograph.to_graph(g)(1) is None


def test_return_inside_with_and_try():
    class Manager:
        def __init__(self):
            self.exits = 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.exits += 1

    manager = Manager()

    def f(items):
        for x in items:
            with manager:
                if x == 2:
                    return x
            try:
                if x == 5:
                    return "five"
            finally:
                manager.exits += 10
        return None
    g = converted(f)
    assert g([1, 2, 3]) == 2 and manager.exits == 12
    assert g([5]) == "five" and manager.exits == 23


def test_loop_inside_if_and_if_inside_loop():
    def f(flag, n):
        acc = []
        if flag:
            for i in range(n):
                if i % 2:
                    acc.append(i)
                else:
                    acc.append(-i)
        else:
            while n:
                n -= 1
                acc.append(n)
        return acc
    same_as_python(f, (True, 5), (False, 3))


# ---- and / or / not / ternary ---------------------------------------------------------------
def test_boolean_operators_are_lazy_and_return_operands():
    calls = []

    def noted(value):
        calls.append(value)
        return value

    def f(a, b):
        return (noted(a) and noted(b)), (noted(a) or noted(b)), (not a), (a if b else "no")
    g = converted(f)
    for a, b in [(0, 5), (3, 0), (3, 5), ("", [])]:
        calls.clear()
        result = g(a, b)
        converted_calls = list(calls)
        calls.clear()
        assert result == f(a, b) and converted_calls == calls


def test_not_of_a_concrete_tensor_is_a_tensor_and_and_or_pick_operands():
    def f(x, y):
        return not x, x and y, x or y
    n, a, o = converted(f)(tf.constant(True), tf.constant(False))
    assert isinstance(n, tf.Tensor) and n.dtype == tf.bool and not n.numpy()
    assert not a.numpy() and o.numpy()


# ---- calls ----------------------------------------------------------------------------------
def helper_with_branch(x):
    if x > 0:
        return x
    return -x


def test_called_functions_are_converted_at_call_time():
    def f(x):
        return helper_with_branch(x) + 1
    assert "ag__.converted_call(helper_with_branch, (x,), None)" in tf.autograph.to_code(f)
    assert converted(f)(-3) == 4


def test_frame_dependent_builtins_are_not_converted_and_print_stays_python_print(capsys):
    def f(x):
        print("x is", x)
        return locals()["x"]
    code = tf.autograph.to_code(f)
    assert "ag__.converted_call(print, ('x is', x), None)" in code and "locals()" in code
    assert "converted_call(locals" not in code
    assert converted(f)(1) == 1
    assert capsys.readouterr().out == "x is 1\n"


def test_keyword_and_star_arguments_pass_through():
    def callee(a, *rest, scale=1, **extra):
        return (a + sum(rest)) * scale, sorted(extra)

    def f(args, kwargs):
        return callee(*args, scale=2, **kwargs)
    assert converted(f)((1, 2, 3), {"z": 0}) == (12, ["z"])


def test_defaults_keyword_only_and_varargs_signature_preserved():
    def f(a, b=2, *args, c, d=4, **kwargs):
        if a > b:
            return a + b + c + d + len(args) + len(kwargs)
        return 0
    g = converted(f)
    assert g(5, c=1) == 12 and g(5, 1, 9, 9, c=0, d=0, e=1) == 9
    assert g.__name__ == "f" and g.__defaults__ == (2,) and g.__kwdefaults__ == {"d": 4}


# ---- closures, globals, methods -------------------------------------------------------------
def test_closure_variables_read_and_written_through_nonlocal():
    def make():
        count = 0
        scale = 3

        def step(x):
            nonlocal count
            if x > 0:
                count += x * scale
            return count
        return step
    step = make()
    g = converted(step)
    assert g(2) == 6 and g(1) == 9 and step(1) == 12     # the same cell: original sees the updates
    assert g.__closure__[0] is not None


COUNTER = 0


def bump_global(x):
    global COUNTER
    for _ in range(x):
        COUNTER += 1
    if x > 1:
        COUNTER *= 10


def test_global_variables_are_updated():
    global COUNTER
    COUNTER = 0
    converted(bump_global)(2)
    assert COUNTER == 20


class Accumulator:
    def __init__(self):
        self.total = 0
        self.__secret = 7

    def add_positive(self, values):
        for v in values:
            if v > 0:
                self.total += v
        return self.total + self.__secret


class Child(Accumulator):
    def add_positive(self, values):
        if values:
            return super().add_positive(values) * 10
        return -1


def test_methods_attributes_private_names_and_super():
    a = Accumulator()
    assert converted(a.add_positive)([1, -2, 3]) == 11 and a.total == 4
    c = Child()
    assert converted(c.add_positive)([5]) == 120 and converted(c.add_positive)([]) == -1


def test_callable_object_and_partial():
    class Scaler:
        def __call__(self, x, k):
            if x > 0:
                return x * k
            return 0

    assert converted(Scaler())(3, 2) == 6
    assert converted(functools.partial(Scaler().__call__, k=5))(2) == 10


def test_recursion_through_converted_call():
    def factorial(n):
        if n <= 1:
            return 1
        return n * factorial(n - 1)
    assert converted(factorial)(5) == 120


def test_nested_function_defined_inside_is_converted_too():
    def f(x):
        def inner(y):
            if y > 0:
                z = y
            else:
                z = 0
            return z
        return inner(x) + inner(-x)
    assert "ag__.if_stmt(y > 0, if_body, else_body" in tf.autograph.to_code(f)
    assert converted(f)(3) == 3


# ---- what is left alone ---------------------------------------------------------------------
def test_do_not_convert_functions_run_as_they_are():
    @tf.autograph.experimental.do_not_convert
    def untouched(x):
        if x > 0:
            return 1
        return 2

    def caller(x):
        return untouched(x)
    assert tf.autograph.convert(untouched) is untouched
    from tracejit.autograph.converter import converted_callable
    assert converted_callable(untouched) is untouched
    assert converted(caller)(1) == 1


def test_library_code_builtins_and_classes_are_not_converted():
    from tracejit.autograph.converter import converted_callable
    for f in (tf.reduce_sum, np.sum, len, print, dict, tf.Variable, functools.reduce, os.path.join):
        assert converted_callable(f) is f


def test_generators_are_left_alone():
    def gen(n):
        for i in range(n):
            if i % 2:
                yield i

    def uses_generator(n):
        def evens(m):
            for i in range(m):
                if i % 2 == 0:
                    yield i
        return list(evens(n)) + list(gen(n))
    assert tf.autograph.to_graph(gen) is gen
    assert converted(uses_generator)(5) == [0, 2, 4, 1, 3]
    assert "yield i" in tf.autograph.to_code(uses_generator)


def test_functions_without_source_run_unconverted():
    namespace = {}
    exec("def made(x):\n    if x:\n        return 1\n    return 2\n", namespace)
    assert tf.autograph.to_graph(namespace["made"]) is namespace["made"]
    with pytest.raises(ValueError, match="source code is not available"):
        tf.autograph.to_code(namespace["made"])


def test_lambdas_are_converted_even_several_on_one_line():
    first, second = (lambda x: 1 if x > 0 else 2), (lambda x, y=5: x or y)
    assert "ag__.if_exp(x > 0" in tf.autograph.to_code(first)
    assert "ag__.or_" in tf.autograph.to_code(second)
    assert converted(first)(3) == 1 and converted(second)(0) == 5
    multi_line = sorted([3, 1, 2], key=lambda v:
                        -v if v else 0)
    assert multi_line == [3, 2, 1]


def test_unsupported_construct_raises_for_to_graph_and_warns_for_convert():
    def walrus_loop(items):
        while (n := len(items)) > 2:
            items = items[1:]
        return n
    with pytest.raises(NotImplementedError, match=rf"AutoGraph cannot convert .*walrus_loop \({HERE}:\d+\): line \d+: "
                                              r"an assignment expression \(:=\) in a while condition"):
        tf.autograph.to_graph(walrus_loop)
    with pytest.warns(autograph.AutoGraphWarning, match="will run it as-is"):
        assert tf.autograph.convert(walrus_loop) is walrus_loop
    assert tf.autograph.convert(walrus_loop)([1, 2, 3, 4]) == 2


def test_to_graph_of_a_class_is_not_supported():
    with pytest.raises(NotImplementedError, match="not classes"):
        tf.autograph.to_graph(Accumulator)


# ---- to_code, caching, line numbers ---------------------------------------------------------
def test_to_code_shows_the_operator_form():
    code = tf.autograph.to_code(jumps)
    assert code.startswith("def tf__jumps(items):")
    for expected in ("ag__.for_stmt(items, extra_test", "ag__.if_stmt(x < 0", "continue_ = True",
                     "break_ = True", "do_return = True", "retval_ = -total", "return ag__.retval(retval_)",
                     "def get_state", "def set_state", "nonlocal", "'iterate_names': 'x'",
                     "ag__.and_(lambda: ag__.not_(do_return), lambda: ag__.not_(break_))"):
        assert expected in code, expected
    while_code = tf.autograph.to_code(summation)
    assert "ag__.while_stmt(loop_test, loop_body, get_state, set_state, ('i', 'total'), {})" in while_code
    compile(code, "<to_code>", "exec")          # the text is valid Python


def test_if_state_is_only_what_is_used_afterwards():
    def f(x):
        if x > 0:
            scratch = x * 2
            y = scratch + 1
        else:
            y = 0
        return y
    code = tf.autograph.to_code(f)
    assert "('y',))" in code and "'scratch'" not in code


def test_conversion_is_cached_per_function_and_code_object():
    assert tf.autograph.to_graph(branchy) is tf.autograph.to_graph(branchy)
    from tracejit.autograph import converter
    assert branchy.__code__ in converter._conversions


def test_errors_point_at_the_original_file_and_line():
    def fails(x):
        if x > 0:
            y = 1
            raise RuntimeError("boom")        # line of interest
        return y
    line = fails.__code__.co_firstlineno + 3
    with pytest.raises(RuntimeError) as info:
        converted(fails)(1)
    frames = traceback.extract_tb(info.value.__traceback__)
    assert (os.path.basename(frames[-1].filename), frames[-1].lineno) == (HERE, line)
    assert frames[-1].line == 'raise RuntimeError("boom")        # line of interest'


def test_conversion_warnings_do_not_repeat():
    def walrus_again(items):
        while (k := len(items)) > 5:
            items = items[1:]
        return k
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tf.autograph.convert(walrus_again)
        tf.autograph.convert(walrus_again)
    assert len([w for w in caught if issubclass(w.category, autograph.AutoGraphWarning)]) == 1
