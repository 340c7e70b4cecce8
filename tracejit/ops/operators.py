"""Python operators of Tensor and Variable, each mapped to one registered op. Installed on
TensorOperators from here (as TF's math_ops overrides Tensor's operators), so tensor.py never
imports the op registry."""
from ..tensor import TensorOperators, tensor_equality_enabled
from . import elementwise as E
from .array import strided_slice
from .linalg import matmul

_BINARY = {"add": E.add, "sub": E.subtract, "mul": E.multiply, "truediv": E.divide, "floordiv": E.floordiv,
           "mod": E.floormod, "pow": E.pow, "matmul": matmul, "and": E.logical_and, "or": E.logical_or,
           "xor": E.logical_xor}
_COMPARISON = {"lt": E.less, "le": E.less_equal, "gt": E.greater, "ge": E.greater_equal}
_UNARY = {"neg": E.negative, "abs": E.abs, "invert": E.logical_not, "pos": E.identity}


def _binary(op, reflected=False):
    def method(self, other):
        return op(other, self) if reflected else op(self, other)
    method.__name__ = op.__name__
    return method


def _unary(op):
    def method(self):
        return op(self)
    method.__name__ = op.__name__
    return method


def _equality(op, negate):
    """TF2's == / != compare elementwise; with tensor equality disabled (TF1) they are identity tests.
    Values that cannot be compared (None, other types) are unequal."""
    def method(self, other):
        if other is None:
            return negate
        if not tensor_equality_enabled():
            return (self is other) != negate
        try:
            return op(self, other)
        except (TypeError, ValueError):
            return negate
    return method


def _getitem(self, index):
    return strided_slice(self, index)


def install():
    for dunder, op in _BINARY.items():
        setattr(TensorOperators, f"__{dunder}__", _binary(op))
        setattr(TensorOperators, f"__r{dunder}__", _binary(op, reflected=True))
    for dunder, op in _COMPARISON.items():
        setattr(TensorOperators, f"__{dunder}__", _binary(op))
    for dunder, op in _UNARY.items():
        setattr(TensorOperators, f"__{dunder}__", _unary(op))
    TensorOperators.__eq__ = _equality(E.equal, negate=False)
    TensorOperators.__ne__ = _equality(E.not_equal, negate=True)
    TensorOperators.__getitem__ = _getitem
