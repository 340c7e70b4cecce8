"""Convolution and pooling, NHWC with HWIO kernels, 'VALID'/'SAME' padding as in TF.

conv2d is a composite: patches = im2col(x) (a primitive whose vjp is col2im), then one matmul
with the reshaped kernel. The backward pass therefore reuses the forward patches for the
kernel gradient, and DCE drops the input gradient when nothing needs it (a first layer)."""
import numpy as np

from .. import dtypes as dt
from ..errors import InvalidArgumentError
from .shape import reshape
from ..primitive import INDEX
from .core import convert_to_tensor, op
from .linalg import matmul


def _pair(value, name):
    if isinstance(value, int):
        return (value, value)
    value = tuple(int(v) for v in value)
    if len(value) == 4:                     # TF's [1, sh, sw, 1]
        value = value[1:3]
    if len(value) != 2:
        raise InvalidArgumentError(f"{name} must be an int or a pair, got {value}")
    return value


def window_geometry(size, window, stride, padding):
    """(output size, padding before, padding after) along one spatial dim, TF's rules."""
    if padding == "VALID":
        out = (size - window) // stride + 1
        return out, 0, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return out, total // 2, total - total // 2


def _check_padding(padding):
    padding = padding.upper() if isinstance(padding, str) else padding
    if padding not in ("VALID", "SAME"):
        raise InvalidArgumentError(f"padding must be 'VALID' or 'SAME', got {padding!r}")
    return padding


def _windows(x, window, strides, padding, fill):
    """View of shape (N, OH, OW, kh, kw, C) over the padded input."""
    (kh, kw), (sh, sw) = window, strides
    oh, top, bottom = window_geometry(x.shape[1], kh, sh, padding)
    ow, left, right = window_geometry(x.shape[2], kw, sw, padding)
    if top or bottom or left or right:
        x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=fill)
    view = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))   # N, H', W', C, kh, kw
    view = view[:, : (oh - 1) * sh + 1: sh, : (ow - 1) * sw + 1: sw]
    return view.transpose(0, 1, 2, 4, 5, 3)


def _spatial_rule(op_name, x, window, strides, padding):
    if x.ndim != 4:
        raise InvalidArgumentError(f"{op_name}: input must be 4-D NHWC, got shape {tuple(x.shape)}")
    n, h, w, c = x.shape
    oh = None if h is None else window_geometry(h, window[0], strides[0], padding)[0]
    ow = None if w is None else window_geometry(w, window[1], strides[1], padding)[0]
    if (oh is not None and oh <= 0) or (ow is not None and ow <= 0):
        raise InvalidArgumentError(f"{op_name}: window {window} does not fit input {tuple(x.shape)} with "
                                   f"{padding} padding")
    return n, oh, ow, c


# ---- im2col / col2im --------------------------------------------------------------------------
@op("im2col", INDEX, dtypes=dt.FLOATS, sample="im2col")
def _im2col(x, window, strides, padding):
    n, oh, ow, c = _spatial_rule("conv2d", x, window, strides, padding)
    rows = None if None in (n, oh, ow) else n * oh * ow
    return (rows, window[0] * window[1] * c), x.dtype


def _im2col_impl(x, window, strides, padding):
    patches = _windows(x, window, strides, padding, 0)
    return patches.reshape(-1, window[0] * window[1] * x.shape[3])


@op("col2im", INDEX, same_dtype=(), sample="col2im")
def _col2im(cols, like, window, strides, padding):
    return tuple(like.shape), cols.dtype


def _col2im_impl(cols, like, window, strides, padding):
    n, h, w, c = like.shape
    (kh, kw), (sh, sw) = window, strides
    oh, top, bottom = window_geometry(h, kh, sh, padding)
    ow, left, right = window_geometry(w, kw, sw, padding)
    padded = np.zeros((n, h + top + bottom, w + left + right, c), cols.dtype)
    cols = cols.reshape(n, oh, ow, kh, kw, c)
    for i in range(kh):
        for j in range(kw):
            padded[:, i: i + (oh - 1) * sh + 1: sh, j: j + (ow - 1) * sw + 1: sw, :] += cols[:, :, :, i, j, :]
    return padded[:, top: top + h, left: left + w, :]


_im2col.impl = _im2col_impl
_im2col.vjp = lambda g, x, out, window, strides, padding: (
    _col2im(g, x, window=window, strides=strides, padding=padding),)
_col2im.impl = _col2im_impl
_col2im.vjp = lambda g, cols, like, out, window, strides, padding: (
    _im2col(g, window=window, strides=strides, padding=padding), None)


def conv2d(input, filters, strides=1, padding="VALID", data_format="NHWC", dilations=None, name=None):
    """tf.nn.conv2d: input NHWC, filters (kh, kw, in, out)."""
    if data_format != "NHWC":
        raise NotImplementedError(f"conv2d: only data_format='NHWC' is supported, got {data_format!r}")
    if dilations not in (None, 1, [1, 1, 1, 1], (1, 1, 1, 1), (1, 1), [1, 1]):
        raise NotImplementedError("conv2d: dilations other than 1 are not supported yet")
    x = convert_to_tensor(input)
    k = convert_to_tensor(filters, dtype_hint=x.dtype)
    if k.ndim != 4:
        raise InvalidArgumentError(f"conv2d: filters must be 4-D (kh, kw, in, out), got shape {tuple(k.shape)}")
    if x.ndim == 4 and x.shape[3] is not None and k.shape[2] != x.shape[3]:
        raise InvalidArgumentError(f"conv2d: input has {x.shape[3]} channels but filters expect {k.shape[2]}")
    window, strides, padding = tuple(k.shape[:2]), _pair(strides, "strides"), _check_padding(padding)
    patches = _im2col(x, window=window, strides=strides, padding=padding)
    n, oh, ow, _ = _spatial_rule("conv2d", x, window, strides, padding)
    out = matmul(patches, reshape(k, (-1, k.shape[3])))
    return reshape(out, (-1 if n is None else n, oh, ow, k.shape[3]))


