"""tf.types: the abstract types user code checks with isinstance (tf.types.experimental)."""
from . import experimental  # noqa: F401
