"""Graph while loops: tracejit.while_loop inside @function becomes one while_loop node whose
condition and body are subgraphs (compiled like any function: native code on the native
backend). Each case runs compiled on both backends and is compared with the eager Python loop;
gradients are compared with the eager tape and with finite differences in float64."""
import collections

import numpy as np
import pytest

import tracejit as tf
from tracejit.control_flow import WHILE, WHILE_GRAD
from conftest import assert_close, finite_differences

Pair = collections.namedtuple("Pair", "j, k")


def compiled(f):
    return tf.function(f, autograph=False)


def while_nodes(concrete):
    return [n for n in concrete.optimized_graph.nodes if n.prim is WHILE]


# ---- forward ---------------------------------------------------------------------------------------
def power_loop(x, n):
    return tf.while_loop(lambda i, acc: i < n, lambda i, acc: (i + 1, acc * x), [tf.constant(0), tf.ones_like(x)])


def test_loop_is_one_node_and_runs_the_trip_count_of_each_call(backend):
    f = compiled(power_loop)
    x = tf.constant([2.0, 3.0])
    for n in (0, 1, 5):
        i, acc = f(x, tf.constant(n))
        eager_i, eager_acc = power_loop(x, tf.constant(n))
        assert i.numpy() == eager_i.numpy() == n
        assert_close(acc.numpy(), eager_acc.numpy())
    assert f.experimental_get_tracing_count() == 1
    concrete = f.get_concrete_function(x, tf.constant(1))
    (node,) = while_nodes(concrete)
    text = str(concrete.graph)
    assert "while_loop" in text and "graph while_body_" in text and "graph while_cond_" in text
    assert node.params["n_vars"] == 2 and len(node.inputs) == 4          # i, acc; n and x captured


def test_the_body_is_native_code_on_the_native_backend():
    if tf.config.backend() != "native":
        pytest.skip("native backend only")
    f = compiled(lambda x, n: power_loop(tf.tanh(x) * 2.0, n)[1])
    x = tf.constant(np.linspace(-1, 1, 64, dtype=np.float32))
    assert_close(f(x, tf.constant(3)).numpy(), (np.tanh(x.numpy()) * 2.0) ** 3)
    (node,) = while_nodes(f.get_concrete_function(x, tf.constant(3)))
    assert node.params["body"].executable().tier == "native"
    assert node.params["cond"].executable().tier == "native"


def test_nested_structures_namedtuples_and_dicts(backend):
    def f(x):
        start = (tf.constant(0), Pair(x, x * 2.0))
        i, pair = tf.while_loop(lambda i, p: i < 4, lambda i, p: (i + 1, Pair(p.j + p.k, p.j - p.k)), start)
        out = tf.while_loop(lambda a, b: a < 3, lambda a, b: {"a": a + 1, "b": b * 2.0}, {"a": tf.constant(0), "b": x})
        return i, pair, out["b"]
    x = tf.constant(1.5)
    got, want = compiled(f)(x), f(x)
    assert isinstance(got[1], Pair)
    for a, b in zip(tf.nest.flatten(got), tf.nest.flatten(want)):
        assert_close(a.numpy(), b.numpy())


def test_maximum_iterations_static_and_symbolic(backend):
    def f(x, limit):
        grow = lambda a: (a * 2.0,)      # noqa: E731
        return (tf.while_loop(lambda a: a < 1e9, grow, [x], maximum_iterations=5)[0],
                tf.while_loop(lambda a: a < 1e9, grow, [x], maximum_iterations=limit)[0],
                tf.while_loop(lambda a: a < 10.0, grow, [x], maximum_iterations=limit)[0])
    results = compiled(f)(tf.constant(1.0), tf.constant(3))
    assert [r.numpy() for r in results] == [32.0, 8.0, 8.0]
    results = compiled(f)(tf.constant(1.0), tf.constant(100))
    assert [r.numpy() for r in results] == [32.0, 2.0 ** 30, 16.0]


