"""tracejit.keras: Keras 3-compatible layers, models, losses, optimizers, metrics, callbacks and files."""
from . import activations, backend, callbacks, datasets, initializers, layers, losses, metrics, optimizers  # noqa: F401
from . import saving, utils  # noqa: F401
from .layers import Input, InputLayer, Layer  # noqa: F401
from .models import Model, Sequential  # noqa: F401
from .variables import Variable  # noqa: F401
from . import models  # noqa: F401

models.load_model = saving.load_model
models.save_model = saving.save_model
