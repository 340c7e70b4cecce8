"""tf.types.experimental, as TensorFlow exposes it: abstract base classes that tracejit's concrete
classes are registered with, so isinstance checks and annotations in user code work."""
import abc
import inspect
from typing import Protocol, Union, runtime_checkable

import numpy as np

from ..jit import ConcreteFunction as _ConcreteFunction, Function as _Function
from ..tensor import Tensor as _Tensor
from ..variables import Variable as _Variable


class Tensor(abc.ABC):
    """Any dense tensor: tracejit Tensors (eager or symbolic) and Variables."""


class FunctionType(inspect.Signature, metaclass=abc.ABCMeta):
    """The type of a TensorFlow callable (an inspect.Signature)."""


class Callable(abc.ABC):
    """Base class for TF callables like those created by tf.function."""


class AtomicFunction(Callable):
    """A single graph function."""


class ConcreteFunction(Callable):
    """A traced graph for one input signature (tf.function(...).get_concrete_function())."""


class PolymorphicFunction(Callable):
    """A tf.function: dispatches each call to a ConcreteFunction, tracing new ones as needed."""


GenericFunction = PolymorphicFunction       # TF's deprecated name


@runtime_checkable
class TensorProtocol(Protocol):
    """Objects that convert themselves to a Tensor."""

    def __tf_tensor__(self, dtype=None, name=None):
        pass


TensorLike = Union[Tensor, TensorProtocol, int, float, bool, str, bytes, complex, tuple, list, np.ndarray,
                   np.generic]

Tensor.register(_Tensor)
Tensor.register(_Variable)
ConcreteFunction.register(_ConcreteFunction)
PolymorphicFunction.register(_Function)
