"""Keras 3 layers, built on tf.Module (as a Keras layer is in TF2).

A Layer tracks the Variables assigned to it or created by `add_weight` (trainable ones first,
then the others, each in creation order: the order Keras saves them in) and finds its sublayers
through its attributes (lists, tuples and dicts too). `build(input_shape)` runs once, on the
first call, outside any trace and inside the layer's path scope, so variables get Keras paths
("sequential/dense/kernel"). The `training` argument propagates from the outermost call to the
layers called inside it, as in Keras 3. Floating inputs are cast to the layer's compute dtype."""
import functools
import inspect
import threading
import warnings

import numpy as np

from .. import dtypes as dt
from .. import autograph, nest, ops
from ..context import executing_eagerly, init_scope
from ..module import Module
from ..ops.core import convert_to_tensor
from ..tensor import Tensor
from ..variables import Variable as _TFVariable
from . import activations, initializers, naming
from .serialization import register_builtins, serialize_keras_object
from .variables import Variable


class DTypePolicy:
    """A plain dtype policy (compute dtype == variable dtype); mixed precision is not supported."""
    _keras_module = "keras"

    def __init__(self, name=None):
        name = name or "float32"
        if isinstance(name, str) and name.startswith("mixed_"):
            raise NotImplementedError(f"dtype policy {name!r}: mixed precision is not supported; pass a plain dtype "
                                      "such as 'float16' or 'float32'")
        self.name = dt.as_dtype(name).name

    compute_dtype = variable_dtype = property(lambda self: self.name)

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f'<DTypePolicy "{self.name}">'


def dtype_policy(dtype):
    """A DTypePolicy from None, a dtype, its name, a policy or a serialized policy."""
    if isinstance(dtype, DTypePolicy):
        return dtype
    if isinstance(dtype, dict):
        dtype = dtype.get("config", {}).get("name")
    from .backend import floatx
    return DTypePolicy(dtype.name if isinstance(dtype, dt.DType) else (dtype or floatx()))


class _CallContext(threading.local):
    """The outermost layer call of this thread and the `training` value its callees inherit."""
    entry = None
    training = None


_call_context = _CallContext()


def _wrap_build(build):
    """Every build runs once inside the layer's path scope and eagerly (outside any trace), and
    records the shapes it was given (get_build_config)."""
    @functools.wraps(build)
    def wrapper(self, *args, **kwargs):
        if self.__dict__.get("_in_build"):
            return build(self, *args, **kwargs)          # super().build(...) from a subclass's build
        with self._open_name_scope(), init_scope():
            self._path = naming.current_path()
            self._in_build = True
            try:
                build(self, *args, **kwargs)
            finally:
                self._in_build = False
        arguments = inspect.signature(build).bind(self, *args, **kwargs).arguments
        self._build_shapes_dict = {k: v for k, v in list(arguments.items())[1:]}
        self.built = True
    wrapper._keras_wrapped_build = build
    return wrapper


def _is_default(method):
    return getattr(method, "_keras_default", False)


