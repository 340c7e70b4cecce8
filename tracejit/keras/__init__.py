"""tracejit.keras: Keras-compatible layers, models, losses, optimizers, metrics and callbacks."""
from . import activations, backend, callbacks, datasets, initializers, layers, losses, metrics, optimizers  # noqa: F401
from .layers import Input  # noqa: F401
from .models import Model, Sequential  # noqa: F401
from . import models  # noqa: F401
