"""Keras layers: weights are built lazily on the first call (outside any trace, like Keras' init
scope), named like TF ('dense_1/kernel:0'); floating inputs are cast to the layer dtype."""
import numpy as np

from .. import dtypes as dt
from .. import ops
from ..context import init_scope
from ..ops.core import convert_to_tensor
from ..variables import Variable
from . import activations, initializers, naming


class Layer:
    def __init__(self, trainable=True, name=None, dtype=None, input_shape=None, batch_input_shape=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected keyword arguments: {sorted(kwargs)}")
        self.name = name or naming.unique(naming.snake_case(type(self).__name__))
        self.trainable = trainable
        self.dtype = dt.as_dtype(dtype or "float32")
        self.built = False
        self._weights = []
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        self._input_shape = None if input_shape is None else tuple(input_shape)

    # ---- weights ----
    def add_weight(self, name, shape, initializer="glorot_uniform", trainable=True, dtype=None):
        init = initializers.get(initializer)
        dtype = dt.as_dtype(dtype or self.dtype)
        with init_scope():
            variable = Variable(lambda: init(tuple(shape), dtype), name=f"{self.name}/{name}", trainable=trainable)
        self._weights.append(variable)
        return variable

    def build(self, input_shape):
        self.built = True

    def _sublayers(self):
        return []

    @property
    def weights(self):
        own = list(self._weights)
        for layer in self._sublayers():
            own += [w for w in layer.weights if not any(w is o for o in own)]
        return own

    variables = weights

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        own = [w for w in self._weights if w.trainable]
        for layer in self._sublayers():
            own += [w for w in layer.trainable_weights if not any(w is o for o in own)]
        return own

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self):
        return [w for w in self.weights if not any(w is t for t in self.trainable_weights)]

    non_trainable_variables = non_trainable_weights

    def get_weights(self):
        return [w.numpy() for w in self.weights]

    def set_weights(self, values):
        weights = self.weights
        if len(values) != len(weights):
            raise ValueError(f"{self.name}: expected {len(weights)} weight arrays, got {len(values)}")
        for w, v in zip(weights, values):
            w.assign(np.asarray(v))

    def count_params(self):
        return int(sum(int(np.prod(w.shape)) for w in self.weights))

    # ---- calling ----
    def __call__(self, inputs, *args, training=None, **kwargs):
        inputs = self._cast(inputs)
        if not self.built:
            shape = tuple(inputs.shape) if hasattr(inputs, "shape") else None
            with init_scope():
                self.build(shape)
            self.built = True
        return self.call(inputs, *args, training=training, **kwargs) if self._takes_training() else \
            self.call(inputs, *args, **kwargs)

    def _takes_training(self):
        takes = getattr(self, "_call_takes_training", None)
        if takes is None:                       # inspected once per layer (it was ~10 us per call)
            import inspect
            takes = self._call_takes_training = "training" in inspect.signature(self.call).parameters
        return takes

    def _cast(self, inputs):
        if isinstance(inputs, (list, tuple, dict)):
            return inputs
        tensor = convert_to_tensor(inputs)
        if tensor.dtype != self.dtype and tensor.dtype.is_numeric and self.dtype.is_floating:
            tensor = ops.cast(tensor, self.dtype)
        return tensor

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        sample = ops.zeros((1,) + tuple(input_shape)[1:], self.dtype)
        return (None,) + tuple(self(sample, training=False).shape)[1:]

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


class InputLayer(Layer):
    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, input_shape=None):
        super().__init__(name=name, dtype=dtype, input_shape=shape if shape is not None else input_shape)
        self.batch_size = batch_size


def Input(shape=None, batch_size=None, dtype=None, name=None):
    """An input placeholder for Sequential (the functional API is not supported yet)."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name)


class Dense(Layer):
    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.units, self.use_bias = int(units), use_bias
        self.activation = activations.get(activation)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def build(self, input_shape):
        if input_shape is None or input_shape[-1] is None:
            raise ValueError(f"{self.name}: the last dimension of the input must be known, got {input_shape}")
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer)
        self.bias = self.add_weight("bias", (self.units,), self.bias_initializer) if self.use_bias else None
        self.built = True

    def call(self, inputs):
        if inputs.ndim == 2:
            out = ops.matmul(inputs, self.kernel)
        else:
            flat = ops.reshape(inputs, (-1, inputs.shape[-1]))
            out = ops.reshape(ops.matmul(flat, self.kernel), tuple(-1 if d is None else d
                                                                   for d in inputs.shape[:-1]) + (self.units,))
        if self.use_bias:
            out = out + self.bias
        return self.activation(out) if self.activation is not None else out


class Flatten(Layer):
    def call(self, inputs):
        rest = int(np.prod(inputs.shape[1:])) if inputs.ndim > 1 else 1
        return ops.reshape(inputs, (-1, rest))


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


class Conv2D(Layer):
    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise NotImplementedError("Conv2D: only data_format='channels_last' (NHWC) is supported")
        self.filters, self.kernel_size, self.strides = int(filters), _pair(kernel_size), _pair(strides)
        self.padding, self.use_bias = padding.upper(), use_bias
        self.activation = activations.get(activation)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def build(self, input_shape):
        if input_shape is None or len(input_shape) != 4:
            raise ValueError(f"{self.name}: expected a 4-D NHWC input, got shape {input_shape}")
        self.kernel = self.add_weight("kernel", self.kernel_size + (input_shape[-1], self.filters),
                                      self.kernel_initializer)
        self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer) if self.use_bias else None
        self.built = True

    def call(self, inputs):
        out = ops.conv2d(inputs, self.kernel, strides=self.strides, padding=self.padding)
        if self.use_bias:
            out = out + self.bias
        return self.activation(out) if self.activation is not None else out


class _Pooling2D(Layer):
    pool = None

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size)
        self.strides = self.pool_size if strides is None else _pair(strides)
        self.padding = padding.upper()

    def call(self, inputs):
        return type(self).pool(inputs, self.pool_size, self.strides, self.padding)


class MaxPooling2D(_Pooling2D):
    pool = staticmethod(ops.max_pool2d)


class AveragePooling2D(_Pooling2D):
    pool = staticmethod(ops.avg_pool2d)


MaxPool2D, AvgPool2D = MaxPooling2D, AveragePooling2D


class Dropout(Layer):
    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.seed = float(rate), seed

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        return ops.dropout(inputs, self.rate, seed=self.seed)


class ReLU(Layer):
    def call(self, inputs):
        return ops.relu(inputs)


class Softmax(Layer):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs):
        return ops.softmax(inputs, axis=self.axis)


class Activation(Layer):
    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs) if self.activation is not None else inputs
