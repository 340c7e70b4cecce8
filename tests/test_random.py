"""Random ops: TF's global/op seed rules, dtypes, ranges, statistics."""
import numpy as np
import pytest

import tracejit as tf


def test_global_seed_makes_sequences_reproducible():
    tf.random.set_seed(1234)
    first = [tf.random.uniform([3]).numpy(), tf.random.normal([2]).numpy()]
    tf.random.set_seed(1234)
    second = [tf.random.uniform([3]).numpy(), tf.random.normal([2]).numpy()]
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not np.array_equal(first[0], tf.random.uniform([3]).numpy())


def test_op_seed_without_global_seed_repeats_after_reset():
    a = tf.random.uniform([4], seed=7)
    b = tf.random.uniform([4], seed=7)
    assert not np.array_equal(a.numpy(), b.numpy())      # same op called again: next values
    tf.random.set_seed(None)
    assert np.array_equal(tf.random.uniform([4], seed=7).numpy(), a.numpy())


def test_unseeded_calls_differ():
    assert not np.array_equal(tf.random.normal([8]).numpy(), tf.random.normal([8]).numpy())


def test_dtypes_shapes_and_ranges():
    u = tf.random.uniform([1000], minval=-2, maxval=3, dtype=tf.float64, seed=1)
    assert u.dtype == tf.float64 and u.shape == (1000,) and -2 <= u.numpy().min() and u.numpy().max() < 3
    i = tf.random.uniform([1000], minval=0, maxval=5, dtype=tf.int32, seed=1)
    assert i.dtype == tf.int32 and set(i.numpy().tolist()) == {0, 1, 2, 3, 4}
    n = tf.random.normal([20000], mean=3.0, stddev=2.0, seed=2).numpy()
    assert abs(n.mean() - 3.0) < 0.1 and abs(n.std() - 2.0) < 0.1 and n.dtype == np.float32
    t = tf.random.truncated_normal([5000], stddev=1.0, seed=3).numpy()
    assert np.abs(t).max() <= 2.0 and abs(t.std() - 0.88) < 0.05
    assert tf.random.normal([2, 3], dtype=tf.float16).dtype == tf.float16


def test_bad_arguments():
    with pytest.raises(tf.errors.InvalidArgumentError, match="maxval must be specified"):
        tf.random.uniform([2], dtype=tf.int32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="dtype int32 is not supported"):
        tf.random.normal([2], dtype=tf.int32)
