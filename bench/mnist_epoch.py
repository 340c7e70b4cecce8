"""One full-MNIST epoch of the Sequential 784-128-10 model: Keras `fit` (SGD with its default
learning rate 0.01, batch 32, shuffled) against the hand-written NumPy step doing the same work over
the same 1875 batches. Epochs alternate (fit, NumPy, fit, NumPy, ...; medians) so that load from
other processes hits both alike. MNIST is read from $TRACEJIT_DATASETS/mnist/*.gz (default: ../shared/data
beside the repository)."""
import os
import time
import warnings

import numpy as np

import tracejit as tf
import workloads as W

KERAS_SGD_LR = 0.01


def run(rounds):
    """{"tracejit_s", "numpy_s", "ratio", "test_accuracy"}, or None (printed why) without MNIST."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.environ.setdefault("TRACEJIT_DATASETS", os.path.join(os.path.dirname(repo), "shared", "data"))
    try:
        (x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
    except OSError as error:
        print(f"  skipped: {str(error).splitlines()[0][:200]}")
        return None
    x_train, x_test = (x_train / 255.0).astype("float32"), (x_test / 255.0).astype("float32")
    tf.random.set_seed(0)
    with warnings.catch_warnings():         # Keras 3 prefers Input(shape) to input_shape=; the quickstart's form
        warnings.simplefilter("ignore", UserWarning)
        model = tf.keras.models.Sequential([tf.keras.layers.Flatten(input_shape=(28, 28)),
                                            tf.keras.layers.Dense(128, activation="relu"), tf.keras.layers.Dense(10)])
    model.compile(optimizer="sgd", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x_train[:320], y_train[:320], epochs=1, verbose=0)       # trace and compile outside the timing
    baseline = W.NumpyMLP("sgd", sgd_lr=KERAS_SGD_LR)
    flat, labels = x_train.reshape(-1, 784), y_train.astype(np.int32)
    ours, theirs = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        model.fit(x_train, y_train, epochs=1, verbose=0)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        order = np.random.permutation(len(flat))
        for i in range(0, len(flat), 32):
            index = order[i: i + 32]
            baseline.step(flat[index], labels[index])
        theirs.append(time.perf_counter() - start)
    accuracy = float(model.evaluate(x_test, y_test, verbose=0)[1])
    ours, theirs = float(np.median(ours)), float(np.median(theirs))
    return {"tracejit_s": ours, "numpy_s": theirs, "ratio": ours / theirs, "epochs": rounds, "test_accuracy": accuracy}