class Layer(Module):
    _keras_module = "keras.layers"
    _TF_MODULE_IGNORED_PROPERTIES = frozenset({"_trainable_variables", "_non_trainable_variables", "_auto_config"})

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "build" in cls.__dict__ and not hasattr(cls.__dict__["build"], "_keras_wrapped_build"):
            cls.build = _wrap_build(cls.__dict__["build"])

    def __new__(cls, *args, **kwargs):
        instance = super().__new__(cls)
        try:                            # Keras' auto-config: the constructor's arguments, if plain values
            names = list(inspect.signature(cls.__init__).parameters)[1:]
            given = {**dict(zip(names, args)), **kwargs}
            plain = all(isinstance(v, (str, int, float, bool, type(None))) for v in nest.flatten(given))
        except (TypeError, ValueError):
            given, plain = {}, False
        object.__setattr__(instance, "_auto_config", given if plain else None)
        return instance

    def __init__(self, *, activity_regularizer=None, trainable=True, dtype=None, autocast=True, name=None,
                 **kwargs):
        input_dim = kwargs.pop("input_dim", None)
        input_shape = (input_dim,) if input_dim is not None else kwargs.pop("input_shape", None)
        if input_shape is not None:
            warnings.warn("Do not pass an `input_shape`/`input_dim` argument to a layer. When using Sequential "
                          "models, prefer using an `Input(shape)` object as the first layer in the model instead.",
                          UserWarning, stacklevel=2)
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        if activity_regularizer is not None:
            raise NotImplementedError("activity_regularizer is not supported yet: add the penalty to your loss")
        if not isinstance(trainable, bool):
            raise ValueError(f"Expected `trainable` to be a boolean. Received: trainable={trainable} "
                             f"(of type {type(trainable)})")
        object.__setattr__(self, "_trainable_variables", [])
        object.__setattr__(self, "_non_trainable_variables", [])
        self._input_shape_arg = None if input_shape is None else tuple(input_shape)
        self._init_name(naming.validate_name(name or naming.unique(naming.snake_case(type(self).__name__))))
        self._trainable = trainable
        self._dtype_policy = dtype_policy(dtype)
        self.autocast = autocast
        self.built = False
        self._build_shapes_dict = None
        self._parent_path = self._path = None
        self._call_has_training_arg = "training" in inspect.signature(self.call).parameters

    def _obj_type(self):
        return "Layer"

    @property
    def _default_save_signature(self):
        """The serving signature tf.saved_model.save gives a model (None for a plain layer)."""
        return None

    # ---- tracking ----
    def __setattr__(self, name, value):
        if isinstance(value, (_TFVariable, list, tuple, dict)):
            for leaf in nest.flatten(value):
                if isinstance(leaf, _TFVariable):
                    self._track_variable(leaf)
        super().__setattr__(name, value)

    def _track_variable(self, variable):
        trainable, other = self.__dict__.get("_trainable_variables"), self.__dict__.get("_non_trainable_variables")
        if trainable is None:
            raise RuntimeError(f"You must call `super().__init__()` in the constructor of {type(self).__name__} "
                               "before assigning variables to it")
        if any(variable is v for v in trainable + other):
            return
        (trainable if variable.trainable else other).append(variable)
        if not self._trainable:
            variable.trainable = False

    def _sublayers(self):
        """Layers found through attributes, in the order they were first assigned."""
        found = []
        for key, value in vars(self).items():
            if key in self._TF_MODULE_IGNORED_PROPERTIES:
                continue
            for leaf in (value,) if isinstance(value, Layer) else nest.flatten(value) if isinstance(
                    value, (list, tuple, dict)) else ():
                if isinstance(leaf, Layer) and leaf is not self and not any(leaf is f for f in found):
                    found.append(leaf)
        return found

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        value = bool(value)
        self._trainable = value
        for v in self._trainable_variables:
            v.trainable = value
        for layer in self._sublayers():
            layer.trainable = value

    dtype_policy = property(lambda self: self._dtype_policy)
    dtype = variable_dtype = property(lambda self: self._dtype_policy.variable_dtype)
    compute_dtype = property(lambda self: self._dtype_policy.compute_dtype)
    input_dtype = compute_dtype
    path = property(lambda self: self._path, doc="The layer's path ('sequential/dense'), set when it is built.")

    # ---- weights ----
    def add_weight(self, *args, shape=None, initializer=None, dtype=None, trainable=True, autocast=True,
                   regularizer=None, constraint=None, aggregation="none", overwrite_with_gradient=False, name=None):
        if args:
            if len(args) > 3:
                raise TypeError(f"add_weight() takes at most 3 positional arguments but {len(args)} were given.")
            if isinstance(args[0], str):
                raise ValueError(f"`name` must be passed as a keyword argument. Received: add_weight('{args[0]}', "
                                 f"...). Use: add_weight(shape=..., name='{args[0]}').")
            if shape is not None:
                raise ValueError("`shape` was passed both positionally and as a keyword argument.")
            shape, initializer, dtype = (list(args) + [initializer, dtype][len(args) - 1:])[:3]
        if regularizer is not None or constraint is not None:
            raise NotImplementedError("weight regularizers and constraints are not supported yet: add the penalty to "
                                      "your loss, or clip the variable after the optimizer step")
        dtype = dt.as_dtype(dtype or self.variable_dtype)
        initializer = initializers.get(initializer if initializer is not None else
                                       "glorot_uniform" if dtype.is_floating else "zeros")
        with naming.name_scope(self.name, caller=self), init_scope():
            variable = Variable(initializer, shape=tuple(shape or ()), dtype=dtype, trainable=trainable,
                                autocast=autocast, aggregation=aggregation, name=name)
        variable.overwrite_with_gradient = overwrite_with_gradient
        self._track_variable(variable)
        return variable

    add_variable = add_weight

    def _own_weights(self):
        return self._trainable_variables + self._non_trainable_variables

    @property
    def weights(self):
        """This layer's variables (trainable first), then its sublayers', each once."""
        found = []
        for w in self._own_weights() + [w for layer in self._sublayers() for w in layer.weights]:
            if not any(w is f for f in found):
                found.append(w)
        return found

    variables = weights

    @property
    def trainable_weights(self):
        return [v for v in self.weights if v.trainable] if self.trainable else []

    @property
    def non_trainable_weights(self):
        return [v for v in self.weights if not v.trainable] if self.trainable else self.weights

    trainable_variables, non_trainable_variables = trainable_weights, non_trainable_weights

    def get_weights(self):
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights):
        layer_weights = self.weights
        if len(layer_weights) != len(weights):
            raise ValueError(f"You called `set_weights(weights)` on layer '{self.name}' with a weight list of length "
                             f"{len(weights)}, but the layer was expecting {len(layer_weights)} weights.")
        for variable, value in zip(layer_weights, weights):
            if tuple(variable.shape) != np.shape(value):
                raise ValueError(f"Layer {self.name} weight shape {tuple(variable.shape)} is not compatible with "
                                 f"provided weight shape {np.shape(value)}.")
        for variable, value in zip(layer_weights, weights):
            variable.assign(np.asarray(value))

    @property
    def losses(self):
        return []

    def add_loss(self, loss):
        raise NotImplementedError("Layer.add_loss is not supported yet: add the term to the loss in your train_step "
                                  "(or override Model.compute_loss)")

    def count_params(self):
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on layer '{self.name}', but the layer isn't built. "
                             "You can build it manually via: `layer.build(input_shape)`.")
        return int(sum(int(np.prod(w.shape)) for w in self.weights))

    # ---- building ----
    def build(self, input_shape):
        self.built = True

    build._keras_default = True

    def _open_name_scope(self):
        if self._parent_path is None:
            self._parent_path = naming.current_path()
        return naming.name_scope(self.name, caller=self)

    def _maybe_build(self, args):
        shapes = [nest.map_structure(lambda t: None if t is None else tuple(t.shape), a) for a in args]
        params = [p for p in inspect.signature(self.build).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        shapes = (shapes + [None] * len(params))[:len(params)]
        self.build(*shapes)

    def get_build_config(self):
        if self._build_shapes_dict is not None:
            if len(self._build_shapes_dict) == 1:
                return {"input_shape": tuple(self._build_shapes_dict.values())[0]}
            return {"shapes_dict": self._build_shapes_dict}

    def build_from_config(self, config):
        if not config:
            return
        if "input_shape" in config:
            shape = config["input_shape"]
            if _is_default(type(self).build):        # e.g. a subclassed model: build by calling it
                self(ops.zeros([1 if d is None else d for d in shape], self.compute_dtype))
            else:
                self.build(tuple(shape) if isinstance(shape, list) and not any(
                    isinstance(d, list) for d in shape) else shape)
        elif "shapes_dict" in config:
            self.build(**config["shapes_dict"])

    # ---- calling ----
    def __call__(self, *args, **kwargs):
        args = nest.map_structure(self._convert_input, args)
        kwargs = {k: v if k == "training" else nest.map_structure(self._convert_input, v) for k, v in kwargs.items()}
        for leaf in nest.flatten(args):
            if leaf is not None and not isinstance(leaf, Tensor):
                raise ValueError("Only input tensors may be passed as positional arguments. The following argument "
                                 f"value should be passed as a keyword argument: {leaf} (of type {type(leaf)})")
        context = _call_context
        entry = context.entry is None
        if entry:
            context.entry, context.training = self, None
        try:
            if "training" in kwargs:
                training = context.training = kwargs.pop("training")
            else:
                training = context.training
            if self._call_has_training_arg and training is not None:
                kwargs["training"] = training
            with self._open_name_scope():
                if not self.built:
                    self._maybe_build(args)
                outputs = self._call_function()(*args, **kwargs)
            self.built = True
            return outputs
        finally:
            if entry:
                context.entry = context.training = None

    def _call_function(self):
        """`self.call`, converted by AutoGraph while a @function with autograph traces (as Keras does),
        so Python control flow on tensors in a custom layer's call becomes cond / while_loop."""
        if autograph.conversion_enabled() and not executing_eagerly():
            return autograph.convert(self.call)
        return self.call

    def _convert_input(self, x):
        if isinstance(x, _TFVariable):
            x = x.read_value()
        elif isinstance(x, (np.ndarray, np.generic)):
            x = convert_to_tensor(x)
        if isinstance(x, Tensor) and self.autocast and x.dtype.is_floating and x.dtype != self.compute_dtype:
            x = ops.cast(x, self.compute_dtype)
        return x

    def call(self, *args, **kwargs):
        raise NotImplementedError(f"Layer {type(self).__name__} does not have a `call` method implemented.")

    def compute_output_shape(self, input_shape):
        sample = ops.zeros([1 if d is None else d for d in input_shape], self.compute_dtype)
        return (input_shape[0],) + tuple(self(sample, training=False).shape)[1:]

    # ---- config (Keras 3 format) ----
    def get_config(self):
        config = {"name": self.name}
        if type(self).get_config is Layer.get_config:
            if self._auto_config is None:
                raise NotImplementedError(
                    f"Object {type(self).__name__} was created by passing non-serializable argument values in "
                    "`__init__()`, and therefore the object must override `get_config()` in order to be serializable."
                    " Please implement `get_config()`.")
            config.update(self._auto_config)
        config.update({"trainable": self.trainable, "dtype": _serialize(self._dtype_policy)})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


Layer.build = _wrap_build(Layer.build)
Layer.build._keras_default = True


_serialize = serialize_keras_object


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


# ---------------------------------------------------------------- inputs
class InputLayer(Layer):
    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, **kwargs):
        if "input_shape" in kwargs:
            warnings.warn("Argument `input_shape` is deprecated. Use `shape` instead.", UserWarning, stacklevel=2)
            shape = kwargs.pop("input_shape")
        batch_shape = kwargs.pop("batch_input_shape", batch_shape)
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments passed to InputLayer: {kwargs}")
        if sparse or ragged or input_tensor is not None:
            raise NotImplementedError("InputLayer: sparse, ragged and input_tensor are not supported")
        super().__init__(name=name or naming.unique("input_layer"), dtype=dtype)
        if shape is not None and batch_shape is not None:
            raise ValueError("You cannot pass both `shape` and `batch_shape` at the same time.")
        if shape is None and batch_shape is None:
            raise ValueError("You must pass a `shape` argument.")
        self.batch_shape = tuple(batch_shape) if batch_shape is not None else (batch_size,) + tuple(_dims(shape))
        self.sparse, self.ragged, self.optional = bool(sparse), bool(ragged), optional
        self.built = True

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {"batch_shape": self.batch_shape, "dtype": self.dtype, "sparse": self.sparse, "ragged": self.ragged,
                "name": self.name, "optional": self.optional}


