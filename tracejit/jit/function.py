"""@function: one ConcreteFunction (graph + executable) per input signature, kept in a trace cache
(optionally LRU-bounded), with explained retraces, a retrace policy (max_traces / on_excess), a
report of what tracing did (trace_report) and cache statistics (cache_info)."""
import collections
import copy
import functools
import inspect
import time
import warnings
import weakref

import numpy as np

from .. import config, nest
from ..ir.analysis import is_static
from ..errors import RetracingError, RetracingWarning
from ..context import current_context
from ..source_location import user_frame, user_location
from ..tensor import Tensor, TensorShape, TensorSpec
from . import function_type
from . import signature as sig
from .cache import CacheInfo, TraceCache, captured_bytes, constant_bytes
from .retrace import TraceSignature, explain_retrace, relaxed_leaves, suggest_signature
from .trace_report import TraceMonitor, TraceReport, mark_changed_values, merge_findings
from .call import GraphFunction, call
from .tracer import NONE_OUTPUT, trace

_RETRACE_WINDOW, _RETRACE_LIMIT = 10, 5
_new_object = object.__new__
ON_EXCESS = ("raise", "warn", "relax", "eager")


class ConcreteFunction:
    """One traced graph for one input signature, plus the executable that runs it."""

    def __init__(self, graph, structured_outputs, leaves, bound, debug):
        from ..backend import current_backend
        from ..passes import optimize
        start = time.perf_counter()
        backend = current_backend()
        self.graph = graph                    # as traced
        self.optimized_graph, self.passes = optimize(graph, debug, can_lower=backend.can_lower)
        self.structured_outputs = structured_outputs
        self._leaf_paths = [leaf.path for leaf in leaves if leaf.kind == sig.TENSOR]
        self._specs = [leaf.spec for leaf in leaves if leaf.kind == sig.TENSOR]
        self.structured_input_signature = _input_signature(bound, leaves)
        self.outputs = [Tensor(symbol=v) for v in graph.outputs]
        index = structured_outputs
        self._single_output = (index, TensorShape(graph.outputs[index].shape), graph.outputs[index].dtype) \
            if type(index) is int and is_static(graph.outputs[index].shape) else None
        self.variables = tuple(var for _, var in graph.variables)
        self.trainable_variables = tuple(v for v in self.variables if v.trainable)
        # large captured arrays: graph inputs after the arguments, fed the same arrays on every call
        self.captured_inputs = [array for _, array in graph.captures]
        self._executable = backend.executable(self.optimized_graph, debug)
        self._graph_function = None           # for calls under a GradientTape (jit/call.py), built on the first
        self.function_type, self._captures = function_type.build(bound, leaves, graph.outputs, structured_outputs,
                                                                 self.variables)
        self.compile_seconds = time.perf_counter() - start      # passes + backend

    pass_reports = property(lambda self: self.passes, doc="concrete.passes under its first name")

    @property
    def kernels(self):
        return getattr(self._executable, "kernels", [])

    def _variant(self, optimized_graph, executable):
        """A copy running another optimization of the same trace (the parity checker's bisection)."""
        variant = copy.copy(self)
        variant.optimized_graph, variant._executable = optimized_graph, executable
        return variant

    def _call_flat(self, arrays):
        if self.captured_inputs:
            arrays = arrays + self.captured_inputs
        results = self._executable.run(arrays)
        single = self._single_output
        if single is not None:                          # the common case, inline: one tensor of known shape
            index, shape, dtype = single
            tensor = _new_object(Tensor)                 # (an eager tensor's _symbol is Tensor's default, None)
            tensor._value, tensor._shape, tensor._dtype = results[index], shape, dtype
            return tensor
        return nest.map_structure(lambda i: None if i is NONE_OUTPUT else Tensor._wrap(results[i]),
                                  self.structured_outputs)

    def _call_recorded(self, tensors):
        """The call as one operation of the eager tapes recording (a CALL: compiled forward, compiled
        backward), with the argument tensors the caller passed (the tapes know them)."""
        if self._graph_function is None:
            self._graph_function = GraphFunction(self.graph, self.captured_inputs, plain=self._executable)
        results = call(self._graph_function, tensors)
        return nest.map_structure(lambda i: None if i is NONE_OUTPUT else results[i], self.structured_outputs)

    def __call__(self, *args):
        tensors = sig.match_input_signature(self.graph.name, self._specs, args)
        context = current_context()
        if context.tapes and context.executing_eagerly:
            return self._call_recorded(tensors)
        return self._call_flat([t._value for t in tensors])

    def profile(self, n_calls=100, args=None):
        """Measured time per kernel of the native code over `n_calls` calls, with achieved GFLOP/s
        and GB/s against this machine's peaks (see jit/profile.py). Variables are left unchanged."""
        from .profile import profile
        return profile(self, n_calls, args)

    def fusion_report(self):
        """Every kernel with its member ops, static FLOPs/bytes, and why it was not fused with the
        kernels it reads from (see jit/fusion_report.py)."""
        from ..backend import current_backend
        from .fusion_report import fusion_report
        return fusion_report(self, current_backend().can_lower)

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
    """A Python function traced per input signature. Options (see `function`): input_signature,
    reduce_retracing, debug (0-3 or "check"), max_traces + on_excess, cache_size."""

    def __init__(self, python_function, name=None, input_signature=None, reduce_retracing=False, debug=None,
                 max_traces=None, on_excess="raise", cache_size=None, autograph=True):
        if on_excess not in ON_EXCESS:
            raise ValueError(f"on_excess must be one of {ON_EXCESS}, got {on_excess!r}")
        functools.update_wrapper(self, python_function)
        self._python_function = python_function
        self._autograph = autograph
        self._converted = None                  # what traces run: the AutoGraph-converted function
        self._name = name or getattr(python_function, "__name__", "function")
        self._options = dict(input_signature=input_signature, reduce_retracing=reduce_retracing, debug=debug,
                             max_traces=max_traces, on_excess=on_excess, cache_size=cache_size, autograph=autograph)
        self._signature = inspect.signature(python_function)
        self._input_signature = None if input_signature is None else [
            s if isinstance(s, TensorSpec) else TensorSpec(*s) for s in input_signature]
        self._relax = reduce_retracing          # on_excess="relax" turns it on when it fires
        self._check_parity = debug == "check"
        self._debug = None if self._check_parity else debug
        self._max_traces, self._on_excess = max_traces, on_excess
        self._cache = TraceCache(cache_size)
        self._history = []                      # TraceSignature of every trace, in order
        self._findings, self._report_notes = [], []     # what the traces did (trace_report)
        self.retraces = []                      # RetraceRecord of every trace after the first
        self._hits = self._misses = 0
        self._compile_seconds = 0.0
        self._eager_fallback = False            # on_excess="eager" fired: every call runs the Python
        # the call number (hits + misses) of the latest traces: a cache hit only counts itself
        self._trace_calls = collections.deque(maxlen=_RETRACE_WINDOW)
        self._lru = cache_size is not None
        self._warned = False
        self._bound_instances = weakref.WeakKeyDictionary()
        self._fast_cache = {}               # (dtype, shape) per positional tensor argument -> ConcreteFunction
        self._fast_calls = input_signature is None      # calls may use _fast_cache

    python_function = property(lambda self: self._python_function)
    input_signature = property(lambda self: self._input_signature)

    @property
    def _graph_function(self):
        """The function traces run: with autograph (the default, as in TF), the Python function
        converted so that `if`/`while`/`for` on tensors become cond/while_loop; without, as written."""
        if self._converted is None:
            from .. import autograph
            self._converted = autograph.convert(self._python_function) if self._autograph else self._python_function
        return self._converted

    def __get__(self, instance, owner):
        if instance is None:
            return self
        bound = self._bound_instances.get(instance)
        if bound is None:
            bound = Function(sig.weak_method(self._python_function, instance), name=self._name, **self._options)
            # the method's function is converted, then bound (a bound wrapper is library code: never converted)
            bound._converted = sig.weak_method(self._graph_function, instance)
            self._bound_instances[instance] = bound
        return bound

    def __call__(self, *args, **kwargs):
        context = current_context()
        # the common call, first: eager context, no tape, tensors of a signature seen before
        if context.executing_eagerly and not context.tapes and self._fast_calls and not kwargs and \
                not config.functions_run_eagerly():
            fast_key, arrays = _fast_key(args)
            concrete = self._fast_cache.get(fast_key) if fast_key is not None else None
            if concrete is not None:
                self._hits += 1
                if self._lru:
                    self._cache.touch(concrete)
                return concrete._call_flat(arrays)
        return self._call(context, args, kwargs)

    def _call(self, context, args, kwargs):
        if self._eager_fallback or config.functions_run_eagerly():
            return self._python_function(*args, **kwargs)       # as written (TF does not convert it either)
        if not context.executing_eagerly:         # a nested @function: inlined into the outer trace
            with _autograph_status(self._autograph):
                return self._graph_function(*args, **kwargs)
        if context.tapes:                         # recorded as one operation by the eager tapes
            return self._call_under_tapes(args, kwargs)
        fast_key = _fast_key(args)[0] if self._fast_calls and not kwargs else None
        concrete, arrays, traced = self._lookup(args, kwargs, record_call=True)
        if concrete is None:                     # on_excess="eager" fired on this call
            return self._python_function(*args, **kwargs)
        if traced and self._check_parity:
            self._assert_parity(args, kwargs)
        if fast_key is not None:
            self._fast_cache[fast_key] = concrete
        return concrete._call_flat(arrays)

    def _call_under_tapes(self, args, kwargs):
        concrete, _, traced = self._lookup(args, kwargs, record_call=True)
        if concrete is None:                     # on_excess="eager" fired on this call
            return self._python_function(*args, **kwargs)
        if traced and self._check_parity:
            self._assert_parity(args, kwargs)
        if self._input_signature is not None:
            args = tuple(sig.match_input_signature(self._name, self._input_signature, args))
        return concrete._call_recorded(sig.argument_tensors(sig.bind_arguments(self._signature, args, kwargs)))

    def get_concrete_function(self, *args, **kwargs):
        if not args and not kwargs and self._input_signature is not None:
            args = tuple(self._input_signature)
        concrete = self._lookup(args, kwargs, record_call=False)[0]
        if concrete is None:
            raise RetracingError(f"@function '{self._name}' runs eagerly (on_excess='eager' fired): it has no "
                                 "concrete function for these arguments")
        return concrete

    def experimental_get_tracing_count(self):
        return len(self._history)

    def _list_all_concrete_functions(self):
        """Every ConcreteFunction traced so far (TF's name; SavedModel saves these)."""
        return list(self._cache.concretes())

    def pretty_printed_concrete_signatures(self, verbose=True):
        return ("\n\n" if verbose else "\n").join(c.pretty_printed_signature(verbose)
                                                   for c in self._list_all_concrete_functions())

    # ---- diagnostics ----
    def cache_info(self):
        """Entries, hits, misses, evictions (calls only), bytes baked in, kernels, compile time."""
        live = self._cache.concretes()
        return CacheInfo(entries=len(live), max_size=self._cache.max_size, hits=self._hits, misses=self._misses,
                         evictions=self._cache.evictions, traces=len(self._history),
                         constant_bytes=sum(constant_bytes(c.optimized_graph) for c in live),
                         captured_bytes=sum(captured_bytes(c.graph) for c in live),
                         kernels=sum(len(c.kernels) for c in live), compile_seconds=self._compile_seconds,
                         eager_fallback=self._eager_fallback)

    def suggest_signature(self):
        """An input_signature generalizing every signature traced so far (see retrace.suggest_signature)."""
        defaults = {name: p.default for name, p in self._signature.parameters.items() if p.default is not p.empty}
        return suggest_signature(self._history, defaults)

    def trace_report(self):
        """What the traces did that compiled calls will not: Python side effects, values baked in
        as constants (marked when their source has changed since), leaked tensors, Variables created."""
        mark_changed_values(self._findings)
        return TraceReport(self._name, self._findings, self._report_notes)

    def _assert_parity(self, args, kwargs):
        from .parity import ParityError, check_parity
        report = check_parity(self, args, kwargs)
        if not report.ok:
            raise ParityError(report)

    # ---- cache ----
    def _lookup(self, args, kwargs, record_call):
        """(ConcreteFunction or None if the function went eager, its input arrays, whether it traced)."""
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
        specs = [l.spec for l in leaves if l.kind == sig.TENSOR]
        concrete = self._cache.get(key, _generic_key(leaves), specs, allow_relaxed=self._relax)
        traced = concrete is None
        if traced:
            concrete = self._trace(bound, key, leaves)
        if record_call:
            self._note_call(traced)
        return concrete, [leaf.value for leaf in leaves if leaf.kind == sig.TENSOR], traced

    def _trace(self, bound, key, leaves):
        level = config.debug_level(self._debug)
        call_site = user_location()
        if self._history:
            record = explain_retrace(self._name, self._history, leaves, call_site, self._cache.keys(), key)
            self.retraces.append(record)
            if level >= 1:
                config.debug_print(record)
            leaves = self._apply_retrace_policy(record, leaves)
            if leaves is None:
                return None
        if level >= 1:
            config.debug_print(f"tracing {self._name}(" + ", ".join(
                f"{l.path}: {l.describe()}" for l in leaves if l.kind != sig.CAPTURED) + ")")
        start = time.perf_counter()
        graph, structure = self._traced_graph(bound, leaves, level)
        if level >= 2:
            config.debug_print(f"IR after tracing:\n{graph}")
        concrete = ConcreteFunction(graph, structure, leaves, bound, self._debug)
        self._compile_seconds += time.perf_counter() - start
        self._history.append(TraceSignature(len(self._history) + 1, key, leaves, call_site))   # keeps no arrays
        self._store(key, leaves, concrete, level)
        return concrete

    def _traced_graph(self, bound, leaves, level):
        """Trace under a TraceMonitor; its findings (also of a failing trace) go to trace_report()."""
        monitor = TraceMonitor(self._graph_function, len(self._history) + 1)
        try:
            with monitor, _autograph_status(self._autograph):
                result = trace(self._graph_function, self._name, bound, leaves,
                               allow_variable_creation=not self._history,
                               capture_bytes=config.max_constant_bytes(), observer=monitor)
        except BaseException:
            self._findings = merge_findings(self._findings + monitor.findings(after_error=True))
            raise
        found = monitor.findings()
        self._findings = merge_findings(self._findings + found)     # bounded by distinct (kind, line, name)
        self._report_notes += [n for n in monitor.notes if n not in self._report_notes]
        if level >= 1 and found:
            config.debug_print(TraceReport(f"{self._name} (trace #{monitor.trace_number})", found))
        return result

    def _store(self, key, leaves, concrete, level):
        relaxed = key != "input_signature" and any(l.kind == sig.TENSOR and None in l.spec.shape for l in leaves)
        specs = [l.spec for l in leaves if l.kind == sig.TENSOR]
        if relaxed:
            key = ("relaxed", _generic_key(leaves), tuple(tuple(s.shape) for s in specs))
        keepalive = [l.value for l in leaves if l.kind == sig.CAPTURED]   # their id()s are in the key
        for old in self._cache.put(key, concrete, _generic_key(leaves) if relaxed else None, specs, keepalive):
            self._fast_cache = {k: c for k, c in self._fast_cache.items() if c is not old}
            if level >= 1:
                config.debug_print(f"{self._name}: cache_size={self._cache.max_size} reached, evicted {old!r}")

    def _apply_retrace_policy(self, record, leaves):
        """Before a retrace: the leaves to trace with (relaxed under reduce_retracing or
        on_excess="relax"), or None when the function now runs eagerly. Raises on_excess="raise"."""
        if self._max_traces is None or len(self._history) < self._max_traces:
            return relaxed_leaves(leaves, self._history)[0] if self._relax else leaves
        message = (f"@function '{self._name}' needs trace #{len(self._history) + 1} but max_traces={self._max_traces}"
                   f": {record}")
        if self._on_excess == "raise":
            raise RetracingError(message, record)
        if self._on_excess == "eager":
            self._eager_fallback = True
            self._fast_calls = False
            _warn_at_user_code(f"{message}\non_excess='eager': {self._name} runs its Python function eagerly from now "
                               "on.")
            return None
        if self._on_excess == "relax":
            relaxed, changed = relaxed_leaves(leaves, self._history)
            if changed:
                self._relax = True
                return relaxed
            _warn_at_user_code(f"{message}\non_excess='relax' cannot help: only tensor dims can be relaxed; traced "
                               "anyway.")
            return leaves
        _warn_at_user_code(message)
        return leaves

    def _note_call(self, traced):
        if not traced:
            self._hits += 1
            return
        self._misses += 1
        calls = self._hits + self._misses
        self._trace_calls.append(calls)
        window = min(calls, _RETRACE_WINDOW)
        recent_traces = sum(1 for n in self._trace_calls if n > calls - window)
        if self._warned or recent_traces <= _RETRACE_LIMIT:
            return
        self._warned = True
        recent = self.retraces[-_RETRACE_LIMIT:]
        changing = sorted({p for r in recent for p in r.arguments})
        _warn_at_user_code(
            f"@function '{self._name}' was traced {recent_traces} times in its last "
            f"{window} calls; arguments that keep changing: {', '.join(changing)}. "
            f"Tracing is expensive. Fix: {recent[-1].fix if recent else 'pass tensors rather than Python numbers'}")

    def __repr__(self):
        return f"<tracejit.function {self._name}>"


