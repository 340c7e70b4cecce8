"""Primitives: the unit every layer agrees on. A Primitive carries its type rule, its NumPy
implementation (eager execution and the reference semantics), its vjp and its traits;
context.bind hands it to the current execution context (eager, trace, TF1 graph). Backends lower
primitives through tables of their own (backend/*), so a primitive knows nothing of them.

Traits are what passes ask instead of comparing names:
  kind            ELEMENTWISE | REDUCTION | SHAPE | INDEX | MATMUL | RANDOM | COLLECTIVE | STRUCTURE | CONTROL
                  (CONTROL: runs subgraphs or Python on the host: while_loop, cond, call, print, py_function)
  effect          writes state or talks to the outside (assign, print, collectives): never
                  removed, merged, folded or reordered against other effects. A node whose
                  effect depends on its params (a while_loop whose body prints) says so with the
                  param `effect=True`: passes ask `node.effect`, which combines both
  multiple_results  the type rule gives a list of (shape, dtype), the impl a list of arrays and
                  bind a list of Tensors (zero or more results: while_loop, print)
  stateful        a fresh result every execution (random): never folded or merged
  monoid          reductions that fuse into loops: how partial results combine
  shape_only      the result depends on the input's shape only, not its values
  view            NumPy computes the result as a view of an input (reshape, broadcast, basic
                  slicing): no arithmetic, and copying it into a buffer alone buys nothing
  resolve_params  makes params given for inputs of unknown rank canonical once ranks are known
"""
import numpy as np

from .errors import InvalidArgumentError

ELEMENTWISE, REDUCTION, SHAPE, INDEX, MATMUL, RANDOM, COLLECTIVE, STRUCTURE, CONTROL = (
    "elementwise", "reduction", "shape", "index", "matmul", "random", "collective", "structure", "control")


class Monoid:
    """How a reduction combines elements: `combine` is the elementwise Primitive that merges two
    partial results, `identity` the value of an empty reduction, `mean` divides by the count.
    A backend derives the reduction loop from these; nothing else describes a reduction."""

    def __init__(self, combine, identity, mean=False):
        self.combine, self.identity, self.mean = combine, identity, mean

    def __repr__(self):
        return f"Monoid({self.combine.name}, {self.identity}{', mean' if self.mean else ''})"


class Primitive:
    def __init__(self, name, rule=None, kind=STRUCTURE, *, effect=False, stateful=False, differentiable=True,
                 monoid=None, shape_only=False, view=False, same_dtype="all", dtypes=None, sample=None, domain=None,
                 multiple_results=False):
        self.name = self.__name__ = name
        self.__doc__ = getattr(rule, "__doc__", None)
        self.rule = rule                      # (*inputs, **params) -> (shape, DType)
        self.kind = kind
        self.effect = effect
        self.stateful = stateful
        self.differentiable = differentiable
        self.monoid = monoid
        self.shape_only = shape_only
        self.view = view
        self.multiple_results = multiple_results
        self.same_dtype = same_dtype          # "all", or indices of inputs that share one dtype
        self.dtypes = dtypes                  # allowed dtypes of those inputs (None: any)
        self.sample = sample                  # test-input family for the registry-wide tests
        self.domain = domain                  # (low, high) of valid float inputs, for tests
        self.impl = None                      # NumPy implementation: (*arrays, **params) -> ndarray
        self.vjp = None                       # (g, *inputs, out, **params) -> tuple of input grads
        # (*inputs, **params) -> params: axes given while an input's rank was unknown (None for all
        # axes, negative ones) made canonical once the ranks are known (TF1 Session re-types graphs
        # built from placeholders without a shape). None: params never depend on the rank.
        self.resolve_params = None

    @property
    def pure(self):
        """Same inputs, same result, no effect: may be folded, merged (CSE) or removed (DCE)."""
        return not self.effect and not self.stateful

    def dtype_group(self, n_inputs):
        return tuple(range(n_inputs)) if self.same_dtype == "all" else tuple(self.same_dtype)

    def type_of(self, inputs, params):
        """(shape, DType) of the result, after checking the inputs' dtypes against the declaration."""
        group = self.dtype_group(len(inputs))
        if group:
            dtype = _shared_dtype(self.name, [inputs[i] for i in group])
            if self.dtypes is not None and dtype not in self.dtypes:
                raise InvalidArgumentError(
                    f"{self.name} does not support dtype {dtype.name} (supported: "
                    f"{', '.join(d.name for d in self.dtypes)})")
        try:
            return self.rule(*inputs, **params)
        except (TypeError, ValueError) as error:
            unknown = [i for i, t in enumerate(inputs) if _unknown_rank(t)]
            if not unknown or isinstance(error, InvalidArgumentError):
                raise
            raise InvalidArgumentError(
                f"{self.name} needs inputs of known rank, but input #{unknown[0]} has unknown rank (a placeholder "
                "created without a shape?): give it a shape, with None for the dimensions that vary") from error

    def params_for(self, inputs, params):
        """The params for inputs of known rank (see resolve_params)."""
        return params if self.resolve_params is None else self.resolve_params(*inputs, **params)

    def apply(self, arrays, params, np_dtype):
        """The NumPy result in the dtype the type rule promises (NumPy may differ, e.g. int / int).
        For multiple_results: np_dtype is a list, one per result, and so is what it returns."""
        if self.multiple_results:
            results = self.impl(*arrays, **params)
            return [_as_dtype(r, t) for r, t in zip(results, np_dtype)]
        return _as_dtype(self.impl(*arrays, **params), np_dtype)

    def __repr__(self):
        return f"<primitive {self.name}>"


def _as_dtype(result, np_dtype):
    result = np.asarray(result)
    return result if result.dtype == np_dtype else result.astype(np_dtype)


def _unknown_rank(tensor):
    shape = tensor.shape
    return shape is None or getattr(shape, "rank", 0) is None


def _shared_dtype(op_name, tensors):
    """The one dtype of a same-dtype group: tensors never combine across dtypes implicitly."""
    first = tensors[0].dtype
    for i, t in enumerate(tensors[1:], start=1):
        if t.dtype != first:
            raise InvalidArgumentError(
                f"cannot compute {op_name} as input #{i}(zero-based) was expected to be a {first.name} tensor "
                f"but is a {t.dtype.name} tensor (no implicit casts: use tracejit.cast)")
    return first
