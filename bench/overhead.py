"""Call overhead: median time per call of a tiny compiled function on a float32 scalar tensor,
`x + 1.0` and the identity; jax.jit's for the same in a subprocess when jax is installed."""
import json
import os
import subprocess
import sys

import numpy as np

import timing

JAX = """
import json, sys
sys.path.insert(0, {bench!r})
import frameworks, timing
medians = timing.interleaved_medians(frameworks.jax_call_overheads(), {reps}, calls_per_sample=2000, warmup=100)
print(json.dumps(medians))
"""


def tracejit_call_overheads(reps):
    """{label: seconds per call}, native code (compile mode "sync" is set by run.py)."""
    import tracejit as tf
    x = tf.constant(np.float32(1.0))
    plus_one, identity = tf.function(lambda x: x + 1.0), tf.function(lambda x: x)
    tiers = {label: timing.tier(fn, x) for label, fn in (("x + 1.0", plus_one), ("identity", identity))}
    medians = timing.interleaved_medians({"x + 1.0": lambda: plus_one(x), "identity": lambda: identity(x)},
                                         reps, calls_per_sample=2000, warmup=100)
    return medians, tiers


def jax_call_overheads(reps):
    code = JAX.format(bench=os.path.dirname(os.path.abspath(__file__)), reps=reps)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode != 0:
        print(f"  (jax call overhead failed: {out.stderr.strip().splitlines()[-1:]})")
        return {}
    return json.loads(out.stdout.strip().splitlines()[-1])
