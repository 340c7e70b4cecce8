"""tf.compat.v1.nn."""
from ...nn import *  # noqa: F401,F403
from ...nn import softmax_cross_entropy_with_logits_v2  # noqa: F401
