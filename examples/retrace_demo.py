"""The identity-with-print demo: one trace per input signature, and why each retrace happened.

    python examples/retrace_demo.py          (TRACEJIT_DEBUG=1 also logs traces as they happen)
"""
import numpy as np

import tracejit as tf


@tf.function
def identity(x):
    print("Creating graph!")        # a Python side effect: runs only while tracing
    return x


def main():
    x32 = tf.constant(np.ones((10, 10), np.float32))
    x16 = tf.constant(np.ones((10, 10), np.float16))
    for x in (x32, x16, x16):
        identity(x)
    print(f"tracing count: {identity.experimental_get_tracing_count()}")
    for record in identity.retraces:
        print(f"retrace reason: {record}")
    for x in (x32, x16):
        concrete = identity.get_concrete_function(x)
        print(f"\nIR of the concrete function for {x.dtype.name}:")
        print(concrete.graph)
    print("\nSignatures:")
    print(identity.pretty_printed_concrete_signatures())

    # A training step: forward, gradient and update all become one graph.
    w = tf.Variable(tf.random.normal([3, 1], seed=1), name="w")

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y))
        w.assign_sub(0.1 * tape.gradient(loss, w))
        return loss

    x = tf.constant(np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32))
    y = tf.matmul(x, tf.constant([[1.0], [-2.0], [0.5]]))
    losses = [float(train_step(x, y)) for _ in range(50)]
    print(f"\ntrain_step: loss {losses[0]:.4f} -> {losses[-1]:.6f} in 50 steps, "
          f"{train_step.experimental_get_tracing_count()} trace")
    print(train_step.get_concrete_function(x, y).graph)


if __name__ == "__main__":
    main()
