"""Nothing silently wrong at the eager / data / API level: values TF computes differently are
computed as TF does, and inputs TF refuses raise TF's error types saying what was wrong."""
import numpy as np
import pytest

import tracejit as tf
from tracejit.errors import InvalidArgumentError


def _eager_and_traced(fn, *args):
    """fn's result eagerly and through a compiled @function (every fused group compiled)."""
    eager = fn(*args).numpy()
    traced = tf.function(fn)(*args).numpy()
    return eager, traced


# ---------------------------------------------------------------- tf.data
def test_take_and_skip_with_negative_counts_as_tf():
    ds = tf.data.Dataset.from_tensor_slices(np.arange(5))
    assert [int(x) for x in ds.take(-1)] == [0, 1, 2, 3, 4]          # -1: everything
    assert [int(x) for x in ds.take(-7)] == [0, 1, 2, 3, 4]          # TF's kernel: any negative count
    assert ds.take(-1).cardinality() == 5 and ds.take(2).cardinality() == 2
    assert [int(x) for x in ds.skip(-1)] == [] and ds.skip(-1).cardinality() == 0
    assert [int(x) for x in ds.skip(3)] == [3, 4]
    assert [int(x) for x in ds.take(tf.constant(2, tf.int64))] == [0, 1]
    with pytest.raises(TypeError, match=r"Dataset.take: count must be an integer, got 2.5"):
        ds.take(2.5)


def test_datasets_own_their_arrays():
    source = np.arange(4.0)
    ds = tf.data.Dataset.from_tensor_slices(source)
    single = tf.data.Dataset.from_tensors(source)
    source[:] = -1.0                                          # the caller reuses its buffer
    assert [float(x) for x in ds] == [0.0, 1.0, 2.0, 3.0]
    assert next(iter(single)).numpy().tolist() == [0.0, 1.0, 2.0, 3.0]
    element = next(iter(tf.data.Dataset.from_tensor_slices(np.ones((2, 3))).as_numpy_iterator()))
    with pytest.raises(ValueError, match="read-only"):        # as TF: numpy elements are read-only
        element[0] = 5.0


# ---------------------------------------------------------------- tensors own their memory
def test_constant_and_convert_to_tensor_copy_the_array():
    for convert in (tf.constant, tf.convert_to_tensor, lambda a: tf.Variable(a).read_value()):
        array = np.arange(3.0)
        tensor = convert(array)
        array[0] = 99.0
        assert tensor.numpy().tolist() == [0.0, 1.0, 2.0]


def test_numpy_returns_a_copy_and_array_interop_is_read_only():
    tensor = tf.constant([1.0, 2.0])
    copy = tensor.numpy()
    copy[0] = 77.0
    assert tensor.numpy().tolist() == [1.0, 2.0]
    view = np.asarray(tensor)
    with pytest.raises(ValueError, match="read-only"):
        view[0] = 5.0
    writable = np.array(tensor)
    writable[0] = 5.0
    assert tensor.numpy().tolist() == [1.0, 2.0] and np.square(tensor).tolist() == [1.0, 4.0]
    assert np.asarray(tensor, dtype=np.float64).dtype == np.float64


# ---------------------------------------------------------------- shapes are integers
@pytest.mark.parametrize("make", [tf.zeros, tf.ones, lambda s: tf.random.normal(s), lambda s: tf.fill(s, 1.0),
                                  lambda s: tf.reshape(tf.zeros([2]), s), lambda s: tf.broadcast_to(1.0, s)])
def test_shapes_with_non_integers_are_refused(make):
    with pytest.raises(TypeError, match=r"shape must be a list of integers, got \[2.5\] \(2.5 is a float\)"):
        make([2.5])
    with pytest.raises(TypeError, match=r"\(True is a bool\)"):
        make([True])
    with pytest.raises(TypeError, match="shape must be a list of integers"):
        make(np.array([2.0]))


def test_shape_dims_must_be_non_negative_except_reshapes_inferred_dim():
    with pytest.raises(InvalidArgumentError, match=r"zeros: dimension -2 in shape \[-2\] must be >= 0"):
        tf.zeros([-2])
    with pytest.raises(InvalidArgumentError, match="must be >= 0"):
        tf.ones([3, -1])
    assert tf.reshape(tf.zeros([2, 3]), [-1]).shape == (6,)
    assert tf.reshape(tf.zeros([2, 3]), [None, 2]).shape == (3, 2)
    assert tf.zeros(tf.constant([2, 3])).shape == (2, 3) and tf.zeros(np.int64(4)).shape == (4,)


