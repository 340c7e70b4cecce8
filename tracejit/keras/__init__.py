"""tracejit.keras: the Keras-compatible library (layers, models, optimizers arrive with issue #6)."""
from . import backend  # noqa: F401
