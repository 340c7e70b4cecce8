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
import frameworks  # noqa: E402
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


def cases(variant, reps):
    """(section, case, {name: step}) for every measurement, with `variant` beside the numpy baseline:
    "tracejit", or an installed framework name."""
    sections = []
    for optimizer in ("sgd", "adam"):
        for batch in (32, 128, 1024):
            def build(optimizer=optimizer, batch=batch):
                x, y = W.mlp_data(batch)
                baseline = W.NumpyMLP(optimizer)
                if variant == "tracejit":
                    ours = W.TracejitMLP(optimizer)
                    step = lambda: ours.step(x, y)  # noqa: E731
                else:
                    step = frameworks.BUILDERS["mlp"][variant](optimizer, batch)
                return {"numpy": lambda: baseline.step(x, y), variant: step}
            sections.append(("mlp", f"mlp {optimizer} batch {batch}", build, reps if batch < 1024 else max(reps // 4, 5)))
    for batch in (32, 128):
        def build(batch=batch):
            x, y = W.conv_data(batch)
            baseline = W.NumpyConvNet()
            if variant == "tracejit":
                ours = W.TracejitConvNet()
                step = lambda: ours.step(x, y)  # noqa: E731
            else:
                step = frameworks.BUILDERS["conv"][variant](batch)
            return {"numpy": lambda: baseline.step(x, y), variant: step}
        sections.append(("conv", f"conv adam batch {batch}", build, max(reps // 4, 5)))
    for label, n in (("1M", 1 << 20), ("16M", 1 << 24)):
        def build(n=n):
            x = np.random.default_rng(0).random(n, dtype=np.float32)
            a, b, c = (np.float32(v) for v in (0.5, 0.1, 2.0))
            if variant == "tracejit":
                chain = W.chain_tracejit()
                xt, at, bt, ct = (tf.constant(v) for v in (x, a, b, c))
                step = lambda: chain(xt, at, bt, ct)  # noqa: E731
            else:
                step = frameworks.BUILDERS["chain"][variant](n)
            return {"numpy": lambda: W.chain_numpy(x, a, b, c), variant: step}
        sections.append(("chain", f"chain {label}", build, max(reps // 3, 5)))
    return sections


def measure(variant, reps):
    """{case: {name: seconds}} for numpy and `variant`, interleaved within each case."""
    return {case: interleaved_medians(build(), n) for _, case, build, n in cases(variant, reps)}


def framework_results(name, quick):
    """Run this script for one framework in a subprocess; its medians as {case: {name: seconds}}."""
    command = [sys.executable, os.path.abspath(__file__), "--framework", name] + (["--quick"] if quick else [])
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode != 0:
        print(f"  ({name} failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else 'no output'})")
        return {}
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_table(title, rows):
    """rows: (case, {variant: (seconds, ratio vs the numpy measured beside it)})."""
    print(f"\n{title}")
    print(f"  {'case':<28}{'variant':<12}{'median':>12}{'vs numpy':>10}")
    for case, medians in rows:
        for variant, (seconds, ratio) in medians.items():
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
    parser.add_argument("--framework", help=argparse.SUPPRESS)       # subprocess mode: one framework
    args = parser.parse_args()
    reps = 15 if args.quick else 60
    if args.framework:
        print(json.dumps(measure(args.framework, reps)))
        return
    found = frameworks.available()
    print(f"tracejit {tf.__version__}, numpy {np.__version__}, {os.cpu_count()} cores; optional frameworks: "
          f"{', '.join(found) or 'none installed (pip install torch / jax to compare)'}"
          f"{' (each measured in its own process against its own numpy baseline)' if found else ''}")
    ours = measure("tracejit", reps)
    others = {name: framework_results(name, args.quick) for name in found}
    results = {"tracejit": ours, **others}
    titles = {"mlp": "(1) MLP 784-128-10 training step (forward + backward + update)",
              "conv": "(2) conv model Conv2D(32,3)-Flatten-Dense(128)-Dense(10), Adam",
              "chain": "(3) y = tanh(x*a+b)*c + x*x, float32"}
    for section, title in titles.items():
        rows = []
        for _, case, _, _ in (c for c in cases("tracejit", reps) if c[0] == section):
            row = {"numpy": (ours[case]["numpy"], 1.0), "tracejit": (ours[case]["tracejit"],
                                                                     ours[case]["tracejit"] / ours[case]["numpy"])}
            for name, measured in others.items():
                if case in measured:
                    row[name] = (measured[case][name], measured[case][name] / measured[case]["numpy"])
            rows.append((case, row))
        print_table(title, rows)

    tiny = tf.function(lambda x: x)
    xt = tf.constant(1.0)
    call = interleaved_medians({"tracejit": lambda: tiny(xt)}, 20, calls_per_sample=2000)
    line = f"tracejit {call['tracejit'] * 1e6:.2f} us"
    if "jax" in found:
        jax_call = json.loads(subprocess.run([sys.executable, "-c", JAX_CALL], capture_output=True, text=True,
                                             check=True).stdout.strip().splitlines()[-1])
        line += f", jax.jit {jax_call * 1e6:.2f} us"
    print(f"\n(4) call overhead of a tiny compiled identity function: {line}")
    results["call_overhead_us"] = call["tracejit"] * 1e6

    mnist_epoch(results)

    with tempfile.TemporaryDirectory() as cache_dir:
        cold = first_call_seconds(cache_dir)
        warm = first_call_seconds(cache_dir)
    print(f"\n(5) first call of the MLP Adam step in a fresh process (import + trace + compile): "
          f"cold cache {cold:.2f} s, warm cache {warm:.2f} s")
    results["first_call"] = {"cold_s": cold, "warm_s": warm}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


def mnist_epoch(results):
    """(6) one full-MNIST epoch of the Sequential 784-128-10 model with SGD (Keras defaults, batch 32)
    against the hand-written NumPy step over the same 1875 batches."""
    os.environ.setdefault("TRACEJIT_DATASETS", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                            "shared", "data"))
    try:
        (x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
    except OSError as error:
        print(f"\n(6) full-MNIST epoch: skipped ({error})")
        return
    x_train, x_test = (x_train / 255.0).astype("float32"), (x_test / 255.0).astype("float32")
    tf.random.set_seed(0)
    model = tf.keras.models.Sequential([tf.keras.layers.Flatten(input_shape=(28, 28)),
                                        tf.keras.layers.Dense(128, activation="relu"), tf.keras.layers.Dense(10)])
    model.compile(optimizer="sgd", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x_train[:320], y_train[:320], epochs=1, verbose=0)       # trace and compile outside the timing
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=1, verbose=0)
    ours = time.perf_counter() - start
    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    baseline = W.NumpyMLP("sgd")
    flat = x_train.reshape(-1, 784)
    order = np.random.permutation(len(flat))
    start = time.perf_counter()
    for i in range(0, len(flat), 32):
        index = order[i: i + 32]
        baseline.step(flat[index], y_train[index].astype(np.int32))
    numpy_seconds = time.perf_counter() - start
    print(f"\n(6) full-MNIST epoch, Sequential 784-128-10 with SGD, batch 32 (1875 steps): tracejit fit "
          f"{ours:.2f} s, hand-written NumPy {numpy_seconds:.2f} s ({ours / numpy_seconds:.2f}x); "
          f"test accuracy after the epoch {accuracy:.3f}")
    results["mnist_epoch"] = {"tracejit_s": ours, "numpy_s": numpy_seconds, "test_accuracy": accuracy}


JAX_CALL = """
import sys, time, json
sys.path.insert(0, {bench!r})
import frameworks, numpy as np
call = frameworks.jax_call_overhead()
for _ in range(100):
    call()
samples = []
for _ in range(20):
    start = time.perf_counter()
    for _ in range(2000):
        call()
    samples.append((time.perf_counter() - start) / 2000)
print(json.dumps(float(np.median(samples))))
""".replace("{bench!r}", repr(os.path.dirname(os.path.abspath(__file__))))


if __name__ == "__main__":
    main()
