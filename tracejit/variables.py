"""Variable: mutable state. Reads, writes and creation go through the current execution context
(context.py): eager reads wrap the current buffer (assignments replace it, so earlier reads keep
their values); inside a trace, reads and assigns become graph inputs and ASSIGN effects.

The buffer itself changes only through the storage methods below (`_read_buffer`,
`_write_buffer`, `_swap_buffer`): eager assignment, compiled executables, checkpoints and TF1
initializers all use them. A read-modify-write (assign_add/assign_sub) holds the variable's lock,
so concurrent updates from several threads are never lost.

`variable_creator_scope(creator)` (TF's API) lets a library take part in creating every Variable
made inside it: tf.distribute's strategies use it to mirror variables across workers."""
import contextlib
import functools
import inspect
import threading

import numpy as np

from . import dtypes as dt
from .context import current_context, init_scope
from .errors import InvalidArgumentError
from .naming import scoped_name
from .ops import array as A
from .ops.core import convert_to_tensor
from .tensor import Tensor, TensorOperators, TensorShape, _numpy_repr


class _CreatorStack(threading.local):
    def __init__(self):
        self.creators = []


_creator_stack = _CreatorStack()


@contextlib.contextmanager
def variable_creator_scope(variable_creator):
    """Inside this scope (in this thread), `Variable(...)` calls `variable_creator(next_creator,
    **kwargs)` with the constructor's arguments as keywords; it may change them, must create the
    variable by calling `next_creator(**kwargs)`, and returns it (possibly after changing its value).
    Scopes nest: the innermost creator runs first and its next_creator is the enclosing one's."""
    _creator_stack.creators.append(variable_creator)
    try:
        yield
    finally:
        _creator_stack.creators.remove(variable_creator)


class _CreatedThroughScopes(type):
    """Routes Variable(...) through the creators of the enclosing variable_creator_scopes."""

    def __call__(cls, *args, **kwargs):
        creators = list(_creator_stack.creators)
        if not creators:
            return super().__call__(*args, **kwargs)
        arguments = _as_keywords(cls.__init__, args, kwargs)

        def create(depth, **arguments):
            if depth < 0:
                return super(_CreatedThroughScopes, cls).__call__(**arguments)
            return creators[depth](functools.partial(create, depth - 1), **arguments)
        return create(len(creators) - 1, **arguments)


def _as_keywords(init, args, kwargs):
    """The arguments of a call of `init` (a subclass's constructor too) as keyword arguments."""
    signature = inspect.signature(init)
    bound = signature.bind(None, *args, **kwargs)
    arguments = {}
    for name, value in list(bound.arguments.items())[1:]:                   # (not self)
        if signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
            arguments.update(value)
        elif signature.parameters[name].kind is inspect.Parameter.VAR_POSITIONAL:
            raise TypeError(f"{init.__qualname__}: positional arguments beyond its parameters cannot go through a "
                            "variable_creator_scope")
        else:
            arguments[name] = value
    return arguments


class Variable(TensorOperators, metaclass=_CreatedThroughScopes):
    def __init__(self, initial_value=None, trainable=True, name=None, dtype=None, shape=None,
                 validate_shape=True, **_ignored):
        if initial_value is None:
            raise ValueError("Variable: initial_value must be given")
        if callable(initial_value):
            with init_scope():
                initial_value = initial_value()
        if isinstance(initial_value, Tensor) and dtype is not None and initial_value.dtype != dtype:
            from .ops import cast
            initial_value = cast(initial_value, dt.as_dtype(dtype))
        tensor = convert_to_tensor(initial_value, dtype=dtype)
        self._name = _full_name(name)
        self._shape = TensorShape(tensor.shape if shape is None else shape)
        self._dtype = tensor.dtype
        self.trainable = bool(trainable)
        self._lock = threading.RLock()
        self._value = np.array(current_context().initial_value(self, tensor), copy=True)
        if shape is None:
            self._shape = TensorShape(self._value.shape)

    # ---- storage: the only places the buffer changes ----
    def _read_buffer(self):
        return self._value

    def _write_buffer(self, array):
        """The variable takes a private copy of `array`."""
        self._value = np.array(array, copy=True)

    def _swap_buffer(self, array):
        """The variable adopts `array` (nobody else may hold it) and returns its previous buffer."""
        old, self._value = self._value, array
        return old

    # ---- reading ----
    def read_value(self):
        return current_context().read_variable(self)

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
        sliced.assign = lambda value, **kw: self.assign(A.slice_update(self, index, value))
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
        tensor = convert_to_tensor(value, dtype=self._dtype)
        if not self._shape.is_compatible_with(tensor.shape):
            raise ValueError(f"Cannot assign value of shape {tuple(tensor.shape)} to variable '{self._name}' "
                             f"of shape {tuple(self._shape)}")
        return current_context().assign_variable(self, tensor)

    def assign_add(self, delta, use_locking=None, name=None, read_value=True):
        delta = self._update_delta("assign_add", delta)
        with self._lock:
            return self.assign(self.read_value() + delta)

    def assign_sub(self, delta, use_locking=None, name=None, read_value=True):
        delta = self._update_delta("assign_sub", delta)
        with self._lock:
            return self.assign(self.read_value() - delta)

    def _update_delta(self, what, delta):
        """As TF's AssignAddVariableOp: the delta has the variable's dtype and exactly its shape
        (no broadcasting: adding a [3] to a [2, 3] variable is a mistake, not a row update)."""
        delta = convert_to_tensor(delta, dtype=self._dtype)
        if len(delta.shape) != len(self._shape) or not self._shape.is_compatible_with(delta.shape):
            raise InvalidArgumentError(
                f"{what} on variable '{self._name}': cannot update a variable of shape {list(self._shape)} "
                f"with a delta of shape {list(delta.shape)}; shapes must be equal")
        return delta

    def scatter_nd_update(self, indices, updates, name=None):
        with self._lock:
            return self.assign(A.tensor_scatter_nd_update(self, indices, updates))

    def __repr__(self):
        return (f"<tf.Variable '{self._name}' shape={self._shape} dtype={self._dtype.name}, "
                f"numpy={_numpy_repr(self._value)}>")

    def __str__(self):
        return repr(self)

    def __deepcopy__(self, memo):
        return Variable(self._value.copy(), trainable=self.trainable, name=self._name.rsplit(":", 1)[0])


def _full_name(name):
    base = scoped_name(name or "Variable")
    return base if base.endswith(":0") else base + ":0"
