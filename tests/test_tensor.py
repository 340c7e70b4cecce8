"""Tensor API: dtype defaults, repr, shapes, operators, NumPy interop, indexing, errors."""
import numpy as np
import pytest

import tracejit as tf


@pytest.mark.parametrize("value,dtype", [
    (1, tf.int32), (1.5, tf.float32), (True, tf.bool), ("hi", tf.string), ([1, 2], tf.int32),
    ([1.0, 2], tf.float32), (2 ** 40, tf.int64), (np.arange(3.0), tf.float64), (np.arange(3), tf.int64),
    (np.float16(1), tf.float16), (np.zeros(2, np.uint8), tf.uint8), (np.zeros(2, np.int8), tf.int8),
    (np.zeros(2, np.int16), tf.int16)])
def test_tf_dtype_defaults(value, dtype):
    assert tf.constant(value).dtype == dtype


def test_dtypes_compare_with_numpy_and_names():
    t = tf.constant([1.0])
    assert t.dtype == tf.float32 and t.dtype == np.float32 and t.dtype == "float32"
    assert t.dtype != tf.float64 and tf.as_dtype(np.int64) == tf.int64
    assert repr(tf.float32) == "tf.float32" and tf.float32.as_numpy_dtype is np.float32
    assert tf.int8.is_integer and tf.float16.is_floating and tf.bool.is_bool and tf.uint8.is_unsigned
    assert tf.as_dtype(np.complex64) == tf.complex64 and tf.complex128.real_dtype == tf.float64
    with pytest.raises(TypeError, match="not supported"):
        tf.as_dtype(np.uint16)


def test_repr_and_str_show_values_shape_dtype():
    t = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    assert repr(t) == ("<tf.Tensor: shape=(2, 2), dtype=float32, numpy=\narray([[1., 2.],\n       [3., 4.]], "
                       "dtype=float32)>")
    assert repr(tf.constant(1.5)) == "<tf.Tensor: shape=(), dtype=float32, numpy=1.5>"
    assert repr(tf.constant("hi")) == "<tf.Tensor: shape=(), dtype=string, numpy=b'hi'>"
    assert str(tf.constant([1, 2])) == "tf.Tensor([1 2], shape=(2,), dtype=int32)"


def test_shape_is_tuple_like():
    t = tf.zeros([2, 3])
    assert t.shape == (2, 3) and t.shape == [2, 3] and t.shape != (3, 2)
    assert t.shape[0] == 2 and t.shape.as_list() == [2, 3] and t.shape.rank == 2 and t.ndim == 2
    assert t.shape.num_elements() == 6 and t.shape[1:] == (3,)
    assert repr(t.shape) == "TensorShape([2, 3])" and str(tf.TensorShape([None, 4])) == "(None, 4)"
    assert tf.TensorShape([None, 4]).is_compatible_with((7, 4))
    assert not tf.TensorShape([None, 4]).is_compatible_with((7, 5))


def test_numpy_interop():
    t = tf.constant([1.0, -2.0])
    squared = np.square(t)
    assert isinstance(squared, np.ndarray) and squared.tolist() == [1.0, 4.0]
    assert np.asarray(t).dtype == np.float32
    assert t.numpy().tolist() == [1.0, -2.0]
    assert isinstance(tf.constant(3.0).numpy(), np.float32)
    result = np.array([10.0, 20.0], np.float32) + t      # ndarray + Tensor dispatches to the Tensor
    assert isinstance(result, tf.Tensor) and result.numpy().tolist() == [11.0, 18.0]


def test_python_scalars_take_the_tensor_dtype():
    t = tf.constant([1.0, 2.0])
    assert (t + 10).dtype == tf.float32 and (10 - t).numpy().tolist() == [9.0, 8.0]
    assert (tf.constant([1, 2], tf.int8) * 3).dtype == tf.int8
    assert (tf.constant([1.0], tf.float16) + 1).dtype == tf.float16
    with pytest.raises(TypeError, match="Cannot convert 1.5 to a tensor of dtype int32"):
        tf.constant([1, 2]) + 1.5


@pytest.mark.parametrize("a,b", [(tf.float32, tf.int32), (tf.float32, tf.float64), (tf.int32, tf.int64)])
def test_no_implicit_casts_between_tensors(a, b):
    x, y = tf.ones([2], a), tf.ones([2], b)
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        x + y
    assert a.name in str(info.value) and b.name in str(info.value) and "cast" in str(info.value)
    assert (x + tf.cast(y, a)).dtype == a


