"""Reductions (sum/mean/max/min/prod/any/all over axes, keepdims), argmax/argmin, logsumexp."""
import numpy as np

from .. import dtypes as dt
from . import elementwise as E
from .broadcast import broadcast_like, ones_like, zeros_like
from .shape import expand_dims, shape, squeeze
from .core import convert_to_tensor, op
from ..primitive import REDUCTION, Monoid
from ..tensor import Tensor
from .rules import dims, normalize_axes, normalize_axis, reduced_shape, resolve_axes


def _rule(x, axis, keepdims):
    return reduced_shape(x.shape, axis, keepdims), x.dtype


def _restore(g, x, axis, keepdims):
    """g with the reduced axes put back as size 1, then broadcast to x's shape. (axis None: all axes,
    so g is a scalar; negative axes, given for an input of unknown rank, go back from the end.)"""
    if not keepdims and axis is not None:
        for a in sorted(axis, reverse=bool(axis) and axis[0] < 0):
            g = expand_dims(g, a)
    return broadcast_like(g, x)


def _count(x, out, axis):
    """Number of elements each output reduces over, as a Python number when it is known."""
    sizes = [x.shape[a] for a in axis] if x.ndim is not None and axis is not None else [None]
    if None not in sizes:
        return float(np.prod(sizes, dtype=np.float64))
    return E.cast(_num_elements(x), x.dtype) / E.cast(_num_elements(out), x.dtype)


def _num_elements(x):
    """The number of elements of x, computed at run time (its shape is not fully known)."""
    return reduce_prod(shape(x))


def _resolve_axes(x, axis, **params):
    return dict(params, axis=tuple(sorted(resolve_axes(axis, x.ndim))))


def _extreme_vjp(g, x, out, axis, keepdims):
    """Ties share the gradient equally, as in TF."""
    hit = E.cast(E.equal(x, _restore(out, x, axis, keepdims)), dtype=g.dtype)
    return (_restore(g, x, axis, keepdims) * hit / _restore(_sum(hit, axis=axis, keepdims=True), x, axis, True),)


def _prod_vjp(g, x, out, axis, keepdims):
    """Exact with zeros: one zero gets the product of the others, two or more zeros give 0."""
    is_zero = E.equal(x, 0)
    nonzero_product = _prod(E.select(is_zero, ones_like(x), x), axis=axis, keepdims=True)
    zeros = _sum(E.cast(is_zero, dtype=x.dtype), axis=axis, keepdims=True)
    at_zero = E.select(E.equal(zeros, 1), nonzero_product, zeros_like(nonzero_product))
    elsewhere = _restore(out, x, axis, keepdims) / E.select(is_zero, ones_like(x), x)
    grad = E.select(is_zero, broadcast_like(at_zero, x), elsewhere)   # out / x is 0 when another x is 0
    return (_restore(g, x, axis, keepdims) * grad,)


def _reduction(name, impl, vjp, dtypes, monoid=None):
    prim = op(name, REDUCTION, dtypes=dtypes, sample="reduction", differentiable=vjp is not None,
              monoid=monoid)(_rule)
    prim.impl, prim.vjp, prim.resolve_params = impl, vjp, _resolve_axes
    return prim


def _extreme_impl(ufunc):
    def impl(x, axis, keepdims):
        if x.size == 0:     # TF returns the identity (-inf/+inf or the int limits) for empty reductions
            info = np.finfo(x.dtype) if x.dtype.kind == "f" else np.iinfo(x.dtype)
            identity = (-np.inf if x.dtype.kind == "f" else info.min) if ufunc is np.maximum else \
                (np.inf if x.dtype.kind == "f" else info.max)
            return ufunc.reduce(x, axis=axis, keepdims=keepdims, initial=identity)
        return ufunc.reduce(x, axis=axis, keepdims=keepdims)
    return impl


def _mean_impl(x, axis, keepdims):
    if x.dtype.kind not in "fc":
        return np.mean(x, axis=axis, keepdims=keepdims)     # integer mean truncates, after the cast
    count = 1
    for a in axis:
        count *= x.shape[a]
    total = np.add.reduce(x, axis=axis, keepdims=keepdims)
    return total / x.dtype.type(count) if count else total * x.dtype.type(np.nan)


_sum = _reduction("reduce_sum", lambda x, axis, keepdims: np.add.reduce(x, axis=axis, keepdims=keepdims, dtype=x.dtype),
                  lambda g, x, out, axis, keepdims: (_restore(g, x, axis, keepdims),), dt.ARITHMETIC,
                  Monoid(E.add, 0.0))
_mean = _reduction("reduce_mean", _mean_impl,
                   lambda g, x, out, axis, keepdims: (_restore(g, x, axis, keepdims) / _count(x, out, axis),),
                   dt.ARITHMETIC,
                   Monoid(E.add, 0.0, mean=True))
