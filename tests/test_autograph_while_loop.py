"""tracejit.while_loop eagerly runs as a Python loop (TF's eager semantics) and checks each
iteration as a graph loop would; inside @function it is a graph loop (tests/test_while_loop.py)."""
import collections

import numpy as np
import pytest

import tracejit as tf

Pair = collections.namedtuple("Pair", "j, k")


def test_runs_until_the_condition_is_false_and_keeps_the_structure():
    result = tf.while_loop(lambda i: tf.less(i, 10), lambda i: (tf.add(i, 1),), [tf.constant(0)])
    assert isinstance(result, list) and len(result) == 1 and result[0].numpy() == 10


def test_nested_structures_and_namedtuples_tf_doc_example():
    start = (tf.constant(0), Pair(tf.constant(1), tf.constant(2)))
    i, pair = tf.while_loop(lambda i, p: i < 10, lambda i, p: (i + 1, Pair(p.j + p.k, p.j - p.k)), start)
    assert i.numpy() == 10 and isinstance(pair, Pair) and (pair.j.numpy(), pair.k.numpy()) == (32, 64)


def test_dict_loop_vars():
    result = tf.while_loop(lambda a, b: a < 5, lambda a, b: {"a": a + 1, "b": b * 2},
                           {"a": tf.constant(0), "b": tf.constant(1.0)})
    assert result["a"].numpy() == 5 and result["b"].numpy() == 32.0


def test_python_numbers_become_tensors_and_a_single_result_is_packed():
    result = tf.while_loop(lambda i: i < 3, lambda i: i + 1, [0])
    assert isinstance(result[0], tf.Tensor) and result[0].dtype == tf.int32 and result[0].numpy() == 3


def test_maximum_iterations_stops_the_loop():
    calls = []

    def cond(i):
        calls.append(1)
        return i < 100
    assert tf.while_loop(cond, lambda i: (i + 1,), [tf.constant(0)], maximum_iterations=4)[0].numpy() == 4
    assert len(calls) == 4
    assert tf.while_loop(lambda i: i < 2, lambda i: (i + 1,), [0], maximum_iterations=tf.constant(9))[0].numpy() == 2
    with pytest.raises(ValueError, match="'maximum_iterations' must be a scalar"):
        tf.while_loop(lambda i: i < 2, lambda i: (i + 1,), [0], maximum_iterations=[1, 2])


def test_shape_must_stay_compatible_with_its_invariant():
    i0, m0 = tf.constant(0), tf.ones([2, 2])
    grow = lambda i, m: [i + 1, tf.concat([m, m], axis=0)]      # noqa: E731
    with pytest.raises(ValueError, match=r"loop_vars\[1\] has shape \(4, 2\) after 1 iteration\(s\).*"
                                         "shape_invariants"):
        tf.while_loop(lambda i, m: i < 10, grow, [i0, m0])
    _, m = tf.while_loop(lambda i, m: i < 10, grow, [i0, m0],
                         shape_invariants=[i0.get_shape(), tf.TensorShape([None, 2])])
    assert m.shape == (2048, 2)
    with pytest.raises(ValueError, match="does not conform with its shape invariant"):
        tf.while_loop(lambda i, m: i < 10, grow, [i0, m0], shape_invariants=[[], [None, 3]])


def test_dtype_and_structure_must_not_change():
    with pytest.raises(TypeError, match=r"loop_vars\[0\] enters the loop with dtype int32, but has dtype float32"):
        tf.while_loop(lambda x: x < 3, lambda x: (tf.cast(x, tf.float32) + 1.0,), [tf.constant(0)])
    with pytest.raises(ValueError, match="body must return the structure of loop_vars"):
        tf.while_loop(lambda a, b: a < 3, lambda a, b: (a + 1,), [tf.constant(0), tf.constant(0)])


def test_argument_errors():
    with pytest.raises(TypeError, match="'cond' must be callable"):
        tf.while_loop(1, lambda i: i, [0])
    with pytest.raises(TypeError, match="'body' must be callable"):
        tf.while_loop(lambda i: True, 1, [0])
    with pytest.raises(ValueError, match="'loop_vars' must be provided"):
        tf.while_loop(lambda: True, lambda: (), [])
    with pytest.raises(TypeError, match="'loop_vars' must be a"):
        tf.while_loop(lambda i: i < 3, lambda i: i + 1, tf.constant(0))
    with pytest.raises(tf.errors.InvalidArgumentError, match="cond must return a scalar bool tensor"):
        tf.while_loop(lambda i: tf.constant([True, True]), lambda i: (i,), [0])


def test_variables_as_loop_vars_are_read():
    v = tf.Variable(1.0)
    assert tf.while_loop(lambda x: x < 10.0, lambda x: (x * 2.0,), [v])[0].numpy() == 16.0
    assert v.numpy() == 1.0


def test_symbolic_condition_builds_a_graph_loop():
    @tf.function
    def f(x):
        return tf.while_loop(lambda i: i < x, lambda i: (i + 1.0,), [tf.constant(0.0)])[0]
    assert f(tf.constant(3.0)).numpy() == 3.0 and f(tf.constant(7.5)).numpy() == 8.0
    assert f.experimental_get_tracing_count() == 1
    assert "while_loop" in str(f.get_concrete_function(tf.constant(1.0)).graph)


def test_condition_on_python_values_inside_a_trace_is_a_graph_loop_too():
    @tf.function
    def f(x):
        return tf.while_loop(lambda i, acc: i < 3, lambda i, acc: (i + 1, acc * x), [0, tf.ones_like(x)])[1]
    assert np.allclose(f(tf.constant([2.0, 3.0])).numpy(), [8.0, 27.0])
