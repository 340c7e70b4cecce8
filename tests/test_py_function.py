"""tf.py_function / tf.numpy_function: Python calls inside compiled graphs (each run, in program
order), results typed by Tout (structures, TensorSpec shapes), py_function gradients from a tape
recorded when it ran (checked against finite differences in float64), errors as TF raises them."""
import sys

import numpy as np
import pytest

import tracejit as tf
import tracejit.compat.v1 as tf1
from conftest import assert_close, finite_differences


def sin_times(x, k):
    return tf.sinh(x) * k


def test_runs_at_every_call_of_the_compiled_function(backend):
    calls = []

    def record(x):
        calls.append(x.numpy().tolist())
        return x * 2.0

    @tf.function
    def f(x):
        y = tf.py_function(record, [tf.tanh(x)], tf.TensorSpec([2], tf.float32))
        return y + 1.0
    x = np.array([0.5, -1.0], np.float32)
    concrete = f.get_concrete_function(tf.constant(x))
    assert calls == [] and concrete.outputs[0].shape == (2,)
    for _ in range(2):
        assert_close(f(tf.constant(x)).numpy(), np.tanh(x) * 2 + 1)
    assert len(calls) == 2


def test_a_dtype_tout_gives_an_unknown_shape_as_in_tf_and_set_shape_refines_it():
    @tf.function
    def f(x):
        y = tf.py_function(lambda t: t * 3.0, [x], tf.float32)
        assert y.shape.rank is None
        z = tf.ensure_shape(y, [None])
        y.set_shape([3])
        assert y.shape == (3,) and z.shape.as_list() == [None]
        return y + z
    assert f(tf.constant([1.0, 2.0, 3.0])).numpy().tolist() == [6.0, 12.0, 18.0]
    with pytest.raises(tf.errors.InvalidArgumentError, match="not compatible"):
        tf.function(lambda x: tf.ensure_shape(tf.py_function(lambda t: t, [x], tf.float32), [2]))(tf.ones([3]))
    with pytest.raises(ValueError, match="not compatible with supplied shape"):
        tf.ones([3]).set_shape([2])


def test_tout_structures():
    def many(x):
        return x + 1, x * 2.0, tf.cast(x, tf.int32)

    @tf.function
    def f(x):
        as_list = tf.py_function(many, [x], [tf.float32, tf.float32, tf.int32])
        as_dict = tf.py_function(lambda t: {"a": t, "b": [t, t]}, [x], {"a": tf.float32, "b": [tf.float32, tf.float32]})
        nothing = tf.py_function(lambda t: None, [x], None)
        return as_list, as_dict, nothing
    (a, b, c), d, nothing = f(tf.constant(2.0))
    assert (a.numpy(), b.numpy(), c.numpy()) == (3.0, 4.0, 2) and c.dtype == tf.int32
    assert d["a"].numpy() == 2.0 and len(d["b"]) == 2 and nothing is None
    eager = tf.py_function(many, [tf.constant(2.0)], [tf.float32, tf.float32, tf.int32])
    assert isinstance(eager, list) and eager[2].numpy() == 2


def test_numpy_function_gets_arrays_and_is_not_differentiable(backend):
    seen = []

    def np_sum(a, b):
        seen.append((type(a), type(b)))
        return (a + b).astype(np.float64)

    @tf.function
    def f(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.numpy_function(np_sum, [x, x], tf.TensorSpec([2], tf.float64))
        return y, tape.gradient(y, x)
    y, grad = f(tf.constant([1.0, 2.0], tf.float64))
    assert y.numpy().tolist() == [2.0, 4.0] and grad is None
    assert seen == [(np.ndarray, np.ndarray)]
    assert tf.numpy_function(np_sum, [np.float64(1.0), np.float64(2.0)], tf.float64).numpy() == 3.0


def test_stateless_numpy_function_is_dropped_when_unused_stateful_is_not():
    calls = []
    record = lambda x: calls.append(1) or x        # noqa: E731

    @tf.function
    def f(x):
        tf.numpy_function(record, [x], tf.float32, stateful=False)
        tf.numpy_function(record, [x], tf.float32)
        return x
    f(tf.constant(1.0))
    assert calls == [1]


def test_program_order_with_other_effects(capsys, backend):
    log = []
    v = tf.Variable(1.0)

    @tf.function
    def f(x):
        tf.py_function(lambda t: log.append(("first", float(t))), [x], None)
        tf.print("printed", x, output_stream=sys.stdout)
        v.assign(x * 10.0)
        tf.py_function(lambda t: log.append(("second", float(t))), [v.read_value()], None)
        return x
    f(tf.constant(2.0))
    assert log == [("first", 2.0), ("second", 20.0)] and capsys.readouterr().out == "printed 2\n"


def test_autograph_print_of_a_tensor_prints_when_the_graph_runs(capsys):
    @tf.function
    def f(x):
        print("traced once")
        print("x is", x * 2)
        return x
    f(tf.constant([1, 2]))
    f(tf.constant([3, 4]))
    assert capsys.readouterr().out == "traced once\nx is [2 4]\nx is [6 8]\n"


# ---- gradients ------------------------------------------------------------------------------------
def test_eager_gradient_is_the_tape_of_the_call():
    x = tf.constant([0.3, 1.2], tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.py_function(lambda t: tf.sin(t) * 3.0, [x], tf.float64)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), 3 * np.cos(x.numpy()))


