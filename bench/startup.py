"""Start-up latency, each measured in a fresh Python process: `import tracejit`, and the first call
of the MLP Adam step measured as decorate + first call after import and model/data build (the way
jax.jit is measured), with an empty TRACEJIT_CACHE_DIR (cold) and again with the same directory (warm)."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

BENCH = os.path.dirname(os.path.abspath(__file__))

IMPORT = """
import time
start = time.perf_counter()
import tracejit
print(time.perf_counter() - start)
"""

FIRST_CALL = """
import json, sys, time
sys.path.insert(0, {bench!r})
import tracejit as tf
import workloads as W
x, y = W.mlp_data(32)
model = W.TracejitMLP("adam")          # variables and optimizer state; its own tf.function is never called
start = time.perf_counter()
step = tf.function(model._step)
step(x, y)
first = time.perf_counter() - start
native = step.get_concrete_function(x, y)._executable.wait_compiled()   # and let the cache be written
print(json.dumps({{"first": first, "native_after": time.perf_counter() - start, "native": native}}))
"""

JAX_FIRST_CALL = """
import json, sys
sys.path.insert(0, {bench!r})
import frameworks
print(json.dumps(frameworks.jax_first_call()))
"""


def _python(code, **env):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, **env))
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "no output")
    return json.loads(out.stdout.strip().splitlines()[-1])


def import_seconds(runs=5):
    return float(np.median([_python(IMPORT) for _ in range(runs)]))


def first_call(warm_runs=3):
    """{"cold": {...}, "warm": {...}}: the cold process fills a fresh cache directory, then
    `warm_runs` processes reuse it; the warm entry is the run with the median first-call time."""
    code = FIRST_CALL.format(bench=BENCH)
    with tempfile.TemporaryDirectory(prefix="tracejit-bench-cache-") as cache_dir:
        cold = _python(code, TRACEJIT_CACHE_DIR=cache_dir)
        warm = sorted((_python(code, TRACEJIT_CACHE_DIR=cache_dir) for _ in range(warm_runs)),
                      key=lambda run: run["first"])
    return {"cold": cold, "warm": warm[len(warm) // 2]}


def jax_first_call():
    """Seconds of jax.jit decorate + first call of the same step, or None when it cannot run."""
    try:
        return _python(JAX_FIRST_CALL.format(bench=BENCH))
    except RuntimeError as error:
        print(f"  (jax first call failed: {error})")
        return None
