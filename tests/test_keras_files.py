"""Keras 3 files: `.weights.h5` and `.keras` written and read with the layout of Keras 3's
saving_lib (groups `<path>/vars` with datasets "0", "1", ... and a `name` attribute; zip entries
metadata.json, config.json, model.weights.h5). The files read here are built by hand with h5py
and zipfile following the Keras source (and the config.json Keras 3.15 writes), not only by
tracejit itself."""
import io
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import tracejit as tf
from tracejit import keras

h5py = pytest.importorskip("h5py")


@pytest.fixture(autouse=True)
def _fresh_names():
    keras.backend.clear_session()


def small_model(compile=True):
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, activation="relu"),
                              keras.layers.Dropout(0.5), keras.layers.BatchNormalization(), keras.layers.Dense(2)])
    if compile:
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    return model


def h5_layout(path_or_file):
    found = {}
    with h5py.File(path_or_file, "r") as f:
        f.visititems(lambda name, obj: found.__setitem__(name, (dict(obj.attrs), getattr(obj, "shape", None),
                                                                str(getattr(obj, "dtype", "")))))
    return found


def test_save_weights_writes_keras_3_layout(tmp_path):
    model = small_model()
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    model.fit(x, x[:, :2], epochs=1, verbose=0)
    path = tmp_path / "model.weights.h5"
    model.save_weights(path)
    layout = h5_layout(path)
    groups = {k: v[0] for k, v in layout.items() if v[1] is None}
    assert groups == {"vars": {"name": "sequential"}, "layers": {}, "layers/dense": {},
                      "layers/dense/vars": {"name": "dense"}, "layers/dropout": {},
                      "layers/dropout/vars": {"name": "dropout"}, "layers/batch_normalization": {},
                      "layers/batch_normalization/vars": {"name": "batch_normalization"}, "layers/dense_1": {},
                      "layers/dense_1/vars": {"name": "dense_1"}, "optimizer": {},
                      "optimizer/vars": {"name": "adam"}}
    datasets = {k: (v[1], v[2]) for k, v in layout.items() if v[1] is not None}
    assert datasets == {
        "layers/dense/vars/0": ((4, 3), "float32"), "layers/dense/vars/1": ((3,), "float32"),
        **{f"layers/batch_normalization/vars/{i}": ((3,), "float32") for i in range(4)},
        "layers/dense_1/vars/0": ((3, 2), "float32"), "layers/dense_1/vars/1": ((2,), "float32"),
        "optimizer/vars/0": ((), "int64"), "optimizer/vars/1": ((), "float32"),
        # Adam's momentum and velocity, interleaved per trainable variable (kernel, bias, gamma, beta, ...)
        **{f"optimizer/vars/{2 + 2 * i + j}": (shape, "float32") for i, shape in enumerate(
            [(4, 3), (3,), (3,), (3,), (3, 2), (2,)]) for j in range(2)}}
    with h5py.File(path, "r") as f:
        bn = model.layers[2]
        for i, v in enumerate([bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance]):
            np.testing.assert_array_equal(f[f"layers/batch_normalization/vars/{i}"][()], v.numpy())
        assert f["optimizer/vars/0"][()] == 1 and np.isclose(f["optimizer/vars/1"][()], 0.01)
    assert sorted(os.listdir(tmp_path)) == ["model.weights.h5"]          # no temporary file left behind


def write_keras_weights(target, model_name, layers, optimizer=None):
    """A .weights.h5 as Keras' H5IOStore writes it: vars groups with a `name` attribute."""
    with h5py.File(target, "w") as f:
        f.create_group("vars").attrs["name"] = model_name
        for path, name, arrays in layers:
            group = f.create_group(path).create_group("vars")
            group.attrs["name"] = name
            for i, array in enumerate(arrays):
                group[str(i)] = array
        if optimizer is not None:
            group = f.create_group("optimizer").create_group("vars")
            group.attrs["name"] = optimizer[0]
            for i, array in enumerate(optimizer[1]):
                group[str(i)] = array


