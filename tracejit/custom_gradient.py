"""tf.custom_gradient: `f(*x)` returns `(y, grad_fn)`; the gradient of y is grad_fn's, not that of
the ops f ran. As TF's identity_n with a gradient override, the results pass through one
CUSTOM_GRADIENT node (identity on y, a node of the graph in a trace, so a backward graph built
from the graph's nodes sees it too) whose inputs are y, the flattened x and the values of the
Variables f read, and whose vjp calls grad_fn:

    grad_fn(*dy)                          -> gradients of x (one per flattened argument)
    grad_fn(*dy, variables=[v, ...])      -> (gradients of x, gradients of the Variables f read)

Simplification replaces the node by y once the gradients are built."""
import functools
import inspect

import numpy as np

from . import nest
from .context import bind, current_context
from .errors import InvalidArgumentError
from .ops.broadcast import zeros_like
from .ops.core import convert_to_tensor
from .primitive import STRUCTURE, Primitive
from .variables import Variable


def custom_gradient(f=None):
    """Decorator: see the module docstring. Works eagerly and while tracing."""
    if f is None:
        return custom_gradient

    @functools.wraps(f)
    def decorated(*args, **kwargs):
        with _VariableWatcher(current_context()) as watcher:
            result, grad_fn = f(*args, **kwargs)
        flat_args = nest.flatten(args)
        variables = [v for v in watcher.variables if all(v is not a for a in flat_args)]
        _check_signature(grad_fn, variables)
        inputs = [convert_to_tensor(x) if not isinstance(x, Variable) else x.read_value() for x in flat_args]
        flat_result = [convert_to_tensor(y) for y in nest.flatten(result)]
        params = {"grad_fn": GradientFunction(grad_fn, variables, len(inputs)), "n_results": len(flat_result)}
        outputs = bind(CUSTOM_GRADIENT, flat_result + inputs + [v.read_value() for v in variables], params)
        return nest.pack_sequence_as(result, outputs)
    return decorated


def _check_signature(grad_fn, variables):
    spec = inspect.getfullargspec(grad_fn)
    accepts = "variables" in spec.args or "variables" in spec.kwonlyargs or spec.varkw
    if variables and not accepts:
        names = ", ".join(v.name for v in variables)
        raise TypeError(f"@tf.custom_gradient grad_fn must accept keyword argument 'variables', since function "
                        f"uses variables: {names}")


class _VariableWatcher:
    """Registered like a tape on the context: collects the trainable Variables f reads."""

    def __init__(self, context):
        self.context, self.variables = context, []

    def __enter__(self):
        self.context.tapes.append(self)
        return self

    def __exit__(self, *exc):
        self.context.tapes.remove(self)

    def _record(self, prim, inputs, params, out):
        pass

    def _on_variable_read(self, variable, tensor):
        if variable.trainable and all(variable is not v for v in self.variables):
            self.variables.append(variable)


class GradientFunction:
    """grad_fn with what it is called for: the Variables f read and the number of flattened arguments."""

    def __init__(self, grad_fn, variables, n_args):
        self.grad_fn, self.variables, self.n_args = grad_fn, list(variables), n_args

    def __call__(self, dys):
        if self.variables:
            input_grads, variable_grads = self.grad_fn(*dys, variables=self.variables)
            variable_grads = list(variable_grads)
            if len(variable_grads) != len(self.variables):
                raise ValueError("Must return gradient for each variable from @custom_gradient grad_fn.")
        else:
            input_grads, variable_grads = self.grad_fn(*dys), []
        input_grads = nest.flatten(input_grads)
        if len(input_grads) != self.n_args:
            raise ValueError(f"custom_gradient function expected to return {self.n_args} gradients but returned "
                             f"{len(input_grads)} instead.")
        return input_grads + variable_grads

    def __repr__(self):
        return getattr(self.grad_fn, "__name__", "grad_fn")


def _type(*inputs, grad_fn, n_results):
    return [(y.shape, y.dtype) for y in inputs[:n_results]]


def _impl(*arrays, grad_fn, n_results):
    return [np.array(a) for a in arrays[:n_results]]     # fresh: the results never alias the inputs


def _vjp(gs, *inputs_and_outs, grad_fn, n_results):
    *inputs, outs = inputs_and_outs
    dys = [g if g is not None else zeros_like(o) for g, o in zip(gs, outs)]
    grads = [None if g is None else convert_to_tensor(g) for g in grad_fn(dys)]
    for g, x in zip(grads, inputs[n_results:]):
        if g is not None and (g.dtype != x.dtype or not x.shape.is_compatible_with(g.shape)):
            raise InvalidArgumentError(f"@custom_gradient grad_fn returned a {g.dtype.name}{list(g.shape)} gradient "
                                       f"for a {x.dtype.name}{list(x.shape)} input")
    return [None] * n_results + grads


CUSTOM_GRADIENT = Primitive("custom_gradient", _type, STRUCTURE, multiple_results=True, same_dtype=())
CUSTOM_GRADIENT.impl, CUSTOM_GRADIENT.vjp = _impl, _vjp


def grad_pass_through(f):
    """f in the forward pass, an identity for gradients (tf.grad_pass_through)."""
    @custom_gradient
    def pass_through(*args, **kwargs):
        def grad(*dys, variables=None):
            return (dys, [None] * len(variables)) if variables else dys
        return f(*args, **kwargs), grad
    return functools.wraps(f)(pass_through) if hasattr(f, "__name__") else pass_through

