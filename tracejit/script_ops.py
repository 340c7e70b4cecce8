"""tf.py_function and tf.numpy_function: a Python call inside a graph.

Eagerly the function is simply called (py_function with eager tensors, under the tapes that are
recording, so they differentiate it; numpy_function with arrays). In a trace or a TF1 graph it
becomes a PY_FUNCTION node, a stateful host step (an effect, kept in program order; with
stateful=False it is pure and may be removed when unused) whose NumPy implementation calls the
Python function eagerly and converts its results to `Tout`.

Gradients of py_function follow TF: the vjp asks the forward node to record the call on a
GradientTape (one more, variant, result: the tape with the call's input and output tensors) and
emits a PY_FUNCTION_GRAD node that runs tape.gradient on it. numpy_function has no gradient.

Results have the static shape their Tout entry gives: a DType leaves it unknown (as in TF: use
tf.ensure_shape or Tensor.set_shape), a TensorSpec gives it (checked when the node runs)."""
import numpy as np

from . import dtypes, nest
from .context import bind, current_context, init_scope
from .errors import InvalidArgumentError, UnknownError
from .ops.broadcast import zeros_like
from .ops.core import convert_to_tensor
from .primitive import CONTROL, Primitive
from .tensor import Tensor, TensorSpec


def py_function(func=None, inp=None, Tout=None, name=None):
    """func(*tensors) run eagerly wherever the graph runs; Tout: a DType or TensorSpec, a (nested)
    list/tuple/dict of them, or None (func returns nothing). As a decorator:
    @tf.py_function(Tout=tf.float32)."""
    if func is None:
        return lambda f: _decorated(f, Tout, numpy=False)
    return _call(func, inp, Tout, numpy=False, stateful=True)


def numpy_function(func=None, inp=None, Tout=None, stateful=True, name=None):
    """func(*ndarrays) -> ndarray(s), run wherever the graph runs; not differentiable. stateful=False
    lets the optimizer drop a call whose results are unused."""
    if func is None:
        return lambda f: _decorated(f, Tout, numpy=True, stateful=stateful)
    return _call(func, inp, Tout, numpy=True, stateful=stateful)


def _decorated(func, Tout, numpy, stateful=True):
    def call(*args):
        return _call(func, args, Tout, numpy=numpy, stateful=stateful)
    return call


def _call(func, inp, Tout, numpy, stateful):
    if not callable(func):
        raise ValueError(f"Expected func to be callable. Received func={func!r} of type {type(func)}.")
    inputs = [_input_tensor(x) for x in (inp if isinstance(inp, (list, tuple)) else [inp] if inp is not None else [])]
    call = PythonCall(func, Tout, numpy)
    if current_context().executing_eagerly:
        return call.pack(call.run(inputs))
    params = {"call": call}
    if stateful:
        params["effect"] = True
    prim = NUMPY_FUNCTION if numpy else PY_FUNCTION
    return call.pack(bind(prim, inputs, params))


def _input_tensor(x):
    return x._as_tensor() if hasattr(x, "_as_tensor") and not isinstance(x, Tensor) else convert_to_tensor(x)


class PythonCall:
    """The Python function of a node, with its result structure (`Tout`) flattened to `specs`."""

    def __init__(self, func, Tout, numpy):
        self.func, self.numpy = func, numpy
        self.structure = Tout
        self.specs = [_spec(t) for t in ([] if Tout is None else nest.flatten(Tout))]

    def result_types(self):
        return [(None if s.shape.rank is None else tuple(s.shape), s.dtype) for s in self.specs]

    def run(self, inputs):
        """The call, on eager tensors (or their arrays for numpy_function): its results as tensors of Tout."""
        args = [t._value for t in inputs] if self.numpy else inputs
        try:
            results = self.func(*args)
        except Exception as error:          # as TF: the op fails, naming the Python error
            kind = InvalidArgumentError if isinstance(error, (ValueError, TypeError)) else UnknownError
            raise kind(f"{type(error).__name__}: {error} (in the function given to "
                       f"{'numpy_function' if self.numpy else 'py_function'})") from error
        return self._converted(results)

    def _converted(self, results):
        if not self.specs:
            return []
        flat = nest.flatten(results) if isinstance(self.structure, (list, tuple, dict)) else [results]
        if len(flat) != len(self.specs):
            raise InvalidArgumentError(f"the function returned {len(flat)} value(s), Tout has {len(self.specs)}")
        converted = []
        for value, spec in zip(flat, self.specs):
            if hasattr(value, "_as_tensor") and not isinstance(value, Tensor):
                raise RuntimeError("Attempting to return a variable from an eagerly executed py_func. Only numeric "
                                   "data structures like Tensors or NumPy arrays should be returned; to return the "
                                   "value of a variable, call `.read_value()` on it")
            tensor = convert_to_tensor(value, dtype=spec.dtype)
            if not spec.shape.is_compatible_with(tensor.shape):
                raise InvalidArgumentError(f"the function returned a value of shape {tensor.shape}, Tout promises "
                                           f"{spec.shape}")
            converted.append(tensor)
        return converted

    def pack(self, tensors):
        """The results in Tout's structure (a list for a list Tout, one tensor for one DType, None for None)."""
        if self.structure is None:
            return None
        if not isinstance(self.structure, (list, tuple, dict)):
            return tensors[0]
        packed = nest.pack_sequence_as(self.structure, list(tensors[:len(self.specs)]))
        return list(packed) if type(self.structure) in (list, tuple) else packed

    def __repr__(self):
        return getattr(self.func, "__name__", repr(self.func))


