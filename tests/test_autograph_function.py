"""@function with AutoGraph (the default, as in TF): Python control flow on tensors becomes graph
control flow. Each function is compiled (native backend by default) and compared with running
its Python eagerly; autograph=False, run_functions_eagerly, nested functions, Keras layers and
to_code are covered too."""
import numpy as np
import pytest

import tracejit as tf
from tracejit.control_flow import COND, WHILE
from conftest import assert_close


def check_against_eager(f, *args):
    """Compiled result == the Python function run eagerly (TF runs it unconverted)."""
    got = f(*args)
    want = f.python_function(*args)
    for a, b in zip(tf.nest.flatten(got), tf.nest.flatten(want)):
        a = np.asarray(a)
        assert_close(a, np.asarray(b, a.dtype) if isinstance(b, (int, float)) else np.asarray(b))
    return got


def node_kinds(f, *args):
    concrete = f.get_concrete_function(*args)
    return {n.prim for n in concrete.graph.nodes}


# ---- for / while / break / continue / return ---------------------------------------------------
@tf.function
def weighted_sum(x, n):
    total = tf.zeros_like(x)
    for i in tf.range(n):
        total += x * tf.cast(i, tf.float32)
    return total


def test_for_over_tf_range_of_a_tensor_bound():
    x = tf.constant([1.0, 2.0])
    for n in (0, 1, 7):
        check_against_eager(weighted_sum, x, tf.constant(n))
    assert weighted_sum.experimental_get_tracing_count() == 1
    assert WHILE in node_kinds(weighted_sum, x, tf.constant(3))


@tf.function
def collatz_steps(n):
    steps = 0
    while n != 1:
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        steps += 1
    return steps


def test_while_on_a_tensor_with_an_if_inside():
    for start in (1, 6, 27):
        assert collatz_steps(tf.constant(start)).numpy() == collatz_steps.python_function(start)
    assert collatz_steps(tf.constant(27)).numpy() == 111 and collatz_steps.experimental_get_tracing_count() == 1


@tf.function
def break_and_continue(x, n):
    total = tf.constant(0.0)
    i = tf.constant(0)
    while i < n:
        i += 1
        if i % 3 == 0:
            continue
        total += tf.reduce_sum(x) * tf.cast(i, tf.float32)
        if total > 50.0:
            break
    return total, i


def test_break_and_continue_in_a_staged_loop():
    x = tf.constant([1.0, 2.0])
    for n in (0, 2, 4, 100):
        check_against_eager(break_and_continue, x, tf.constant(n))
    total, i = break_and_continue(x, tf.constant(100))
    assert (total.numpy(), i.numpy()) == (57.0, 7)


@tf.function
def early_return(x):
    if tf.reduce_sum(x) > 0:
        return x * 2.0
    for _ in tf.range(3):
        x = x - 1.0
    return x


def test_early_return_under_a_tensor_condition():
    check_against_eager(early_return, tf.constant([1.0, 2.0]))
    check_against_eager(early_return, tf.constant([-1.0, -2.0]))


def test_return_inside_a_staged_loop_is_an_error_as_in_tf():
    @tf.function
    def f(n):
        for i in tf.range(n):
            if i > 2:
                return i
        return n
    with pytest.raises(ValueError, match="return statements are not supported within a TensorFlow loop"):
        f(tf.constant(5))


@tf.function
def running_state(xs):
    """Loop-carried values of several kinds: a tensor, a Python number turned tensor, a tuple."""
    best = tf.constant(-1e9)
    count = 0
    pair = (tf.constant(0.0), tf.constant(1.0))
    for x in xs:
        if x > best:
            best = x
        count += 1
        pair = (pair[0] + x, pair[1] * 2.0)
    return best, count, pair


def test_loop_carried_variables_of_several_kinds():
    xs = tf.constant([3.0, -1.0, 7.0, 2.0])
    best, count, pair = check_against_eager(running_state, xs)
    assert (best.numpy(), count.numpy(), pair[0].numpy(), pair[1].numpy()) == (7.0, 4, 11.0, 16.0)


def test_variable_updates_in_a_converted_loop():
    v = tf.Variable(0.0)

    @tf.function
    def accumulate(xs):
        for x in xs:
            if x > 0:
                v.assign_add(x)
        return v.read_value()
    assert accumulate(tf.constant([1.0, -2.0, 3.0])).numpy() == 4.0 and v.numpy() == 4.0
    assert accumulate(tf.constant([10.0])).numpy() == 14.0


def test_gradient_through_a_converted_loop_matches_eager():
    w = tf.Variable(np.array([0.5, -0.3]))

    @tf.function
    def loss_and_grads(x, n):
        with tf.GradientTape() as tape:
            h = x
            for _ in tf.range(n):
                h = tf.tanh(h * w + 0.1)
            loss = tf.reduce_sum(h * h)
        return loss, tape.gradient(loss, w)
    x = tf.constant(np.array([1.0, 2.0]))
    for n in (1, 3):
        check_against_eager(loss_and_grads, x, tf.constant(n))


