"""tracejit.nn: activations and losses, TF names."""
from .ops import (  # noqa: F401
    avg_pool2d, conv2d, max_pool2d, batch_normalization, bias_add, dropout, elu, gelu, l2_loss, leaky_relu, log_softmax, moments, relu, relu6, sigmoid,
    sigmoid_cross_entropy_with_logits, silu, softmax, softmax_cross_entropy_with_logits, softplus,
    sparse_softmax_cross_entropy_with_logits, tanh)
from . import ops as _ops
from .ops.collective import replicas_in_sync as _replicas_in_sync

softmax_cross_entropy_with_logits_v2 = softmax_cross_entropy_with_logits
swish = silu
max_pool, avg_pool = max_pool2d, avg_pool2d


def compute_average_loss(per_example_loss, sample_weight=None, global_batch_size=None):
    """The sum of the per-example losses divided by the GLOBAL batch size, as in TF: under a
    strategy each replica returns this, and the gradients summed over the replicas are those of the
    mean loss over the global batch. global_batch_size defaults to this batch's size times
    tf.distribute.get_strategy().num_replicas_in_sync (an empty batch gives 0, not NaN)."""
    loss = _ops.convert_to_tensor(per_example_loss)
    if sample_weight is not None:
        loss = loss * _ops.cast(_ops.convert_to_tensor(sample_weight), loss.dtype)
    if global_batch_size is None:
        batch = _ops.shape(loss)[0] if loss.ndim else 1
        global_batch_size = _ops.maximum(_ops.cast(batch, loss.dtype), 1.0) * float(_replicas_in_sync())
    return _ops.reduce_sum(loss) / _ops.cast(global_batch_size, loss.dtype)


def scale_regularization_loss(regularization_loss):
    """A loss added once per replica, divided by the number of replicas in sync (as in TF)."""
    return _ops.convert_to_tensor(regularization_loss) / float(_replicas_in_sync())
