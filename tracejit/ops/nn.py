"""Neural-network composites over primitives: softmax, log_softmax, cross-entropies, l2_loss.
(They become primitives only if a fused kernel beats the composition: the sparse softmax
cross-entropy is one, whose gradient is softmax - one_hot instead of the 12 nodes autodiff
derives from the composition, and whose forward is one row loop.)"""
import numpy as np

from ..errors import InvalidArgumentError
from ..primitive import REDUCTION
from . import elementwise as E
from . import reduction as R
from .array import one_hot
from .broadcast import zeros_like
from .shape import expand_dims, squeeze
from .core import convert_to_tensor, op


def _shifted(logits, axis):
    logits = convert_to_tensor(logits)
    return logits - E.stop_gradient(R.reduce_max(logits, axis=axis, keepdims=True))


def softmax(logits, axis=-1, name=None):
    e = E.exp(_shifted(logits, axis))
    return e / R.reduce_sum(e, axis=axis, keepdims=True)


def log_softmax(logits, axis=-1, name=None):
    z = _shifted(logits, axis)
    return z - E.log(R.reduce_sum(E.exp(z), axis=axis, keepdims=True))


def softmax_cross_entropy_with_logits(labels, logits, axis=-1, name=None):
    logits = convert_to_tensor(logits)
    labels = convert_to_tensor(labels, dtype_hint=logits.dtype)
    return -R.reduce_sum(labels * log_softmax(logits, axis=axis), axis=axis)


def sparse_softmax_cross_entropy_with_logits(labels, logits, name=None):
    logits = convert_to_tensor(logits)
    labels = convert_to_tensor(labels)
    if not labels.dtype.is_integer:
        raise InvalidArgumentError(f"sparse_softmax_cross_entropy_with_logits: labels must be integers, "
                                   f"got {labels.dtype.name}")
    if labels.ndim != logits.ndim - 1:
        raise InvalidArgumentError(f"sparse_softmax_cross_entropy_with_logits: labels shape {tuple(labels.shape)} "
                                   f"must equal logits shape {tuple(logits.shape)} without the last dimension")
    return _sparse_softmax_cross_entropy(labels, logits)


@op("sparse_softmax_cross_entropy", REDUCTION, same_dtype=(), sample="sparse_softmax_cross_entropy")
def _sparse_softmax_cross_entropy(labels, logits):
    """Per row: log(sum(exp(logits))) - logits[label], computed stably (shifted by the row max)."""
    if not labels.dtype.is_integer or (labels.ndim is not None and logits.ndim is not None and
                                       labels.ndim != logits.ndim - 1):
        raise InvalidArgumentError(f"sparse_softmax_cross_entropy: labels must be integers of the logits' shape "
                                   f"without the last dimension, got {labels.dtype.name}{list(labels.shape)} for "
                                   f"logits {list(logits.shape)}")
    if not logits.dtype.is_floating:
        raise InvalidArgumentError(f"sparse_softmax_cross_entropy_with_logits: logits must be floats, got "
                                   f"{logits.dtype.name}")
    return labels.shape, logits.dtype


def _sparse_softmax_cross_entropy_impl(labels, logits):
    depth = logits.shape[-1]
    bad = (labels < 0) | (labels >= depth)
    if np.any(bad):
        raise InvalidArgumentError(f"Received a label value of {labels[bad].flat[0]} which is outside the valid range "
                                   f"of [0, {depth}).")
    shifted = logits - logits.max(axis=-1, keepdims=True)
    with np.errstate(divide="ignore"):
        log_sum = np.log(np.exp(shifted).sum(axis=-1))
    return (log_sum - np.take_along_axis(shifted, labels[..., None].astype(np.int64), -1)[..., 0]).astype(logits.dtype)


def _sparse_softmax_cross_entropy_vjp(g, labels, logits, out):
    probabilities = softmax(logits)
    return None, expand_dims(g, -1) * (probabilities - one_hot(labels, logits.shape[-1], dtype=logits.dtype))


_sparse_softmax_cross_entropy.impl = _sparse_softmax_cross_entropy_impl
_sparse_softmax_cross_entropy.vjp = _sparse_softmax_cross_entropy_vjp


def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    logits = convert_to_tensor(logits)
    labels = convert_to_tensor(labels, dtype_hint=logits.dtype)
    # max(x, 0) - x*z + log(1 + exp(-|x|)): stable for large |x|
    return E.relu(logits) - logits * labels + E.log1p(E.exp(-E.abs(logits)))


def l2_loss(t, name=None):
    return R.reduce_sum(E.square(t)) / 2


def relu6(features, name=None):
    return E.minimum(E.relu(features), 6)


def bias_add(value, bias, data_format=None, name=None):
    return convert_to_tensor(value) + bias


def moments(x, axes, keepdims=False, name=None):
    mean = R.reduce_mean(x, axis=axes, keepdims=True)
    variance = R.reduce_mean(E.squared_difference(x, E.stop_gradient(mean)), axis=axes, keepdims=keepdims)
    return (mean if keepdims else squeeze(mean, axis=axes)), variance


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    return E.minimum(E.maximum(t, clip_value_min), clip_value_max)


def dropout(x, rate, noise_shape=None, seed=None, name=None):
    from . import random
    x = convert_to_tensor(x)
    if not 0 <= rate < 1:
        raise InvalidArgumentError(f"dropout: rate must be in [0, 1), got {rate}")
    keep = random.uniform(noise_shape or x.shape, dtype=x.dtype, seed=seed) >= rate
    return E.select(keep, x / (1 - rate), zeros_like(x))


def silu(features, beta=1.0):
    return features * E.sigmoid(beta * features)


def gelu(features, approximate=False, name=None):
    x = convert_to_tensor(features)
    if approximate:
        return 0.5 * x * (1 + E.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))
    return 0.5 * x * (1 + E.erf(x * 0.7071067811865476))



def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """(x - mean) * scale / sqrt(variance + epsilon) + offset, computed as TF does: x * inv + (offset - mean * inv)."""
    x = convert_to_tensor(x)
    inv = E.rsqrt(variance + variance_epsilon)
    if scale is not None:
        inv = inv * scale
    return x * inv + (offset - mean * inv if offset is not None else -mean * inv)
