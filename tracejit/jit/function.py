"""@function: one ConcreteFunction (graph + executable) per input signature, with retrace
explanations, a retracing warning, and introspection."""
import collections
import functools
import inspect
import warnings
import weakref

import numpy as np

from .. import config, nest
from ..errors import RetracingWarning
from ..context import current_context
from ..tensor import Tensor, TensorSpec
from . import function_type
from . import signature as sig
from .tracer import NONE_OUTPUT, trace

_RETRACE_WINDOW, _RETRACE_LIMIT = 10, 5


class RetraceRecord:
    """Why a call traced again: the arguments that differ from the closest earlier trace."""

    def __init__(self, function_name, changes):
        self.function_name = function_name
        self.changes = changes            # [(path, before, after)]

    @property
    def arguments(self):
        return [path for path, _, _ in self.changes]

    def __str__(self):
        return f"{self.function_name} retraced: " + "; ".join(f"{p}: {a} -> {b}" for p, a, b in self.changes)

    __repr__ = __str__


class ConcreteFunction:
    """One traced graph for one input signature, plus the executable that runs it."""

    def __init__(self, graph, structured_outputs, leaves, bound, debug):
        from ..backend import current_backend
        from ..passes import optimize
        backend = current_backend()
        self.graph = graph                    # as traced
        self.optimized_graph, self.pass_reports = optimize(graph, debug, can_lower=backend.can_lower)
        self.structured_outputs = structured_outputs
        self._leaf_paths = [leaf.path for leaf in leaves if leaf.kind == sig.TENSOR]
        self._specs = [leaf.spec for leaf in leaves if leaf.kind == sig.TENSOR]
        self.structured_input_signature = _input_signature(bound, leaves)
        self.outputs = [Tensor(symbol=v) for v in graph.outputs]
        self.variables = tuple(var for _, var in graph.variables)
        self.trainable_variables = tuple(v for v in self.variables if v.trainable)
        self._executable = backend.executable(self.optimized_graph, debug)
        self.function_type, self._captures = function_type.build(bound, leaves, graph.outputs, structured_outputs,
                                                                 self.variables)

    @property
    def kernels(self):
        return getattr(self._executable, "kernels", [])

    def _call_flat(self, arrays):
        results = self._executable(arrays)
        if type(self.structured_outputs) is int:         # the common case: one tensor
            return Tensor._wrap(results[self.structured_outputs])
        return nest.map_structure(lambda i: None if i is NONE_OUTPUT else Tensor._wrap(results[i]),
                                  self.structured_outputs)

    def __call__(self, *args):
        arrays = [t._value for t in sig.match_input_signature(self.graph.name, self._specs, args)]
        return self._call_flat(arrays)

    def pretty_printed_signature(self, verbose=True):
        """TF's text: "Input Parameters: / Output Type: / Captures:" (verbose), else a Python signature."""
        return function_type.pretty(self.function_type, self._captures, verbose)

    def __repr__(self):
        return f"<ConcreteFunction {self.pretty_printed_signature(verbose=False)} at 0x{id(self):X}>"


def _input_signature(bound, leaves):
    specs = iter([leaf.spec if leaf.kind == sig.TENSOR else leaf.value for leaf in leaves])
    args, kwargs = sig.rebuild_arguments(bound, lambda: next(specs))
    return tuple(args), kwargs


