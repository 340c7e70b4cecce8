"""tf.custom_gradient: eagerly and traced (compiled native vs eager), with Variables (the
grad_fn(dy, variables=...) form), nested structures, inside loops, in TF1 graphs; TF's errors."""
import numpy as np
import pytest

import tracejit as tf
import tracejit.compat.v1 as tf1
from conftest import assert_close


@tf.custom_gradient
def log1pexp(x):
    e = tf.exp(x)

    def grad(upstream):
        return upstream * (1 - 1 / (1 + e))
    return tf.math.log(1 + e), grad


@tf.custom_gradient
def clip_gradient(x):
    def grad(dy):
        return tf.clip_by_value(dy, -0.5, 0.5)
    return tf.identity(x), grad


def value_and_gradient(f, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    return y, tape.gradient(y, x)


@pytest.mark.parametrize("traced", [False, True])
def test_tf_docstring_example_is_numerically_stable(traced):
    run = tf.function(lambda x: value_and_gradient(log1pexp, x)) if traced else \
        (lambda x: value_and_gradient(log1pexp, x))
    y, dy = run(tf.constant(100.0))
    assert np.isinf(y.numpy()) and dy.numpy() == 1.0          # the plain formula's gradient would be nan
    y, dy = run(tf.constant(0.0))
    assert_close(dy.numpy(), np.float32(0.5))


def test_the_custom_gradient_replaces_the_ops_gradient_traced_and_compiled():
    def loss(x):
        return tf.reduce_sum(clip_gradient(x * 3.0) ** 2)
    x = tf.constant([0.1, 1.0, -2.0])
    eager = value_and_gradient(loss, x)
    compiled = tf.function(lambda x: value_and_gradient(loss, x))(x)
    for a, b in zip(eager, compiled):
        assert_close(b.numpy(), a.numpy())
    assert compiled[1].numpy().tolist() == [1.5, 1.5, -1.5]      # clip(2 * 3x) * 3
    concrete = tf.function(lambda x: value_and_gradient(loss, x)).get_concrete_function(x)
    assert "= custom_gradient " in str(concrete.graph) and "= custom_gradient " not in str(concrete.optimized_graph)


def test_variables_form():
    w = tf.Variable(2.0)
    frozen = tf.Variable(5.0, trainable=False)

    @tf.custom_gradient
    def scaled(x):
        y = x * w * frozen

        def grad(dy, variables=None):
            assert variables == [w]                           # trainable Variables read, not the inputs
            return dy * 10.0, [dy * 100.0]
        return y, grad

    def gradients(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = scaled(x)
        return tape.gradient(y, [x, w])
    for run in (gradients, tf.function(gradients)):
        gx, gw = run(tf.constant(3.0))
        assert (gx.numpy(), gw.numpy()) == (10.0, 100.0)


def test_structures_and_second_order():
    @tf.custom_gradient
    def pair(a, b):
        def grad(da, db):
            return da * b + db, da * a * 2.0
        return (a * b, a + b), grad

    def gradients(a, b):
        with tf.GradientTape() as tape:
            tape.watch([a, b])
            p, s = pair(a, b)
            total = p + 3.0 * s
        return tape.gradient(total, [a, b])
    for run in (gradients, tf.function(gradients)):
        ga, gb = run(tf.constant(2.0), tf.constant(5.0))
        assert (ga.numpy(), gb.numpy()) == (8.0, 4.0)          # da=1, db=3: (b + 3, 2a)

    @tf.custom_gradient
    def cube(x):
        return x ** 3, lambda dy: dy * 3.0 * x * x             # differentiable grad_fn

    def second(x):
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = cube(x)
            g = inner.gradient(y, x)
        return outer.gradient(g, x)
    assert second(tf.constant(2.0)).numpy() == 12.0 and tf.function(second)(tf.constant(2.0)).numpy() == 12.0


def test_inside_a_while_loop():
    def loss(x):
        return tf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, clip_gradient(a * 2.0)), [0, x])[1]
    y, g = tf.function(lambda x: value_and_gradient(loss, x))(tf.constant(1.0))
    assert y.numpy() == 8.0 and g.numpy() == 0.5 * 2.0       # the last clip bounds it, then x2

    def closing_over_forward_values(x):
        return tf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, log1pexp(a)), [0, x])[1]
    with pytest.raises(NotImplementedError, match="a tf.custom_gradient grad_fn there may use its arguments"):
        tf.function(lambda x: value_and_gradient(closing_over_forward_values, x))(tf.constant(1.0))


def test_errors():
    w = tf.Variable(1.0)

    @tf.custom_gradient
    def uses_variable(x):
        return x * w, lambda dy: dy
    with pytest.raises(TypeError, match="grad_fn must accept keyword argument 'variables'"):
        uses_variable(tf.constant(1.0))

    @tf.custom_gradient
    def wrong_count(a, b):
        return a + b, lambda dy: dy
    with pytest.raises(ValueError, match="expected to return 2 gradients but returned 1"):
        value_and_gradient(lambda x: wrong_count(x, x), tf.constant(1.0))


def test_tf1_gradients_use_it():
    tf1.disable_v2_behavior()
    tf1.reset_default_graph()
    x = tf1.placeholder(tf.float32, shape=[3])
    grad, = tf1.gradients(tf1.reduce_sum(clip_gradient(x * 3.0) ** 2), [x])
    with tf1.Session() as sess:
        assert sess.run(grad, feed_dict={x: [0.1, 1.0, -2.0]}).tolist() == [1.5, 1.5, -1.5]


def test_grad_pass_through():
    x, z = tf.Variable(1.0), tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = tf.grad_pass_through(lambda v: tf.round(v))(z ** 2 + 0.3)
    assert y.numpy() == 9.0 and tape.gradient(y, z).numpy() == 6.0
    del x