def test_load_weights_built_by_hand_and_refuse_mismatches(tmp_path):
    rng = np.random.default_rng(1)
    arrays = {"dense": [rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=3).astype("float32")],
              "batch_normalization": [rng.normal(size=3).astype("float32") for _ in range(4)],
              "dense_1": [rng.normal(size=(3, 2)).astype("float32"), rng.normal(size=2).astype("float32")]}
    path = str(tmp_path / "keras.weights.h5")
    write_keras_weights(path, "sequential", [("layers/dense", "dense", arrays["dense"]),
                                             ("layers/dropout", "dropout", []),
                                             ("layers/batch_normalization", "batch_normalization",
                                              arrays["batch_normalization"]),
                                             ("layers/dense_1", "dense_1", arrays["dense_1"])])
    model = small_model(compile=False)
    model.load_weights(path)
    loaded = [w.numpy() for w in model.weights]
    expected = arrays["dense"] + arrays["batch_normalization"] + arrays["dense_1"]
    assert all(np.array_equal(a, b) for a, b in zip(loaded, expected)) and len(loaded) == 8
    x = rng.normal(size=(2, 4)).astype("float32")
    h = np.maximum(x @ expected[0] + expected[1], 0)
    h = (h - expected[4]) / np.sqrt(expected[5] + 1e-3) * expected[2] + expected[3]
    np.testing.assert_allclose(model.predict(x, verbose=0), h @ expected[6] + expected[7], rtol=1e-5, atol=1e-6)
    bad = str(tmp_path / "bad.weights.h5")
    write_keras_weights(bad, "sequential", [("layers/dense", "dense", arrays["dense"][:1]),
                                            ("layers/batch_normalization", "batch_normalization",
                                             arrays["batch_normalization"]),
                                            ("layers/dense_1", "dense_1", arrays["dense_1"])])
    fresh = small_model(compile=False)
    before = [w.numpy() for w in fresh.weights]
    with pytest.raises(ValueError, match=r"A total of 1 objects could not be loaded\. Example error message for "
                                         r"object <Dense name=dense_2, built=True>:\n\nLayer 'dense_2' expected 2 "
                                         r"variables, but received 1 variables during loading\. Expected: "
                                         r"\['kernel', 'bias'\]"):
        fresh.load_weights(bad)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, fresh.weights))      # nothing half-loaded
    with pytest.raises(ValueError, match="has not yet been built"):
        keras.Sequential([keras.layers.Dense(2)]).load_weights(path)


# config.json as Keras 3.15 writes it for small_model() compiled with Adam(0.01), loss="mse", metrics=["mae"]
POLICY = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}
GLOROT = {"module": "keras.initializers", "class_name": "GlorotUniform",
          "config": {"seed": None, "input_axes": None, "output_axes": None}, "registered_name": None}


def _init(name):
    return {"module": "keras.initializers", "class_name": name, "config": {}, "registered_name": None}


def _dense(name, units, activation, input_shape):
    return {"module": "keras.layers", "class_name": "Dense", "config": {
        "name": name, "trainable": True, "dtype": POLICY, "units": units, "activation": activation, "use_bias": True,
        "kernel_initializer": GLOROT, "bias_initializer": _init("Zeros"), "kernel_regularizer": None,
        "bias_regularizer": None, "kernel_constraint": None, "bias_constraint": None, "quantization_config": None},
        "registered_name": None, "build_config": {"input_shape": input_shape}}


