"""tf.distribute.experimental: names TF kept here before they became stable."""
from .strategy import MultiWorkerMirroredStrategy  # noqa: F401
