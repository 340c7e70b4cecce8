"""tf.TensorArray: eagerly a list of tensors (TF's _EagerTensorArray semantics and errors), traced a
dense buffer that is a loop variable of graph loops; differentiable through write/read/stack/
unstack (gradients vs finite differences in float64); compiled results equal eager ones."""
import numpy as np
import pytest

import tracejit as tf
from tracejit.control_flow import WHILE
from conftest import assert_close, finite_differences


def both(f, *args):
    """f run eagerly and compiled (with AutoGraph): the results, which must agree."""
    eager, compiled = f(*args), tf.function(f)(*args)
    for a, b in zip(tf.nest.flatten(eager), tf.nest.flatten(compiled)):
        assert_close(np.asarray(b), np.asarray(a))
    return compiled


# ---- the operations ----------------------------------------------------------------------------------
def all_operations(x):
    ta = tf.TensorArray(tf.float32, size=3, clear_after_read=False)     # graph arrays never clear (as in TF)
    ta = ta.write(0, x).write(1, x * 2.0).write(2, x * 3.0)
    first = ta.read(1)
    stacked = ta.stack()
    gathered = ta.gather([2, 0])
    concatenated = ta.concat()
    unstacked = tf.TensorArray(tf.float32, size=2).unstack(tf.reshape(x, [2, 1]))
    scattered = tf.TensorArray(tf.float32, size=4, element_shape=[1]).scatter([3, 1], tf.reshape(x, [2, 1]))
    return first, stacked, gathered, concatenated, unstacked.stack(), scattered.stack(), ta.size()


def test_every_operation_eager_and_compiled():
    x = tf.constant([1.0, 2.0])
    first, stacked, gathered, concatenated, unstacked, scattered, size = both(all_operations, x)
    assert first.numpy().tolist() == [2.0, 4.0]
    assert stacked.numpy().tolist() == [[1, 2], [2, 4], [3, 6]]
    assert gathered.numpy().tolist() == [[3, 6], [1, 2]]
    assert concatenated.numpy().tolist() == [1, 2, 2, 4, 3, 6]
    assert unstacked.numpy().tolist() == [[1], [2]] and scattered.numpy().tolist() == [[0], [2], [0], [1]]
    assert size.numpy() == 3 and size.dtype == tf.int32


def test_properties_and_split():
    ta = tf.TensorArray(tf.float32, size=2, element_shape=[3], dynamic_size=True)
    assert ta.dtype == tf.float32 and ta.element_shape == tf.TensorShape([3]) and ta.dynamic_size
    eager = tf.TensorArray(tf.float32, size=2).split(tf.constant([1.0, 2.0, 3.0]), [1, 2])
    assert eager.read(1).numpy().tolist() == [2.0, 3.0]

    @tf.function
    def equal_split(x):
        return tf.TensorArray(tf.float32, size=2).split(x, [2, 2]).stack()
    assert equal_split(tf.constant([1.0, 2.0, 3.0, 4.0])).numpy().tolist() == [[1, 2], [3, 4]]
    with pytest.raises(NotImplementedError, match="lengths that differ"):
        tf.function(lambda x: tf.TensorArray(tf.float32, size=2).split(x, [1, 3]).stack())(tf.ones([4]))


def test_eager_semantics_and_errors():
    with pytest.raises(ValueError, match="Size must be declared"):
        tf.TensorArray(tf.float32)
    ta = tf.TensorArray(tf.float32, size=2)
    with pytest.raises(tf.errors.InvalidArgumentError, match="not resizeable and size is: 2"):
        ta.write(2, 1.0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="negative indices"):
        ta.write(-1, 1.0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="TensorArray dtype is float32 but Op is trying to write "
                                                             "dtype int32"):
        ta.write(0, tf.constant(1))
    ta.write(0, [1.0, 2.0])
    with pytest.raises(ValueError, match="Inconsistent shapes"):
        ta.write(1, [1.0])
    assert ta.read(0).numpy().tolist() == [1.0, 2.0]
    with pytest.raises(tf.errors.InvalidArgumentError, match="Could not read index 0 twice"):
        ta.read(0)
    assert ta.read(1).numpy().tolist() == [0.0, 0.0]            # never written: zeros of the element shape
    keep = tf.TensorArray(tf.float32, size=1, clear_after_read=False).write(0, 5.0)
    assert keep.read(0).numpy() == keep.read(0).numpy() == 5.0
    ragged = tf.TensorArray(tf.float32, size=2, infer_shape=False).write(0, [1.0]).write(1, [2.0, 3.0])
    assert ragged.concat().numpy().tolist() == [1.0, 2.0, 3.0]
    grown = tf.TensorArray(tf.int32, size=0, dynamic_size=True).write(3, 7)
    assert grown.size().numpy() == 4 and grown.stack().numpy().tolist() == [0, 0, 0, 7]