def test_shape_invariants_let_a_dimension_vary(backend):
    def f(m, n):
        return tf.while_loop(lambda i, m: i < n, lambda i, m: (i + 1, tf.concat([m, m], axis=0)),
                             [tf.constant(0), m], shape_invariants=[tf.TensorShape([]), tf.TensorShape([None, 2])])[1]
    g = compiled(f)
    m = tf.ones([2, 2])
    assert g(m, tf.constant(3)).shape == (16, 2) and g(m, tf.constant(0)).shape == (2, 2)
    concrete = g.get_concrete_function(m, tf.constant(1))
    assert concrete.outputs[0].shape.as_list() == [None, 2]


def test_loop_contract_errors_while_tracing():
    grow = lambda i, m: (i + 1, tf.concat([m, m], axis=0))     # noqa: E731
    with pytest.raises(ValueError, match=r"loop_vars\[1\] has shape \(4, 2\) after 1 iteration\(s\).*shape_invariants"):
        compiled(lambda m: tf.while_loop(lambda i, m: i < 3, grow, [tf.constant(0), m]))(tf.ones([2, 2]))
    with pytest.raises(TypeError, match=r"loop_vars\[0\] enters the loop with dtype int32, but has dtype float32"):
        compiled(lambda x: tf.while_loop(lambda i: i < 3, lambda i: (tf.cast(i, tf.float32),), [tf.constant(0)]))(
            tf.constant(1.0))
    with pytest.raises(tf.errors.InvalidArgumentError, match="cond must return a scalar bool tensor"):
        compiled(lambda x: tf.while_loop(lambda a: a > 0.0, lambda a: (a - 1.0,), [x]))(tf.ones([2]))
    with pytest.raises(TypeError, match=r"loop_vars\[0\] is a object"):
        compiled(lambda x: tf.while_loop(lambda a: True, lambda a: a, [object()]))(tf.ones([2]))
    with pytest.raises(TypeError, match="'maximum_iterations' must be an integer"):
        compiled(lambda x: tf.while_loop(lambda a: a < 2.0, lambda a: (a + 1.0,), [x], maximum_iterations=x))(
            tf.constant(1.0))


def test_nested_loops_capture_through_both_bodies(backend):
    def f(n, scale):
        def outer(i, total):
            _, total = tf.while_loop(lambda j, t: j < i, lambda j, t: (j + 1, t + tf.cast(j, tf.float32) * scale),
                                     [tf.constant(0), total])
            return i + 1, total
        return tf.while_loop(lambda i, t: i < n, outer, [tf.constant(0), tf.constant(0.0)])[1]
    for n in (0, 1, 5):
        assert compiled(f)(tf.constant(n), tf.constant(2.0)).numpy() == f(tf.constant(n), tf.constant(2.0)).numpy()
    assert compiled(f)(tf.constant(5), tf.constant(2.0)).numpy() == 20.0


def test_a_loop_inside_cond_runs_only_on_its_branch(backend):
    def f(x, n):
        loop = lambda: tf.while_loop(lambda i, a: i < n, lambda i, a: (i + 1, a * 2.0), [0, x])[1]   # noqa: E731
        return tf.cond(x > 0, loop, lambda: -x)
    g = compiled(f)
    assert g(tf.constant(1.0), tf.constant(3)).numpy() == 8.0
    # the untaken branch's loop would never end: it must not run
    assert g(tf.constant(-1.0), tf.constant(2 ** 31 - 1)).numpy() == 1.0
    assert "= cond" in str(g.get_concrete_function(tf.constant(1.0), tf.constant(3)).graph)