def _autograph_status(enabled):
    """While tracing: whether code the trace calls (Keras layers' `call`) is converted too, as in TF."""
    from ..autograph import conversion_status
    return conversion_status(enabled)


def _generic_key(leaves):
    """The key of a call with tensor shapes reduced to ranks: what a relaxed trace must match
    exactly (Python values, structure, dtypes), its specs deciding the rest."""
    return tuple((l.path, ("T", l.spec.dtype.name, l.spec.shape.rank) if l.kind == sig.TENSOR else l.key)
                 for l in leaves)


def _warn_at_user_code(message):
    """A RetracingWarning attributed to the user's line that made the call."""
    frame = user_frame()
    if frame is None:
        warnings.warn(message, RetracingWarning, stacklevel=2)
    else:
        warnings.warn_explicit(message, RetracingWarning, frame.f_code.co_filename, frame.f_lineno,
                               module=frame.f_globals.get("__name__"), registry=frame.f_globals.setdefault(
                                   "__warningregistry__", {}))


def _fast_key(args):
    """(cache key, arrays) of a call whose arguments are all eager tensors or ndarrays, else
    (None, None). Such calls have no Python values in their key except defaults, which never
    change. Shapes enter the key as plain tuples: cheaper to compare than TensorShapes."""
    key, arrays = [], []
    for a in args:
        kind = type(a)
        if kind is Tensor and a._symbol is None:
            array = a._value
            key.append(a._dtype)
        elif kind is np.ndarray and a.dtype.isnative:        # other byte orders are converted by the slow path
            array = a
            key.append(a.dtype)
        else:
            return None, None
        key.append(array.shape)
        arrays.append(array)
    return tuple(key), arrays


