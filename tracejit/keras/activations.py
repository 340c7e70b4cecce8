"""Activations by Keras name; serialized as their name ('linear' for none), custom functions by reference."""
from .. import ops
from .serialization import deserialize_keras_object, serialize_keras_object

_BY_NAME = {"relu": ops.relu, "sigmoid": ops.sigmoid, "tanh": ops.tanh, "softmax": ops.softmax,
            "elu": ops.elu, "softplus": ops.softplus, "gelu": ops.gelu, "silu": ops.silu, "swish": ops.silu,
            "relu6": ops.relu6, "leaky_relu": ops.leaky_relu, "log_softmax": ops.log_softmax, "exponential": ops.exp}


def linear(x):
    return x


def get(identifier):
    if identifier is None or identifier == "linear" or identifier is linear:
        return None
    if isinstance(identifier, dict):
        return get(deserialize_keras_object(identifier, module_objects=dict(_BY_NAME, linear=linear)))
    if callable(identifier):
        return identifier
    if identifier not in _BY_NAME:
        raise ValueError(f"Could not interpret activation function identifier: {identifier!r} "
                         f"(known: {sorted(_BY_NAME) + ['linear']})")
    return _BY_NAME[identifier]


def serialize(activation):
    """Keras 3: a built-in activation is its name; None is 'linear'; other functions are
    {"module", "class_name": "function", "config": name, "registered_name"} records."""
    if activation is None:
        return "linear"
    for name, fn in _BY_NAME.items():
        if fn is activation:
            return name
    return serialize_keras_object(activation)


relu, sigmoid, tanh, softmax, elu, softplus, gelu, silu = (
    ops.relu, ops.sigmoid, ops.tanh, ops.softmax, ops.elu, ops.softplus, ops.gelu, ops.silu)
swish = silu