class Function:
    def __init__(self, python_function, name=None, input_signature=None, reduce_retracing=False, debug=None):
        functools.update_wrapper(self, python_function)
        self._python_function = python_function
        self._name = name or getattr(python_function, "__name__", "function")
        self._signature = inspect.signature(python_function)
        self._input_signature = None if input_signature is None else [
            s if isinstance(s, TensorSpec) else TensorSpec(*s) for s in input_signature]
        self._reduce_retracing = reduce_retracing
        self._debug = debug
        self._cache = {}                    # exact key -> ConcreteFunction
        self._relaxed = []                  # (specs, ConcreteFunction) traced with None dims
        self._traces = []                   # [(key, leaves)] in trace order
        self.retraces = []
        self._recent_calls = collections.deque(maxlen=_RETRACE_WINDOW)
        self._warned = False
        self._bound_instances = weakref.WeakKeyDictionary()
        self._fast_cache = {}               # (dtype, shape) per positional tensor argument -> ConcreteFunction

    python_function = property(lambda self: self._python_function)
    input_signature = property(lambda self: self._input_signature)

    def __get__(self, instance, owner):
        if instance is None:
            return self
        bound = self._bound_instances.get(instance)
        if bound is None:
            bound = Function(functools.partial(self._python_function, instance), name=self._name,
                             input_signature=self._input_signature, reduce_retracing=self._reduce_retracing,
                             debug=self._debug)
            self._bound_instances[instance] = bound
        return bound

    def __call__(self, *args, **kwargs):
        context = current_context()
        if config.functions_run_eagerly() or not context.executing_eagerly or context.tapes:
            # nested @function: inline into the outer trace; under an eager GradientTape: run the Python
            # eagerly so the tape records every op (a compiled call would be invisible to it)
            return self._python_function(*args, **kwargs)
        fast_key = None if kwargs or self._input_signature is not None else _fast_key(args)
        if fast_key is not None:
            concrete = self._fast_cache.get(fast_key)
            if concrete is not None:
                self._recent_calls.append(False)
                return concrete._call_flat([a._value if type(a) is Tensor else a for a in args])
        concrete, arrays = self._lookup(args, kwargs, record_call=True)
        if fast_key is not None:
            self._fast_cache[fast_key] = concrete
        return concrete._call_flat(arrays)

    def get_concrete_function(self, *args, **kwargs):
        if not args and not kwargs and self._input_signature is not None:
            args = tuple(self._input_signature)
        return self._lookup(args, kwargs, record_call=False)[0]

    def experimental_get_tracing_count(self):
        return len(self._traces)

    def _list_all_concrete_functions(self):
        """Every ConcreteFunction traced so far (TF's name; SavedModel saves these)."""
        return list(self._cache.values()) + [c for _, c in self._relaxed]

    def pretty_printed_concrete_signatures(self, verbose=True):
        return ("\n\n" if verbose else "\n").join(c.pretty_printed_signature(verbose)
                                                   for c in self._list_all_concrete_functions())

    # ---- cache ----
    def _lookup(self, args, kwargs, record_call):
        if self._input_signature is not None:
            if kwargs:
                raise TypeError(f"{self._name}: keyword arguments are not allowed with an input_signature")
            args = tuple(sig.match_input_signature(self._name, self._input_signature, args))
        bound = sig.bind_arguments(self._signature, args, kwargs)
        key, leaves = sig.call_leaves(bound)
        if self._input_signature is not None:
            key = "input_signature"
            leaves = [sig.Leaf(l.kind, l.path, l.key, l.value, s) if l.kind == sig.TENSOR else l
                      for l, s in zip(leaves, self._input_signature)]
        concrete = self._cache.get(key)
        if concrete is None and self._reduce_retracing:
            concrete = self._relaxed_match(leaves)
        traced = concrete is None
        if traced:
            concrete = self._trace(bound, key, leaves)
        if record_call:
            self._note_call(traced)
        return concrete, [leaf.value for leaf in leaves if leaf.kind == sig.TENSOR]

    def _relaxed_match(self, leaves):
        tensor_specs = [l.spec for l in leaves if l.kind == sig.TENSOR]
        for specs, concrete in self._relaxed:
            if len(specs) == len(tensor_specs) and all(s.is_compatible_with(t) for s, t in zip(specs, tensor_specs)):
                return concrete
        return None

    def _trace(self, bound, key, leaves):
        level = config.debug_level(self._debug)
        if self._traces:
            record = self._explain_retrace(leaves)
            self.retraces.append(record)
            if level >= 1:
                config.debug_print(record)
            if self._reduce_retracing:
                leaves = self._relax(leaves)
        if level >= 1:
            config.debug_print(f"tracing {self._name}(" + ", ".join(
                f"{l.path}: {l.describe()}" for l in leaves if l.kind != sig.CAPTURED) + ")")
        graph, structure = trace(self._python_function, self._name, bound, leaves,
                                 allow_variable_creation=not self._traces)
        if level >= 2:
            config.debug_print(f"IR after tracing:\n{graph}")
        concrete = ConcreteFunction(graph, structure, leaves, bound, self._debug)
        self._traces.append((key, leaves))
        if any(l.kind == sig.TENSOR and None in l.spec.shape for l in leaves) and key != "input_signature":
            self._relaxed.append(([l.spec for l in leaves if l.kind == sig.TENSOR], concrete))
        else:
            self._cache[key] = concrete
        return concrete

    def _relax(self, leaves):
        """reduce_retracing: dims that differ from the previous trace of the same ranks become None."""
        _, previous = self._traces[-1]
        old = {l.path: l for l in previous if l.kind == sig.TENSOR}
        relaxed = []
        for leaf in leaves:
            before = old.get(leaf.path)
            if leaf.kind == sig.TENSOR and before is not None and before.spec.dtype == leaf.spec.dtype \
                    and len(before.spec.shape) == len(leaf.spec.shape):
                shape = [a if a == b else None for a, b in zip(before.spec.shape, leaf.spec.shape)]
                spec = TensorSpec(shape, leaf.spec.dtype)
                leaf = sig.Leaf(leaf.kind, leaf.path, ("T", spec.dtype.name, tuple(shape)), leaf.value, spec)
            relaxed.append(leaf)
        return relaxed

    def _explain_retrace(self, leaves):
        new = {l.path: l.describe() for l in leaves}
        best = None
        for _, previous in self._traces:
            old = {l.path: l.describe() for l in previous}
            changes = [(p, old.get(p, "(absent)"), new.get(p, "(absent)"))
                       for p in list(old) + [p for p in new if p not in old] if old.get(p) != new.get(p)]
            if best is None or len(changes) < len(best):
                best = changes
        return RetraceRecord(self._name, best or [("(arguments)", "same", "same (cache miss)")])

    def _note_call(self, traced):
        self._recent_calls.append(traced)
        if self._warned or sum(self._recent_calls) <= _RETRACE_LIMIT:
            return
        self._warned = True
        recent = self.retraces[-_RETRACE_LIMIT:]
        changing = sorted({p for r in recent for p in r.arguments})
        warnings.warn(
            f"@function '{self._name}' was traced {sum(self._recent_calls)} times in its last "
            f"{len(self._recent_calls)} calls; arguments that keep changing: {', '.join(changing)}. "
            "Tracing is expensive: pass tensors rather than Python numbers, give an input_signature with None "
            "dims, or use reduce_retracing=True.", RetracingWarning, stacklevel=3)

    def __repr__(self):
        return f"<tracejit.function {self._name}>"


def _fast_key(args):
    """The cache key of a call whose arguments are all eager tensors or ndarrays, else None.
    Such calls have no Python values in their key except defaults, which never change."""
    key = []
    for a in args:
        kind = type(a)
        if kind is Tensor and a._symbol is None:
            key.append((a._dtype, a._shape))
        elif kind is np.ndarray:
            key.append((a.dtype, a.shape))
        else:
            return None
    return tuple(key)


def function(func=None, input_signature=None, autograph=True, jit_compile=None, reduce_retracing=False,
             experimental_relax_shapes=None, name=None, debug=None):
    """Decorator: trace `func` into a graph per input signature and run the compiled graph."""
    relax = reduce_retracing or bool(experimental_relax_shapes)

    def decorate(f):
        return Function(f, name=name, input_signature=input_signature, reduce_retracing=relax, debug=debug)
    return decorate if func is None else decorate(func)

