"""tracejit.nn: activations and losses, TF names."""
from .ops import (  # noqa: F401
    avg_pool2d, conv2d, max_pool2d, batch_normalization, bias_add, dropout, elu, gelu, l2_loss, leaky_relu, log_softmax, moments, relu, relu6, sigmoid,
    sigmoid_cross_entropy_with_logits, silu, softmax, softmax_cross_entropy_with_logits, softplus,
    sparse_softmax_cross_entropy_with_logits, tanh)

softmax_cross_entropy_with_logits_v2 = softmax_cross_entropy_with_logits
swish = silu
max_pool, avg_pool = max_pool2d, avg_pool2d
