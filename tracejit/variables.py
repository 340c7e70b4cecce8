"""Variable: mutable state. Eager reads wrap the current ndarray (assignments replace it, so
earlier reads keep their values); inside a trace, reads and assigns become graph inputs and
`assign` effects through the graph's per-variable SSA value."""
import numpy as np

from . import dtypes as dt
from .errors import TracingError, VariableCreationError
from .ir.graph import current_graph, init_scope
from .ops import core
from .ops import array as S
from .source_location import user_location
from .tensor import Tensor, TensorOperators, TensorShape, _numpy_repr


class Variable(TensorOperators):
    def __init__(self, initial_value=None, trainable=True, name=None, dtype=None, shape=None,
                 validate_shape=True, **_ignored):
        graph = current_graph()
        if graph is not None and not getattr(graph, "allow_variable_creation", False):
            raise VariableCreationError(
                f"tracejit.Variable created at {user_location()} while retracing a @function. Variables may "
                "only be created on the function's first trace; create it outside the function (or in a "
                "layer's build) and capture it.")
        if initial_value is None:
            raise ValueError("Variable: initial_value must be given")
        if callable(initial_value):
            with init_scope():
                initial_value = initial_value()
        if isinstance(initial_value, Tensor) and dtype is not None and initial_value.dtype != dtype:
            from .ops import cast
            initial_value = cast(initial_value, dt.as_dtype(dtype))
        tensor = core.convert_to_tensor(initial_value, dtype=dtype)
        self._value = np.array(_concrete_initial_value(tensor, graph), copy=True)
        self._initial_value = self._value.copy()       # what a TF1 initializer (re)assigns
        self._shape = TensorShape(self._value.shape if shape is None else shape)
        self._dtype = dt.as_dtype(self._value.dtype)
        self._name = _full_name(name)
        self.trainable = bool(trainable)
        if graph is not None and hasattr(graph, "register_variable"):
            graph.register_variable(self)              # TF1: global_variables()

    # ---- reading ----
    def read_value(self):
        graph = current_graph()
        tensor = Tensor(symbol=graph.read_variable(self)) if graph is not None else Tensor(self._value)
        core.notify_variable_read(self, tensor)
        return tensor

    value = _as_tensor = read_value

    def numpy(self):
        return self._value.copy() if self._value.ndim else self._value[()]

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.read_value(), dtype=dtype)

    def __bool__(self):
        return bool(self.read_value())

    def __float__(self):
        return float(self.read_value())

    def __int__(self):
        return int(self.read_value())

    def __index__(self):
        return self.read_value().__index__()

    def __len__(self):
        return len(self.read_value())

    def __iter__(self):
        return iter(self.read_value())

    def __getitem__(self, index):
        """A slice that can be assigned: v[0, 1].assign(42)."""
        sliced = self.read_value()[index]
        sliced.assign = lambda value, **kw: self.assign(S.slice_update(self, index, value))
        return sliced

    shape = property(lambda self: self._shape)
    dtype = property(lambda self: self._dtype)
    name = property(lambda self: self._name)
    ndim = property(lambda self: len(self._shape))
    device = property(lambda self: "/job:localhost/replica:0/task:0/device:CPU:0")

    def get_shape(self):
        return self._shape

    # ---- writing ----
    def assign(self, value, use_locking=None, name=None, read_value=True):
        tensor = core.convert_to_tensor(value, dtype=self._dtype)
        if not self._shape.is_compatible_with(tensor.shape):
            raise ValueError(f"Cannot assign value of shape {tuple(tensor.shape)} to variable '{self._name}' "
                             f"of shape {tuple(self._shape)}")
        graph = current_graph()
        if graph is not None:
            symbol = tensor._symbol if tensor._symbol is not None else graph.constant(tensor._value)
            node = graph.assign_variable(self, symbol, user_location())
            if not graph.ssa_variables:                # TF1: an Operation Session.run executes
                from .compat.v1.graph_mode import Operation
                return Operation([node], value=symbol, name=f"{self._name.split(':')[0]}/Assign")
        elif tensor._symbol is not None:
            raise TracingError(f"assigning a symbolic tensor to variable '{self._name}' outside its trace")
        else:
            self._value = np.array(tensor._value, copy=True)
        return self

    def assign_add(self, delta, use_locking=None, name=None, read_value=True):
        return self.assign(self.read_value() + delta)

    def assign_sub(self, delta, use_locking=None, name=None, read_value=True):
        return self.assign(self.read_value() - delta)

    def scatter_nd_update(self, indices, updates, name=None):
        return self.assign(S.tensor_scatter_nd_update(self, indices, updates))

    def __repr__(self):
        return (f"<tf.Variable '{self._name}' shape={self._shape} dtype={self._dtype.name}, "
                f"numpy={_numpy_repr(self._value)}>")

    def __str__(self):
        return repr(self)

    def __deepcopy__(self, memo):
        return Variable(self._value.copy(), trainable=self.trainable, name=self._name.rsplit(":", 1)[0])


def _concrete_initial_value(tensor, graph):
    if tensor._symbol is None:
        return tensor._value
    from .backend.interpreter import evaluate_value
    return evaluate_value(graph, tensor._symbol)


_name_scopes = []


def _full_name(name):
    base = "/".join(_name_scopes + [name or "Variable"])
    return base if base.endswith(":0") else base + ":0"