# ---- Variables ------------------------------------------------------------------------------------
def test_variable_assignments_in_the_body_are_seen_by_later_iterations(backend):
    v = tf.Variable(1.0)
    log = tf.Variable(0.0)

    def f(n):
        def body(i):
            log.assign(log * 10.0 + v)          # reads the value the previous iteration assigned
            v.assign(v * 2.0)
            return (i + 1,)
        tf.while_loop(lambda i: tf.logical_and(i < n, v < 100.0), body, [tf.constant(0)])
        return v.read_value()
    g = compiled(f)
    assert g(tf.constant(3)).numpy() == 8.0 and v.numpy() == 8.0 and log.numpy() == 124.0
    assert g(tf.constant(10)).numpy() == 128.0               # the condition reads v too
    concrete = g.get_concrete_function(tf.constant(1))
    (node,) = while_nodes(concrete)
    assert node.params["n_vars"] == 3                          # i, then log and v carried


def test_a_variable_only_read_in_the_body_is_captured(backend):
    w = tf.Variable([1.0, 2.0])
    g = compiled(lambda n: tf.while_loop(lambda i, a: i < n, lambda i, a: (i + 1, a + w), [0, tf.zeros([2])])[1])
    assert g(tf.constant(3)).numpy().tolist() == [3.0, 6.0]
    w.assign([10.0, 0.0])
    assert g(tf.constant(2)).numpy().tolist() == [20.0, 0.0]       # read by reference on each call


def test_assign_in_nested_loops_and_in_cond_inside_a_loop(backend):
    v = tf.Variable(0)

    def f(n):
        def outer(i):
            tf.while_loop(lambda j: j < i, lambda j: (v.assign_add(j), j + 1)[1], [tf.constant(0)])
            tf.cond(i % 2 == 0, lambda: v.assign_add(100), lambda: v)
            return (i + 1,)
        tf.while_loop(lambda i: i < n, outer, [tf.constant(0)])
        return v.read_value()
    # i=0: +100; i=1: +0; i=2: +0+1 +100; i=3: +0+1+2
    assert compiled(f)(tf.constant(4)).numpy() == 204 and v.numpy() == 204


# ---- gradients ------------------------------------------------------------------------------------
def loop_loss(x, w, n):
    i, a = tf.while_loop(lambda i, a: i < n, lambda i, a: (i + 1, tf.sin(a * x) + w), [tf.constant(0), x])
    return tf.reduce_sum(a * a)


def test_gradients_match_the_eager_tape_and_finite_differences(backend):
    x0 = np.array([0.5, -0.7, 1.2])
    w = tf.Variable(np.array([0.3, 0.9, -0.4]))

    def gradients(x, n):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = loop_loss(x, w, n)
        return [loss] + tape.gradient(loss, [x, w])
    g = compiled(gradients)
    for n in (0, 1, 4):
        got = g(tf.constant(x0), tf.constant(n))
        want = gradients(tf.constant(x0), tf.constant(n))         # the eager Python loop
        for a, b in zip(got, want):      # eagerly no iteration reads w: None, where the graph gives zeros
            assert_close(a.numpy(), np.zeros(3) if b is None else b.numpy())
        numeric_x = finite_differences(lambda x: loop_loss(tf.constant(x), w, tf.constant(n)).numpy(), x0)
        np.testing.assert_allclose(got[1].numpy(), numeric_x, rtol=1e-6, atol=1e-8)
        w0 = w.numpy()

        def loss_of_w(value):
            w.assign(value)
            return loop_loss(tf.constant(x0), w, tf.constant(n)).numpy()
        numeric_w = finite_differences(loss_of_w, w0)
        w.assign(w0)
        np.testing.assert_allclose(got[2].numpy(), numeric_w, rtol=1e-6, atol=1e-8)
    concrete = g.get_concrete_function(tf.constant(x0), tf.constant(1))
    (node,) = while_nodes(concrete)
    assert node.params["keep_history"] and node.outputs[-1].dtype == tf.variant
    assert any(n.prim is WHILE_GRAD for n in concrete.optimized_graph.nodes)


