"""Activations by Keras name."""
from .. import ops

_BY_NAME = {"relu": ops.relu, "sigmoid": ops.sigmoid, "tanh": ops.tanh, "softmax": ops.softmax,
            "elu": ops.elu, "softplus": ops.softplus, "gelu": ops.gelu, "swish": ops.silu, "silu": ops.silu,
            "linear": None, None: None}


def get(identifier):
    if callable(identifier):
        return identifier
    if identifier not in _BY_NAME:
        raise ValueError(f"Unknown activation {identifier!r}; known: {sorted(k for k in _BY_NAME if k)}")
    return _BY_NAME[identifier]


relu, sigmoid, tanh, softmax = ops.relu, ops.sigmoid, ops.tanh, ops.softmax
