"""tf.saved_model: save tf.Modules and Keras models with their traced functions and signatures;
load them in a subprocess that never imports the code that defined them; every registered op's
graph survives the JSON form; loaded functions run eagerly, compiled, inside other functions and
under GradientTape; variables are restorable."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tracejit as tf
from tracejit import keras
from tracejit.context import bind
from tracejit.saved_model.encoding import Arrays, decode_nodes, encode_graph, replay
from conftest import assert_close
from samples import cases

ROOT = os.path.join(os.path.dirname(__file__), "..")


class Affine(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable([[1.0, 2.0], [3.0, 4.0]], name="w")
        self.b = tf.Variable([0.5, -0.5], name="b")
        self.calls = tf.Variable(0, name="calls", trainable=False)
        self.inner = tf.Module(name="inner")
        self.inner.scale = tf.Variable(3.0, name="scale")
        self.table = {"shift": tf.Variable([1.0, 1.0], name="shift")}

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="features")])
    def __call__(self, x):
        self.calls.assign_add(1)
        return tf.nn.relu(tf.matmul(x, self.w) + self.b)

    @tf.function
    def mixed(self, x, power=2, options=None):
        return {"scaled": x ** power * self.inner.scale + self.table["shift"], "shape": tf.shape(x)}, (x,)


def run_in_subprocess(code, *args):
    """Runs `code` in a fresh interpreter that has tracejit on its path and nothing of this test."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                            cwd=ROOT, env=dict(os.environ, PYTHONPATH=os.path.abspath(ROOT)))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_module_runs_after_load_in_another_process(tmp_path):
    module = Affine()
    x = np.array([[1.0, -1.0], [0.5, 2.0]], np.float32)
    expected = module(x).numpy()
    module.mixed(tf.constant([1.0, 2.0]))
    module.mixed(tf.constant([1.0, 2.0]), power=3)
    path = str(tmp_path / "affine")
    tf.saved_model.save(module, path)
    assert sorted(os.listdir(path)) == ["assets", "constants.npz", "graphs", "saved_model.json", "variables"]
    out = run_in_subprocess("""
        import json, sys
        import numpy as np
        import tracejit as tf
        loaded = tf.saved_model.load(sys.argv[1])
        x = np.array([[1.0, -1.0], [0.5, 2.0]], np.float32)
        first = loaded(x)
        mixed, (echo,) = loaded.mixed(tf.constant([1.0, 2.0]), power=3)
        default = loaded.mixed(tf.constant([3.0, 4.0]))[0]["scaled"]
        served = loaded.signatures["serving_default"](features=x)
        try:
            loaded.mixed(tf.constant([1.0, 2.0]), power=4)
            error = None
        except ValueError as e:
            error = str(e)
        print(json.dumps({"call": first.numpy().tolist(), "calls": int(loaded.calls.numpy()),
                          "mixed": mixed["scaled"].numpy().tolist(), "shape": mixed["shape"].numpy().tolist(),
                          "echo": echo.numpy().tolist(), "default": default.numpy().tolist(),
                          "served": {k: v.numpy().tolist() for k, v in served.items()},
                          "variables": [v.name for v in loaded.variables],
                          "trainable": [v.name for v in loaded.trainable_variables],
                          "scale": float(loaded.inner.scale.numpy()), "error": error,
                          "test_module_loaded": any("test_saved_model" in m for m in sys.modules)}))
    """, path)
    assert out["call"] == expected.tolist() and out["served"] == {"output_0": expected.tolist()}
    assert out["calls"] == 3                               # 1 before saving + 1 call + 1 signature call
    assert out["mixed"] == [4.0, 25.0] and out["shape"] == [2] and out["echo"] == [1.0, 2.0]
    assert out["default"] == [28.0, 49.0]                  # power=2 is the saved default
    assert out["variables"] == ["b:0", "calls:0", "shift:0", "w:0", "scale:0"]   # TF's Module order, as before
    assert out["variables"] == [v.name for v in module.variables]
    assert out["trainable"] == ["b:0", "shift:0", "w:0", "scale:0"] and out["scale"] == 3.0
    assert out["error"].startswith("Could not find matching concrete function to call loaded from the SavedModel")
    assert "power: 2" in out["error"] and "power: 3" in out["error"] and not out["test_module_loaded"]


