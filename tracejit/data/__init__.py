"""tracejit.data: Dataset pipelines yielding Tensors."""
from .dataset import Dataset  # noqa: F401