# ---------------------------------------------------------------- variable updates
def test_assign_add_and_sub_need_the_variables_shape():
    v = tf.Variable([1.0, 2.0], name="v")
    with pytest.raises(InvalidArgumentError, match=r"assign_add on variable 'v:0': cannot update a variable of "
                                                   r"shape \[2\] with a delta of shape \[2, 2\]; shapes must be equal"):
        v.assign_add([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(InvalidArgumentError, match=r"assign_sub .* shape \[\]"):
        v.assign_sub(1.0)                                     # TF does not broadcast the delta either
    with pytest.raises(InvalidArgumentError, match="shapes must be equal"):
        tf.Variable(tf.zeros([2, 3])).assign_add(tf.ones([3]))
    assert v.numpy().tolist() == [1.0, 2.0]                   # nothing changed
    v.assign_add([0.5, 0.5])
    assert v.numpy().tolist() == [1.5, 2.5]


def test_assign_add_shape_check_applies_while_tracing():
    v = tf.Variable(tf.zeros([3]))

    @tf.function
    def bump(delta):
        v.assign_add(delta)
        return v.read_value()
    with pytest.raises(InvalidArgumentError, match=r"shape \[3\] with a delta of shape \[1\]"):
        bump(tf.ones([1]))
    assert bump(tf.ones([3])).numpy().tolist() == [1.0, 1.0, 1.0]


# ---------------------------------------------------------------- argmax / argmin with NaN
def _eigen_scan(row, better, start):
    """A transcription of Eigen's ArgMax/ArgMinPairReducer run in order: start at (0, start),
    take an element only when it is strictly better."""
    index, best = 0, start
    for i, value in enumerate(row):
        if better(value, best):
            index, best = i, value
    return index


def _tf_argmax_reference(x, axis):
    lowest = np.finfo(x.dtype).min
    return np.apply_along_axis(lambda r: _eigen_scan(r, lambda a, b: a > b, lowest), axis, x)


def _tf_argmin_reference(x, axis):
    highest = np.finfo(x.dtype).max
    return np.apply_along_axis(lambda r: _eigen_scan(r, lambda a, b: a < b, highest), axis, x)


NAN, INF = np.nan, np.inf
ARG_CASES = [  # values, TF's argmax, TF's argmin
    ([1.0, NAN, 3.0, NAN], 2, 0), ([NAN, 1.0, 2.0], 2, 1), ([NAN, NAN], 0, 0), ([NAN, -INF], 0, 1),
    ([NAN, INF], 1, 0), ([-INF, -INF, 1.0], 2, 0), ([3.0, NAN, 3.0], 0, 0), ([1.0, INF, NAN, -INF], 1, 3),
]


@pytest.mark.parametrize("values,expected_max,expected_min", ARG_CASES)
def test_argmax_argmin_with_nan_follow_tf(values, expected_max, expected_min):
    x = tf.constant(values)
    assert int(tf.argmax(x)) == expected_max and int(tf.argmin(x)) == expected_min


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_argmax_argmin_match_tfs_reduction_rule_eager_and_traced(dtype, axis):
    rng = np.random.default_rng(3)
    x = rng.choice([NAN, INF, -INF, 0.0, 1.0, 2.0, -1.0, np.finfo(dtype).min], size=(40, 9)).astype(dtype)
    x[5] = NAN                                                       # an all-NaN row
    for op, reference in ((tf.argmax, _tf_argmax_reference), (tf.argmin, _tf_argmin_reference)):
        eager, traced = _eager_and_traced(lambda t: op(t, axis=axis), tf.constant(x))
        expected = reference(x, axis % 2)
        np.testing.assert_array_equal(eager, expected)
        np.testing.assert_array_equal(traced, expected)


def test_integer_argmax_is_plain_first_occurrence():
    x = tf.constant([[3, 7, 7], [np.iinfo(np.int32).min] * 3], tf.int32)
    assert tf.argmax(x, axis=1).numpy().tolist() == [1, 0] and tf.argmin(x, axis=1).numpy().tolist() == [0, 0]


# ---------------------------------------------------------------- clear, typed errors
def test_one_hot_depth_and_axis_are_checked():
    with pytest.raises(InvalidArgumentError, match="one_hot: depth must be non-negative, got: -1"):
        tf.one_hot([0, 1], -1)
    with pytest.raises(TypeError, match="one_hot: depth must be an integer, got 2.5"):
        tf.one_hot([0, 1], 2.5)
    with pytest.raises(TypeError, match="one_hot: axis must be an integer"):
        tf.one_hot([0, 1], 2, axis=0.5)
    assert tf.one_hot([0, 1], 0).shape == (2, 0)
    assert tf.one_hot([1], tf.constant(3)).numpy().tolist() == [[0.0, 1.0, 0.0]]


@pytest.mark.parametrize("byte_order", [">", "<"])
def test_non_native_byte_order_is_converted_at_the_boundary(byte_order):
    data = np.arange(3000, dtype=byte_order + "i4")
    assert tf.constant(data).numpy().dtype == np.int32
    assert (tf.constant(data) + 1).numpy()[:3].tolist() == [1, 2, 3]

    @tf.function
    def double_plus_one(x):
        return x * 2 + 1
    for _ in range(3):                                        # the first call traces, later ones take the fast path
        assert double_plus_one(data).numpy()[:3].tolist() == [1, 3, 5]
    assert double_plus_one.experimental_get_tracing_count() == 1
    floats = np.linspace(0, 1, 2048).astype(byte_order + "f8").reshape(2, 1024)
    v = tf.Variable(floats[0])
    assert v.numpy().dtype == np.float64 and v.numpy()[-1] == 1.0 / 2047 * 1023
    for row in tf.data.Dataset.from_tensor_slices(floats):
        np.testing.assert_array_equal(double_plus_one(row).numpy(), floats[0 if row.numpy()[0] == 0 else 1] * 2 + 1)


def test_reduction_axes_must_be_distinct_integers():
    x = tf.ones([2, 3])
    with pytest.raises(TypeError, match=r"reduce_sum: axis must be an integer, got 0.5 \(float\)"):
        tf.reduce_sum(x, axis=0.5)
    with pytest.raises(TypeError, match="reduce_mean: axis must be an integer, got True"):
        tf.reduce_mean(x, axis=True)
    with pytest.raises(InvalidArgumentError, match=r"reduce_max: axis \[1, -1\] names the same dimension twice"):
        tf.reduce_max(x, axis=[1, -1])
    with pytest.raises(TypeError, match="argmax: axis must be an integer, got 0.5"):
        tf.argmax(x, axis=0.5)
    with pytest.raises(InvalidArgumentError, match="axis 2 is out of range for a tensor of rank 2"):
        tf.reduce_sum(x, axis=2)
    assert tf.reduce_sum(x, axis=tf.constant([0, 1])).numpy() == 6.0
    assert tf.reduce_sum(x, axis=np.int64(1)).numpy().tolist() == [3.0, 3.0]
    assert tf.argmax(tf.constant([[1, 5], [7, 2]]), axis=tf.constant(1)).numpy().tolist() == [1, 0]


def test_range_checks_its_step_as_tf():
    with pytest.raises(InvalidArgumentError, match="Requires delta != 0: 0"):
        tf.range(0, 5, 0)
    with pytest.raises(InvalidArgumentError, match="Requires start <= limit when delta > 0: 5/0"):
        tf.range(5, 0, 1)
    with pytest.raises(InvalidArgumentError, match="Requires start >= limit when delta < 0: 0/5"):
        tf.range(0, 5, -1)
    with pytest.raises(InvalidArgumentError, match=r"range: limit must be a scalar, not shape \[2\]"):
        tf.range(tf.constant([1, 2]))
    assert tf.range(5, 0, -2).numpy().tolist() == [5, 3, 1] and tf.range(3, 3).numpy().tolist() == []


@pytest.mark.parametrize("value,message", [
    (object(), r"Attempt to convert a value \(<object object at .*>\) with an unsupported type "
               r"\(<class 'object'>\) to a Tensor"),
    (None, r"Attempt to convert a value \(None\) with an unsupported type \(<class 'NoneType'>\)"),
    ([1.0, object()], r"Failed to convert a NumPy array to a Tensor \(Unsupported object type object\)"),
    (np.array([1, "a"], dtype=object), r"Unsupported object type int"),
    ([[1, 2], [3]], "Can't convert non-rectangular Python sequence to Tensor"),
])
def test_values_tf_cannot_convert_raise_value_error(value, message):
    with pytest.raises(ValueError, match=message):
        tf.constant(value)


def test_strings_still_convert():
    assert tf.constant(["a", "b"]).numpy().tolist() == [b"a", b"b"]
    assert tf.constant(np.array(["x"])).dtype == tf.string
    assert tf.constant(np.array([b"y"], dtype=object)).numpy().tolist() == [b"y"]


def test_keras_fit_with_x_and_y_of_different_lengths_says_so():
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss="mse")
    before = [w.numpy() for w in model.weights]
    x, y = np.ones((10, 2), np.float32), np.ones((9, 1), np.float32)
    with pytest.raises(ValueError, match="Data cardinality is ambiguous.*'x' sizes: 10, 'y' sizes: 9"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="Data cardinality is ambiguous"):
        model.evaluate(x, y, verbose=0)
    assert all(np.array_equal(w.numpy(), b) for w, b in zip(model.weights, before))     # no step ran
