"""The timed cases. Each builds {variant: no-argument step} for one run: the NumPy baseline beside
tracejit and the @njit reference (or beside one installed framework, in that framework's process),
every variant fed the same sequence from the same pool of batches."""
import collections

import numpy as np

import frameworks
import njit_steps
import timing
import workloads as W

import tracejit as tf

# build(variant) -> ({name: step}, tier() -> str or None); cost = (flops, bytes) per step
Case = collections.namedtuple("Case", "section name build reps cost")


def _mlp(optimizer, batch):
    def build(variant):
        batches = W.mlp_batches(batch)
        steps = {"numpy": timing.cycling(W.NumpyMLP(optimizer).step, batches)}
        if variant != "tracejit":
            steps[variant] = frameworks.BUILDERS["mlp"][variant](optimizer, batch)
            return steps, None
        ours = W.TracejitMLP(optimizer)
        steps["tracejit"] = timing.cycling(ours.step, batches)
        if njit_steps.available():
            steps["njit"] = timing.cycling(njit_steps.NjitMLP(optimizer).step, batches)
        return steps, lambda: timing.tier(ours.step, *batches[0])
    return build


def _conv(batch):
    def build(variant):
        batches = W.conv_batches(batch)
        steps = {"numpy": timing.cycling(W.NumpyConvNet().step, batches)}
        if variant != "tracejit":
            steps[variant] = frameworks.BUILDERS["conv"][variant](batch)
            return steps, None
        ours = W.TracejitConvNet()
        steps["tracejit"] = timing.cycling(ours.step, batches)
        return steps, lambda: timing.tier(ours.step, *batches[0])
    return build


def _chain(n):
    def build(variant):
        data = W.chain_data(n)
        steps = {"numpy": lambda: W.chain_numpy(*data)}
        if variant != "tracejit":
            steps[variant] = frameworks.BUILDERS["chain"][variant](n)
            return steps, None
        chain, tensors = W.chain_tracejit(), [tf.constant(v) for v in data]
        steps["tracejit"] = lambda: chain(*tensors)
        if njit_steps.available():
            steps["njit"] = lambda: njit_steps.chain(*data)
        return steps, lambda: timing.tier(chain, *tensors)
    return build


def all_cases(reps):
    """Every case, in printing order; `reps` interleaved repetitions for the small ones."""
    few = max(reps // 4, 5)
    cases = [Case("mlp", f"mlp {opt} batch {batch}", _mlp(opt, batch), reps if batch < 1024 else few,
                  W.mlp_cost(opt, batch)) for opt in ("sgd", "adam") for batch in (32, 128, 1024)]
    cases += [Case("conv", f"conv adam batch {batch}", _conv(batch), few, W.conv_cost(batch)) for batch in (32, 128)]
    cases += [Case("chain", f"chain {label}", _chain(n), max(reps // 3, 5), W.chain_cost(n))
              for label, n in (("1M", 1 << 20), ("16M", 1 << 24))]
    return cases


def measure(variant, reps, passes=3):
    """({case: {name: median seconds}}, {case: tracejit tier}) for numpy and `variant`, interleaved
    within each case; the repetitions are split into `passes` sweeps over all cases, so that a burst
    of load from other processes hits a part of every case rather than the whole of one."""
    built = [(case, *case.build(variant)) for case in all_cases(reps)]
    times = {case.name: {name: [] for name in steps} for case, steps, _ in built}
    for _, steps, _ in built:
        timing.warm_up(steps)
    for _ in range(passes):
        for case, steps, _ in built:
            for name, seconds in timing.samples(steps, -(-case.reps // passes)).items():
                times[case.name][name] += seconds
    medians = {case: {name: float(np.median(t)) for name, t in row.items()} for case, row in times.items()}
    return medians, {case.name: tier() for case, _, tier in built if tier is not None}
