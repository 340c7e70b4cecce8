"""tracejit: a tracing JIT for TensorFlow-2-style numerical Python. `import tracejit as tf`."""
from . import dtypes, errors, config  # noqa: F401
from .dtypes import (  # noqa: F401
    DType, as_dtype, bool_ as bool, complex64, complex128, double, float16, float32, float64, half, int8, int16, int32,
    int64, string, uint8, variant)
from .tensor import Tensor, TensorShape, TensorSpec  # noqa: F401
from .ops import *  # noqa: F401,F403
from .ops import range, where, constant, convert_to_tensor, add_n, truediv  # noqa: F401
from .variables import Variable, variable_creator_scope  # noqa: F401
from .autodiff import GradientTape, UnconnectedGradients  # noqa: F401
from .jit import function, ConcreteFunction  # noqa: F401
from .control_flow import cond, while_loop  # noqa: F401
from .logging_ops import print_v2 as print  # noqa: F401
from .script_ops import numpy_function, py_function  # noqa: F401
from .custom_gradient import custom_gradient, grad_pass_through  # noqa: F401
from .tensor_array import TensorArray  # noqa: F401
from .context import control_dependencies, executing_eagerly, init_scope  # noqa: F401
from .naming import name_scope  # noqa: F401
from .devices import device  # noqa: F401
from .module import Module  # noqa: F401
from . import math, nn, linalg, random, strings, io, ragged, image, sparse, types  # noqa: F401
from .ragged import RaggedTensor  # noqa: F401
from .sparse import SparseTensor  # noqa: F401

# The TF-compatible layers on top load on first use (`tf.keras`, `tf.data`, ...): `import tracejit`
# stays light for scripts that use only the core.
_LAZY = ("autograph", "compat", "data", "distribute", "keras", "saved_model", "summary", "train")


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'tracejit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

newaxis = None
__version__ = "0.1.0"
