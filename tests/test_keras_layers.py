"""Keras 3 layers on tf.Module: build/add_weight, variable names and paths, training propagation,
Lambda, BatchNormalization, LayerNormalization, Embedding (values, modes, gradients vs finite
differences in float64, eager and under @tf.function), and Keras 3's fit output and History."""
import re

import numpy as np
import pytest

import tracejit as tf
from tracejit import keras


@pytest.fixture(autouse=True)
def _fresh_names():
    keras.backend.clear_session()


def numeric_gradient(f, x, eps=1e-6):
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        grad[i] = (f(up) - f(down)) / (2 * eps)
    return grad


class Linear(keras.layers.Layer):
    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones", name="w")
        self.steps = self.add_weight(shape=(), initializer="zeros", trainable=False, name="steps", dtype="int64")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

    def call(self, inputs):
        return tf.matmul(inputs, self.w) + self.b


def test_subclassed_layer_builds_once_with_keras_names_and_is_a_module():
    layer = Linear(units=2)
    assert isinstance(layer, tf.Module) and not layer.built and layer.weights == []
    out = layer(np.ones((4, 3)))                              # float64 data: cast to the layer's float32
    assert out.dtype == tf.float32 and out.shape == (4, 2) and np.all(out.numpy() == 3.0)
    assert layer.built and layer.get_build_config() == {"input_shape": (4, 3)}
    assert [w.name for w in layer.weights] == ["w", "b", "steps"]          # trainable first, like Keras
    assert [w.path for w in layer.weights] == ["linear/w", "linear/b", "linear/steps"]
    assert [w.name for w in layer.trainable_weights] == ["w", "b"] and layer.non_trainable_weights[0].dtype == tf.int64
    assert layer.weights[0]._name == "linear/w:0"                          # the underlying tf.Variable's name
    assert re.fullmatch(r"<Variable path=linear/b, shape=\(2,\), dtype=float32, value=\[0\. 0\.\]>",
                        repr(layer.b))
    assert isinstance(layer.w, tf.Variable) and layer.w.value.shape == (3, 2)
    layer(np.ones((1, 3)))
    assert len(layer.weights) == 3                                         # built once
    assert [v.name for v in layer.variables] == ["w", "b", "steps"] and layer.count_params() == 9


def test_add_weight_arguments_as_keras_3():
    layer = keras.layers.Layer(name="holder")
    v = layer.add_weight((2, 2))
    assert v.dtype == tf.float32 and v.shape == (2, 2) and v.trainable and v.name.startswith("variable")
    assert layer.add_weight(shape=(3,), dtype="int32").numpy().tolist() == [0, 0, 0]     # ints: zeros
    with pytest.raises(ValueError, match=r"`name` must be passed as a keyword argument. Received: "
                                         r"add_weight\('kernel', ...\)"):
        layer.add_weight("kernel", (2, 2))
    with pytest.raises(ValueError, match="Unrecognized keyword arguments passed to Dense: {'units2': 3}"):
        keras.layers.Dense(3, units2=3)
    with pytest.raises(ValueError, match="cannot contain character `/`"):
        keras.layers.Dense(3, name="a/b")
    with pytest.raises(NotImplementedError, match="kernel_regularizer"):
        keras.layers.Dense(3, kernel_regularizer="l2")