def test_traced_gradient_matches_finite_differences(backend):
    w = tf.Variable(np.array([0.7, -0.2]))

    def loss(x):
        y = tf.py_function(lambda a, b: tf.sin(a) * b + a * a, [x * w, x], tf.TensorSpec([2], tf.float64))
        return tf.reduce_sum(y * y)

    @tf.function
    def gradients(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = loss(x)
        return tape.gradient(value, [x, w])
    x0 = np.array([0.4, 1.3])
    gx, gw = gradients(tf.constant(x0))
    np.testing.assert_allclose(gx.numpy(), finite_differences(lambda x: loss(tf.constant(x)).numpy(), x0), rtol=1e-6)
    w0 = w.numpy()

    def loss_of_w(value):
        w.assign(value)
        return loss(tf.constant(x0)).numpy()
    numeric_w = finite_differences(loss_of_w, w0)
    w.assign(w0)
    np.testing.assert_allclose(gw.numpy(), numeric_w, rtol=1e-6)


def test_gradient_of_a_py_function_inside_a_loop(backend):
    def loss(x, n):
        def body(i, a):
            return i + 1, tf.py_function(lambda t, s: tf.tanh(t * s), [a, x], tf.TensorSpec([2], tf.float64))
        return tf.reduce_sum(tf.while_loop(lambda i, a: i < n, body, [tf.constant(0), x])[1])

    @tf.function
    def gradient(x, n):
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = loss(x, n)
        return tape.gradient(value, x)
    x0 = np.array([0.4, -0.9])
    got = gradient(tf.constant(x0), tf.constant(3)).numpy()
    np.testing.assert_allclose(got, finite_differences(lambda x: loss(tf.constant(x), tf.constant(3)).numpy(), x0),
                               rtol=1e-6)


def test_second_order_gradients_are_not_connected_as_in_tf():
    """TF computes a py_function's gradient once, from the recorded tape: the gradient does not depend
    on the inputs as far as an outer tape can see, so a second-order gradient is None."""
    @tf.function
    def f(x):
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = tf.py_function(lambda t: t * t * t, [x], tf.float64)
            g = inner.gradient(y, x)
        return g, outer.gradient(g, x)
    first, second = f(tf.constant(2.0, tf.float64))
    assert first.numpy() == 12.0 and second is None


# ---- errors -----------------------------------------------------------------------------------------
def test_errors():
    @tf.function
    def failing(x):
        return tf.py_function(lambda t: t / 0 if False else int("nan"), [x], tf.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="ValueError: invalid literal.*py_function"):
        failing(tf.constant(1.0))
    with pytest.raises(tf.errors.UnknownError, match="ZeroDivisionError"):
        tf.function(lambda x: tf.numpy_function(lambda t: 1 // 0, [x], tf.int32))(tf.constant(1))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"returned 1 value\(s\), Tout has 2"):
        tf.function(lambda x: tf.py_function(lambda t: t, [x], [tf.float32, tf.float32]))(tf.constant(1.0))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"shape \(3,\), Tout promises \(2,\)"):
        tf.function(lambda x: tf.py_function(lambda t: t, [x], tf.TensorSpec([2])))(tf.ones([3]))
    v = tf.Variable(1.0)
    with pytest.raises(RuntimeError, match="Attempting to return a variable"):
        tf.py_function(lambda: v, [], tf.float32)
    with pytest.raises(ValueError, match="Expected func to be callable"):
        tf.py_function(3, [], tf.float32)


def test_decorator_form_and_tf1_graphs():
    @tf.py_function(Tout=tf.float32)
    def double(x):
        return x * 2.0
    assert double(tf.constant(4.0)).numpy() == 8.0
    tf1.disable_v2_behavior()
    tf1.reset_default_graph()
    x = tf1.placeholder(tf.float32, shape=[2])
    y = tf1.numpy_function(lambda a: a[::-1].copy(), [x], tf.float32)
    with tf1.Session() as sess:
        assert sess.run(y, feed_dict={x: [1.0, 2.0]}).tolist() == [2.0, 1.0]