def test_traced_errors():
    with pytest.raises(NotImplementedError, match="different shapes .* only supported eagerly"):
        tf.function(lambda x: tf.TensorArray(tf.float32, size=2, infer_shape=False).write(0, x).write(1, x[:1])
                    .stack())(tf.ones([2]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="element shape is not known yet"):
        tf.function(lambda x: tf.TensorArray(tf.float32, size=2).stack())(tf.ones([2]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="index 5 is not in"):
        tf.function(lambda x: tf.TensorArray(tf.float32, size=2).write(5, x).stack())(tf.ones([2]))


# ---- loops --------------------------------------------------------------------------------------------
def cumulative_products(x, n):
    ta = tf.TensorArray(tf.float64, size=n)
    acc = tf.ones_like(x)
    for i in tf.range(n):
        acc = acc * x
        ta = ta.write(i, acc)
    return ta.stack()


def test_loop_carried_with_the_element_shape_learned_from_the_body():
    x = tf.constant([2.0, 3.0], tf.float64)
    result = both(cumulative_products, x, tf.constant(3))
    assert result.numpy().tolist() == [[2, 3], [4, 9], [8, 27]]
    f = tf.function(cumulative_products)
    assert f(x, tf.constant(5)).shape == (5, 2) and f.experimental_get_tracing_count() == 1
    assert WHILE in {n.prim for n in f.get_concrete_function(x, tf.constant(1)).graph.nodes}


def test_dynamic_size_grows_in_a_loop():
    def evens(limit):
        ta = tf.TensorArray(tf.int32, size=0, dynamic_size=True)
        i = tf.constant(0)
        while i * 2 < limit:
            ta = ta.write(i, i * 2)
            i += 1
        return ta.stack(), ta.size()
    values, size = both(evens, tf.constant(9))
    assert values.numpy().tolist() == [0, 2, 4, 6, 8] and size.numpy() == 5


def test_an_explicit_while_loop_with_a_static_array_runs_natively():
    @tf.function(autograph=False)
    def squares(x):
        ta = tf.TensorArray(tf.float32, size=8, element_shape=[4])
        _, ta = tf.while_loop(lambda i, ta: i < 8, lambda i, ta: (i + 1, ta.write(i, x * tf.cast(i, tf.float32))),
                              [tf.constant(0), ta])
        return ta.stack()
    x = tf.constant([1.0, 2.0, 3.0, 4.0])
    assert_close(squares(x).numpy(), np.arange(8, dtype=np.float32)[:, None] * x.numpy())
    if tf.config.backend() == "native":
        (node,) = [n for n in squares.get_concrete_function(x).optimized_graph.nodes if n.prim is WHILE]
        assert node.params["body"].executable().tier == "native"


def test_symbolic_size_and_a_while_loop_shape_invariant():
    @tf.function(autograph=False)
    def f(x, n):
        ta = tf.TensorArray(tf.float32, size=n, element_shape=[2])
        _, ta = tf.while_loop(lambda i, ta: i < n, lambda i, ta: (i + 1, ta.write(i, x + tf.cast(i, tf.float32))),
                              [tf.constant(0), ta], shape_invariants=[tf.TensorShape([]), tf.TensorShape([2])])
        return ta.stack()
    assert f(tf.constant([0.0, 10.0]), tf.constant(3)).numpy().tolist() == [[0, 10], [1, 11], [2, 12]]


# ---- gradients ---------------------------------------------------------------------------------------
def gradient_of(loss, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = loss(x)
    return tape.gradient(value, x)


def test_gradients_through_write_read_stack_and_unstack():
    def loss(x):
        products = cumulative_products(x, tf.constant(3))
        rows = tf.TensorArray(tf.float64, size=3, clear_after_read=False).unstack(products * products)
        return tf.reduce_sum(rows.read(2)) + tf.reduce_sum(rows.stack() * 0.5)
    x0 = np.array([0.7, 1.3])
    numeric = finite_differences(lambda x: loss(tf.constant(x)).numpy(), x0)
    eager = gradient_of(loss, tf.constant(x0))
    compiled = tf.function(lambda x: gradient_of(loss, x))(tf.constant(x0))
    np.testing.assert_allclose(eager.numpy(), numeric, rtol=1e-6)
    np.testing.assert_allclose(compiled.numpy(), numeric, rtol=1e-6)


def test_gradient_through_a_dynamic_array():
    def loss(x):
        ta = tf.TensorArray(tf.float64, size=0, dynamic_size=True)
        for i in tf.range(3):
            ta = ta.write(i, tf.sin(x * tf.cast(i + 1, tf.float64)))
        return tf.reduce_sum(ta.stack() ** 2)
    x0 = np.array([0.4, -0.8])
    numeric = finite_differences(lambda x: loss(tf.constant(x)).numpy(), x0)
    np.testing.assert_allclose(tf.function(lambda x: gradient_of(loss, x))(tf.constant(x0)).numpy(), numeric,
                               rtol=1e-6)
