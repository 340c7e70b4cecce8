"""tracejit.compat: TF1 APIs (`import tracejit.compat.v1 as tf`)."""
from . import v1  # noqa: F401
