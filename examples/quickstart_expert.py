"""The TensorFlow 2 "quickstart for experts", unchanged but for the import: a Model subclass,
tf.data pipelines and a custom @tf.function training step with GradientTape and metrics.
Prints eager vs compiled step time.  TRACEJIT_DATASETS must point at the MNIST files.

    python examples/quickstart_expert.py [--epochs N] [--train-size N]
"""
import argparse
import time

import tracejit as tf
from tracejit.keras import Model
from tracejit.keras.layers import Conv2D, Dense, Flatten


class MyModel(Model):
    def __init__(self):
        super().__init__()
        self.conv1 = Conv2D(32, 3, activation="relu")
        self.flatten = Flatten()
        self.d1 = Dense(128, activation="relu")
        self.d2 = Dense(10)

    def call(self, x):
        x = self.conv1(x)
        x = self.flatten(x)
        x = self.d1(x)
        return self.d2(x)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train-size", type=int, default=60000)
    args = parser.parse_args()

    mnist = tf.keras.datasets.mnist
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    x_train, x_test = x_train / 255.0, x_test / 255.0
    x_train = x_train[..., tf.newaxis].astype("float32")[: args.train_size]
    x_test = x_test[..., tf.newaxis].astype("float32")
    y_train = y_train[: args.train_size]

    train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(10000).batch(32)
    test_ds = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(32)

    model = MyModel()
    loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tf.keras.optimizers.Adam()
    train_loss = tf.keras.metrics.Mean(name="train_loss")
    train_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name="train_accuracy")
    test_loss = tf.keras.metrics.Mean(name="test_loss")
    test_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name="test_accuracy")

    def train_step_eager(images, labels):
        with tf.GradientTape() as tape:
            predictions = model(images, training=True)
            loss = loss_object(labels, predictions)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        train_loss(loss)
        train_accuracy(labels, predictions)

    train_step = tf.function(train_step_eager)

    @tf.function
    def test_step(images, labels):
        predictions = model(images, training=False)
        t_loss = loss_object(labels, predictions)
        test_loss(t_loss)
        test_accuracy(labels, predictions)

    for epoch in range(args.epochs):
        train_loss.reset_state()
        train_accuracy.reset_state()
        test_loss.reset_state()
        test_accuracy.reset_state()
        for images, labels in train_ds:
            train_step(images, labels)
        for test_images, test_labels in test_ds:
            test_step(test_images, test_labels)
        print(f"Epoch {epoch + 1}, Loss: {float(train_loss.result()):.4f}, "
              f"Accuracy: {float(train_accuracy.result()) * 100:.2f}, "
              f"Test Loss: {float(test_loss.result()):.4f}, Test Accuracy: {float(test_accuracy.result()) * 100:.2f}")

    images, labels = next(iter(train_ds))
    timings = {}
    for label, step in (("eager", train_step_eager), ("compiled", train_step)):
        for _ in range(tf.config.tier_up_calls() + 5):     # past tracing, compiling and tier-up
            step(images, labels)
        start = time.perf_counter()
        for _ in range(20):
            step(images, labels)
        timings[label] = (time.perf_counter() - start) / 20
    print(f"train step (batch 32): eager {timings['eager'] * 1e3:.1f} ms, compiled {timings['compiled'] * 1e3:.1f} ms "
          f"({timings['eager'] / timings['compiled']:.1f}x faster)")


if __name__ == "__main__":
    main()