def _dims(shape):
    return (shape,) if isinstance(shape, int) else tuple(shape)


def Input(shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None, name=None,
          tensor=None, optional=False):
    """An input placeholder for Sequential (the functional API is not supported yet): an InputLayer."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse, ragged=ragged,
                      batch_shape=batch_shape, name=name, input_tensor=tensor, optional=optional)


# ---------------------------------------------------------------- core layers
class Dense(Layer):
    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, lora_alpha=None,
                 quantization_config=None, **kwargs):
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"Received an invalid value for `units`, expected a positive integer. Received: "
                             f"units={units}")
        _unsupported(kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                     kernel_constraint=kernel_constraint, bias_constraint=bias_constraint, lora_rank=lora_rank,
                     quantization_config=quantization_config)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units, self.use_bias = units, use_bias
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, input_shape):
        if input_shape is None or input_shape[-1] is None:
            raise ValueError(f"{self.name}: the last dimension of the input must be known, got {input_shape}")
        self.kernel = self.add_weight(name="kernel", shape=(input_shape[-1], self.units),
                                      initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer=self.bias_initializer) \
            if self.use_bias else None

    def call(self, inputs):
        if inputs.ndim == 2:
            out = ops.matmul(inputs, self.kernel)
        else:
            flat = ops.reshape(inputs, (-1, inputs.shape[-1]))
            out = ops.reshape(ops.matmul(flat, self.kernel),
                              tuple(-1 if d is None else d for d in inputs.shape[:-1]) + (self.units,))
        if self.use_bias:
            out = out + self.bias
        return self.activation(out) if self.activation is not None else out

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias, "kernel_initializer": _serialize(self.kernel_initializer),
                "bias_initializer": _serialize(self.bias_initializer), "kernel_regularizer": None,
                "bias_regularizer": None, "kernel_constraint": None, "bias_constraint": None,
                "quantization_config": None}


def _unsupported(**arguments):
    given = sorted(k for k, v in arguments.items() if v is not None and v is not False)
    if given:
        raise NotImplementedError(f"not supported yet: {', '.join(given)}")


class Flatten(Layer):
    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format or "channels_last"

    def call(self, inputs):
        rest = int(np.prod(inputs.shape[1:])) if inputs.ndim > 1 else 1
        return ops.reshape(inputs, (-1, rest))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Conv2D(Layer):
    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1),
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        if data_format not in (None, "channels_last") or _pair(dilation_rate) != (1, 1) or groups != 1:
            raise NotImplementedError("Conv2D: only data_format='channels_last' (NHWC), dilation_rate=1 and groups=1 "
                                      "are supported")
        _unsupported(kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                     kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.filters, self.kernel_size, self.strides = int(filters), _pair(kernel_size), _pair(strides)
        self.padding, self.use_bias = padding.lower(), use_bias
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, input_shape):
        if input_shape is None or len(input_shape) != 4:
            raise ValueError(f"{self.name}: expected a 4-D NHWC input, got shape {input_shape}")
        self.kernel = self.add_weight(name="kernel", shape=self.kernel_size + (input_shape[-1], self.filters),
                                      initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer) \
            if self.use_bias else None

    def call(self, inputs):
        out = ops.conv2d(inputs, self.kernel, strides=self.strides, padding=self.padding.upper())
        if self.use_bias:
            out = out + self.bias
        return self.activation(out) if self.activation is not None else out

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "data_format": "channels_last",
                "dilation_rate": (1, 1), "groups": 1, "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias, "kernel_initializer": _serialize(self.kernel_initializer),
                "bias_initializer": _serialize(self.bias_initializer), "kernel_regularizer": None,
                "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
                "bias_constraint": None}


class _Pooling2D(Layer):
    pool = None

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        if data_format not in (None, "channels_last"):
            raise NotImplementedError("pooling: only data_format='channels_last' (NHWC) is supported")
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size)
        self.strides = self.pool_size if strides is None else _pair(strides)
        self.padding = padding.lower()

    def call(self, inputs):
        return type(self).pool(inputs, self.pool_size, self.strides, self.padding.upper())

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding, "strides": self.strides,
                "data_format": "channels_last"}


class MaxPooling2D(_Pooling2D):
    pool = staticmethod(ops.max_pool2d)


class AveragePooling2D(_Pooling2D):
    pool = staticmethod(ops.avg_pool2d)


MaxPool2D, AvgPool2D = MaxPooling2D, AveragePooling2D


class Dropout(Layer):
    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(f"Invalid value received for argument `rate`. Expected a float value between 0 and 1. "
                             f"Received: rate={rate}")
        self.rate, self.noise_shape, self.seed = float(rate), noise_shape, seed

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        return ops.dropout(inputs, self.rate, noise_shape=self.noise_shape, seed=self.seed)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape}


class ReLU(Layer):
    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        _unsupported(max_value=max_value, negative_slope=negative_slope or None, threshold=threshold or None)
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold
        self.built = True

    def call(self, inputs):
        return ops.relu(inputs)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class Softmax(Layer):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis
        self.built = True

    def call(self, inputs):
        return ops.softmax(inputs, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Activation(Layer):
    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.built = True

    def call(self, inputs):
        return self.activation(inputs) if self.activation is not None else inputs

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Lambda(Layer):
    """Wraps a function of tensors as a layer: Lambda(lambda x: x * 2). `arguments` are extra
    keyword arguments for the function. Not saved by get_config (a Python function has no config)."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: `function` must be callable, got {function!r}")
        _unsupported(mask=mask)
        self.function, self.arguments, self._output_shape = function, dict(arguments or {}), output_shape
        self._fn_takes_training = "training" in inspect.signature(function).parameters

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_takes_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            return super().compute_output_shape(input_shape)
        shape = self._output_shape(input_shape) if callable(self._output_shape) else tuple(self._output_shape)
        return shape if len(shape) == len(input_shape) else (input_shape[0],) + shape

    def get_config(self):
        raise NotImplementedError("Lambda layers cannot be serialized (their function is Python code): subclass "
                                  "Layer with a get_config(), or save weights only (save_weights)")


