"""Keras losses: callables (y_true, y_pred, sample_weight=None) -> scalar mean loss.

Under a tf.distribute strategy with N replicas in sync, the mean ("sum_over_batch_size") is
divided by N, as in Keras 3: each replica's mean over its own shard, summed over the replicas by
the optimizer's gradient all-reduce, gives the gradient of the mean over the global batch. The
"sum" and "none" reductions are never scaled (tf.nn.compute_average_loss is the TF way to use
them in a custom loop)."""
from .. import distribute, ops
from ..ops.core import convert_to_tensor
from .serialization import deserialize_keras_object, register_builtins

_EPSILON = 1e-7


class Loss:
    _keras_module = "keras.losses"

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        from .naming import snake_case
        self.name = name or snake_case(type(self).__name__)
        if reduction not in ("sum_over_batch_size", "auto", "sum", "none", None):
            raise ValueError(f"Invalid value for argument `reduction`. Expected one of {{'sum', "
                             f"'sum_over_batch_size', 'none', 'auto'}}. Received: reduction={reduction}")
        self.reduction = reduction or "none"

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        config = {k: v for k, v in config.items() if k not in ("dtype", "fn")}
        if config.pop("ignore_class", None) is not None or config.pop("label_smoothing", 0.0) or \
                config.pop("axis", -1) != -1:
            raise NotImplementedError(f"{cls.__name__}: ignore_class, label_smoothing and axis are not supported yet")
        return cls(**config)

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = convert_to_tensor(y_pred)
        per_example = self.call(y_true, y_pred)
        if sample_weight is not None:
            per_example = per_example * ops.cast(convert_to_tensor(sample_weight), per_example.dtype)
        if self.reduction == "none":
            return per_example
        total = ops.reduce_sum(per_example)
        if self.reduction == "sum":
            return total
        # an empty batch (a worker's shard of a batch smaller than the worker count) has loss 0, not NaN
        mean = total / ops.cast(ops.maximum(ops.size(per_example), 1), total.dtype)
        return scale_loss_for_distribution(mean)


def scale_loss_for_distribution(value):
    """value / num_replicas_in_sync of the current strategy (unchanged with one replica)."""
    replicas = distribute.get_strategy().num_replicas_in_sync
    return value if replicas == 1 else value * (1.0 / replicas)


def unscale_loss_for_distribution(value):
    """The inverse of scale_loss_for_distribution: the replica's own mean loss."""
    replicas = distribute.get_strategy().num_replicas_in_sync
    return value if replicas == 1 else value * float(replicas)


def _probabilities_to_log(y_pred):
    return ops.log(ops.clip_by_value(y_pred, _EPSILON, 1 - _EPSILON))


class _CrossEntropy(Loss):
    """A loss of probabilities, or of logits with from_logits=True."""

    def __init__(self, from_logits=False, **kwargs):
        super().__init__(**kwargs)
        self.from_logits = from_logits

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


class SparseCategoricalCrossentropy(_CrossEntropy):
    def call(self, y_true, y_pred):
        labels = ops.cast(convert_to_tensor(y_true), "int32")
        if labels.ndim == y_pred.ndim:                      # labels of shape (batch, 1)
            labels = ops.squeeze(labels, axis=-1)
        if self.from_logits:
            return ops.sparse_softmax_cross_entropy_with_logits(labels, y_pred)
        hot = ops.one_hot(labels, y_pred.shape[-1], dtype=y_pred.dtype)
        return -ops.reduce_sum(hot * _probabilities_to_log(y_pred), axis=-1)


class CategoricalCrossentropy(_CrossEntropy):
    def call(self, y_true, y_pred):
        labels = convert_to_tensor(y_true, dtype_hint=y_pred.dtype)
        labels = ops.cast(labels, y_pred.dtype)
        if self.from_logits:
            return ops.softmax_cross_entropy_with_logits(labels, y_pred)
        probabilities = y_pred / ops.reduce_sum(y_pred, axis=-1, keepdims=True)
        return -ops.reduce_sum(labels * _probabilities_to_log(probabilities), axis=-1)


class BinaryCrossentropy(_CrossEntropy):
    def call(self, y_true, y_pred):
        labels = ops.cast(convert_to_tensor(y_true, dtype_hint=y_pred.dtype), y_pred.dtype)
        if self.from_logits:
            per_element = ops.sigmoid_cross_entropy_with_logits(labels=labels, logits=y_pred)
        else:
            p = ops.clip_by_value(y_pred, _EPSILON, 1 - _EPSILON)
            per_element = -(labels * ops.log(p) + (1 - labels) * ops.log(1 - p))
        return ops.reduce_mean(per_element, axis=-1)


class MeanSquaredError(Loss):
    def call(self, y_true, y_pred):
        labels = ops.cast(convert_to_tensor(y_true, dtype_hint=y_pred.dtype), y_pred.dtype)
        return ops.reduce_mean(ops.square(y_pred - labels), axis=-1)


class MeanAbsoluteError(Loss):
    def call(self, y_true, y_pred):
        labels = ops.cast(convert_to_tensor(y_true, dtype_hint=y_pred.dtype), y_pred.dtype)
        return ops.reduce_mean(ops.abs(y_pred - labels), axis=-1)


_BY_NAME = {"sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
            "categorical_crossentropy": CategoricalCrossentropy, "binary_crossentropy": BinaryCrossentropy,
            "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
            "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError}


def get(identifier):
    if isinstance(identifier, dict):
        return deserialize_keras_object(identifier)
    if isinstance(identifier, Loss) or (callable(identifier) and not isinstance(identifier, str)):
        return identifier
    if identifier in _BY_NAME:
        return _BY_NAME[identifier](name=identifier)
    raise ValueError(f"Unknown loss {identifier!r}; known: {sorted(_BY_NAME)}")


register_builtins(globals())