class Block(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(4)
        self.norm = keras.layers.BatchNormalization()
        self.drop = keras.layers.Dropout(0.5)
        self.layers_list = [keras.layers.Dense(2)]

    def call(self, x):
        return self.layers_list[0](self.drop(self.norm(self.dense(x))))


def test_training_propagates_to_inner_layers_and_paths_nest():
    model = Block()
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    inference = model(x).numpy()
    assert np.array_equal(model(x).numpy(), inference)                       # no dropout, moving stats unchanged
    assert np.all(model.norm.moving_mean.numpy() == 0)
    model(x, training=True)                                                  # reaches BN and Dropout inside call
    assert not np.all(model.norm.moving_mean.numpy() == 0)
    assert [layer.name for layer in model.layers] == ["dense", "batch_normalization", "dropout", "dense_1"]
    assert [w.path for w in model.weights] == [
        "block/dense/kernel", "block/dense/bias", "block/batch_normalization/gamma",
        "block/batch_normalization/beta", "block/batch_normalization/moving_mean",
        "block/batch_normalization/moving_variance", "block/dense_1/kernel", "block/dense_1/bias"]
    assert [w.name for w in model.non_trainable_weights] == ["moving_mean", "moving_variance"]
    assert model.submodules[0] is model.dense                                # tf.Module view: by attribute name
    assert [m.name for m in model.submodules] == ["dense", "dropout", "dense_1", "batch_normalization"]
    model.trainable = False
    assert model.trainable_weights == [] and all(not w.trainable for w in model.norm.weights)


def test_layers_give_the_same_results_under_tf_function():
    model = Block()
    x = np.random.default_rng(1).normal(size=(6, 3)).astype("float32")
    model(x)
    eager = model(x).numpy()
    compiled = tf.function(lambda x: model(x))
    np.testing.assert_allclose(compiled(x).numpy(), eager, rtol=1e-5, atol=1e-6)
    before = model.norm.moving_variance.numpy()
    train_call = tf.function(lambda x: model(x, training=True))
    train_call(x)
    expected_var = 0.99 * before + 0.01 * model.dense(x).numpy().var(axis=0)
    np.testing.assert_allclose(model.norm.moving_variance.numpy(), expected_var, rtol=1e-5)


def test_lambda_layer():
    double = keras.layers.Lambda(lambda x, factor: x * factor, arguments={"factor": 3.0})
    assert double(np.array([[1.0, 2.0]])).numpy().tolist() == [[3.0, 6.0]]
    assert tf.function(lambda x: double(x))(tf.constant([[2.0]])).numpy().tolist() == [[6.0]]
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Lambda(lambda x: tf.reduce_sum(x, axis=-1,
                                                                                                  keepdims=True))])
    assert model.predict(np.array([[1.0, 2.0], [3.0, 4.0]]), verbose=0).tolist() == [[3.0], [7.0]]
    with pytest.raises(NotImplementedError, match="Lambda layers cannot be serialized"):
        double.get_config()
    with pytest.raises(TypeError, match="must be callable"):
        keras.layers.Lambda(3)


