"""tf.saved_model: save a tf.Module (Keras models included) with its traced @tf.function methods and
signatures; load it in a process that has none of the Python code that defined it.
The on-disk format is described in docs/saved_model.md."""
import os

from .load import load  # noqa: F401
from .save import DEFAULT_SIGNATURE_KEY, SAVED_MODEL_FILE, save  # noqa: F401

DEFAULT_SERVING_SIGNATURE_DEF_KEY = DEFAULT_SIGNATURE_KEY


def contains_saved_model(export_dir):
    return os.path.exists(os.path.join(str(export_dir), SAVED_MODEL_FILE))
