"""Graph cond: cheap pure branches are inlined and merged with select; branches with effects or
control flow become one cond node that runs only the branch taken. Variables assigned in branches,
nested conds, gradients (vs finite differences in float64) and TF1 graphs."""
import sys

import numpy as np
import pytest

import tracejit as tf
import tracejit.compat.v1 as tf1
from tracejit.control_flow import COND


def cond_nodes(f, *args):
    return [n for n in f.get_concrete_function(*args).graph.nodes if n.prim is COND]


def finite_differences(f, x, eps=1e-6):
    return (f(x + eps) - f(x - eps)) / (2 * eps)


def test_pure_branches_are_merged_with_select():
    f = tf.function(lambda x: tf.cond(x > 0, lambda: x * 2.0, lambda: -x), autograph=False)
    assert f(tf.constant(3.0)).numpy() == 6.0 and f(tf.constant(-3.0)).numpy() == 3.0
    assert cond_nodes(f, tf.constant(1.0)) == [] and "select" in str(f.get_concrete_function(tf.constant(1.0)).graph)


def test_branches_with_effects_run_lazily_and_nest(capsys):
    v = tf.Variable(0)

    @tf.function(autograph=False)
    def f(x):
        def positive():
            tf.print("positive", output_stream=sys.stdout)
            return tf.cond(x > 10, lambda: (v.assign_add(10), x * 10)[1], lambda: x)
        return tf.cond(x > 0, positive, lambda: -x)
    assert f(tf.constant(3)).numpy() == 3 and capsys.readouterr().out == "positive\n" and v.numpy() == 0
    assert f(tf.constant(-3)).numpy() == 3 and capsys.readouterr().out == "" and v.numpy() == 0
    assert f(tf.constant(20)).numpy() == 200 and v.numpy() == 10
    (node,) = cond_nodes(f, tf.constant(1))
    assert node.params["effect"]


def test_gradient_through_a_cond_node():
    def loss(x):
        def heavy():
            tf.print("heavy branch")
            return tf.sin(x) * x
        return tf.cond(x > 0, heavy, lambda: x ** 3)

    @tf.function(autograph=False)
    def gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = loss(x)
        return tape.gradient(y, x)
    for x in (0.7, -1.3):
        numeric = finite_differences(lambda v: loss(tf.constant(v, tf.float64)).numpy(), x)
        np.testing.assert_allclose(gradient(tf.constant(x, tf.float64)).numpy(), numeric, rtol=1e-6)


def test_branches_must_agree_and_tf1_branches_may_not_assign():
    with pytest.raises(tf.errors.TracingError, match="same structure"):
        tf.function(lambda x: tf.cond(x > 0, lambda: (x, x), lambda: x), autograph=False)(tf.constant(1.0))
    tf1.disable_v2_behavior()
    tf1.reset_default_graph()
    v = tf.Variable(1.0)
    x = tf1.placeholder(tf.float32, shape=[])
    with pytest.raises(NotImplementedError, match="assigning Variables in the branches of a TF1 graph cond"):
        tf1.cond(x > 0, lambda: v.assign(x), lambda: v.assign(-x))
    y = tf1.cond(x > 0, lambda: x * 2.0, lambda: x * 3.0)
    with tf1.Session() as sess:
        assert sess.run(y, feed_dict={x: -1.0}) == -3.0
