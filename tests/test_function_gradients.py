"""An eager GradientTape records a @function call as one operation (CALL): the compiled forward
runs (the Python is not run again) and gradients come from the compiled backward graph, for the
arguments and the captured Variables; persistent tapes, nested tapes (higher derivatives),
jacobians and Keras custom training loops; gradients vs the Python run eagerly and finite
differences in float64."""
import numpy as np
import pytest

import tracejit as tf
from tracejit.jit.call import CALL
from conftest import assert_close, finite_differences


def tape_gradients(f, x, sources):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(f(x) ** 2)
    return tape, tape.gradient(y, sources)


W = np.array([[0.5, -0.2, 0.3], [0.1, 0.4, -0.6]])


def test_one_recorded_operation_with_gradients_for_arguments_and_variables():
    w = tf.Variable(W)
    b = tf.Variable(np.array([0.1, 0.0, -0.1]))
    traces = []

    @tf.function
    def layer(x):
        traces.append(1)
        return tf.tanh(tf.matmul(x, w) + b)
    x = tf.constant(np.array([[1.0, 2.0], [0.5, -1.0]]))
    layer(x)
    tape, (gx, gw, gb) = tape_gradients(layer, x, [x, w, b])
    assert traces == [1]                                      # compiled: the Python did not run again
    assert [entry[0] for entry in tape._entries[:1]] == [CALL]
    _, eager = tape_gradients(layer.python_function, x, [x, w, b])
    for got, want in zip((gx, gw, gb), eager):
        assert_close(got.numpy(), want.numpy())

    def loss_of_w(value):
        w.assign(value)
        return np.sum(layer(x).numpy() ** 2)
    numeric = finite_differences(loss_of_w, W)
    w.assign(W)
    np.testing.assert_allclose(gw.numpy(), numeric, rtol=1e-6)


def test_structured_outputs_integers_and_unconnected_gradients():
    @tf.function
    def f(x, y):
        return {"sum": x + y, "count": tf.size(x), "none": None, "square": (x * x,)}
    x, y, z = tf.constant([1.0, 2.0]), tf.constant([3.0, 4.0]), tf.constant(5.0)
    with tf.GradientTape() as tape:
        tape.watch([x, y, z])
        out = f(x, y)
        total = tf.reduce_sum(out["sum"] * out["square"][0])
    assert out["count"].numpy() == 2 and out["none"] is None
    gx, gy, gz = tape.gradient(total, [x, y, z])
    assert gx.numpy().tolist() == [1 * 1 + 2 * 1 * 4, 4 + 2 * 2 * 6] and gy.numpy().tolist() == [1.0, 4.0]
    assert gz is None
    assert tape.gradient is not None
    with tf.GradientTape() as tape:
        tape.watch(z)
        out = f(x, y)
    assert tape.gradient(out["sum"], z, unconnected_gradients="zero").numpy() == 0.0


def test_persistent_tape_and_jacobian():
    @tf.function
    def f(x):
        return tf.sin(x) * x
    x = tf.constant(np.array([0.3, 1.1, -0.7]))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = f(x)
        s = tf.reduce_sum(y)
    expected = np.cos(x.numpy()) * x.numpy() + np.sin(x.numpy())
    np.testing.assert_allclose(tape.gradient(s, x).numpy(), expected)
    np.testing.assert_allclose(tape.gradient(s, x).numpy(), expected)
    np.testing.assert_allclose(tape.jacobian(y, x).numpy(), np.diag(expected))


def test_nested_tapes_give_higher_derivatives():
    @tf.function
    def cube(x):
        return x * x * x
    x = tf.constant(2.0, tf.float64)
    with tf.GradientTape() as third:
        third.watch(x)
        with tf.GradientTape() as second:
            second.watch(x)
            with tf.GradientTape() as first:
                first.watch(x)
                y = cube(x)
            dy = first.gradient(y, x)
        d2y = second.gradient(dy, x)
    d3y = third.gradient(d2y, x)
    assert (dy.numpy(), d2y.numpy(), d3y.numpy()) == (12.0, 12.0, 6.0)


