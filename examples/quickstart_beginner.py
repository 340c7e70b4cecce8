"""The TensorFlow 2 "quickstart for beginners", unchanged but for the import. Prints eager vs
compiled training-step time.  TRACEJIT_DATASETS must point at the MNIST files.

    python examples/quickstart_beginner.py [--epochs N]
"""
import argparse
import time

import tracejit as tf


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()

    mnist = tf.keras.datasets.mnist
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    x_train, x_test = x_train / 255.0, x_test / 255.0

    model = tf.keras.models.Sequential([
        tf.keras.layers.Flatten(input_shape=(28, 28)),
        tf.keras.layers.Dense(128, activation="relu"),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(10),
    ])
    predictions = model(x_train[:1]).numpy()
    print("softmax of the untrained model's logits:", tf.nn.softmax(predictions).numpy().round(3))
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    print("initial loss:", loss_fn(y_train[:1], predictions).numpy())
    model.summary()
    model.compile(optimizer="adam", loss=loss_fn, metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=args.epochs)
    print(f"fit: {(time.perf_counter() - start) / args.epochs:.2f} s per epoch")
    model.evaluate(x_test, y_test, verbose=2)

    probability_model = tf.keras.Sequential([model, tf.keras.layers.Softmax()])
    print(probability_model(x_test[:5]).numpy().round(3))

    x, y = x_train[:32].astype("float32"), y_train[:32]
    compiled = model.make_train_function()
    timings = {}
    for label, step in (("eager", lambda x, y: model.train_step((x, y))), ("compiled", compiled)):
        for _ in range(tf.config.tier_up_calls() + 5):     # past tracing, compiling and tier-up
            step(x, y)
        start = time.perf_counter()
        for _ in range(50):
            step(x, y)
        timings[label] = (time.perf_counter() - start) / 50
    print(f"train step (batch 32): eager {timings['eager'] * 1e3:.2f} ms, compiled {timings['compiled'] * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
