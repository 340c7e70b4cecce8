"""Why a @function traced again, and what to change so it does not.

Every trace leaves a `TraceSignature`: a light snapshot of its flattened arguments (specs, Python
values, and for function objects their code and closure) that keeps no tensors alive. A retrace
is explained against the closest earlier signature, argument by argument, each difference with a
copy-pasteable fix; `suggest_signature` generalizes all observed signatures into an
input_signature; `relaxed_leaves` makes the dims that varied unknown (reduce_retracing and
on_excess="relax")."""
import types

from ..tensor import TensorSpec, format_shape_dtype
from ..variables import Variable
from . import signature as sig

_SCALAR_TYPES = (int, float, complex)


def spec_code(spec):
    """`tf.TensorSpec([None, 784], tf.float32)`: the spec as code a user can paste."""
    dims = ", ".join("None" if d is None else str(d) for d in spec.shape)
    return f"tf.TensorSpec([{dims}], tf.{spec.dtype.name})"


class FunctionInfo:
    """A function object passed as an argument: its code, where it was defined, its closure values."""

    def __init__(self, fn):
        self.code = fn.__code__
        self.name = getattr(fn, "__qualname__", fn.__code__.co_name)
        self.location = f"{self.code.co_filename.rsplit('/', 1)[-1]}:{self.code.co_firstlineno}"
        cells = fn.__closure__ or ()
        self.closure = {name: _short_repr(_cell_value(cell)) for name, cell in zip(self.code.co_freevars, cells)}


def _cell_value(cell):
    try:
        return cell.cell_contents
    except ValueError:               # an empty cell: the variable is not assigned yet
        return "<unassigned>"


