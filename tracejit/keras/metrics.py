"""Keras metrics: state in non-trainable Variables, so updates work eagerly and inside @function.
An update changes total and count together under the metric's lock, so threads updating and
reading one metric eagerly never lose an update nor see a total without its count.

Under a tf.distribute strategy with several replicas a metric's state is per replica and is
summed over the replicas when read (TF's sync-on-read metric variables): result() is the metric
of everything every replica saw, on every worker, so every worker must read it at the same
points (it is a collective)."""
import threading

from .. import distribute, ops
from ..context import init_scope
from ..ops.core import convert_to_tensor
from .serialization import deserialize_keras_object, register_builtins
from ..variables import Variable


class Metric:
    _keras_module = "keras.metrics"

    def __init__(self, name=None, dtype="float32"):
        from .naming import snake_case
        self.name = name or snake_case(type(self).__name__)
        self._dtype = dtype or "float32"
        self._lock = threading.RLock()
        self._strategy = distribute.get_strategy()        # whose replicas share this metric
        with init_scope():
            self.total = Variable(0.0, name=f"{self.name}/total", trainable=False, dtype=dtype)
            self.count = Variable(0.0, name=f"{self.name}/count", trainable=False, dtype=dtype)

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def _accumulate(self, values, sample_weight=None):
        values = ops.cast(convert_to_tensor(values), "float32")
        if sample_weight is not None:
            weight = ops.cast(convert_to_tensor(sample_weight), "float32")
            total, count = ops.reduce_sum(values * weight), ops.reduce_sum(ops.broadcast_to(weight, values.shape))
        else:
            total, count = ops.reduce_sum(values), ops.cast(ops.size(values), "float32")
        with self._lock:
            self.total.assign_add(total)
            self.count.assign_add(count)

    def result(self):
        with self._lock:
            total, count = self.total.read_value(), self.count.read_value()
        total, count = self._synchronized([total, count])
        return ops.divide(total, ops.maximum(count, 1e-12))

    def _synchronized(self, values):
        """The state summed over the replicas (as it is, with one replica)."""
        if self._strategy.num_replicas_in_sync == 1:
            return values
        return self._strategy.reduce(distribute.ReduceOp.SUM, values, axis=None)

    def reset_state(self):
        with self._lock:
            self.total.assign(0.0)
            self.count.assign(0.0)

    reset_states = reset_state

    @property
    def variables(self):
        return [self.total, self.count]

    def get_config(self):
        return {"name": self.name, "dtype": self._dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Mean(Metric):
    def update_state(self, values, sample_weight=None):
        self._accumulate(values, sample_weight)


class MeanMetricWrapper(Metric):
    """The mean of fn(y_true, y_pred) over the examples seen (Keras: metrics=["mae"])."""

    def __init__(self, fn, name=None, dtype=None):
        super().__init__(name, dtype)
        self._fn = fn

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = convert_to_tensor(y_pred)
        y_true = ops.cast(convert_to_tensor(y_true), y_pred.dtype)
        self._accumulate(self._fn(y_true, y_pred), sample_weight)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(lambda t, p: ops.reduce_mean(ops.abs(p - t), axis=-1), name, dtype)


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(lambda t, p: ops.reduce_mean(ops.square(p - t), axis=-1), name, dtype)


class Accuracy(Metric):
    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = convert_to_tensor(y_true), convert_to_tensor(y_pred)
        self._accumulate(ops.equal(ops.cast(y_true, "float32"), ops.cast(y_pred, "float32")), sample_weight)


class SparseCategoricalAccuracy(Metric):
    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = convert_to_tensor(y_true), convert_to_tensor(y_pred)
        if y_true.ndim == y_pred.ndim:
            y_true = ops.squeeze(y_true, axis=-1)
        predicted = ops.argmax(y_pred, axis=-1, output_type="int64")
        self._accumulate(ops.equal(ops.cast(y_true, "int64"), predicted), sample_weight)


class CategoricalAccuracy(Metric):
    def update_state(self, y_true, y_pred, sample_weight=None):
        self._accumulate(ops.equal(ops.argmax(y_true, axis=-1), ops.argmax(y_pred, axis=-1)), sample_weight)


class BinaryAccuracy(Metric):
    def __init__(self, name=None, dtype=None, threshold=0.5):
        super().__init__(name, dtype)
        self.threshold = threshold

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = convert_to_tensor(y_pred)
        predicted = ops.cast(ops.greater(y_pred, ops.cast(self.threshold, y_pred.dtype)), "float32")
        self._accumulate(ops.equal(ops.cast(convert_to_tensor(y_true), "float32"), predicted), sample_weight)


def get(identifier, loss=None):
    """'accuracy' picks the accuracy that matches the loss, like Keras."""
    if isinstance(identifier, dict):
        return deserialize_keras_object(identifier)
    if isinstance(identifier, Metric):
        return identifier
    if identifier in ("accuracy", "acc"):
        name = getattr(loss, "name", "") or ""
        kind = type(loss).__name__
        if "Sparse" in kind or "sparse" in name:
            return SparseCategoricalAccuracy(name="accuracy")
        if "Categorical" in kind or "categorical" in name:
            return CategoricalAccuracy(name="accuracy")
        if "Binary" in kind or "binary" in name:
            return BinaryAccuracy(name="accuracy")
        return Accuracy(name="accuracy")
    table = {"sparse_categorical_accuracy": SparseCategoricalAccuracy, "categorical_accuracy": CategoricalAccuracy,
             "binary_accuracy": BinaryAccuracy, "mean": Mean, "mae": MeanAbsoluteError,
             "mean_absolute_error": MeanAbsoluteError, "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError}
    if identifier in table:
        return table[identifier](name=identifier)
    raise ValueError(f"Unknown metric {identifier!r}")


register_builtins(globals())