KERAS_CONFIG = {
    "module": "keras", "class_name": "Sequential", "config": {
        "name": "sequential", "trainable": True, "dtype": dict(POLICY, shared_object_id=140257758389584), "layers": [
            {"module": "keras.layers", "class_name": "InputLayer", "config": {
                "batch_shape": [None, 4], "dtype": "float32", "sparse": False, "ragged": False, "name": "input_layer",
                "optional": False}, "registered_name": None},
            _dense("dense", 3, "relu", [None, 4]),
            {"module": "keras.layers", "class_name": "Dropout", "config": {
                "name": "dropout", "trainable": True, "dtype": POLICY, "rate": 0.5, "seed": None, "noise_shape": None},
             "registered_name": None},
            {"module": "keras.layers", "class_name": "BatchNormalization", "config": {
                "name": "batch_normalization", "trainable": True, "dtype": POLICY, "axis": -1, "momentum": 0.99,
                "epsilon": 0.001, "center": True, "scale": True, "beta_initializer": _init("Zeros"),
                "gamma_initializer": _init("Ones"), "moving_mean_initializer": _init("Zeros"),
                "moving_variance_initializer": _init("Ones"), "beta_regularizer": None, "gamma_regularizer": None,
                "beta_constraint": None, "gamma_constraint": None, "synchronized": False, "renorm": False,
                "renorm_clipping": None, "renorm_momentum": 0.99},
             "registered_name": None, "build_config": {"input_shape": [None, 3]}},
            _dense("dense_1", 2, "linear", [None, 3])],
        "build_input_shape": [None, 4]},
    "registered_name": None, "build_config": {"input_shape": [None, 4]},
    "compile_config": {"optimizer": {"module": "keras.optimizers", "class_name": "Adam", "config": {
        "name": "adam", "learning_rate": 0.009999999776482582, "weight_decay": None, "clipnorm": None,
        "global_clipnorm": None, "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
        "ema_overwrite_frequency": None, "loss_scale_factor": None, "gradient_accumulation_steps": None, "beta_1": 0.9,
        "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False}, "registered_name": None},
        "loss": "mse", "loss_weights": None, "metrics": ["mae"], "weighted_metrics": None, "run_eagerly": False,
        "steps_per_execution": 1, "jit_compile": True}}


def test_load_keras_archive_built_by_hand(tmp_path):
    rng = np.random.default_rng(2)
    shapes = [(4, 3), (3,), (3,), (3,), (3,), (3,), (3, 2), (2,)]
    values = [rng.normal(size=s).astype("float32") for s in shapes]
    values[5] = np.abs(values[5]) + 0.5                                          # a moving variance
    trainable = [values[i] for i in (0, 1, 2, 3, 6, 7)]
    slots = [s for v in trainable for s in (np.full_like(v, 0.1), np.full_like(v, 0.2))]
    weights = io.BytesIO()
    write_keras_weights(weights, "sequential", [("layers/dense", "dense", values[:2]), ("layers/dropout", "dropout", []),
                                                ("layers/batch_normalization", "batch_normalization", values[2:6]),
                                                ("layers/dense_1", "dense_1", values[6:])],
                        optimizer=("adam", [np.int32(7), np.float32(0.01)] + slots))
    path = tmp_path / "keras_made.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1", "date_saved": "2026-11-29@18:17:35"}))
        archive.writestr("config.json", json.dumps(KERAS_CONFIG))
        archive.writestr("model.weights.h5", weights.getvalue())
    model = keras.models.load_model(path)
    assert isinstance(model, keras.Sequential) and [layer.name for layer in model.layers] == [
        "dense", "dropout", "batch_normalization", "dense_1"]
    assert all(np.array_equal(w.numpy(), v) for w, v in zip(model.weights, values))
    assert isinstance(model.optimizer, keras.optimizers.Adam) and model.compiled
    assert int(model.optimizer.iterations) == 7 and np.isclose(float(model.optimizer.learning_rate), 0.01)
    assert np.all(model.optimizer.variables[2].numpy() == 0.1) and np.all(model.optimizer.variables[3].numpy() == 0.2)
    x = rng.normal(size=(3, 4)).astype("float32")
    h = np.maximum(x @ values[0] + values[1], 0)
    h = (h - values[4]) / np.sqrt(values[5] + 1e-3) * values[2] + values[3]
    np.testing.assert_allclose(model.predict(x, verbose=0), h @ values[6] + values[7], rtol=1e-5, atol=1e-6)
    logs = model.evaluate(x, np.zeros((3, 2)), verbose=0, return_dict=True)
    assert sorted(logs) == ["loss", "mae"]
    uncompiled = keras.models.load_model(path, compile=False)
    assert not uncompiled.compiled and uncompiled.optimizer is None