def test_batch_normalization_training_and_inference_follow_keras_3():
    bn = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3)
    x = np.random.default_rng(2).normal(2.0, 3.0, size=(16, 3)).astype("float32")
    out = bn(x, training=True).numpy()
    mean, var = x.mean(axis=0), x.var(axis=0)
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.9 + 0.1 * var, rtol=1e-5)
    inference = bn(x).numpy()                                      # default: inference with the moving statistics
    expected = (x - 0.1 * mean) / np.sqrt(0.9 + 0.1 * var + 1e-3)
    np.testing.assert_allclose(inference, expected, rtol=1e-4, atol=1e-5)
    assert [w.name for w in bn.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert (bn.momentum, bn.epsilon) == (0.9, 1e-3) and keras.layers.BatchNormalization().momentum == 0.99
    frozen = keras.layers.BatchNormalization(trainable=False)
    frozen(x, training=True)                                       # a frozen layer runs in inference mode
    assert np.all(frozen.moving_mean.numpy() == 0)
    channels_first = keras.layers.BatchNormalization(axis=1)
    y = np.random.default_rng(3).normal(size=(4, 2, 5)).astype("float32")
    got = channels_first(y, training=True).numpy()
    m, v = y.mean(axis=(0, 2), keepdims=True), y.var(axis=(0, 2), keepdims=True)
    np.testing.assert_allclose(got, (y - m) / np.sqrt(v + 1e-3), rtol=1e-4, atol=1e-5)
    assert channels_first.gamma.shape == (2,)


def test_batch_normalization_gradients_match_finite_differences():
    rng = np.random.default_rng(4)
    x0 = rng.normal(size=(5, 3))
    weights = rng.normal(size=(5, 3))
    bn = keras.layers.BatchNormalization(dtype="float64")
    bn.build((None, 3))
    bn.gamma.assign(rng.normal(size=3))
    bn.beta.assign(rng.normal(size=3))

    def loss(x, training):
        return float(tf.reduce_sum(bn(tf.constant(x), training=training) * weights))
    for training in (True, False):
        x = tf.constant(x0)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(bn(x, training=training) * weights)
        dx, dgamma = tape.gradient(y, [x, bn.gamma])
        stats = [bn.moving_mean.numpy(), bn.moving_variance.numpy()]
        numeric = numeric_gradient(lambda v: loss(v, training), x0)
        bn.moving_mean.assign(stats[0])
        bn.moving_variance.assign(stats[1])
        np.testing.assert_allclose(dx.numpy(), numeric, rtol=1e-5, atol=1e-7)
        gamma0 = bn.gamma.numpy()

        def loss_gamma(g):
            bn.gamma.assign(g)
            value = float(tf.reduce_sum(bn(tf.constant(x0), training=False) * weights))
            bn.gamma.assign(gamma0)
            return value
        if not training:
            np.testing.assert_allclose(dgamma.numpy(), numeric_gradient(loss_gamma, gamma0), rtol=1e-5, atol=1e-7)


def test_batch_normalization_inside_compiled_fit():
    tf.random.set_seed(5)
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3), keras.layers.BatchNormalization(),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    x = np.random.default_rng(6).normal(size=(32, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    hidden = x @ model.layers[0].kernel.numpy() + model.layers[0].bias.numpy()      # before the update
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert model.train_function.experimental_get_tracing_count() == 1              # compiled, not eager
    bn = model.layers[1]
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.01 * hidden.mean(axis=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.99 + 0.01 * hidden.var(axis=0), rtol=1e-4)
    history = model.fit(x, y, batch_size=8, epochs=15, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_layer_normalization_matches_formula_and_gradients():
    ln = keras.layers.LayerNormalization()
    x = np.random.default_rng(7).normal(1.0, 2.0, size=(4, 6)).astype("float32")
    expected = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(ln(x).numpy(), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(tf.function(lambda v: ln(v))(x).numpy(), expected, rtol=1e-4, atol=1e-5)
    assert [w.name for w in ln.weights] == ["gamma", "beta"] and ln.axis == [1]
    two_axes = keras.layers.LayerNormalization(axis=[1, 2], epsilon=1e-5)
    y = np.random.default_rng(8).normal(size=(2, 3, 4)).astype("float32")
    m, v = y.mean(axis=(1, 2), keepdims=True), y.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(two_axes(y).numpy(), (y - m) / np.sqrt(v + 1e-5), rtol=1e-4, atol=1e-5)
    assert two_axes.gamma.shape == (3, 4)
    ln64 = keras.layers.LayerNormalization(dtype="float64")
    rng = np.random.default_rng(9)
    x0, weights = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    ln64.build((None, 4))
    ln64.gamma.assign(rng.normal(size=4))
    x = tf.constant(x0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(ln64(x) * weights)
    dx, dgamma, dbeta = tape.gradient(loss, [x, ln64.gamma, ln64.beta])
    numeric = numeric_gradient(lambda v: float(tf.reduce_sum(ln64(tf.constant(v)) * weights)), x0)
    np.testing.assert_allclose(dx.numpy(), numeric, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dbeta.numpy(), weights.sum(axis=0), rtol=1e-12)


def test_embedding_lookup_gradients_and_errors():
    emb = keras.layers.Embedding(5, 3)
    ids = np.array([[0, 4], [4, 4]])
    out = emb(ids)
    assert out.shape == (2, 2, 3) and out.dtype == tf.float32
    table = emb.embeddings.numpy()
    assert np.array_equal(out.numpy(), table[ids]) and np.all(np.abs(table) <= 0.05)   # RandomUniform(-0.05, 0.05)
    assert emb.embeddings.path == "embedding/embeddings"
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(emb(ids) * 2.0)
    grad = tf.convert_to_tensor(tape.gradient(loss, emb.embeddings)).numpy()
    assert grad.tolist() == [[2.0] * 3, [0.0] * 3, [0.0] * 3, [0.0] * 3, [6.0] * 3]    # row 4 used three times
    compiled = tf.function(lambda i: emb(i))
    assert np.array_equal(compiled(ids).numpy(), out.numpy())
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"5"):
        emb(np.array([5]))
    with pytest.raises(ValueError, match="`input_dim` must be a positive integer"):
        keras.layers.Embedding(0, 3)
    model = keras.Sequential([keras.Input(shape=(2,), dtype="int32"), keras.layers.Embedding(10, 4),
                              keras.layers.Flatten(), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    x = np.random.default_rng(10).integers(0, 10, size=(64, 2))
    losses = model.fit(x, (x[:, :1] == 3).astype("float32"), epochs=20, batch_size=16, verbose=0).history["loss"]
    assert losses[-1] < losses[0] / 4


class CustomFit(keras.Model):
    """Keras 3's "customizing what happens in fit": a train_step of one's own, a metric as an attribute."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)
        self.tracker = keras.metrics.Mean(name="custom_loss")

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self(x, training=True) - y))
        self.optimizer.apply(tape.gradient(loss, self.trainable_variables), self.trainable_variables)
        self.tracker.update_state(loss)
        return {"custom_loss": self.tracker.result()}


@pytest.mark.parametrize("run_eagerly", [False, True])
def test_custom_train_step(run_eagerly):
    x = np.random.default_rng(12).normal(size=(64, 2)).astype("float32")
    y = x @ np.array([[2.0], [-1.0]], np.float32)
    model = CustomFit()
    model.compile(optimizer=keras.optimizers.SGD(0.1), run_eagerly=run_eagerly)
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    losses = history.history["custom_loss"]
    assert list(history.history) == ["custom_loss"] and losses[-1] < losses[0] / 10
    assert float(model.tracker.count) == 4                     # reset at each epoch: 4 batches in the last
    assert (model.train_function.experimental_get_tracing_count() == 1) if not run_eagerly else \
        not hasattr(model.train_function, "experimental_get_tracing_count")
    assert [m.name for m in model.metrics] == ["loss", "custom_loss"]          # as Keras 3 tracks them
    logs = model.train_on_batch(x[:16], y[:16], return_dict=True)
    assert list(logs) == ["custom_loss"] and int(model.optimizer.iterations) == 33


def _fit_output(capsys, verbose, epochs):
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    x = np.random.default_rng(11).normal(size=(40, 2)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    history = model.fit(x, y, batch_size=16, epochs=epochs, verbose=verbose, validation_data=(x[:8], y[:8]))
    return model, history, capsys.readouterr().out


def test_fit_progress_output_is_keras_3s(capsys):
    model, history, out = _fit_output(capsys, verbose=2, epochs=2)
    lines = out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    metric = r"\d\.\d{4}(e[+-]\d\d)?"
    assert re.fullmatch(rf"3/3 - \d+s - \d+(ms|us|s)/step - accuracy: {metric} - loss: {metric} - "
                        rf"val_accuracy: {metric} - val_loss: {metric}", lines[1]), lines[1]
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]     # sorted, as Keras 3
    assert history.epoch == [0, 1] and history.params == {"verbose": 2, "epochs": 2, "steps": 3}
    assert model.history is history and isinstance(history, keras.callbacks.History)
    _, _, out = _fit_output(capsys, verbose=1, epochs=1)
    assert "Epoch" not in out                                       # one epoch: no "Epoch 1/1" line
    final = out.split("\r")[-1]
    bar = "\x1b[1m3/3\x1b[0m \x1b[32m" + "━" * 20 + "\x1b[0m\x1b[37m\x1b[0m"
    assert final.startswith(bar + " \x1b[1m") and final.endswith("\n")
    assert re.search(rf"\x1b\[0m \d+(ms|us|s)/step - accuracy: {metric} - loss: {metric} - val_accuracy: "
                     rf"{metric} - val_loss: {metric}", final), repr(final)
    _, _, out = _fit_output(capsys, verbose=0, epochs=2)
    assert out == ""


def test_evaluate_and_predict_print_their_own_progress(capsys):
    model, _, _ = _fit_output(capsys, verbose=0, epochs=1)
    x = np.zeros((5, 2), "float32")
    loss, accuracy = model.evaluate(x, np.zeros(5, "int32"), verbose=2)
    out = capsys.readouterr().out
    assert re.fullmatch(r"1/1 - \d+s - \d+(ms|us|s)/step - accuracy: \d\.\d{4}(e[+-]\d\d)? - loss: \d\.\d{4}\n", out)
    assert model.predict(x, verbose=0).shape == (5, 2) and capsys.readouterr().out == ""
    model.predict(x)
    assert "\x1b[1m1/1\x1b[0m" in capsys.readouterr().out