def test_the_compiled_body_runs_natively():
    if tf.config.backend() != "native":
        pytest.skip("native backend only")
    x = tf.constant(np.linspace(0, 1, 100, dtype=np.float32))
    weighted_sum(x, tf.constant(4))
    (node,) = [n for n in weighted_sum.get_concrete_function(x, tf.constant(4)).optimized_graph.nodes
               if n.prim is WHILE]
    assert node.params["body"].executable().tier == "native"


# ---- switches --------------------------------------------------------------------------------
def test_autograph_false_keeps_the_tracing_error_with_file_and_line():
    def f(x):
        if x > 0:
            return x
        return -x
    assert tf.function(f)(tf.constant(-2.0)).numpy() == 2.0
    with pytest.raises(tf.errors.TracingError, match=r"bool\(\) of a symbolic tensor .* at test_autograph_function.py:"
                                                     r"\d+.*tracejit.cond"):
        tf.function(f, autograph=False)(tf.constant(-2.0))


def test_run_functions_eagerly_runs_the_original_function(monkeypatch):
    from tracejit import control_flow
    converted_ifs = []
    real_cond = control_flow.cond
    monkeypatch.setattr(control_flow, "cond", lambda *a: converted_ifs.append(1) or real_cond(*a))

    @tf.function
    def f(x):
        return x + 1.0 if x > 0 else x
    assert f(tf.constant(1.0)).numpy() == 2.0 and converted_ifs == [1]       # traced converted
    tf.config.run_functions_eagerly(True)
    try:
        assert f(tf.constant(-1.0)).numpy() == -1.0
    finally:
        tf.config.run_functions_eagerly(False)
    assert converted_ifs == [1]


def test_nested_functions_inline_their_converted_code():
    @tf.function
    def inner(x):
        if x > 0:
            return x * 10.0
        return x

    @tf.function(autograph=False)
    def plain_inner(x):
        return tf.cond(x > 0, lambda: x * 10.0, lambda: x)

    @tf.function
    def outer(x):
        return inner(x) + plain_inner(x)
    assert outer(tf.constant(2.0)).numpy() == 40.0 and outer(tf.constant(-1.0)).numpy() == -2.0
    assert inner.experimental_get_tracing_count() == 0         # inlined, never traced on its own

    @tf.function(autograph=False)
    def unconverted_inner(x):
        return x if x > 0 else -x

    @tf.function
    def outer_of_unconverted(x):
        return unconverted_inner(x)
    with pytest.raises(tf.errors.TracingError, match="bool"):
        outer_of_unconverted(tf.constant(1.0))


def test_keras_layer_call_is_converted_while_tracing():
    class Clip(tf.keras.layers.Layer):
        def call(self, x):
            if tf.reduce_max(x) > 1.0:
                x = x / tf.reduce_max(x)
            return x
    layer = Clip()

    @tf.function
    def f(x):
        return layer(x)
    assert f(tf.constant([4.0, 2.0])).numpy().tolist() == [1.0, 0.5]
    assert f(tf.constant([0.5, 0.25])).numpy().tolist() == [0.5, 0.25]
    assert layer(tf.constant([4.0, 2.0])).numpy().tolist() == [1.0, 0.5]      # eagerly: plain Python
    with pytest.raises(tf.errors.TracingError):
        tf.function(lambda x: layer(x), autograph=False)(tf.constant([4.0, 2.0]))


def test_to_code_of_decorated_functions_and_methods():
    assert "def tf__weighted_sum(x, n):" in tf.autograph.to_code(weighted_sum)
    assert "ag__.for_stmt" in tf.autograph.to_code(weighted_sum)

    class Model:
        @tf.function
        def step(self, x):
            while x < 10.0:
                x = x * 2.0
            return x
    model = Model()
    assert "def tf__step(self, x):" in tf.autograph.to_code(model.step)
    assert model.step(tf.constant(3.0)).numpy() == 12.0
    assert tf.autograph.to_graph(model.step)(tf.constant(3.0)).numpy() == 12.0


def test_converted_control_flow_reports_no_python_side_effects():
    @tf.function
    def f(x, n):
        steps = 0
        while x < n:
            x = x * 2.0
            steps += 1
        return x, steps
    f(tf.constant(1.0), tf.constant(10.0))
    assert list(f.trace_report()) == []


def test_cond_node_runs_only_the_taken_branch_when_it_has_a_loop():
    @tf.function
    def f(x, n):
        if x > 0:
            i = tf.constant(0)
            while i < n:          # never ends for the untaken branch's n
                i += 1
            x = x + tf.cast(i, tf.float32)
        return x
    assert f(tf.constant(1.0), tf.constant(3)).numpy() == 4.0
    assert f(tf.constant(-1.0), tf.constant(2 ** 31 - 1)).numpy() == -1.0
    assert COND in node_kinds(f, tf.constant(1.0), tf.constant(3))