def test_save_writes_a_keras_archive_and_loads_it_back(tmp_path):
    model = small_model()
    x = np.random.default_rng(3).normal(size=(16, 4)).astype("float32")
    model.fit(x, x[:, :2], epochs=2, batch_size=8, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
        metadata = json.loads(archive.read("metadata.json"))
        config = json.loads(archive.read("config.json"))
        layout = h5_layout(io.BytesIO(archive.read("model.weights.h5")))
    assert sorted(metadata) == ["date_saved", "keras_version"] and metadata["keras_version"].startswith("3.")
    expected = json.loads(json.dumps(KERAS_CONFIG))
    expected["config"]["dtype"].pop("shared_object_id")
    for layer in expected["config"]["layers"][1:]:
        if layer["class_name"] == "Dense":
            layer["config"]["kernel_initializer"]["config"] = {"seed": None}
    expected["config"]["layers"][2]["build_config"] = {"input_shape": [None, 3]}
    expected["compile_config"]["optimizer"]["config"]["learning_rate"] = config["compile_config"]["optimizer"][
        "config"]["learning_rate"]
    expected["compile_config"]["jit_compile"] = False
    assert config == expected
    assert layout["optimizer/vars"][0] == {"name": "adam"} and layout["vars"][0] == {"name": "sequential"}
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert int(loaded.optimizer.iterations) == 4 and [w.path for w in loaded.weights][0] == "dense/kernel"
    history = loaded.fit(x, x[:, :2], epochs=1, batch_size=8, verbose=0)
    assert int(loaded.optimizer.iterations) == 6 and list(history.history) == ["loss", "mae"]
    with pytest.raises(ValueError, match=r"Invalid filepath extension for saving\. Please add either a `\.keras` "
                                         r"extension"):
        model.save(tmp_path / "model.tf")
    with pytest.raises(NotImplementedError, match="legacy Keras 2 HDF5"):
        model.save(tmp_path / "model.h5")
    with pytest.raises(ValueError, match="expected a `.keras` extension"):
        keras.models.load_model(tmp_path / "model.zip")


class Tower(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(3)
        self.out = keras.layers.Dense(1)
        self._extra = [keras.layers.Dense(2)]

    def call(self, x):
        return self.out(self.hidden(x)) + tf.reduce_sum(self._extra[0](x), axis=-1, keepdims=True)


def test_subclassed_model_paths_follow_keras_walk(tmp_path):
    model = Tower()
    x = np.ones((2, 4), "float32")
    model(x)
    path = tmp_path / "tower.weights.h5"
    model.save_weights(path)
    groups = sorted(k for k, v in h5_layout(path).items() if k.endswith("vars"))
    # attributes in sorted order: `hidden` by name; `layers` (a list: items named by class) reaches `out`
    # and the private list's layer before the attributes `out` and `_extra` are visited
    assert groups == ["hidden/vars", "layers/dense_1/vars", "layers/dense_2/vars", "vars"]
    other = Tower()
    other(x)
    other.load_weights(path)
    np.testing.assert_array_equal(other(x).numpy(), model(x).numpy())


@keras.saving.register_keras_serializable(package="Tests")
class Scale(keras.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.offset = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="offset")

    def call(self, x):
        return x * self.factor + self.offset

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def test_custom_layers_round_trip_and_unknown_classes_are_named(tmp_path):
    model = keras.Sequential([keras.Input(shape=(2,)), Scale(3.0)])
    model.layers[0].offset.assign([0.5, -0.5])
    path = tmp_path / "custom.keras"
    model.save(path)
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    assert config["config"]["layers"][1]["registered_name"] == "Tests>Scale"
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.layers[0], Scale) and loaded.layers[0].factor == 3.0
    assert loaded.predict(np.ones((1, 2)), verbose=0).tolist() == [[3.5, 2.5]]
    config["config"]["layers"][1].update(class_name="Unknown", registered_name="Other>Unknown")
    broken = tmp_path / "broken.keras"
    with zipfile.ZipFile(broken, "w") as archive, zipfile.ZipFile(path) as source:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", source.read("model.weights.h5"))
    with pytest.raises(TypeError, match="Could not locate class 'Unknown'. Make sure custom classes are decorated"):
        keras.models.load_model(broken)
    loaded = keras.models.load_model(broken, custom_objects={"Other>Unknown": Scale})
    assert loaded.predict(np.ones((1, 2)), verbose=0).tolist() == [[3.5, 2.5]]


def test_writes_are_atomic_and_h5py_is_an_optional_extra(tmp_path, monkeypatch):
    model = small_model(compile=False)
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)
    original = path.read_bytes()
    from tracejit.keras import saving

    def fail(*args):
        raise RuntimeError("disk full")
    monkeypatch.setattr(saving, "_write_h5", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        model.save_weights(path)
    assert path.read_bytes() == original and sorted(os.listdir(tmp_path)) == ["w.weights.h5"]
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"needs h5py, the optional extra 'h5': pip install 'tracejit\[h5\]'"):
        model.save_weights(tmp_path / "x.weights.h5")
    model.save_weights(tmp_path / "still.npz")                 # other suffixes: tracejit's .npz, no h5py needed
    model.load_weights(tmp_path / "still.npz")


