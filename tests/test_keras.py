"""Keras layers, models, losses, optimizers, metrics and callbacks."""
import numpy as np
import pytest

import tracejit as tf
from tracejit import keras


@pytest.fixture(autouse=True)
def _fresh_names():
    keras.backend.clear_session()


def mlp():
    return keras.models.Sequential([keras.layers.Flatten(input_shape=(28, 28)),
                                    keras.layers.Dense(128, activation="relu"), keras.layers.Dropout(0.2),
                                    keras.layers.Dense(10)])


def test_layer_names_weights_and_param_counts_match_keras():
    model = mlp()
    assert [l.name for l in model.layers] == ["flatten", "dense", "dropout", "dense_1"]
    assert model.count_params() == 101770
    # Keras 3: a variable's name is its own ("kernel"), its path says where it lives
    assert [w.name for w in model.trainable_variables] == ["kernel", "bias", "kernel", "bias"]
    assert [w.path for w in model.trainable_variables] == ["sequential/dense/kernel", "sequential/dense/bias",
                                                           "sequential/dense_1/kernel", "sequential/dense_1/bias"]
    assert [tuple(w.shape) for w in model.weights] == [(784, 128), (128,), (128, 10), (10,)]


def test_summary_text():
    lines = []
    mlp().summary(print_fn=lines.append)
    assert lines[0] == 'Model: "sequential"'
    assert lines[2].split() == ["Layer", "(type)", "Output", "Shape", "Param", "#"]
    rows = [l.split() for l in lines if l.startswith(" ") and "(" in l and "Layer" not in l]
    assert rows == [["flatten", "(Flatten)", "(None,", "784)", "0"], ["dense", "(Dense)", "(None,", "128)", "100480"],
                    ["dropout", "(Dropout)", "(None,", "128)", "0"], ["dense_1", "(Dense)", "(None,", "10)", "1290"]]
    assert "Total params: 101,770" in lines and "Trainable params: 101,770" in lines
    with pytest.raises(ValueError, match="not yet been built"):
        keras.models.Sequential([keras.layers.Dense(3)]).summary()


def test_conv_and_pool_layers_shapes():
    model = keras.models.Sequential([keras.layers.Conv2D(8, 3, activation="relu", input_shape=(12, 12, 1)),
                                     keras.layers.MaxPooling2D(), keras.layers.Conv2D(4, (3, 3), padding="same"),
                                     keras.layers.AveragePooling2D(pool_size=2), keras.layers.Flatten()])
    rows = model._summary_rows()
    assert [r[2] for r in rows] == [(None, 10, 10, 8), (None, 5, 5, 8), (None, 5, 5, 4), (None, 2, 2, 4), (None, 16)]
    assert model.layers[0].kernel.shape == (3, 3, 1, 8) and model.count_params() == 80 + 292


def test_inputs_are_cast_to_float32_and_dropout_only_trains():
    layer = keras.layers.Dropout(0.5)
    x = np.ones((4, 100))
    assert layer(x).dtype == tf.float32 and layer(x).numpy().sum() == 400
    dropped = layer(x, training=True).numpy()
    assert set(np.unique(dropped)) <= {0.0, 2.0} and 100 < dropped.sum() < 700


def test_losses_against_formulas():
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]], np.float32)
    labels = np.array([0, 1])
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    expected = -np.log(p[[0, 1], labels]).mean()
    assert np.isclose(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits), expected)
    assert np.isclose(keras.losses.SparseCategoricalCrossentropy()(labels, p), expected, rtol=1e-5)
    assert np.isclose(keras.losses.CategoricalCrossentropy(from_logits=True)(np.eye(3)[labels], logits), expected)
    assert np.isclose(keras.losses.MeanSquaredError()(np.zeros((2, 3)), logits), (logits ** 2).mean())
    z = np.array([[1.0, 0.0]])
    bce = keras.losses.BinaryCrossentropy(from_logits=True)(z, np.array([[0.3, -0.2]], np.float32))
    assert np.isclose(bce, np.mean([np.log1p(np.exp(-0.3)), np.log1p(np.exp(-0.2))]), rtol=1e-5)
    assert isinstance(keras.losses.get("mse"), keras.losses.MeanSquaredError)
    with pytest.raises(ValueError, match="Unknown loss"):
        keras.losses.get("nope")


@pytest.mark.parametrize("name,kwargs,expected", [
    ("sgd", {}, 1 - 0.01 * 2),
    ("SGD", {"momentum": 0.9}, None), ("Adam", {}, 1 - 0.001), ("RMSprop", {}, 1 - 0.001 * 2 / np.sqrt(0.4 + 1e-7)),
    ("Adagrad", {}, 1 - 0.001 * 2 / np.sqrt(4.1 + 1e-7))])
