"""keras.Variable (Keras 3): a tracejit Variable (so tapes, @function, checkpoints and tf.Module
see it) whose `name` is the short name ("kernel") and whose `path` locates it in the model
("sequential/dense/kernel"). The underlying TF-style name keeps the scopes: "sequential/dense/kernel:0"."""
import numpy as np

from .. import dtypes as dt
from ..context import init_scope
from ..variables import Variable as _TFVariable
from . import naming


class Variable(_TFVariable):
    def __init__(self, initializer, shape=None, dtype=None, trainable=True, autocast=True, aggregation="none",
                 synchronization="auto", name=None, **kwargs):
        name = naming.validate_name(name or naming.unique("variable"))
        if aggregation not in (None, "none", "mean", "sum", "only_first_replica"):
            raise ValueError("Invalid value for argument `aggregation`. Expected one of `None`, `'none'`, `'mean'`, "
                             f"`'sum'`, `'only_first_replica'`. Received: aggregation={aggregation}")
        parent = naming.current_path()
        self._path = f"{parent}/{name}" if parent else name
        if isinstance(initializer, str):
            from . import initializers
            initializer = initializers.get(initializer)
        if callable(initializer):
            if shape is None:
                raise ValueError("When creating a Variable from an initializer, the `shape` argument should be "
                                 f"specified. Received: initializer={initializer} and shape={shape}")
            dtype = dt.as_dtype(dtype or "float32")
            value = lambda: initializer(tuple(shape), dtype=dtype)  # noqa: E731
        else:
            value = np.asarray(initializer) if not hasattr(initializer, "_as_tensor") else initializer
        with init_scope():
            super().__init__(value, trainable=trainable, name=name, dtype=dtype, shape=shape, **kwargs)
        self._short_name = name
        self.autocast = autocast
        self.aggregation = aggregation or "none"
        self.synchronization = synchronization
        self.regularizer = self.constraint = None
        self.overwrite_with_gradient = False

    name = property(lambda self: self._short_name)
    path = property(lambda self: self._path)
    value = property(lambda self: self.read_value(), doc="The current value, a Tensor (a property in Keras 3).")

    def __repr__(self):
        return f"<Variable path={self._path}, shape={self.shape}, dtype={self.dtype.name}, value={self.numpy()}>"
