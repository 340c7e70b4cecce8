"""tf.Module: names and name scopes, variables/submodules found through attributes (TF's
_flatten_module order), with_name_scope, @tf.function methods (one Function per instance)."""
import numpy as np
import pytest

import tracejit as tf


class Dense(tf.Module):
    """The example of TF's tf.Module docstring."""

    def __init__(self, input_dim, output_size, name=None):
        super().__init__(name=name)
        self.w = tf.Variable(tf.random.normal([input_dim, output_size]), name="w")
        self.b = tf.Variable(tf.zeros([output_size]), name="b")

    def __call__(self, x):
        return tf.nn.relu(tf.matmul(x, self.w) + self.b)


class MLP(tf.Module):
    def __init__(self, input_size, sizes, name=None):
        super().__init__(name=name)
        self.layers = []
        with self.name_scope:
            for size in sizes:
                self.layers.append(Dense(input_dim=input_size, output_size=size))
                input_size = size

    @tf.Module.with_name_scope
    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def test_names_and_name_scopes():
    assert Dense(2, 3).name == "dense" and MLP(2, [3]).name == "mlp"
    assert type("ConvBlock2D", (tf.Module,), {})().name == "conv_block2_d"   # TF's camel_to_snake
    assert type("HTTPServer", (tf.Module,), {})().name == "http_server"
    mlp = MLP(input_size=5, sizes=[5, 5], name="outer")
    assert mlp.name_scope.name == "outer/"
    assert [m.name_scope.name for m in mlp.layers] == ["outer/dense/", "outer/dense/"]
    with pytest.raises(ValueError, match="'my model' is not a valid module name"):
        tf.Module(name="my model")
    with tf.name_scope("a") as a:
        with tf.name_scope("b") as b:
            with tf.name_scope("c/") as c:             # a trailing slash: an absolute scope
                v = tf.Variable(1.0, name="v")
    assert (a, b, c, v.name) == ("a/", "a/b/", "c/", "c/v:0")
    with mlp.name_scope as scope:                      # re-entered from anywhere: always the same scope
        with mlp.name_scope:
            assert tf.Variable(1.0, name="x").name == "outer/x:0"
    assert scope == "outer/"


def test_variables_follow_tf_flatten_order_and_names():
    module = MLP(input_size=5, sizes=[5, 5])
    # TF's docstring: own attributes in name order (b before w), submodules after, each once
    assert [v.name for v in module.variables] == ["mlp/b:0", "mlp/w:0", "mlp/b:0", "mlp/w:0"]
    assert [v.shape for v in module.variables] == [(5,), (5, 5), (5,), (5, 5)]
    assert module.variables[0] is module.layers[0].b and module.variables[3] is module.layers[1].w
    assert isinstance(module.variables, tuple) and module.submodules == tuple(module.layers)
    out = module(tf.ones([1, 5]))
    assert out.shape == (1, 5) and out.dtype == tf.float32


def test_submodules_trainability_and_containers():
    a, b, c = tf.Module(), tf.Module(), tf.Module()
    a.b = b
    b.c = c
    assert list(a.submodules) == [b, c] and list(b.submodules) == [c] and list(c.submodules) == []
    m = tf.Module()
    m.z = tf.Variable(0.0, name="z")
    m.frozen = tf.Variable([1, 2], trainable=False, name="frozen")
    m.d = {"y": tf.Variable(2.0, name="y"), "x": (tf.Variable(3.0, name="x"), [m.z])}   # m.z twice: once
    m.items = [tf.Module(name="inner")]
    m.items[0].v = tf.Variable(4.0, name="v")
    m.number, m.text = 3, "not a leaf of interest"
    assert [v.name for v in m.variables] == ["x:0", "z:0", "y:0", "frozen:0", "v:0"]
    assert [v.name for v in m.trainable_variables] == ["x:0", "z:0", "y:0", "v:0"]
    assert [v.name for v in m.non_trainable_variables] == ["frozen:0"]


def test_flatten_with_path_and_cycles():
    class Foo(tf.Module):
        def __init__(self):
            super().__init__()
            self.x = [tf.constant("a"), tf.constant("b")]
            self.y = {"j": tf.constant("d"), "i": tf.constant("c")}
            self.z = tf.constant("e")
    foo = Foo()
    paths = [(p, t.numpy()) for p, t in foo._flatten(predicate=lambda v: isinstance(v, tf.Tensor), with_path=True)]
    assert paths == [(("x", 0), b"a"), (("x", 1), b"b"), (("y", "i"), b"c"), (("y", "j"), b"d"), (("z",), b"e")]
    a, b = tf.Module(name="a"), tf.Module(name="b")
    a.other, b.other = b, a
    a.v, b.v = tf.Variable(1.0), tf.Variable(2.0)
    assert [float(v) for v in a.variables] == [1.0, 2.0] and a.submodules == (b,)
    assert [p for p, _ in a._flatten(predicate=lambda x: isinstance(x, tf.Variable), with_path=True)] == [
        ("v",), ("other", "v"), ("other", "other", "v")]
    with pytest.raises(ValueError, match="Error processing property 'bad'"):
        a.bad = {1: "x", "y": 2}                        # unsortable keys, as tf.nest
        a.variables