def test_optimizer_first_step(name, kwargs, expected):
    optimizer = keras.optimizers.get(name) if not kwargs else getattr(keras.optimizers, name)(**kwargs)
    v = tf.Variable(1.0)
    optimizer.apply_gradients([(tf.constant(2.0), v)])
    if expected is None:                                   # momentum: v = -lr*g, then x += v
        expected = 1 - 0.01 * 2
    assert np.isclose(float(v), expected, rtol=1e-5)
    assert int(optimizer.iterations) == 1


def test_optimizer_minimize_and_inside_function():
    v = tf.Variable(5.0)
    opt = keras.optimizers.SGD(learning_rate=0.1)
    for _ in range(3):
        opt.minimize(lambda: v * v, [v])
    assert np.isclose(float(v), 5.0 * 0.8 ** 3)
    w = tf.Variable([1.0, 2.0])
    adam = keras.optimizers.Adam(0.1)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(w * w)
        adam.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
    for _ in range(3):
        step()
    assert step.experimental_get_tracing_count() == 1 and np.all(w.numpy() < [0.71, 1.71])


def test_metrics():
    acc = keras.metrics.SparseCategoricalAccuracy()
    acc.update_state([1, 0], [[0.1, 0.9], [0.2, 0.8]])
    assert float(acc.result()) == 0.5
    acc.reset_state()
    assert float(acc([0], [[0.9, 0.1]])) == 1.0
    mean = keras.metrics.Mean()
    mean([1.0, 2.0, 3.0])
    mean(6.0)
    assert float(mean.result()) == 3.0
    mean.reset_states()
    assert float(mean.result()) == 0.0
    assert float(keras.metrics.CategoricalAccuracy()([[0, 1]], [[0.3, 0.7]])) == 1.0
    assert float(keras.metrics.Accuracy()([1, 2], [1, 3])) == 0.5


@pytest.fixture(scope="module")
def mnist_subset():
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    return (x_train[:3000] / 255.0, y_train[:3000]), (x_test[:1000] / 255.0, y_test[:1000])


def test_fit_reduces_loss_on_real_mnist(mnist_subset, capsys):
    (x, y), (xt, yt) = mnist_subset
    tf.random.set_seed(0)
    model = mlp()
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    before = model.evaluate(xt, yt, verbose=0)
    history = model.fit(x, y, epochs=3, batch_size=32, verbose=2, validation_data=(xt, yt))
    after = model.evaluate(xt, yt, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.history["loss"][-1] < history.history["loss"][0] < before[0]
    assert after[1] > 0.85 and after[0] < before[0] / 3
    out = capsys.readouterr().out
    assert out.count("Epoch ") == 3 and "94/94 - " in out and "val_accuracy" in out
    assert model.train_function.experimental_get_tracing_count() == 2       # full batches + the last partial one
    assert model.predict(xt[:5]).shape == (5, 10)


def test_fit_with_dataset_validation_split_and_callbacks(mnist_subset, tmp_path):
    (x, y), _ = mnist_subset
    model = mlp()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.build((None, 28, 28))
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
    history = model.fit(x, y, epochs=5, verbose=0, validation_split=0.2, callbacks=[stop])
    assert len(history.history["loss"]) == 2 and "val_loss" in history.history     # stopped after no big gain
    ds = tf.data.Dataset.from_tensor_slices((x[:256].astype("float32"), y[:256])).batch(64)
    model.fit(ds, epochs=1, verbose=0)
    checkpoint = keras.callbacks.ModelCheckpoint(str(tmp_path / "w-{epoch}.weights.h5"), save_weights_only=True)
    model.fit(x[:128], y[:128], epochs=2, verbose=0, callbacks=[checkpoint])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w-1.weights.h5", "w-2.weights.h5"]
    with pytest.raises(ValueError, match="must end in `.keras`"):
        keras.callbacks.ModelCheckpoint(str(tmp_path / "w.npz"))


def test_save_and_load_weights_roundtrip(tmp_path):
    model, other = mlp(), mlp()
    x = np.random.default_rng(0).random((2, 28, 28))
    path = str(tmp_path / "weights.npz")
    model.save_weights(path)
    assert not np.allclose(model(x).numpy(), other(x).numpy())
    other.load_weights(path)
    np.testing.assert_array_equal(model(x).numpy(), other(x).numpy())
    small = keras.models.Sequential([keras.layers.Dense(3, input_shape=(4,))])
    with pytest.raises(ValueError, match="holds 4 weight arrays; the model has 2"):
        small.load_weights(path)


def test_model_subclass_tracks_layers_and_trains():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = keras.layers.Dense(16, activation="relu")
            self.out = keras.layers.Dense(1)

        def call(self, x):
            return self.out(self.hidden(x))
    net = Net()
    x = np.random.default_rng(1).normal(size=(64, 3)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    net.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    losses = net.fit(x, y, epochs=30, batch_size=16, verbose=0).history["loss"]
    assert len(net.trainable_variables) == 4 and losses[-1] < losses[0] / 5
    with pytest.raises(ValueError, match=r"You must call `compile\(\)` before using the model."):
        Net().fit(x, y)
    with pytest.raises(NotImplementedError, match="functional API"):
        keras.Model(inputs=None, outputs=None)
