"""GradientTape: API, TF's gradient conventions, composites, and training steps in @function."""
import numpy as np
import pytest

import tracejit as tf


def test_classic_abs_descent():
    A, B, X = 3.0, 6.0, tf.Variable(20.0)
    visited, grads = [], []
    for _ in range(7):
        with tf.GradientTape() as tape:
            loss = abs(A * X - B)
        dx = tape.gradient(loss, X)
        visited.append(float(X))
        grads.append(float(dx))
        X.assign(X - dx)
    assert visited == [20, 17, 14, 11, 8, 5, 2]
    assert grads == [3, 3, 3, 3, 3, 3, 0]


def test_watch_tensors_and_structures():
    x, y = tf.constant(3.0), tf.constant(4.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, y])
        z = x * x * y
    assert float(tape.gradient(z, x)) == 24.0
    grads = tape.gradient(z, {"a": x, "b": [y]})
    assert float(grads["a"]) == 24.0 and float(grads["b"][0]) == 9.0
    assert [float(g) for g in tape.gradient([z, x], [x, y])] == [25.0, 9.0]   # list target sums


def test_non_persistent_tape_single_use():
    x = tf.constant(1.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * 2
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="non-persistent GradientTape"):
        tape.gradient(y, x)


def test_variables_watched_automatically_unless_disabled():
    v, frozen = tf.Variable(2.0), tf.Variable(3.0, trainable=False)
    with tf.GradientTape() as tape:
        y = v * frozen
    assert [float(g) if g is not None else None for g in tape.gradient(y, [v, frozen])] == [3.0, None]
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        y = v * v
    assert tape.gradient(y, v) is None
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(v)
        y = v * v
    assert float(tape.gradient(y, v)) == 4.0 and tape.watched_variables()[0] is v


def test_stop_recording_and_stop_gradient():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = x * x
        with tape.stop_recording():
            z = x * 100
        w = y + tf.stop_gradient(x * 10) + z
    assert float(tape.gradient(w, x)) == 4.0


def test_unconnected_and_integer_gradients():
    x, unused, n = tf.Variable(1.0), tf.Variable(5.0), tf.constant(3)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(n)
        y = x * tf.cast(n, tf.float32)
    assert tape.gradient(y, unused) is None
    assert float(tape.gradient(y, unused, unconnected_gradients="zero")) == 0.0
    assert tape.gradient(y, n) is None
    with pytest.raises(ValueError, match="unconnected_gradients"):
        tape.gradient(y, x, unconnected_gradients="bogus")


def test_output_gradients():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    assert tape.gradient(y, x, output_gradients=tf.constant([10.0, 1.0])).numpy().tolist() == [20.0, 4.0]


def test_nested_tapes_second_derivative():
    x = tf.Variable(3.0)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = x * x * x
        dy = inner.gradient(y, x)
    assert float(dy) == 27.0 and float(outer.gradient(dy, x)) == 18.0


