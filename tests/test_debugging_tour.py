"""examples/debugging_tour.py runs (in a few seconds) and shows every diagnostic it promises."""
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..")


def test_debugging_tour_shows_every_diagnostic():
    run = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "debugging_tour.py")], capture_output=True,
                         text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT}, timeout=300)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    expected = [
        "fix: pass step as a tensor: tf.constant(step)",
        "suggested: input_signature=[tf.TensorSpec([None, 784], tf.float32), tf.TensorSpec([None], tf.int32)]",
        "RetracingError: @function '<lambda>' needs trace #2 but max_traces=1",
        "on_excess='relax' traced: x (POSITIONAL_OR_KEYWORD): TensorSpec(shape=(None, 784), dtype=tf.float32",
        "2 entries (max 2), 0 hits, 4 misses, 2 evictions, 4 traces",
        "captures(%1: f32[784,784])",
        "+++ after fuse",
        "print() ran only while tracing",
        "global 'LEARNING_RATE' = 0.1 baked into the graph as a constant",
        "changed since tracing: now 0.01",
        "compiled results match eager execution",
        "culprit: pass 'simplify'",
        "fused clusters",
        "not fused: matmul boundary",
        "peaks measured here:",
        "us/call",
    ]
    assert [line for line in expected if line not in out] == []