def test_operators():
    a, b = tf.constant([6.0, 8.0]), tf.constant([3.0, 2.0])
    assert (a - b).numpy().tolist() == [3.0, 6.0] and (a / b).numpy().tolist() == [2.0, 4.0]
    assert (a // b).numpy().tolist() == [2.0, 4.0] and (a % b).numpy().tolist() == [0.0, 0.0]
    assert (a ** 2).numpy().tolist() == [36.0, 64.0] and (-a).numpy().tolist() == [-6.0, -8.0]
    assert abs(tf.constant([-1.0])).numpy().tolist() == [1.0]
    assert (a > b).dtype == tf.bool and (a == b).numpy().tolist() == [False, False]
    assert (a != b).numpy().tolist() == [True, True] and (a == None) is False  # noqa: E711
    m = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    assert (m @ m).numpy().tolist() == [[7.0, 10.0], [15.0, 22.0]]
    t, f = tf.constant([True, False]), tf.constant([True, True])
    assert (t & f).numpy().tolist() == [True, False] and (t | f).numpy().tolist() == [True, True]
    assert (~t).numpy().tolist() == [False, True] and (t ^ f).numpy().tolist() == [False, True]


def test_integer_division_follows_tf():
    assert (tf.constant([3]) / tf.constant([2])).dtype == tf.float64
    assert (tf.constant([3], tf.int16) / tf.constant([2], tf.int16)).dtype == tf.float32
    assert (tf.constant([7]) // tf.constant([2])).numpy().tolist() == [3]
    with pytest.raises(tf.errors.InvalidArgumentError, match="Integer division by zero"):
        tf.constant([1]) // tf.constant([0])


def test_python_conversions():
    assert float(tf.constant(2.5)) == 2.5 and int(tf.constant(3)) == 3 and bool(tf.constant(True))
    assert len(tf.zeros([4, 2])) == 4 and [x.shape for x in tf.zeros([2, 3])] == [(3,), (3,)]
    assert [10, 20, 30][tf.constant(1)] == 20
    with pytest.raises(ValueError, match="ambiguous"):
        bool(tf.constant([True, False]))
    with pytest.raises(TypeError, match="len"):
        len(tf.constant(1.0))


def test_tensors_are_unhashable_but_have_refs():
    t = tf.constant(1.0)
    with pytest.raises(TypeError, match="unhashable.*ref"):
        {t: 1}  # noqa: B018  (the expression must raise)
    refs = {t.ref(): "a"}
    assert refs[t.ref()] == "a" and t.ref().deref() is t


class TestIndexing:
    x = tf.constant(np.arange(24).reshape(2, 3, 4))

    @pytest.mark.parametrize("index", [
        0, -1, (1, 2), (slice(None), 1), (Ellipsis, -1), (slice(None, None, -1),), (0, slice(1, None), slice(None, None, 2)),
        (None, 0), (Ellipsis, None), (1, Ellipsis, 2), (slice(-2, None), None, slice(0, 1))])
    def test_matches_numpy(self, index):
        expected = np.arange(24).reshape(2, 3, 4)[index]
        result = self.x[index]
        assert result.shape == expected.shape and result.numpy().tolist() == expected.tolist()

    def test_newaxis(self):
        assert tf.newaxis is None and self.x[..., tf.newaxis].shape == (2, 3, 4, 1)

    def test_out_of_range_raises_index_error(self):
        with pytest.raises(IndexError, match="index 5 is out of bounds.*shape \\(2, 3, 4\\)"):
            self.x[0, 5]
        with pytest.raises(IndexError, match="out of bounds"):
            self.x[-3]
        with pytest.raises(IndexError, match="too many indices"):
            self.x[0, 0, 0, 0]

    def test_unsupported_indices_raise_type_error(self):
        with pytest.raises(TypeError, match="gather"):
            self.x[[0, 1]]
        with pytest.raises(TypeError, match="gather"):
            self.x[tf.constant([0, 1])]
        with pytest.raises(ValueError, match="step cannot be zero"):
            self.x[::0]

    def test_scalar_tensor_index(self):
        assert self.x[tf.constant(1), 0, 0].numpy() == 12


def test_string_tensors():
    t = tf.constant(["ab", "c"])
    assert t.dtype == tf.string and t.numpy().tolist() == [b"ab", b"c"]
    assert (t == tf.constant(["ab", "x"])).numpy().tolist() == [True, False]


@pytest.mark.parametrize("dtype", [tf.int32, tf.int64, tf.bool, tf.float64])
def test_empty_python_lists_take_the_requested_dtype(dtype):
    t = tf.constant([], dtype)
    assert t.dtype == dtype and t.shape == (0,)
    assert tf.constant([[], []], dtype).shape == (2, 0)
    assert tf.convert_to_tensor([], dtype_hint=dtype).dtype == dtype
    assert tf.constant([]).dtype == tf.float32