class BatchNormalization(Layer):
    """Keras 3: in training (and when trainable) normalizes with the batch's moments and moves
    moving_mean/variance toward them by `1 - momentum`; otherwise normalizes with the moving ones."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 renorm=False, renorm_clipping=None, renorm_momentum=0.99, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        _unsupported(beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                     beta_constraint=beta_constraint, gamma_constraint=gamma_constraint, renorm=renorm,
                     synchronized=synchronized)
        self.axis, self.momentum, self.epsilon = int(axis), float(momentum), float(epsilon)
        self.center, self.scale = center, scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def build(self, input_shape):
        shape = (input_shape[self.axis],)
        if self.scale:
            self.gamma = self.add_weight(shape=shape, name="gamma", initializer=self.gamma_initializer, autocast=False)
        if self.center:
            self.beta = self.add_weight(shape=shape, name="beta", initializer=self.beta_initializer, autocast=False)
        self.moving_mean = self.add_weight(shape=shape, name="moving_mean", initializer=self.moving_mean_initializer,
                                           trainable=False, autocast=False)
        self.moving_variance = self.add_weight(shape=shape, name="moving_variance", trainable=False, autocast=False,
                                               initializer=self.moving_variance_initializer)
        self._reduction_axes = [i for i in range(len(input_shape)) if i != self.axis % len(input_shape)]

    def call(self, inputs, training=None, mask=None):
        _unsupported(mask=mask)
        dtype = inputs.dtype if inputs.dtype != dt.float16 else dt.float32
        x = ops.cast(inputs, dtype)
        moving_mean, moving_variance = ops.cast(self.moving_mean, dtype), ops.cast(self.moving_variance, dtype)
        if training and self.trainable:
            mean, variance = ops.moments(x, axes=self._reduction_axes)
            self.moving_mean.assign(ops.cast(moving_mean * self.momentum + mean * (1.0 - self.momentum),
                                             self.moving_mean.dtype))
            self.moving_variance.assign(ops.cast(moving_variance * self.momentum + variance * (1.0 - self.momentum),
                                                 self.moving_variance.dtype))
        else:
            mean, variance = moving_mean, moving_variance
        shape = [1] * x.ndim
        shape[self.axis] = x.shape[self.axis]
        reshape = (lambda t: t) if self.axis in (-1, x.ndim - 1) else (lambda t: ops.reshape(t, shape))
        out = ops.batch_normalization(x, reshape(mean), reshape(variance),
                                      reshape(ops.cast(self.beta, dtype)) if self.center else None,
                                      reshape(ops.cast(self.gamma, dtype)) if self.scale else None, self.epsilon)
        return ops.cast(out, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, "beta_initializer": _serialize(self.beta_initializer),
                "gamma_initializer": _serialize(self.gamma_initializer),
                "moving_mean_initializer": _serialize(self.moving_mean_initializer),
                "moving_variance_initializer": _serialize(self.moving_variance_initializer),
                "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
                "gamma_constraint": None, "synchronized": False, "renorm": False, "renorm_clipping": None,
                "renorm_momentum": 0.99}


class LayerNormalization(Layer):
    """Normalizes each example over `axis` (Keras 3: epsilon=1e-3, x * inv + (beta - mean * inv))."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        rms_scaling = kwargs.pop("rms_scaling", False)
        super().__init__(**kwargs)
        _unsupported(rms_scaling=rms_scaling, beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                     beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        if not isinstance(axis, (int, list, tuple)):
            raise TypeError(f"Expected an int or a list/tuple of ints for the argument 'axis', but received: {axis!r}")
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis
        self.epsilon, self.center, self.scale, self.rms_scaling = epsilon, center, scale, False
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)

    def build(self, input_shape):
        rank = len(input_shape)
        axes = sorted(a % rank for a in (self.axis if isinstance(self.axis, list) else [self.axis]))
        if len(set(axes)) != len(axes):
            raise ValueError(f"Duplicate axes are not allowed. Received: axis={self.axis}")
        self.axis = axes
        shape = tuple(input_shape[a] for a in axes)
        self.gamma = self.add_weight(name="gamma", shape=shape, initializer=self.gamma_initializer,
                                     autocast=False) if self.scale else None
        self.beta = self.add_weight(name="beta", shape=shape, initializer=self.beta_initializer,
                                    autocast=False) if self.center else None

    def call(self, inputs):
        dtype = inputs.dtype if inputs.dtype != dt.float16 else dt.float32
        x = ops.cast(inputs, dtype)
        mean, variance = ops.moments(x, axes=self.axis, keepdims=True)
        broadcast = [x.shape[d] if d in self.axis else 1 for d in range(x.ndim)]
        fit = (lambda v: v) if self.axis == [x.ndim - 1] else (lambda v: ops.reshape(v, broadcast))
        inv = ops.rsqrt(variance + self.epsilon)
        if self.scale:
            inv = inv * fit(ops.cast(self.gamma, dtype))
        res = -mean * inv
        if self.center:
            res = res + fit(ops.cast(self.beta, dtype))
        return ops.cast(x * inv + res, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "rms_scaling": False, "beta_initializer": _serialize(self.beta_initializer),
                "gamma_initializer": _serialize(self.gamma_initializer), "beta_regularizer": None,
                "gamma_regularizer": None, "beta_constraint": None, "gamma_constraint": None}