def test_loaded_functions_compile_differentiate_and_inline(tmp_path):
    module = Affine()
    path = str(tmp_path / "affine")
    tf.saved_model.save(module, path)
    loaded = tf.saved_model.load(path)
    x = tf.constant([[1.0, 2.0], [-3.0, 0.5]])
    np.testing.assert_array_equal(loaded(x).numpy(), module(x).numpy())
    concrete = loaded.__call__.concrete_functions[0]
    assert concrete.function.experimental_get_tracing_count() == 1
    loaded(tf.constant([[1.0, 1.0]]))                       # a new batch size: the same (None, 2) trace
    assert concrete.function.experimental_get_tracing_count() == 1
    traced = concrete.function.get_concrete_function()
    assert [n.op for n in traced.graph.nodes] == ["const", "add", "assign", "matmul", "add", "relu"]
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(loaded(x) ** 2)
    dw, db = tape.gradient(y, [loaded.w, loaded.b])
    with tf.GradientTape() as tape:
        y0 = tf.reduce_sum(module(x) ** 2)
    expected = tape.gradient(y0, [module.w, module.b])
    np.testing.assert_allclose(dw.numpy(), expected[0].numpy(), rtol=1e-6)
    np.testing.assert_allclose(db.numpy(), expected[1].numpy(), rtol=1e-6)
    outer = tf.function(lambda v: loaded(v) * 2.0)
    np.testing.assert_array_equal(outer(x).numpy(), module(x).numpy() * 2)
    assert "matmul" in str(outer.get_concrete_function(x).graph)           # inlined into the outer trace
    with pytest.raises(TypeError, match=r"takes 0 positional arguments"):
        loaded.signatures["serving_default"](x)
    with pytest.raises(TypeError, match=r"missing required arguments \['features'\]"):
        loaded.signatures["serving_default"](x=x)
    spec = loaded.signatures["serving_default"].structured_input_signature[1]["features"]
    assert spec == tf.TensorSpec([None, 2], tf.float32, "features")


def test_gradients_through_a_loaded_function_match_finite_differences(tmp_path):
    class Poly(tf.Module):
        def __init__(self):
            super().__init__()
            self.c = tf.Variable(np.array([0.3, -1.2, 0.7]), name="c")

        @tf.function(input_signature=[tf.TensorSpec([3], tf.float64)])
        def __call__(self, x):
            return tf.reduce_sum(tf.tanh(x * self.c) + tf.exp(self.c) * x ** 2)
    path = str(tmp_path / "poly")
    tf.saved_model.save(Poly(), path)
    loaded = tf.saved_model.load(path)
    x0 = np.array([0.4, -0.1, 1.3])
    with tf.GradientTape() as tape:
        value = loaded(tf.constant(x0))
    grad = tape.gradient(value, loaded.c).numpy()
    c0, eps = loaded.c.numpy(), 1e-6
    numeric = []
    for i in range(3):
        up, down = c0.copy(), c0.copy()
        up[i] += eps
        down[i] -= eps
        loaded.c.assign(up)
        f_up = float(loaded(tf.constant(x0)))
        loaded.c.assign(down)
        f_down = float(loaded(tf.constant(x0)))
        numeric.append((f_up - f_down) / (2 * eps))
    loaded.c.assign(c0)
    np.testing.assert_allclose(grad, numeric, rtol=1e-7)


def test_variables_are_restorable_both_ways(tmp_path):
    module = Affine()
    module.w.assign([[5.0, 6.0], [7.0, 8.0]])
    path = str(tmp_path / "affine")
    tf.saved_model.save(module, path)
    fresh = Affine()                                       # the original class, restored from the SavedModel
    tf.train.Checkpoint(root=fresh).restore(os.path.join(path, "variables", "variables")).assert_consumed()
    assert fresh.w.numpy().tolist() == [[5.0, 6.0], [7.0, 8.0]] and fresh.inner.scale.numpy() == 3.0
    loaded = tf.saved_model.load(path)
    loaded.w.assign(tf.zeros([2, 2]))
    assert loaded(tf.ones([1, 2])).numpy().tolist() == [[0.5, 0.0]]          # the function reads the variable
    prefix = tf.train.Checkpoint(root=loaded).write(str(tmp_path / "ckpt"))
    tf.train.Checkpoint(root=module).restore(prefix)
    assert module.w.numpy().tolist() == [[0.0, 0.0], [0.0, 0.0]]


KERAS_CHECK = """
    import json, sys
    import numpy as np
    import tracejit as tf
    model = tf.saved_model.load(sys.argv[1])
    exported = tf.saved_model.load(sys.argv[2])
    x = np.load(sys.argv[3])
    print(json.dumps({"serving": model.signatures["serving_default"](inputs=x)["output_0"].numpy().tolist(),
                      "serve": exported.serve(x).numpy().tolist(),
                      "export_signature": sorted(exported.signatures["serving_default"](keras_tensor=x)),
                      "variables": sorted(v.name for v in model.variables)}))
"""


