"""tracejit benchmarks: one run prints medians and ratios against hand-written NumPy (and
tf.function / jax.jit / torch when installed).

    python3 bench/run.py            (--quick for fewer repetitions)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workloads as W  # noqa: E402

import tracejit as tf  # noqa: E402


def interleaved_medians(variants, repetitions, calls_per_sample=1):
    """Time every variant in turn, `repetitions` times; medians in seconds per call."""
    time.sleep(0.5)       # let OpenBLAS worker threads from the previous case stop spinning
    for fn in variants.values():        # warm up past tracing, compiling and tier-up: steady state
        for _ in range(tf.config.tier_up_calls() + 5):
            fn()
    samples = {name: [] for name in variants}
    for _ in range(repetitions):
        for name, fn in variants.items():
            start = time.perf_counter()
            for _ in range(calls_per_sample):
                fn()
            samples[name].append((time.perf_counter() - start) / calls_per_sample)
    return {name: float(np.median(times)) for name, times in samples.items()}


def optional_frameworks():
    found = {}
    for name in ("tensorflow", "jax", "torch"):
        try:
            found[name] = __import__(name)
        except ImportError:
            pass
    return found


def mlp_variants(optimizer, batch):
    x, y = W.mlp_data(batch)
    ours, baseline = W.TracejitMLP(optimizer), W.NumpyMLP(optimizer)
    return {"numpy": lambda: baseline.step(x, y), "tracejit": lambda: ours.step(x, y)}


def chain_variants(n):
    rng = np.random.default_rng(0)
    x = rng.random(n, dtype=np.float32)
    a, b, c = (np.float32(v) for v in (0.5, 0.1, 2.0))
    chain = W.chain_tracejit()
    xt, at, bt, ct = (tf.constant(v) for v in (x, a, b, c))
    return {"numpy": lambda: W.chain_numpy(x, a, b, c), "tracejit": lambda: chain(xt, at, bt, ct)}


def print_table(title, rows):
    print(f"\n{title}")
    print(f"  {'case':<28}{'variant':<12}{'median':>12}{'vs numpy':>10}")
    for case, medians in rows:
        for variant, seconds in medians.items():
            ratio = seconds / medians["numpy"] if "numpy" in medians else float("nan")
            unit = f"{seconds * 1e6:9.1f} us" if seconds < 1e-3 else f"{seconds * 1e3:9.2f} ms"
            print(f"  {case:<28}{variant:<12}{unit:>12}{ratio:>9.2f}x")


FIRST_CALL = """
    import time, sys
    start = time.perf_counter()
    sys.path.insert(0, {bench!r})
    import workloads as W
    x, y = W.mlp_data(32)
    model = W.TracejitMLP("adam")
    model.step(x, y)
    print(time.perf_counter() - start)
"""


def first_call_seconds(cache_dir):
    code = textwrap.dedent(FIRST_CALL.format(bench=os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, TRACEJIT_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    reps = 15 if args.quick else 60
    frameworks = optional_frameworks()
    print(f"tracejit {tf.__version__}, numpy {np.__version__}, {os.cpu_count()} cores; "
          f"optional frameworks found: {', '.join(frameworks) or 'none'}")
    results = {}

    rows = []
    for optimizer in ("sgd", "adam"):
        for batch in (32, 128, 1024):
            case = f"mlp {optimizer} batch {batch}"
            rows.append((case, interleaved_medians(mlp_variants(optimizer, batch),
                                                   reps if batch < 1024 else max(reps // 4, 5))))
    print_table("(1) MLP 784-128-10 training step (forward + backward + update)", rows)
    results["mlp"] = dict(rows)

    rows = []
    for batch in (32, 128):
        x, y = W.conv_data(batch)
        ours, baseline = W.TracejitConvNet(), W.NumpyConvNet()
        rows.append((f"conv adam batch {batch}", interleaved_medians(
            {"numpy": lambda: baseline.step(x, y), "tracejit": lambda: ours.step(x, y)}, max(reps // 4, 5))))
    print_table("(2) conv model Conv2D(32,3)-Flatten-Dense(128)-Dense(10), Adam", rows)
    results["conv"] = dict(rows)

    rows = [(f"chain {label}", interleaved_medians(chain_variants(n), max(reps // 3, 5)))
            for label, n in (("1M", 1 << 20), ("16M", 1 << 24))]
    print_table("(3) y = tanh(x*a+b)*c + x*x, float32", rows)
    results["chain"] = dict(rows)

    tiny = tf.function(lambda x: x)
    xt = tf.constant(1.0)
    call = interleaved_medians({"tracejit": lambda: tiny(xt)}, 20, calls_per_sample=2000)
    print(f"\n(4) call overhead of a tiny @function: {call['tracejit'] * 1e6:.2f} us per call")
    results["call_overhead_us"] = call["tracejit"] * 1e6

    with tempfile.TemporaryDirectory() as cache_dir:
        cold = first_call_seconds(cache_dir)
        warm = first_call_seconds(cache_dir)
    print(f"\n(5) first call of the MLP Adam step in a fresh process (import + trace + compile): "
          f"cold cache {cold:.2f} s, warm cache {warm:.2f} s")
    results["first_call"] = {"cold_s": cold, "warm_s": warm}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
