"""Printing: the per-case tables (median, ratio to NumPy, achieved GFLOP/s and GB/s against the
measured ceilings) and the closing "target vs measured" table of issue 12."""

TITLES = {"mlp": "MLP 784-128-10 training step (forward + backward + update)",
          "conv": "conv model Conv2D(32,3)-Flatten-Dense(128)-Dense(10), Adam step",
          "chain": "y = tanh(x*a+b)*c + x*x, float32"}


def duration(seconds):
    return f"{seconds * 1e6:8.1f} us" if seconds < 1e-3 else f"{seconds * 1e3:8.2f} ms"


def ceilings(peaks):
    print(f"machine ceilings: sgemm {peaks['sgemm_1t']:.0f} GFLOP/s on 1 thread, {peaks['sgemm_all']:.0f} GFLOP/s "
          f"on all OpenBLAS threads; memory bandwidth {peaks['bandwidth']:.1f} GB/s (copy, read + write)")
    print("  per case: GFLOP/s and %sgemm (of the all-thread peak) from the analytic flop count, GB/s and %bw from")
    print("  the compulsory traffic of an ideal fused step (formulas beside each workload in bench/workloads.py)")


def case_tables(cases, rows, tiers, peaks):
    """cases: cases.Case list; rows: {case: {variant: (median seconds, ratio to the NumPy baseline
    measured beside it)}}."""
    for section, title in TITLES.items():
        print(f"\n{title}")
        print(f"  {'case':<22}{'variant':<10}{'median':>12}{'vs numpy':>10}{'GFLOP/s':>9}{'%sgemm':>8}"
              f"{'GB/s':>7}{'%bw':>6}")
        for case in (c for c in cases if c.section == section):
            flops, nbytes = case.cost
            for variant, (seconds, ratio) in rows.get(case.name, {}).items():
                gflops, gbs = flops / seconds / 1e9, nbytes / seconds / 1e9
                print(f"  {case.name:<22}{variant:<10}{duration(seconds):>12}{ratio:>9.2f}x{gflops:>9.1f}"
                      f"{100 * gflops / peaks['sgemm_all']:>7.1f}%{gbs:>7.1f}{100 * gbs / peaks['bandwidth']:>5.0f}%")
            if tiers.get(case.name, "native") != "native":
                print(f"  {'':<22}(tracejit ran on the {tiers[case.name]})")


# (label, limit, unit, how to read the measured value from run.py's results)
def _ratio(case):
    return lambda r: r["cases"][case]["tracejit"] / r["cases"][case]["numpy"]


TARGETS = [
    ("MLP SGD step, batch 32", 0.60, "x", _ratio("mlp sgd batch 32")),
    ("MLP Adam step, batch 32", 0.55, "x", _ratio("mlp adam batch 32")),
    ("MLP Adam step, batch 128", 0.65, "x", _ratio("mlp adam batch 128")),
    ("conv Adam step, batch 32", 0.40, "x", _ratio("conv adam batch 32")),
    ("chain, 1M float32", 0.35, "x", _ratio("chain 1M")),
    ("chain, 16M float32", 0.20, "x", _ratio("chain 16M")),
    ("call overhead, x + 1.0", 1.5, "us", lambda r: r["call_overhead_us"]["x + 1.0"]),
    ("first call MLP Adam, cold cache", 1.0, "s", lambda r: r["startup"]["first_call"]["cold"]["first"]),
    ("first call MLP Adam, warm cache", 0.15, "s", lambda r: r["startup"]["first_call"]["warm"]["first"]),
    ("import tracejit", 0.35, "s", lambda r: r["startup"]["import_s"]),
    ("Keras fit epoch vs NumPy loop", 1.1, "x", lambda r: r["mnist_epoch"]["ratio"]),
]


def targets(results):
    """Print and return [{"target", "limit", "unit", "measured", "met"}] (measured None: not measured)."""
    rows = []
    print("\ntarget vs measured (issue 12; ratios are tracejit / hand-written NumPy, medians of one run)")
    print(f"  {'target':<36}{'limit':>10}{'measured':>12}  met")
    for label, limit, unit, read in TARGETS:
        try:
            measured = float(read(results))
        except (KeyError, TypeError, ZeroDivisionError):
            measured = None
        met = measured is not None and measured <= limit
        shown = "n/a" if measured is None else f"{measured:.2f} {unit}"
        print(f"  {label:<36}{f'<= {limit:.2f} {unit}':>10}{shown:>12}  {'yes' if met else 'NO'}")
        rows.append({"target": label, "limit": limit, "unit": unit, "measured": measured, "met": met})
    return rows