class Embedding(Layer):
    """Rows of an (input_dim, output_dim) matrix picked by integer indices; the gradient reaches
    only the rows used. Indices outside [0, input_dim) raise InvalidArgumentError."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, lora_rank=None, lora_alpha=None,
                 quantization_config=None, **kwargs):
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"`{arg}` must be a positive integer. Received: {arg}={value} "
                                 f"(of type {type(value).__name__}).")
        if kwargs.pop("input_length", None) is not None:
            warnings.warn("Argument `input_length` is deprecated. Just remove it.", UserWarning, stacklevel=2)
        super().__init__(**kwargs)
        _unsupported(embeddings_regularizer=embeddings_regularizer, embeddings_constraint=embeddings_constraint,
                     mask_zero=mask_zero, lora_rank=lora_rank, quantization_config=quantization_config)
        self.input_dim, self.output_dim, self.mask_zero = input_dim, output_dim, mask_zero
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        if weights is not None:
            self.build()
            self.set_weights(weights if isinstance(weights, list) else [weights])

    def build(self, input_shape=None):
        if self.built:
            return
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim), name="embeddings",
                                          initializer=self.embeddings_initializer)

    def call(self, inputs):
        if not inputs.dtype.is_integer:
            inputs = ops.cast(inputs, "int32")
        return ops.gather(self.embeddings, inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": _serialize(self.embeddings_initializer), "embeddings_regularizer": None,
                "activity_regularizer": None, "embeddings_constraint": None, "mask_zero": self.mask_zero,
                "quantization_config": None}


register_builtins(globals())