def _spec(entry):
    if isinstance(entry, TensorSpec):
        return entry
    return TensorSpec(None, dtypes.as_dtype(entry))


# ---- the primitives --------------------------------------------------------------------------------
def _call_type(*inputs, call, effect=False, tape=False):
    types = call.result_types()
    return types + [((), dtypes.variant)] if tape else types


def _call_impl(*arrays, call, effect=False, tape=False):
    """Runs in whatever executes the graph: the Python function runs eagerly (init_scope), even when a
    TF1 graph is the default context."""
    with init_scope():
        if not tape:
            return [t._value for t in call.run([Tensor(a) for a in arrays])]
        inputs = [Tensor(np.array(a)) for a in arrays]    # the tape outlives this call: not the caller's buffers
        from .autodiff import GradientTape
        with GradientTape(persistent=True) as recorded:       # the backward graph may run its gradient twice
            for t in inputs:
                if t.dtype.is_floating:
                    recorded.watch(t)
            outputs = call.run(inputs)
        holder = np.empty((), object)
        holder[()] = (recorded, inputs, outputs)
        return [t._value for t in outputs] + [holder]


def _call_vjp(gs, *inputs_and_outs, call, effect=False, tape=False):
    *inputs, outs = inputs_and_outs
    recorded = _recorded_tape(outs)
    seeds = [g if g is not None else zeros_like(o) for g, o in zip(gs, outs[:len(call.specs)])]
    grads = bind(PY_FUNCTION_GRAD, [recorded] + seeds, {"input_types": tuple((t.shape, t.dtype) for t in inputs)})
    return [g if t.dtype.is_floating else None for g, t in zip(grads, inputs)]


def _recorded_tape(outs):
    """The forward node's tape result, asking the node to record one if it does not yet (as TF's
    EagerPyFunc records its tape once a gradient needs it)."""
    node = outs[0]._symbol.node if outs and outs[0]._symbol is not None else None
    if node is None:
        raise NotImplementedError("the gradient of a py_function with no results, or one that ran outside a "
                                  "graph, is not recorded")
    if not node.params.get("tape"):
        node.params = {**node.params, "tape": True}        # a new dict: optimized clones keep the old one
        node.outputs[0].graph.add_output(node, (), dtypes.variant)
    return Tensor(symbol=node.outputs[-1])


def _grad_type(recorded, *seeds, input_types):
    return [(shape, dtype) for shape, dtype in input_types]


def _grad_impl(recorded, *seeds, input_types):
    with init_scope():
        tape, inputs, outputs = recorded[()]
        grads = tape.gradient(outputs, inputs, output_gradients=[Tensor(s) for s in seeds],
                              unconnected_gradients="zero")
    return [np.zeros(t.shape, dtype.np) if g is None else g._value for g, t, (_, dtype) in
            zip(grads, inputs, input_types)]


PY_FUNCTION = Primitive("py_function", _call_type, CONTROL, multiple_results=True, same_dtype=())
PY_FUNCTION.impl, PY_FUNCTION.vjp = _call_impl, _call_vjp
NUMPY_FUNCTION = Primitive("numpy_function", _call_type, CONTROL, multiple_results=True, same_dtype=(),
                           differentiable=False)
NUMPY_FUNCTION.impl = _call_impl
# As in TF, the gradient is computed once from the recorded tape: it has no gradient of its own (its inputs
# are the tape and the cotangents, so an outer tape sees no path to the function's inputs).
PY_FUNCTION_GRAD = Primitive("py_function_grad", _grad_type, CONTROL, multiple_results=True, same_dtype=(),
                             differentiable=False)
PY_FUNCTION_GRAD.impl = _grad_impl