def _short_repr(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


class ArgumentSnapshot:
    """One flattened argument as a trace saw it."""
    __slots__ = ("kind", "path", "spec", "value", "type_name", "function")

    def __init__(self, leaf):
        self.kind, self.path, self.spec = leaf.kind, leaf.path, leaf.spec
        self.type_name = type(leaf.value).__name__
        self.value = leaf.value if leaf.kind == sig.STATIC else None
        self.function = FunctionInfo(leaf.value) if isinstance(leaf.value, types.FunctionType) else None

    def describe(self):
        if self.kind == sig.TENSOR:
            return format_shape_dtype(self.spec.shape, self.spec.dtype)
        if self.function is not None:
            return f"<function {self.function.name} defined at {self.function.location}>"
        if self.kind == sig.CAPTURED:
            return f"<{self.type_name} object>"
        return repr(self.value)


class TraceSignature:
    """What one trace was traced for: its cache key and argument snapshots."""

    def __init__(self, index, key, leaves, call_site):
        self.index, self.key, self.call_site = index, key, call_site
        self.arguments = [ArgumentSnapshot(leaf) for leaf in leaves]

    def by_path(self):
        return {a.path: a for a in self.arguments}

    def describe(self, name):
        parts = [f"{a.path}: {a.describe()}" if a.kind == sig.TENSOR else f"{a.path}={a.describe()}"
                 for a in self.arguments]
        return f"{name}({', '.join(parts)})"


class ArgumentChange:
    """One argument that differs from the closest earlier trace, and how to stop it retracing."""

    def __init__(self, path, before, after, kind, fix):
        self.path, self.before, self.after, self.kind, self.fix = path, before, after, kind, fix

    def as_tuple(self):
        return (self.path, self.before, self.after)

    @property
    def summary(self):
        return f"{self.path}: {self.before} -> {self.after}  [{self.kind}]"

    def __str__(self):
        return f"{self.summary}\n  fix: {self.fix}"

    def __repr__(self):
        return f"<ArgumentChange {self.summary}>"


class RetraceRecord:
    """Why a call traced again: where it was called, the closest earlier trace, each argument that
    differs (`differences`, with a fix each), and `fix`, the advice for the whole call."""

    def __init__(self, function_name, call_site, closest, closest_cached, differences, fix, trace_number):
        self.function_name, self.call_site = function_name, call_site
        self.closest_signature, self.closest_cached = closest, closest_cached
        self.differences, self.fix, self.trace_number = differences, fix, trace_number

    @property
    def changes(self):
        """[(path, before, after)] of the differing arguments."""
        return [d.as_tuple() for d in self.differences]

    @property
    def arguments(self):
        return [d.path for d in self.differences]

    @property
    def summary(self):
        return f"{self.function_name} retraced: " + "; ".join(f"{p}: {a} -> {b}" for p, a, b in self.changes)

    def __str__(self):
        cached = "still cached" if self.closest_cached else "evicted from the cache"
        lines = [self.summary,
                 f"  trace #{self.trace_number}, called at {self.call_site}",
                 f"  closest earlier trace: {self.closest_signature} ({cached})"]
        lines += ["  changed: " + d.summary for d in self.differences]
        lines.append(f"  fix: {self.fix}")
        return "\n".join(lines)

    def __repr__(self):
        return f"<RetraceRecord {self.summary}>"


def explain_retrace(function_name, history, leaves, call_site, cached_keys, key):
    """The RetraceRecord of a call with `leaves` that missed the cache, given earlier traces."""
    current = TraceSignature(len(history), key, leaves, call_site)
    closest, differences = None, None
    for previous in reversed(history):              # ties go to the most recent trace
        found = _differences(previous, current)
        if differences is None or len(found) < len(differences):
            closest, differences = previous, found
    if not differences:
        differences = [ArgumentChange("(arguments)", "same", "same", "evicted",
                                      "this signature was traced before and evicted from the cache: raise "
                                      "tf.function(cache_size=...) or call with fewer distinct signatures")]
    fix = _overall_fix(differences, history + [current])
    return RetraceRecord(function_name, call_site, closest.describe(function_name), closest.key in cached_keys,
                         differences, fix, len(history) + 1)


def _differences(previous, current):
    old, new = previous.by_path(), current.by_path()
    paths = list(old) + [p for p in new if p not in old]
    return [change for change in (_compare(p, old.get(p), new.get(p)) for p in paths) if change is not None]


def _compare(path, before, after):
    if before is None or after is None:
        return ArgumentChange(path, before.describe() if before else "(absent)", after.describe() if after else
                              "(absent)", "structure", "keep the structure of nested arguments fixed (same list "
                              "lengths and dict keys on every call), or stack the items into one tensor with tf.stack")
    if before.kind == sig.TENSOR and after.kind == sig.TENSOR:
        return _compare_tensors(path, before, after)
    if before.kind != after.kind or before.type_name != after.type_name:
        return ArgumentChange(path, _typed(before), _typed(after), "type",
                              f"pass {path} as the same kind of value on every call, e.g. always as a tensor: "
                              f"tf.constant({path})")
    if before.kind == sig.STATIC:
        if before.value == after.value:
            return None
        return ArgumentChange(path, before.describe(), after.describe(), "python value", _python_value_fix(path, after))
    return _compare_objects(path, before, after)


def _typed(argument):
    if argument.kind == sig.TENSOR:
        return f"a {argument.describe()} tensor"
    return f"Python {argument.type_name} {argument.describe()}"


def _compare_tensors(path, before, after):
    a, b = before.spec, after.spec
    if a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape):
        return None
    text = (before.describe(), after.describe())
    if a.dtype != b.dtype:
        return ArgumentChange(path, *text, "dtype", f"every dtype is a separate trace: cast {path} to one dtype before "
                              f"calling, e.g. tf.cast({path}, tf.{a.dtype.name})")
    if len(a.shape) != len(b.shape):
        return ArgumentChange(path, *text, "rank", f"{path} changed rank; an input_signature cannot cover several "
                              f"ranks: reshape {path} to one rank before calling")
    relaxed = TensorSpec([x if x == y else None for x, y in zip(a.shape, b.shape)], a.dtype)
    return ArgumentChange(path, *text, "shape", f"declare the varying dims as None: {spec_code(relaxed)} in an "
                          "input_signature, or tf.function(..., reduce_retracing=True)")


def _python_value_fix(path, after):
    if isinstance(after.value, bool):
        return (f"{path} is a Python bool, so each value is its own trace (expected for a mode flag); if it changes "
                f"per call, pass tf.constant({path}) and branch with tf.cond")
    if isinstance(after.value, _SCALAR_TYPES):
        return (f"pass {path} as a tensor: tf.constant({path}) (a Python number is part of the cache key; "
                "keep it a Python value only if it sets a shape or a Python loop count)")
    return f"{path} is a Python {after.type_name}: every distinct value is a trace; keep it fixed across calls"


def _compare_objects(path, before, after):
    """Captured objects are keyed by identity: a new object is a new trace."""
    if before.function is not None and after.function is not None:
        f, g = before.function, after.function
        if f.code is not g.code:
            return ArgumentChange(path, before.describe(), after.describe(), "different function",
                                  "each distinct function is its own trace (expected if you switch between a few); "
                                  "pass the same function object to reuse the trace")
        changed = [f"{k}: {f.closure[k]} -> {g.closure[k]}" for k in f.closure if f.closure[k] != g.closure.get(k)]
        closure = f"; its closure changed ({', '.join(changed)})" if changed else ""
        fix = (f"{path} is a new function object on every call (same code, {g.name} at {g.location}){closure}: "
               "create it once outside the loop and pass the same object")
        if changed:
            fix += ", and pass the changing closure values as tensor arguments instead"
        return ArgumentChange(path, before.describe(), after.describe(), "new function object", fix)
    what = "tf.Variable" if after.type_name == Variable.__name__ else f"{after.type_name} object"
    return ArgumentChange(path, f"{before.describe()} (one object)", f"{after.describe()} (another)", "new object",
                          f"{path} is keyed by identity and a different {what} was passed: pass the same object on "
                          "every call, or pass its tensors as arguments")