# ---- pooling ------------------------------------------------------------------------------------
def _pool_rule(op_name):
    def rule(x, window, strides, padding):
        return _spatial_rule(op_name, x, window, strides, padding), x.dtype
    return rule


def _max_pool_impl(x, window, strides, padding):
    return _windows(x, window, strides, padding, -np.inf).max(axis=(3, 4))


def _avg_pool_impl(x, window, strides, padding):
    total = _windows(x, window, strides, padding, 0).sum(axis=(3, 4))
    return total / _window_counts(x.shape, window, strides, padding, x.dtype)


def _window_counts(shape, window, strides, padding, dtype):
    """Valid (unpadded) elements per window: TF's SAME average pooling excludes padding."""
    ones = np.ones((1,) + tuple(shape[1:3]) + (1,), dtype)
    return _windows(ones, window, strides, padding, 0).sum(axis=(3, 4))


@op("max_pool", INDEX, dtypes=dt.FLOATS, sample="pool")
def _max_pool(x, window, strides, padding):
    return _pool_rule("max_pool")(x, window, strides, padding)


@op("max_pool_grad", INDEX, sample="max_pool_grad")
def _max_pool_grad(x, out, g, window, strides, padding):
    return tuple(x.shape), x.dtype


def _first_max_index(x, window, strides, padding):
    """Per window, the position (0..kh*kw-1) of its first maximal element (TF routes gradients there)."""
    w = _windows(x, window, strides, padding, -np.inf)
    n, oh, ow, kh, kw, c = w.shape
    return w.reshape(n, oh, ow, kh * kw, c).argmax(axis=3)


def _max_pool_grad_impl(x, out, g, window, strides, padding):
    index = _first_max_index(x, window, strides, padding)
    cols = np.zeros(index.shape[:3] + (window[0] * window[1],) + index.shape[3:], g.dtype)
    np.put_along_axis(cols, index[:, :, :, None, :], g[:, :, :, None, :], axis=3)
    return _col2im_impl(cols.reshape(-1, cols.shape[3] * cols.shape[4]), x, window, strides, padding)


def _max_pool_select_impl(x, out, values, window, strides, padding):
    """vjp of max_pool_grad w.r.t. its g: every window reads `values` at its first maximal element."""
    index = _first_max_index(x, window, strides, padding)
    w = _windows(values, window, strides, padding, 0)
    n, oh, ow, kh, kw, c = w.shape
    return np.take_along_axis(w.reshape(n, oh, ow, kh * kw, c), index[:, :, :, None, :], axis=3)[:, :, :, 0, :]


@op("max_pool_select", INDEX, differentiable=False, sample="max_pool_select")
def _max_pool_select(x, out, values, window, strides, padding):
    return tuple(out.shape), x.dtype


_max_pool.impl = _max_pool_impl
_max_pool.vjp = lambda g, x, out, window, strides, padding: (
    _max_pool_grad(x, out, g, window=window, strides=strides, padding=padding),)
_max_pool_grad.impl = _max_pool_grad_impl
_max_pool_grad.vjp = lambda gg, x, out, g, res, window, strides, padding: (
    None, None, _max_pool_select(x, out, gg, window=window, strides=strides, padding=padding))
_max_pool_select.impl = _max_pool_select_impl


@op("avg_pool", INDEX, dtypes=dt.FLOATS, sample="pool")
def _avg_pool(x, window, strides, padding):
    return _pool_rule("avg_pool")(x, window, strides, padding)


@op("avg_pool_grad", INDEX, same_dtype=(), sample="avg_pool_grad")
def _avg_pool_grad(g, like, window, strides, padding):
    return tuple(like.shape), g.dtype


def _avg_pool_grad_impl(g, like, window, strides, padding):
    counts = _window_counts(like.shape, window, strides, padding, g.dtype)
    share = np.repeat((g / counts)[:, :, :, None, :], window[0] * window[1], axis=3)
    return _col2im_impl(share.reshape(-1, window[0] * window[1] * g.shape[3]), like, window, strides, padding)


_avg_pool.impl = _avg_pool_impl
_avg_pool.vjp = lambda g, x, out, window, strides, padding: (
    _avg_pool_grad(g, x, window=window, strides=strides, padding=padding),)
_avg_pool_grad.impl = _avg_pool_grad_impl
_avg_pool_grad.vjp = lambda gg, g, like, out, window, strides, padding: (
    _avg_pool(gg, window=window, strides=strides, padding=padding), None)


def _pool(prim):
    def pool(input, ksize, strides, padding, data_format="NHWC", name=None):
        if data_format != "NHWC":
            raise NotImplementedError(f"{prim.name}: only data_format='NHWC' is supported")
        return prim(convert_to_tensor(input), window=_pair(ksize, "ksize"), strides=_pair(strides, "strides"),
                    padding=_check_padding(padding))
    pool.__name__ = prim.name
    return pool


max_pool2d = _pool(_max_pool)
avg_pool2d = _pool(_avg_pool)
