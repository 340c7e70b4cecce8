"""tracejit benchmarks: one run prints medians and ratios against hand-written NumPy (beside a
hand-written whole-step @numba.njit reference, and jax.jit / torch when installed, each of those
in its own process against its own NumPy baseline), achieved GFLOP/s and GB/s against this
machine's measured ceilings, call overhead, start-up latency, a Keras fit epoch, and a closing
"target vs measured" table.

    python3 bench/run.py [--quick] [--json FILE]
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

# measure the tracejit of this checkout, here and in every subprocess (they inherit PYTHONPATH)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(REPO, "bench"), REPO]
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))
import cases  # noqa: E402
import ceilings  # noqa: E402
import frameworks  # noqa: E402
import mnist_epoch  # noqa: E402
import njit_steps  # noqa: E402
import overhead  # noqa: E402
import report  # noqa: E402
import startup  # noqa: E402

import tracejit as tf  # noqa: E402


def framework_results(name, quick):
    """Run this script for one framework in a subprocess: its medians as {case: {variant: seconds}}."""
    command = [sys.executable, os.path.abspath(__file__), "--framework", name] + (["--quick"] if quick else [])
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode != 0:
        print(f"  ({name} failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else 'no output'})")
        return {}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (1-3 minutes)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--framework", help=argparse.SUPPRESS)       # subprocess mode: one framework
    args = parser.parse_args()
    reps = 30 if args.quick else 120
    tf.config.set_compile_mode("sync")      # steady state from the first call: native code, no tier-up
    if args.framework:
        print(json.dumps(cases.measure(args.framework, reps)[0]))
        return
    found = frameworks.available()
    print(f"tracejit {tf.__version__}, numpy {np.__version__}, {os.cpu_count()} cores, "
          f"njit reference: {'numba ' + njit_steps.numba.__version__ if njit_steps.available() else 'no numba'}, "
          f"frameworks: {', '.join(found) or 'none installed (pip install torch / jax to compare)'}")
    results = {"ceilings": ceilings.measure()}
    report.ceilings(results["ceilings"])

    all_cases = cases.all_cases(reps)
    medians, tiers = cases.measure("tracejit", reps)
    results["cases"], results["tiers"] = medians, tiers
    results["frameworks"] = {name: framework_results(name, args.quick) for name in found}
    rows = {case: {name: (s, s / row["numpy"]) for name, s in row.items()} for case, row in medians.items()}
    for name, measured in results["frameworks"].items():       # each framework against its own NumPy run
        for case, row in measured.items():
            rows[case][name] = (row[name], row[name] / row["numpy"])
    report.case_tables(all_cases, rows, tiers, results["ceilings"])
    if found:
        print(f"  ({', '.join(found)}: median in its own process, ratio to the NumPy baseline timed beside it there)")

    calls, call_tiers = overhead.tracejit_call_overheads(20 if args.quick else 40)
    results["call_overhead_us"] = {label: s * 1e6 for label, s in calls.items()}
    jax_calls = overhead.jax_call_overheads(20 if args.quick else 40) if "jax" in found else {}
    print("\ncall overhead of a tiny compiled function on a float32 scalar tensor (median per call):")
    for label, seconds in calls.items():
        jax_part = f", jax.jit {jax_calls[label] * 1e6:.2f} us" if label in jax_calls else ""
        tier_note = "" if call_tiers[label] == "native" else f" (tracejit ran on the {call_tiers[label]})"
        print(f"  {label:<10} tracejit {seconds * 1e6:.2f} us{jax_part}{tier_note}")

    print("\nKeras fit, one full-MNIST epoch (Sequential 784-128-10, SGD lr 0.01, batch 32, 1875 steps):")
    results["mnist_epoch"] = epoch = mnist_epoch.run(rounds=2 if args.quick else 3)
    if epoch:
        print(f"  tracejit fit {epoch['tracejit_s']:.2f} s, hand-written NumPy loop {epoch['numpy_s']:.2f} s "
              f"({epoch['ratio']:.2f}x; medians of {epoch['epochs']} alternating epochs); "
              f"test accuracy after them {epoch['test_accuracy']:.3f}")

    results["startup"] = start = {"import_s": startup.import_seconds(), "first_call": startup.first_call()}
    cold, warm = start["first_call"]["cold"], start["first_call"]["warm"]
    print("\nstart-up, each in a fresh process (median of 5 imports; first call: decorate + first call of the "
          "MLP Adam step b32 after import and model build; warm: median of 3):")
    print(f"  import tracejit {start['import_s']:.3f} s")
    for label, run in (("cold cache", cold), ("warm cache", warm)):
        native = "running" if run["native"] else "NOT running"
        print(f"  first call, {label}: {run['first']:.3f} s "
              f"(native code {native} {run['native_after']:.2f} s after decorate)")
    if "jax" in found:
        start["jax_first_call"] = jax_first = startup.jax_first_call()
        if jax_first:
            print(f"  jax.jit decorate + first call of the same step (no persistent cache): {jax_first['first']:.3f} s")

    results["targets"] = report.targets(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