def test_jacobian():
    x = tf.constant([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    jac = tape.jacobian(y, x)
    assert jac.shape == (3, 3) and jac.numpy().tolist() == np.diag([2.0, 4.0, 6.0]).tolist()


def test_tf_conventions_at_kinks_and_ties():
    x = tf.constant([0.0, -1.0, 2.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        a, r = tf.abs(x), tf.nn.relu(x)
    assert tape.gradient(a, x).numpy().tolist() == [0.0, -1.0, 1.0]          # abs'(0) = 0
    assert tape.gradient(r, x).numpy().tolist() == [0.0, 0.0, 1.0]           # relu'(0) = 0
    t = tf.constant([1.0, 3.0, 3.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(t)
        peak = tf.reduce_max(t)
        both = tf.maximum(t, tf.constant([1.0, 0.0, 5.0]))
    assert tape.gradient(peak, t).numpy().tolist() == [0.0, 0.5, 0.5]        # reduce_max ties split
    assert tape.gradient(both, t).numpy().tolist() == [1.0, 1.0, 0.0]        # maximum ties go to x


def test_broadcasting_reduces_gradients_to_input_shape():
    x, b = tf.Variable(np.ones((4, 3), np.float32)), tf.Variable(np.ones(3, np.float32))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(x * b + b)
    gx, gb = tape.gradient(y, [x, b])
    assert gx.shape == (4, 3) and gb.shape == (3,) and gb.numpy().tolist() == [8.0, 8.0, 8.0]


def test_gather_and_indexing_scatter_add_gradients():
    params = tf.Variable([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.gather(params, [0, 0, 2])) + params[1] * 5 + tf.reduce_sum(params[::2])
    assert tape.gradient(y, params).numpy().tolist() == [3.0, 5.0, 2.0]


def _fd(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        grad[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return grad


def test_softmax_cross_entropy_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    logits, labels = rng.normal(size=(4, 5)), np.array([0, 3, 4, 1])

    def loss(z):
        return float(tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, z)))
    x = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, x))
    np.testing.assert_allclose(tape.gradient(value, x).numpy(), _fd(loss, logits), rtol=1e-6, atol=1e-9)


def test_mlp_loss_gradient_matches_finite_differences():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(6, 4)), np.array([0, 1, 2, 0, 1, 2])
    w1, b1, w2 = rng.normal(size=(4, 5)), rng.normal(size=5), rng.normal(size=(5, 3))

    def loss(w1_, b1_, w2_):
        hidden = tf.nn.relu(tf.matmul(x, w1_) + b1_)
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, tf.matmul(hidden, w2_)))
    variables = [tf.Variable(w1), tf.Variable(b1), tf.Variable(w2)]
    with tf.GradientTape() as tape:
        value = loss(*variables)
    grads = tape.gradient(value, variables)
    np.testing.assert_allclose(grads[0].numpy(), _fd(lambda w: float(loss(w, b1, w2)), w1), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(grads[1].numpy(), _fd(lambda b: float(loss(w1, b, w2)), b1), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(grads[2].numpy(), _fd(lambda w: float(loss(w1, b1, w)), w2), rtol=1e-5, atol=1e-8)


def test_traced_training_step_contains_backward_and_updates_variables():
    rng = np.random.default_rng(3)
    x = tf.constant(rng.normal(size=(8, 3)).astype(np.float32))
    y = tf.matmul(x, tf.constant([[1.0], [-2.0], [0.5]]))
    w_eager, w_traced = tf.Variable(tf.zeros([3, 1])), tf.Variable(tf.zeros([3, 1]))

    def step(w):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y))
        w.assign_sub(0.1 * tape.gradient(loss, w))
        return loss
    traced_step = tf.function(lambda: step(w_traced))
    for _ in range(5):
        eager_loss, traced_loss = step(w_eager), traced_step()
        np.testing.assert_allclose(traced_loss.numpy(), eager_loss.numpy(), rtol=1e-6)
    np.testing.assert_allclose(w_traced.numpy(), w_eager.numpy(), rtol=1e-6)
    assert float(traced_step()) < float(step(tf.Variable(tf.zeros([3, 1]))))
    graph = str(traced_step.get_concrete_function().graph)
    assert "transpose_a=True" in graph               # the backward matmul x^T g
    assert "broadcast_like" in graph and "assign" in graph
    assert traced_step.experimental_get_tracing_count() == 1


def test_gradient_inside_function_with_persistent_tape_and_jacobian():
    @tf.function
    def f(x):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = x * x
            z = tf.reduce_sum(y)
        return tape.gradient(z, x), tape.jacobian(y, x)
    g, j = f(tf.constant([1.0, 2.0]))
    assert g.numpy().tolist() == [2.0, 4.0] and j.numpy().tolist() == [[2.0, 0.0], [0.0, 4.0]]


@pytest.mark.parametrize("padding,strides", [("VALID", 1), ("SAME", 2)])
def test_conv_pool_network_gradient_matches_finite_differences(padding, strides):
    rng = np.random.default_rng(4)
    x, k = rng.normal(size=(2, 6, 6, 2)), rng.normal(size=(3, 3, 2, 3))

    def loss(x_, k_):
        y = tf.nn.relu(tf.nn.conv2d(x_, k_, strides=strides, padding=padding))
        return tf.reduce_sum(tf.nn.max_pool2d(y, 2, 2, "SAME") * 1.5) + tf.reduce_sum(tf.nn.avg_pool2d(y, 2, 1, padding))
    xv, kv = tf.Variable(x), tf.Variable(k)
    with tf.GradientTape() as tape:
        value = loss(xv, kv)
    gx, gk = tape.gradient(value, [xv, kv])
    np.testing.assert_allclose(gx.numpy(), _fd(lambda a: float(loss(a, k)), x), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gk.numpy(), _fd(lambda a: float(loss(x, a)), k), rtol=1e-5, atol=1e-7)

    @tf.function
    def traced_grads():
        with tf.GradientTape() as t:
            v = loss(xv, kv)
        return t.gradient(v, [xv, kv])
    tgx, tgk = traced_grads()
    np.testing.assert_allclose(tgx.numpy(), gx.numpy(), rtol=1e-10)
    np.testing.assert_allclose(tgk.numpy(), gk.numpy(), rtol=1e-10)


def test_first_layer_conv_skips_the_input_gradient():
    k = tf.Variable(np.ones((3, 3, 1, 2), np.float32))

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.nn.conv2d(x, k, 1, "VALID"))
        return tape.gradient(loss, k)
    x = tf.ones([2, 5, 5, 1])
    assert step(x).numpy().tolist() == np.full((3, 3, 1, 2), 18.0).tolist()
    optimized = str(step.get_concrete_function(x).optimized_graph)
    assert "im2col" in optimized and "col2im" not in optimized


def test_sparse_cross_entropy_gradient_is_softmax_minus_one_hot_in_few_kernels():
    logits = tf.constant(np.random.default_rng(7).normal(size=(6, 4)).astype(np.float32))
    labels = tf.constant([0, 3, 1, 1, 2, 0])

    def step(logits, labels):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
        return loss, tape.gradient(loss, logits)
    loss, grad = tf.function(step)(logits, labels)
    probabilities = np.exp(logits.numpy()) / np.exp(logits.numpy()).sum(axis=1, keepdims=True)
    expected = (probabilities - np.eye(4, dtype=np.float32)[labels.numpy()]) / 6
    np.testing.assert_allclose(grad.numpy(), expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(loss.numpy(), step(logits, labels)[0].numpy(), rtol=1e-6)
    graph = tf.function(step).get_concrete_function(logits, labels).optimized_graph
    ops = [n.op for n in graph.nodes if n.op not in ("const", "broadcast_to", "reshape")]
    assert ops == ["sparse_softmax_cross_entropy", "reduce_mean", "reduce_max", "fused", "reduce_sum", "one_hot",
                   "fused"], ops


@pytest.mark.parametrize("compiled", [False, True])
def test_sparse_cross_entropy_rejects_labels_out_of_range_like_tf(compiled):
    f = tf.function(tf.nn.sparse_softmax_cross_entropy_with_logits) if compiled else \
        tf.nn.sparse_softmax_cross_entropy_with_logits
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"label value of 5 which is outside the valid range "
                                                                 r"of \[0, 4\)"):
        f(tf.constant([0, 5]), tf.zeros([2, 4]))
