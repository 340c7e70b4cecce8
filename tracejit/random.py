"""tracejit.random: seeded random tensors with TF's global/op seed rules."""
from .ops.random import get_global_generator_seed, normal, set_seed, truncated_normal, uniform  # noqa: F401
