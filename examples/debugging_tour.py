"""A tour of tracejit's diagnostics on an MLP training step (784-128-10, batch 32):

  1. why did it retrace, and the fix           f.retraces, f.suggest_signature()
  2. a retrace budget                           tf.function(max_traces=..., on_excess=...), assert_max_traces
  3. the trace cache                            f.cache_info(), cache_size=, large captured arrays
  4. what each pass did                         concrete.passes (diffs, fused groups)
  5. what tracing did that calls will not       f.trace_report()
  6. eager vs compiled, and which pass broke it tracejit.debug.check_parity
  7. a picture of the graph                     concrete.optimized_graph.to_dot(), `tracejit graph`

    python examples/debugging_tour.py
"""
import os
import tempfile
import time

import numpy as np

import tracejit as tf
import tracejit.debug
from tracejit.testing import assert_max_traces

rng = np.random.default_rng(0)
w1 = tf.Variable(rng.normal(0, 0.05, (784, 128)).astype(np.float32), name="w1")
b1 = tf.Variable(np.zeros(128, np.float32), name="b1")
w2 = tf.Variable(rng.normal(0, 0.05, (128, 10)).astype(np.float32), name="w2")
b2 = tf.Variable(np.zeros(10, np.float32), name="b2")
PARAMS = [w1, b1, w2, b2]
LEARNING_RATE = 0.1
history = []


def batch(size):
    return (tf.constant(rng.normal(size=(size, 784)).astype(np.float32)),
            tf.constant(rng.integers(0, 10, size).astype(np.int32)))


def loss_of(x, y):
    hidden = tf.nn.relu(tf.matmul(x, w1) + b1)
    logits = tf.matmul(hidden, w2) + b2
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))


def train_step(x, y, step):
    """Three classic mistakes: a Python int argument, a print and a list append (they run only
    while tracing), and a global learning rate (baked into the graph)."""
    print(f"tracing train_step for step {step}")
    history.append(step)
    with tf.GradientTape() as tape:
        loss = loss_of(x, y)
    for variable, gradient in zip(PARAMS, tape.gradient(loss, PARAMS)):
        variable.assign_sub(LEARNING_RATE * gradient)
    return loss


def section(title):
    print(f"\n=== {title} " + "=" * max(0, 70 - len(title)))


def retrace_advice():
    section("1. Why did it retrace?")
    step = tf.function(train_step)
    x, y = batch(32)
    for i in range(2):
        step(x, y, i)
    print(step.retraces[-1])
    fixed = tf.function(lambda x, y: train_step(x, y, 0))
    fixed(*batch(32))
    fixed(*batch(16))                 # the last, smaller batch of an epoch
    print(fixed.retraces[-1])
    print("suggested:", fixed.suggest_signature())
    return step


def retrace_budget():
    section("2. A retrace budget")
    strict = tf.function(lambda x, y, n: train_step(x, y, n), max_traces=1, on_excess="raise")
    x, y = batch(32)
    strict(x, y, 0)
    try:
        strict(x, y, 1)
    except tf.errors.RetracingError as error:
        print("RetracingError:", str(error).splitlines()[0])
        print("  fix:", error.record.fix)
    relaxed = tf.function(lambda x, y: train_step(x, y, 0), max_traces=1, on_excess="relax")
    with assert_max_traces(relaxed, 2):           # a pytest-style check: at most 2 traces here
        for size in (32, 16, 8, 4):
            relaxed(*batch(size))
    relaxed_signature = relaxed.pretty_printed_concrete_signatures().split("\n\n")[-1]
    print("on_excess='relax' traced:", next(line.strip() for line in relaxed_signature.splitlines()
                                            if line.strip().startswith("x ")))


def cache():
    section("3. The trace cache")
    bounded = tf.function(lambda x, y: train_step(x, y, 0), cache_size=2)
    for size in (32, 16, 8, 32):
        bounded(*batch(size))
    print(bounded.cache_info())
    projection = rng.normal(size=(784, 784)).astype(np.float32)          # 2.4 MB, captured
    project = tf.function(lambda x: tf.matmul(x, projection))
    concrete = project.get_concrete_function(batch(32)[0])
    print("graph head:", str(concrete.graph).splitlines()[0])
    print(f"captured by reference: {project.cache_info().captured_bytes} bytes, "
          f"baked constants: {project.cache_info().constant_bytes} bytes")


def passes(step):
    section("4. What each pass did")
    concrete = step.get_concrete_function(*batch(32), 1)
    for record in concrete.passes:
        print(f"  {record.summary()}")
    fuse = next(r for r in concrete.passes if r.name == "fuse")
    for group in fuse.fused_groups[:3]:
        print("  ", group)
    print("\n".join(fuse.diff.splitlines()[:12]), "\n  ...")
    return concrete


def trace_report(step):
    section("5. What tracing did that compiled calls will not")
    global LEARNING_RATE
    LEARNING_RATE = 0.01              # too late: 0.1 is baked into the traced graphs
    print(step.trace_report())


def parity():
    section("6. Eager vs compiled, and which pass broke it")
    check = tf.function(lambda x, y: train_step(x, y, 0))
    x, y = batch(32)
    print(tracejit.debug.check_parity(check, x, y))
    from tracejit.passes import simplify
    real = simplify.run

    def broken(graph):                # a deliberately wrong rewrite: relu(v) -> v
        changes = real(graph)
        for node in graph.nodes:
            if node.op == "relu":
                node.prim, node.params = tf.ops.REGISTRY["identity"], {}
                changes.append(f"{node.outputs[0]!r} = relu rewritten as identity (a bug)")
        return changes
    simplify.run = broken
    try:
        report = tracejit.debug.check_parity(tf.function(lambda x, y: train_step(x, y, 0)), x, y)
    finally:
        simplify.run = real
    print("\n".join(str(report).splitlines()[:3]))
    bug = [c for record in report.culprit_records for c in record.changes if "relu" in c]
    print("  ...\n  culprit:", report.culprit, "--", bug)


def picture(concrete):
    section("7. A picture of the graph")
    dot = concrete.optimized_graph.to_dot()
    path = os.path.join(tempfile.mkdtemp(), "train_step.dot")
    with open(path, "w") as file:
        file.write(dot)
    print(f"{path}: {dot.count(' -> ')} edges, {dot.count('subgraph')} fused clusters "
          "(render: dot -Tsvg; or `python -m tracejit graph FILE.py:func --args ... -o out.svg`)")


def kernels(concrete):
    section("8. Where the time goes: fusion report and measured kernel profile")
    report = concrete.fusion_report()
    print("\n".join(str(report).splitlines()[:14]), "\n  ...")
    x, y = batch(32)
    profile = concrete.profile(50, args=(x, y))           # the variables are restored afterwards
    print("\n".join(str(profile).splitlines()[:9]), "\n  ...")


def main():
    start = time.perf_counter()
    step = retrace_advice()
    retrace_budget()
    cache()
    concrete = passes(step)
    trace_report(step)
    parity()
    picture(concrete)
    kernels(concrete)
    print(f"\ntour finished in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