def test_with_name_scope_names_lazily_created_variables():
    class MyModule(tf.Module):
        @tf.Module.with_name_scope
        def __call__(self, x):
            if not hasattr(self, "w"):
                self.w = tf.Variable(tf.random.normal([x.shape[1], 3]))
            return tf.matmul(x, self.w)
    mod = MyModule()
    assert mod(tf.ones([1, 2])).shape == (1, 3)
    assert mod.w.name == "my_module/Variable:0"
    assert MyModule.__call__.__name__ == "__call__"


class FlexibleDense(tf.Module):
    """TF's guide: variables created on the first call, inside @tf.function."""

    def __init__(self, out_features, name=None):
        super().__init__(name=name)
        self.out_features = out_features
        self.is_built = False

    def __call__(self, x):
        if not self.is_built:
            self.w = tf.Variable(tf.random.normal([x.shape[-1], self.out_features]), name="w")
            self.b = tf.Variable(tf.zeros([self.out_features]), name="b")
            self.is_built = True
        return tf.nn.relu(tf.matmul(x, self.w) + self.b)


class MySequentialModule(tf.Module):
    def __init__(self, name=None):
        super().__init__(name=name)
        with self.name_scope:
            self.dense_1 = FlexibleDense(out_features=3)
            self.dense_2 = FlexibleDense(out_features=2)

    @tf.function
    def __call__(self, x):
        return self.dense_2(self.dense_1(x))


def test_tf_function_methods_are_per_instance_and_trace_once_per_signature():
    tf.random.set_seed(1)
    first, second = MySequentialModule(name="first"), MySequentialModule(name="second")
    x = tf.constant([[2.0, 2.0, 2.0]])
    y1 = first(x)
    assert y1.shape == (1, 2)
    assert [v.name for v in first.variables] == ["b:0", "w:0", "b:0", "w:0"]   # created outside any scope
    assert [tuple(v.shape) for v in first.variables] == [(3,), (3, 3), (2,), (3, 2)]
    assert first.__call__ is first.__call__ and first.__call__ is not second.__call__
    second(x)
    second(tf.constant([[1.0, 2.0, 3.0]]))
    assert first.__call__.experimental_get_tracing_count() == 1
    assert second.__call__.experimental_get_tracing_count() == 1
    assert not any(a is b for a in first.variables for b in second.variables)
    expected = np.maximum(np.maximum(x.numpy() @ first.dense_1.w.numpy() + first.dense_1.b.numpy(), 0)
                          @ first.dense_2.w.numpy() + first.dense_2.b.numpy(), 0)
    np.testing.assert_allclose(first(x).numpy(), expected, rtol=1e-6)
    first.dense_2.b.assign([1.0, -100.0])                # the compiled call reads the variables' current values
    assert first(x).numpy()[0, 1] == 0.0 and first(x).numpy()[0, 0] >= 1.0


def test_an_outer_tape_sees_through_tf_function_methods():
    tf.random.set_seed(2)
    module = MySequentialModule()
    x = tf.constant([[0.5, -1.0, 2.0]])
    module(x)                                          # traced and compiled
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(module(x))
    grads = tape.gradient(loss, module.trainable_variables)
    assert all(g is not None for g in grads) and len(grads) == 4
    with tf.GradientTape() as tape:                    # the same values without @tf.function
        loss = tf.reduce_sum(module.dense_2(module.dense_1(x)))
    for got, want in zip(grads, tape.gradient(loss, module.trainable_variables)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)


def test_gradients_through_trainable_variables():
    model = MLP(input_size=3, sizes=[4, 2])
    model.layers[0].b.assign(tf.fill([4], 0.5))
    x = tf.constant([[0.1, -0.2, 0.3]])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x) ** 2)
    grads = tape.gradient(loss, model.trainable_variables)
    assert len(grads) == 4 and all(g.shape == v.shape for g, v in zip(grads, model.trainable_variables))
    w = model.layers[1].w                              # finite differences on one weight
    index, eps = (0, 1), 1e-3
    base = w.numpy()
    shifted = base.copy()
    shifted[index] += eps
    w.assign(shifted)
    up = float(tf.reduce_sum(model(x) ** 2))
    shifted[index] -= 2 * eps
    w.assign(shifted)
    down = float(tf.reduce_sum(model(x) ** 2))
    w.assign(base)
    assert np.isclose(grads[3].numpy()[index], (up - down) / (2 * eps), rtol=1e-2, atol=1e-4)
