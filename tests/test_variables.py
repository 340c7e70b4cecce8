"""Variables: naming, reads, assign*, slice assignment, scatter_nd_update, errors."""
import numpy as np
import pytest

import tracejit as tf


def test_name_and_repr_like_tf():
    v = tf.Variable([[1.0, 2.0], [3.0, 4.0]], name="my_var")
    assert v.name == "my_var:0" and tf.Variable(1.0).name == "Variable:0"
    assert repr(v) == ("<tf.Variable 'my_var:0' shape=(2, 2) dtype=float32, numpy=\narray([[1., 2.],\n"
                       "       [3., 4.]], dtype=float32)>")
    assert v.shape == (2, 2) and v.dtype == tf.float32 and v.trainable
    assert not tf.Variable(1.0, trainable=False).trainable


def test_dtype_argument_and_callable_initial_value():
    assert tf.Variable(1, dtype=tf.float64).dtype == tf.float64
    assert tf.Variable(lambda: tf.ones([2])).numpy().tolist() == [1.0, 1.0]
    assert tf.Variable(np.arange(3)).dtype == tf.int64


def test_assign_family():
    v = tf.Variable([1.0, 2.0])
    assert v.assign([5.0, 6.0]) is v and v.numpy().tolist() == [5.0, 6.0]
    v.assign_add([1.0, 1.0])
    v.assign_sub(tf.constant([0.5, 0.5]))
    assert v.numpy().tolist() == [5.5, 6.5]


def test_reads_are_snapshots():
    v = tf.Variable([1.0])
    before = v.read_value()
    v.assign([2.0])
    assert before.numpy().tolist() == [1.0] and v.value().numpy().tolist() == [2.0]
    copy = v.numpy()
    copy[0] = 99
    assert v.numpy()[0] == 2.0


def test_slice_assignment():
    v = tf.Variable(np.zeros((3, 4), np.float32))
    v[0, 1].assign(42)
    v[:, 2].assign([7, 8, 9])
    v[2, ...].assign(tf.ones([4]))
    expected = np.zeros((3, 4))
    expected[0, 1] = 42
    expected[:, 2] = [7, 8, 9]
    expected[2] = 1
    assert v.numpy().tolist() == expected.tolist()
    with pytest.raises(ValueError, match="shape"):
        v[0].assign([1.0, 2.0])


def test_scatter_nd_update():
    v = tf.Variable([1, 2, 3, 4, 5, 6, 7, 8])
    v.scatter_nd_update([[4], [3], [1], [7]], [9, 10, 11, 12])
    assert v.numpy().tolist() == [1, 11, 3, 10, 9, 6, 7, 12]
    with pytest.raises(tf.errors.InvalidArgumentError, match="index 8 is not in \\[0, 8\\)"):
        v.scatter_nd_update([[8]], [1])


def test_arithmetic_like_a_tensor():
    v = tf.Variable([1.0, 2.0])
    assert (v + 1).numpy().tolist() == [2.0, 3.0] and (2 * v).numpy().tolist() == [2.0, 4.0]
    assert tf.reduce_sum(v).numpy() == 3.0
    assert (-v).numpy().tolist() == [-1.0, -2.0] and (v > 1).numpy().tolist() == [False, True]
    assert np.square(v).tolist() == [1.0, 4.0] and float(tf.Variable(2.5)) == 2.5
    assert tf.matmul(tf.Variable([[1.0, 2.0]]), tf.constant([[1.0], [1.0]])).numpy() == 3.0
    assert v[1].numpy() == 2.0


def test_wrong_shape_or_dtype_raises_clearly():
    v = tf.Variable([1.0, 2.0], name="w")
    with pytest.raises(ValueError, match="Cannot assign value of shape \\(3,\\) to variable 'w:0' of shape \\(2,\\)"):
        v.assign([1.0, 2.0, 3.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="float32.*int32|int32.*float32"):
        v.assign(tf.constant([1, 2]))
    with pytest.raises(TypeError, match="Cannot convert"):
        tf.Variable([1, 2]).assign([1.5, 2.5])
    with pytest.raises(ValueError, match="initial_value"):
        tf.Variable()


def test_variables_are_unhashable_with_refs():
    v = tf.Variable(1.0)
    with pytest.raises(TypeError, match="unhashable"):
        hash(v)
    assert {v.ref(): 1}[v.ref()] == 1