def test_gradient_through_nested_loops_and_carried_variables_follows_tf(backend):
    """As in TF, a Variable's gradient is the sum over its reads, and nothing flows through an
    assignment: the graph loop agrees with the eager Python loop (not with finite differences,
    which would see x change v through the assignments)."""
    v = tf.Variable(np.array([0.5, 0.25]))
    x0 = np.array([1.1, 0.8])

    def loss(x):
        v.assign([0.5, 0.25])

        def outer(i, a):
            _, a = tf.while_loop(lambda j, b: j < 2, lambda j, b: (j + 1, tf.tanh(b * x + v)), [tf.constant(0), a])
            v.assign(v * 0.5 + a * 0.1)          # carried by the outer loop
            return i + 1, a
        _, a = tf.while_loop(lambda i, a: i < 3, outer, [tf.constant(0), x])
        return tf.reduce_sum(a * v)

    def gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = loss(x)
        return value, tape.gradient(value, x)
    value, grad = compiled(gradient)(tf.constant(x0))
    eager_value, eager_grad = gradient(tf.constant(x0))
    assert_close(value.numpy(), eager_value.numpy())
    assert_close(grad.numpy(), eager_grad.numpy())

    def gradient_of_v(x):
        with tf.GradientTape() as tape:
            value = loss(x)
        return tape.gradient(value, v)
    assert_close(compiled(gradient_of_v)(tf.constant(x0)).numpy(), gradient_of_v(tf.constant(x0)).numpy())


def test_gradient_with_maximum_iterations_and_integer_loop_variables(backend):
    def loss(x, limit):
        _, a, k = tf.while_loop(lambda i, a, k: a < 100.0, lambda i, a, k: (i + 1, a * x + 1.0, k + 2),
                                [tf.constant(0), x, tf.constant(1)], maximum_iterations=limit)
        return a

    def gradient(x, limit):
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = loss(x, limit)
        return tape.gradient(value, x)
    for limit in (0, 2, 50):
        got = compiled(gradient)(tf.constant(1.5, tf.float64), tf.constant(limit))
        numeric = finite_differences(lambda x: loss(tf.constant(x), tf.constant(limit)).numpy(), 1.5)
        np.testing.assert_allclose(got.numpy(), numeric, rtol=1e-6)


def test_gradient_of_a_loop_inside_cond(backend):
    def loss(x):
        loop = lambda: tf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * x), [0, x])[1]   # noqa: E731
        return tf.cond(x > 0, loop, lambda: x * x)

    def gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = loss(x)
        return tape.gradient(value, x)
    for x in (1.5, -2.0):
        got = compiled(gradient)(tf.constant(x, tf.float64)).numpy()
        np.testing.assert_allclose(got, finite_differences(lambda v: loss(tf.constant(v)).numpy(), x), rtol=1e-6)


def test_unconnected_and_second_order_gradients():
    def f(x):
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                a = tf.while_loop(lambda i, a: i < 2, lambda i, a: (i + 1, a * x), [0, x])[1]
            first = inner.gradient(a, x)
        return outer.gradient(first, x)
    with pytest.raises(NotImplementedError, match="second-order gradients through a graph while_loop"):
        compiled(f)(tf.constant(2.0))

    def unconnected(x, y):
        with tf.GradientTape() as tape:
            tape.watch([x, y])
            a = tf.while_loop(lambda i, a: i < 2, lambda i, a: (i + 1, a * 2.0), [0, x])[1]
        return tape.gradient(a, [x, y], unconnected_gradients="zero")
    gx, gy = compiled(unconnected)(tf.constant(1.0), tf.constant(1.0))
    assert gx.numpy() == 4.0 and gy.numpy() == 0.0


def test_saving_a_function_with_a_graph_loop_says_it_is_not_supported(tmp_path):
    class Counter(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([], tf.int32)])
        def count(self, n):
            return tf.while_loop(lambda i: i < n, lambda i: (i + 1,), [tf.constant(0)])[0]
    with pytest.raises(NotImplementedError, match="op 'while_loop' is not a registered op"):
        tf.saved_model.save(Counter(), str(tmp_path))