def test_keras_model_saved_and_exported(tmp_path, capsys):
    keras.backend.clear_session()
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, activation="relu"),
                              keras.layers.BatchNormalization(), keras.layers.Dropout(0.3), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).normal(size=(6, 4)).astype("float32")
    model.fit(x, x[:, :2], epochs=2, verbose=0)
    expected = model.predict(x, verbose=0)
    saved, exported = str(tmp_path / "saved"), str(tmp_path / "exported")
    tf.saved_model.save(model, saved)
    model.export(exported)
    printed = capsys.readouterr().out
    assert printed.startswith(f"Saved artifact at '{exported}'. The following endpoints are available:\n\n"
                              "* Endpoint 'serve'\n  args_0 (POSITIONAL_ONLY): TensorSpec(shape=(None, 4), "
                              "dtype=tf.float32, name='keras_tensor')\nOutput Type:\n  TensorSpec(shape=(None, 2), "
                              "dtype=tf.float32, name=None)\nCaptures:\n")
    np.save(tmp_path / "x.npy", x)
    out = run_in_subprocess(KERAS_CHECK, saved, exported, str(tmp_path / "x.npy"))
    # float32 tolerance: the other process may run its first calls on the interpreter tier
    np.testing.assert_allclose(out["serving"], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["serve"], expected, rtol=1e-5, atol=1e-6)
    assert out["export_signature"] == ["output_0"]
    assert out["variables"] == sorted(w._name for w in model.weights)


def test_random_ops_and_string_constants_are_saved(tmp_path):
    class Noisy(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([4], tf.float32)])
        def __call__(self, x):
            return x + tf.random.uniform([4], 0.0, 1.0, seed=7), tf.constant(["a", "bc"])
    path = str(tmp_path / "noisy")
    tf.saved_model.save(Noisy(), path)
    loaded = tf.saved_model.load(path)
    first, words = loaded(tf.zeros([4]))
    second, _ = loaded(tf.zeros([4]))
    assert words.numpy().tolist() == [b"a", b"bc"] and first.shape == (4,)
    assert np.all((first.numpy() >= 0) & (first.numpy() < 1)) and not np.array_equal(first.numpy(), second.numpy())
    again, _ = tf.saved_model.load(path)(tf.zeros([4]))
    np.testing.assert_array_equal(again.numpy(), first.numpy())            # the op seed's stream restarts


def test_saving_errors_say_what_to_do(tmp_path):
    class Holder(tf.Module):
        @tf.function
        def f(self, x, thing):
            return x

        @tf.function
        def never_called(self, x):
            return x
    holder = Holder()
    holder.f(tf.constant(1.0), holder)
    with pytest.raises(NotImplementedError, match=r"argument 'thing'.*traced with a Holder"):
        tf.saved_model.save(holder, str(tmp_path / "h"))
    plain = Holder()
    plain.never_called(tf.constant(1.0))
    plain.f.python_function  # untraced: skipped with TF's warning
    with pytest.warns(UserWarning, match=r"Found untraced functions such as Holder\.f"):
        tf.saved_model.save(plain, str(tmp_path / "p"))
    with pytest.raises(ValueError, match="expected a tf.function with an input_signature or a ConcreteFunction"):
        tf.saved_model.save(plain, str(tmp_path / "q"), signatures=plain.never_called)
    with pytest.raises(OSError, match="SavedModel file does not exist"):
        tf.saved_model.load(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="Expected an object of type `tf.Module`"):
        tf.saved_model.save(object(), str(tmp_path / "r"))
    assert tf.saved_model.contains_saved_model(str(tmp_path / "p"))
    assert not tf.saved_model.contains_saved_model(str(tmp_path / "q"))


CASES = cases()


@pytest.mark.parametrize("prim,dtype,sample", [c[:3] for c in CASES], ids=[c[3] for c in CASES])
def test_every_op_survives_the_saved_graph_form(prim, dtype, sample):
    """Trace the op, store its graph as JSON (params encoded, constants beside), replay it."""
    tensors = [tf.constant(a) for a in sample.args]
    concrete = tf.function(lambda *xs: prim(*xs, **sample.params)).get_concrete_function(*tensors)
    arrays = Arrays()
    data = json.loads(json.dumps(encode_graph(concrete.graph, lambda v: 0, arrays)))
    stored = Arrays({k: np.array(v) for k, v in arrays.arrays.items()})
    out = replay(data, decode_nodes(data, stored), [], tensors, bind, tf.constant)
    assert_close(out[0].numpy(), prim(*tensors, **sample.params).numpy(), dtype)