def _overall_fix(differences, signatures):
    """One piece of advice for the call: an input_signature when only tensor shapes vary and every
    argument is a top-level tensor; otherwise the per-argument fixes."""
    if all(d.kind == "shape" for d in differences):
        suggestion = suggest_signature(signatures)
        if suggestion.complete:
            return f"tf.function(..., {suggestion.code}) traces once for all these shapes"
    return "; ".join(dict.fromkeys(d.fix for d in differences))


class SignatureSuggestion(list):
    """A list of TensorSpecs, usable as `input_signature=`, learned from the observed traces.
    `code` is the same as paste-able text; `notes` say which arguments it cannot express and
    what to do about them; `complete` is False when there are such arguments."""

    def __init__(self, specs, notes, omitted):
        super().__init__(specs)
        self.notes, self.omitted = notes, omitted

    @property
    def complete(self):
        return not self.notes

    @property
    def code(self):
        return "input_signature=[" + ", ".join(spec_code(s) for s in self) + "]"

    def __str__(self):
        return "\n".join([self.code] + [f"# {note}" for note in self.notes])


def suggest_signature(signatures, defaults=None):
    """Generalize observed TraceSignatures into one TensorSpec per positional argument: equal dims
    stay, dims that varied become None; Python numbers become scalar specs (call with
    tf.constant). Trailing arguments always left at their default (`defaults`: path -> value) are
    omitted, as the input_signature call will not pass them."""
    if not signatures:
        raise ValueError("no calls observed yet: call the function (or get_concrete_function) first")
    defaults = defaults or {}
    columns = {}
    for s in signatures:
        for a in s.arguments:
            columns.setdefault(a.path, []).append(a)
    paths = list(columns)
    while paths and paths[-1] in defaults and all(a.kind == sig.STATIC and a.value == defaults[paths[-1]]
                                                  for a in columns[paths[-1]]):
        paths.pop()
    omitted = list(columns)[len(paths):]
    specs, notes = [], []
    for path in paths:
        spec, note = _generalize(path, columns[path])
        if note:
            notes.append(note)
        if spec is not None:
            specs.append(spec)
    return SignatureSuggestion(specs, notes, omitted)


def _generalize(path, observed):
    if any(c in path for c in "[]"):
        return None, (f"{path} is inside a nested list/dict: an input_signature takes one TensorSpec per positional "
                      "argument; pass its tensors as separate arguments")
    first = observed[0]
    if all(a.kind == sig.TENSOR for a in observed):
        if len({a.spec.dtype for a in observed}) > 1 or len({len(a.spec.shape) for a in observed}) > 1:
            return None, f"{path} was called with several dtypes or ranks: cast/reshape it to one before calling"
        dims = [d if all(a.spec.shape[i] == d for a in observed) else None for i, d in enumerate(first.spec.shape)]
        return TensorSpec(dims, first.spec.dtype), None
    if all(a.kind == sig.STATIC and type(a.value) in (int, float) for a in observed):
        dtype = "float32" if any(isinstance(a.value, float) for a in observed) else "int32"
        note = f"{path} was a Python number: call with tf.constant({path}) to match the signature"
        return TensorSpec([], dtype), note
    return None, (f"{path} is a Python {first.type_name}, which an input_signature cannot express: bind it with "
                  "functools.partial, or pass it as a tensor")


def relaxed_leaves(leaves, signatures):
    """The leaves with every tensor dim that differs from an earlier trace (same path, dtype and
    rank) made unknown. Returns (leaves, whether any dim was relaxed)."""
    relaxed, changed = [], False
    earlier = [s.by_path() for s in signatures]
    for leaf in leaves:
        if leaf.kind == sig.TENSOR:
            shape = list(leaf.spec.shape)
            for arguments in earlier:
                old = arguments.get(leaf.path)
                if old is not None and old.kind == sig.TENSOR and old.spec.dtype == leaf.spec.dtype \
                        and len(old.spec.shape) == len(shape):
                    shape = [d if d == o else None for d, o in zip(shape, old.spec.shape)]
            if shape != list(leaf.spec.shape):
                spec = TensorSpec(shape, leaf.spec.dtype)
                leaf = sig.Leaf(leaf.kind, leaf.path, ("T", spec.dtype.name, tuple(shape)), leaf.value, spec)
                changed = True
        relaxed.append(leaf)
    return relaxed, changed