_max = _reduction("reduce_max", _extreme_impl(np.maximum), _extreme_vjp, dt.NUMERIC, Monoid(E.maximum, -np.inf))
_min = _reduction("reduce_min", _extreme_impl(np.minimum), _extreme_vjp, dt.NUMERIC, Monoid(E.minimum, np.inf))
_prod = _reduction("reduce_prod", lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims, dtype=x.dtype),
                   _prod_vjp, dt.NUMERIC, Monoid(E.multiply, 1.0))
_any = _reduction("reduce_any", lambda x, axis, keepdims: np.any(x, axis=axis, keepdims=keepdims), None, dt.BOOL,
                  Monoid(E.logical_or, 0))
_all = _reduction("reduce_all", lambda x, axis, keepdims: np.all(x, axis=axis, keepdims=keepdims), None, dt.BOOL,
                  Monoid(E.logical_and, 1))


def _static_axis(axis):
    """An axis given as an eager tensor -> its Python value (ints are checked by the normalizers)."""
    return axis.numpy().tolist() if isinstance(axis, Tensor) or hasattr(axis, "_as_tensor") else axis


def _public(prim):
    def reduce(input_tensor, axis=None, keepdims=False, name=None):
        x = convert_to_tensor(input_tensor)
        return prim(x, axis=normalize_axes(prim.name, _static_axis(axis), x.ndim), keepdims=bool(keepdims))
    reduce.__name__ = prim.name
    return reduce


reduce_sum, reduce_mean, reduce_max, reduce_min, reduce_prod, reduce_any, reduce_all = (
    _public(p) for p in (_sum, _mean, _max, _min, _prod, _any, _all))


def reduce_logsumexp(input_tensor, axis=None, keepdims=False, name=None):
    x = convert_to_tensor(input_tensor)
    peak = E.stop_gradient(reduce_max(x, axis=axis, keepdims=True))
    peak = E.select(E.is_finite(peak), peak, zeros_like(peak))
    result = E.log(reduce_sum(E.exp(x - peak), axis=axis, keepdims=True)) + peak
    return result if keepdims else squeeze(result, axis=normalize_axes("reduce_logsumexp", axis, x.ndim))


def _resolve_axis(x, axis, **params):
    return dict(params, axis=axis % x.ndim if x.ndim else 0)


def _arg_rule(x, axis, output_type):
    return reduced_shape(x.shape, (axis,), False), output_type


def _tf_argmax(x, axis):
    """TF's CPU rule (Eigen's ArgMaxPairReducer, a scan from (index 0, lowest finite value) that
    moves on a strictly greater value): NaN never wins, ties go to the first index, and a slice
    with nothing above the lowest finite value (all NaN, or NaN and -inf) gives index 0."""
    if x.dtype.kind == "f":
        lowest = np.finfo(x.dtype).min
        x = np.where(x > lowest, x, lowest)      # NaN > lowest is False: NaN counts as lowest
    return np.argmax(x, axis=axis)


def _tf_argmin(x, axis):
    """The mirror image of _tf_argmax (Eigen's ArgMinPairReducer, from the highest finite value)."""
    if x.dtype.kind == "f":
        highest = np.finfo(x.dtype).max
        x = np.where(x < highest, x, highest)
    return np.argmin(x, axis=axis)


def _arg(name, fn):
    prim = op(name, REDUCTION, differentiable=False, dtypes=dt.NUMERIC, sample="arg_reduction")(_arg_rule)
    prim.impl = lambda x, axis, output_type: fn(x, axis=axis)
    prim.resolve_params = _resolve_axis

    def public(input, axis=None, output_type=dt.int64, name=None):
        x = convert_to_tensor(input)
        axis = 0 if axis is None else _static_axis(axis)
        return prim(x, axis=normalize_axis(prim.name, axis, x.ndim), output_type=dt.as_dtype(output_type))
    return prim, public


_argmax, argmax = _arg("argmax", _tf_argmax)
_argmin, argmin = _arg("argmin", _tf_argmin)


# ---- scans ----------------------------------------------------------------------------------
@op("cumsum", REDUCTION, dtypes=dt.ARITHMETIC, sample="cumsum")
def _cumsum(x, axis, exclusive, reverse):
    return dims(x), x.dtype


def _cumsum_impl(x, axis, exclusive, reverse):
    if reverse:
        x = np.flip(x, axis)
    out = np.cumsum(x, axis=axis, dtype=x.dtype)
    if exclusive:          # shift by one along the axis: element i sums the elements before i
        out = np.concatenate([np.zeros_like(np.take(out, [0], axis=axis)), np.delete(out, -1, axis=axis)],
                             axis=axis) if x.shape[axis] else out
    return np.flip(out, axis) if reverse else out


_cumsum.impl = _cumsum_impl
_cumsum.resolve_params = _resolve_axis
_cumsum.vjp = lambda g, x, out, axis, exclusive, reverse: (
    _cumsum(g, axis=axis, exclusive=exclusive, reverse=not reverse),)


def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    x = convert_to_tensor(x)
    return _cumsum(x, axis=normalize_axis("cumsum", int(axis), x.ndim), exclusive=bool(exclusive),
                   reverse=bool(reverse))