def test_assignments_inside_the_call_follow_tf_semantics():
    v = tf.Variable(np.array([1.0, 2.0]))

    @tf.function
    def step(x):
        v.assign(v * x)                 # the read after it is a read of v, not of x * v
        return tf.reduce_sum(v * x)
    x = tf.constant(np.array([3.0, 0.5]))
    with tf.GradientTape() as tape:
        tape.watch(x)
        compiled = step(x)
    grads = tape.gradient(compiled, [x, v])
    v.assign([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        eager = step.python_function(x)
    eager_grads = tape.gradient(eager, [x, v])
    assert_close(compiled.numpy(), eager.numpy())
    for got, want in zip(grads, eager_grads):
        assert_close(got.numpy(), want.numpy())
    assert v.numpy().tolist() == [3.0, 1.0]


def test_calls_with_loops_print_and_py_function(capsys):
    @tf.function
    def f(x, n):
        tf.print("called")
        y = tf.py_function(lambda t: t * 2.0, [x], tf.TensorSpec([2], tf.float64))
        for _ in tf.range(n):
            y = tf.sin(y)
        return y
    x = tf.constant(np.array([0.2, 0.4]))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(f(x, tf.constant(3)))
    grad = tape.gradient(y, x)
    assert capsys.readouterr().err == "called\n"
    numeric = finite_differences(lambda v: np.sum(f(tf.constant(v), tf.constant(3)).numpy()), x.numpy())
    np.testing.assert_allclose(grad.numpy(), numeric, rtol=1e-6)

    @tf.function
    def loop(x, n):
        for _ in tf.range(n):
            x = tf.sin(x)
        return x
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.reduce_sum(loop(x, tf.constant(2)))
        g = inner.gradient(y, x)                  # first order: fine
    with pytest.raises(NotImplementedError, match="second-order gradients through a graph while_loop"):
        outer.gradient(g, x)


def test_keras_custom_training_loop_calls_a_compiled_model():
    model = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="tanh"), tf.keras.layers.Dense(1)])
    optimizer = tf.keras.optimizers.SGD(0.1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)
    forward = tf.function(lambda x: model(x))
    losses = []
    for _ in range(30):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((forward(x) - y) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        losses.append(float(loss))
    assert forward.experimental_get_tracing_count() == 1
    assert losses[-1] < 0.3 * losses[0]
    with tf.GradientTape() as tape:
        compiled_loss = tf.reduce_mean((forward(x) - y) ** 2)
    with tf.GradientTape() as eager_tape:
        eager_loss = tf.reduce_mean((model(x) - y) ** 2)
    for got, want in zip(tape.gradient(compiled_loss, model.trainable_variables),
                         eager_tape.gradient(eager_loss, model.trainable_variables)):
        assert_close(got.numpy(), want.numpy())


def test_input_signature_and_methods():
    class Scale(tf.Module):
        def __init__(self):
            super().__init__()
            self.k = tf.Variable(3.0)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, x):
            return x * self.k
    scale = Scale()
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(scale(x))
    gx, gk = tape.gradient(y, [x, scale.k])
    assert gx.numpy().tolist() == [3.0, 3.0] and gk.numpy() == 3.0


def test_second_derivatives_with_variables_match_eager():
    w = tf.Variable(np.array([[0.3, -0.5], [0.8, 0.2]]))

    @tf.function
    def f(x):
        return tf.reduce_sum(tf.tanh(tf.matmul(x, w)) ** 2)
    x = tf.constant(np.array([[1.0, -2.0]]))

    def hessian_vector(run):
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                value = run(x)
            gx, gw = inner.gradient(value, [x, w])
            projected = tf.reduce_sum(gx * tf.constant([[1.0, 0.5]], tf.float64)) + tf.reduce_sum(gw)
        return outer.gradient(projected, [x, w])
    for got, want in zip(hessian_vector(f), hessian_vector(f.python_function)):
        assert_close(got.numpy(), want.numpy())