def function(func=None, input_signature=None, autograph=True, jit_compile=None, reduce_retracing=False,
             experimental_relax_shapes=None, name=None, debug=None, max_traces=None, on_excess="raise",
             cache_size=None):
    """Decorator: trace `func` into a graph per input signature and run the compiled graph.

    autograph: trace `func` converted by tracejit.autograph (Python `if`/`while`/`for` on tensors
      become cond/while_loop, as in TF); False traces it as written (a tensor in a Python condition
      then raises a TracingError suggesting tf.cond / tf.while_loop).

    debug: 0-3 (like TRACEJIT_DEBUG, for this function), or "check": on every new trace, run the
      call eagerly too and raise tracejit.debug.ParityError if the results differ (naming the pass).
    max_traces: at most this many traces; the next one is handled by on_excess: "raise"
      (RetracingError naming the changing arguments), "warn" (RetracingWarning, trace anyway),
      "relax" (trace with the varying dims as None, like reduce_retracing) or "eager" (run the
      Python function eagerly from then on).
    cache_size: keep at most this many concrete functions, least recently used evicted first."""
    relax = reduce_retracing or bool(experimental_relax_shapes)

    def decorate(f):
        return Function(f, name=name, input_signature=input_signature, reduce_retracing=relax, debug=debug,
                        max_traces=max_traces, on_excess=on_excess, cache_size=cache_size, autograph=autograph)
    return decorate if func is None else decorate(func)

