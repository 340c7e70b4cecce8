"""Debugging a @function: eager vs compiled parity with pass bisection.

    report = tracejit.debug.check_parity(step, x, y)     # a ParityReport: ok, mismatches, culprit
    tf.function(step, debug="check")                     # the same check on every new trace; raises

The other diagnostics live on the function objects themselves: `f.retraces`, `f.cache_info()`,
`f.suggest_signature()`, `f.trace_report()`, `concrete.passes`, `concrete.graph.to_dot()`; see
docs/diagnostics.md."""
from .jit.function import Function, function
from .jit.parity import TOLERANCES, Mismatch, ParityError, ParityReport  # noqa: F401
from .jit import parity as _parity


def check_parity(f, *args, tolerances=None, bisect=True, **kwargs):
    """Run f(*args, **kwargs) eagerly and compiled from the same Variable values and compare the
    outputs and Variable updates (float16 rtol 1e-2, float32 1e-5, float64 1e-12; `tolerances`
    overrides {dtype name: (rtol, atol)}). On a mismatch, name the pass and fused group that
    cause it. f: a @function, or a plain Python function (wrapped). Leaves Variables unchanged;
    the Python function's own side effects (prints) do run once."""
    if not isinstance(f, Function):
        f = function(f)
    return _parity.check_parity(f, args, kwargs, tolerances=tolerances, bisect=bisect)