REAL_KERAS = """
import json, sys, numpy as np, keras
x = np.load(sys.argv[1] + "/x.npy")
mine = keras.saving.load_model(sys.argv[1] + "/tracejit.keras")
np.save(sys.argv[1] + "/keras_out.npy", np.asarray(mine(x)))
theirs = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, activation="relu"),
                           keras.layers.Dropout(0.5), keras.layers.BatchNormalization(), keras.layers.Dense(2)])
theirs.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
theirs.fit(x, x[:, :2], epochs=1, verbose=0)
theirs.save(sys.argv[1] + "/keras.keras")
np.save(sys.argv[1] + "/keras_model_out.npy", np.asarray(theirs(x)))
"""


def test_files_open_in_real_keras_both_ways(tmp_path):
    """Only where Keras 3 and a backend are installed (not a tracejit dependency)."""
    env = dict(os.environ, KERAS_BACKEND=os.environ.get("KERAS_BACKEND", "jax"))
    probe = subprocess.run([sys.executable, "-c", "import keras"], env=env, capture_output=True)
    if probe.returncode:
        pytest.skip("Keras 3 with a backend is not installed")
    model = small_model()
    x = np.random.default_rng(4).normal(size=(8, 4)).astype("float32")
    model.fit(x, x[:, :2], epochs=1, verbose=0)
    np.save(tmp_path / "x.npy", x)
    model.save(tmp_path / "tracejit.keras")
    subprocess.run([sys.executable, "-c", REAL_KERAS, str(tmp_path)], env=env, check=True, capture_output=True)
    np.testing.assert_allclose(np.load(tmp_path / "keras_out.npy"), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    theirs = keras.models.load_model(tmp_path / "keras.keras")
    np.testing.assert_allclose(theirs.predict(x, verbose=0), np.load(tmp_path / "keras_model_out.npy"), rtol=1e-5,
                               atol=1e-6)
    assert int(theirs.optimizer.iterations) == 1
