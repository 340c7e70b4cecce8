"""Keras fit on MNIST across processes, as in TensorFlow's "Multi-worker training with Keras"
tutorial: the model is built and compiled under MultiWorkerMirroredStrategy's scope, `fit` gets
the GLOBAL batch (per-worker batch x number of workers), each worker trains on its shard of every
global batch and the gradients are summed across workers inside the compiled step.

    mpiexec -n 2 python examples/mnist_distributed.py             # 2 workers on this machine
    mpiexec -hosts a,b -n 8 python examples/mnist_distributed.py  # 8 workers on machines a and b
    python examples/mnist_distributed.py                          # 1 worker: the same script runs anywhere

Only worker 0 prints progress and writes the checkpoints (--checkpoint-dir). MNIST is read by
tf.keras.datasets.mnist.load_data() from $TRACEJIT_DATASETS. With two workers on a 2-core
machine, give each worker one BLAS thread: OPENBLAS_NUM_THREADS=1 mpiexec -n 2 python ...
"""
import argparse
import os
import time

import numpy as np

import tracejit as tf


def mnist(samples):
    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
    prepare = lambda x: (x[..., np.newaxis] / np.float32(255)).astype(np.float32)  # noqa: E731
    return (prepare(x_train[:samples]), y_train[:samples].astype(np.int32)), (prepare(x_test), y_test.astype(np.int32))


def build_and_compile_cnn_model():
    model = tf.keras.Sequential([
        tf.keras.Input(shape=(28, 28, 1)),
        tf.keras.layers.Conv2D(32, 3, activation="relu"),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(128, activation="relu"),
        tf.keras.layers.Dense(10),
    ])
    model.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=tf.keras.optimizers.Adam(learning_rate=0.001), metrics=["accuracy"])
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--per-worker-batch", type=int, default=64)
    parser.add_argument("--samples", type=int, default=60000, help="training examples to use (fewer: a quick run)")
    parser.add_argument("--checkpoint-dir", default=None,
                        help="save the weights after every epoch, as .weights.h5 (h5py; worker 0 only)")
    args = parser.parse_args()

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    workers = strategy.num_replicas_in_sync
    global_batch = args.per_worker_batch * workers
    (x_train, y_train), (x_test, y_test) = mnist(args.samples)
    tf.random.set_seed(0)
    np.random.seed(0)                      # worker 0's shuffled order is used by every worker anyway

    with strategy.scope():
        model = build_and_compile_cnn_model()
    callbacks = []
    if args.checkpoint_dir:
        os.makedirs(args.checkpoint_dir, exist_ok=True)
        callbacks.append(tf.keras.callbacks.ModelCheckpoint(os.path.join(args.checkpoint_dir, "{epoch}.weights.h5"),
                                                            save_weights_only=True))
    if strategy.cluster_resolver.task_id == 0:
        print(f"{workers} worker(s), global batch {global_batch} ({args.per_worker_batch} per worker)")
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=global_batch, epochs=args.epochs, callbacks=callbacks, verbose=2)
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y_test, batch_size=global_batch, verbose=0)   # every worker's shard
    if strategy.cluster_resolver.task_id == 0:
        print(f"fit: {seconds / args.epochs:.1f} s per epoch, {args.samples * args.epochs / seconds:.0f} examples/s; "
              f"test loss {loss:.4f}, test accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
