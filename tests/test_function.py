"""@function: tracing rules, cache keys, retrace explanations, introspection, errors, debug output."""
import collections
import re
import warnings

import numpy as np
import pytest

import tracejit as tf


def x32(shape=(10, 10)):
    return tf.constant(np.ones(shape, np.float32))


def x16(shape=(10, 10)):
    return tf.constant(np.ones(shape, np.float16))


def test_float32_then_float16_twice_traces_exactly_twice(capsys):
    @tf.function
    def identity(x):
        print("Creating graph!")
        return x
    for x in (x32(), x16(), x16()):
        assert identity(x).dtype == x.dtype
    assert identity.experimental_get_tracing_count() == 2
    assert capsys.readouterr().out.count("Creating graph!") == 2
    assert [r.summary for r in identity.retraces] == ["identity retraced: x: float32[10,10] -> float16[10,10]"]
    assert identity.retraces[0].changes == [("x", "float32[10,10]", "float16[10,10]")]


def test_shape_change_retraces_and_is_explained():
    f = tf.function(lambda x: x * 2)
    f(x32((2, 3)))
    f(x32((4, 3)))
    f(x32((2, 3)))
    assert f.experimental_get_tracing_count() == 2
    assert f.retraces[0].summary == "<lambda> retraced: x: float32[2,3] -> float32[4,3]"


def test_python_values_are_part_of_the_key():
    calls = []

    @tf.function
    def f(x, n, mode="a"):
        calls.append((n, mode))
        return x * n
    assert f(x32((2,)), 2).numpy().tolist() == [2.0, 2.0]
    f(x32((2,)), 2)
    f(x32((2,)), 3)
    f(x32((2,)), 3, mode="b")
    assert calls == [(2, "a"), (3, "a"), (3, "b")]
    assert f.retraces[-1].changes == [("mode", "'a'", "'b'")]


def test_ndarray_arguments_keep_their_dtype():
    f = tf.function(lambda x: x + 1)
    assert f(np.arange(3.0)).dtype == tf.float64
    assert f(np.arange(3.0)).numpy().tolist() == [1.0, 2.0, 3.0]
    assert f.experimental_get_tracing_count() == 1


def test_variables_captured_by_reference_are_updated():
    v = tf.Variable([1.0, 2.0], name="v")
    counter = tf.Variable(0, name="counter")

    @tf.function
    def step(x):
        v.assign_add(x)
        counter.assign_add(1)
        return v * 2           # reads after the assign see the new value

    assert step(tf.constant([1.0, 1.0])).numpy().tolist() == [4.0, 6.0]
    assert step(tf.constant([1.0, 1.0])).numpy().tolist() == [6.0, 8.0]
    assert v.numpy().tolist() == [3.0, 4.0] and int(counter) == 2
    graph = step.get_concrete_function(tf.constant([1.0, 1.0])).graph
    captured = [var for _, var in graph.variables]
    assert len(captured) == 2 and captured[0] is v and captured[1] is counter
    assert sum(node.op == "assign" for node in graph.nodes) == 2
    assert step.experimental_get_tracing_count() == 1


def test_assign_order_is_program_order():
    v = tf.Variable(1.0)

    @tf.function
    def f():
        v.assign(v * 10)
        a = v.read_value()
        v.assign(v + 1)
        return a, v.read_value()
    a, b = f()
    assert (float(a), float(b), float(v)) == (10.0, 11.0, 11.0)


def test_nested_outputs():
    Point = collections.namedtuple("Point", "x y")

    @tf.function
    def f(x):
        return {"sum": x + 1, "pair": (x, [x * 2, None]), "point": Point(x, 3.0), "n": 7}
    out = f(tf.constant(1.0))
    assert set(out) == {"sum", "pair", "point", "n"}
    assert float(out["sum"]) == 2.0 and out["pair"][1][1] is None and float(out["pair"][1][0]) == 2.0
    assert isinstance(out["point"], Point) and float(out["point"].y) == 3.0
    assert isinstance(out["n"], tf.Tensor) and out["n"].dtype == tf.int32
    assert tf.function(lambda: None)() is None


def test_kwargs_and_nested_arguments():
    @tf.function
    def f(inputs, scale=1.0, *, offset):
        return inputs["a"] * scale + inputs["b"][0] + offset
    out = f({"a": tf.constant(2.0), "b": [tf.constant(1.0)]}, scale=3.0, offset=tf.constant(0.5))
    assert float(out) == 7.5
    f({"a": tf.constant(2.0), "b": [tf.constant(1.0)]}, scale=3.0, offset=tf.constant(0.5))
    assert f.experimental_get_tracing_count() == 1
    f({"a": tf.constant(2.0), "b": [tf.constant(1.0)]}, offset=tf.constant(0.5))
    assert f.retraces[-1].changes == [("scale", "3.0", "1.0")]
    with pytest.raises(TypeError, match="offset"):
        f({"a": 1.0, "b": [1.0]})


def test_input_signature_with_none_dims_traces_once():
    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    def f(x):
        return tf.reduce_sum(x, axis=1)
    for rows in (1, 4, 9):
        assert f(np.ones((rows, 3), np.float32)).shape == (rows,)
    assert f.experimental_get_tracing_count() == 1
    graph = f.get_concrete_function().graph
    assert "%0: f32[?,3]" in str(graph)
    with pytest.raises(TypeError, match=r"float64\[2,3\] does not match input_signature float32\[\?,3\]"):
        f(np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"does not match input_signature"):
        f(np.ones((2, 4), np.float32))
    assert f(tf.ones([2, 3])).numpy().tolist() == [3.0, 3.0]


def test_reduce_retracing_generalizes_changing_dims():
    f = tf.function(lambda x: x * 2, reduce_retracing=True)
    for n in (2, 3, 4, 5):
        assert f(tf.ones([n, 2])).shape == (n, 2)
    assert f.experimental_get_tracing_count() == 2
    assert "x (POSITIONAL_OR_KEYWORD): TensorSpec(shape=(None, 2), dtype=tf.float32, name=None)" in \
        f.pretty_printed_concrete_signatures()


def test_retrace_warning_names_changing_arguments():
    f = tf.function(lambda x, n: x * n)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for n in range(7):
            f(tf.constant(1.0), n)
    messages = [str(w.message) for w in caught if issubclass(w.category, tf.errors.RetracingWarning)]
    assert len(messages) == 1 and "n" in messages[0] and "traced 6 times in its last 6 calls" in messages[0]


def test_get_concrete_function_and_introspection():
    @tf.function
    def f(x, y):
        return x + y, x * y
    concrete = f.get_concrete_function(tf.constant([1.0]), tf.TensorSpec([1], tf.float32))
    assert isinstance(concrete, tf.ConcreteFunction)
    args, kwargs = concrete.structured_input_signature
    assert args == (tf.TensorSpec([1], tf.float32), tf.TensorSpec([1], tf.float32)) and kwargs == {}
    assert [o.shape for o in concrete.outputs] == [(1,), (1,)] and concrete.outputs[0].dtype == tf.float32
    text = str(concrete.graph)
    assert text.startswith("graph f(%0: f32[1], %1: f32[1]) {")
    assert re.search(r"%2 = add %0, %1 +: f32\[1\] +# test_function.py:\d+", text)
    assert f.experimental_get_tracing_count() == 1
    s, p = concrete(tf.constant([2.0]), tf.constant([3.0]))
    assert float(s[0]) == 5.0 and float(p[0]) == 6.0
    spec = "TensorSpec(shape=(1,), dtype=tf.float32, name=None)"
    assert f.pretty_printed_concrete_signatures() == (        # TF 2.21's FunctionType text
        f"Input Parameters:\n  x (POSITIONAL_OR_KEYWORD): {spec}\n  y (POSITIONAL_OR_KEYWORD): {spec}\n"
        f"Output Type:\n  Tuple[{spec}, {spec}]\nCaptures:\n  None")


@pytest.mark.parametrize("action,what", [
    (lambda x: bool(x > 0), "bool()"), (lambda x: int(x), "int()"), (lambda x: float(x), "float()"),
    (lambda x: len(x), "len()"), (lambda x: [v for v in x], "iteration"), (lambda x: x.numpy(), ".numpy()"),
    (lambda x: np.asarray(x), "conversion to a NumPy array")])
def test_concrete_value_of_symbolic_tensor_raises_tracing_error(action, what):
    f = tf.function(action, autograph=False)      # AutoGraph would give len() the static length
    with pytest.raises(tf.errors.TracingError) as info:
        f(tf.constant([1.0, 2.0]))
    message = str(info.value)
    assert message.startswith(what) and "shape=(2,), dtype=" in message
    assert re.search(r"test_function.py:\d+", message)
    assert "tracejit.where" in message and "tracejit.cond" in message and "static argument" in message


def test_python_if_on_tensor_suggests_cond():
    @tf.function(autograph=False)               # AutoGraph would make the `if` a cond
    def f(x):
        if x > 0:
            return x
        return -x
    with pytest.raises(tf.errors.TracingError, match="tracejit.cond"):
        f(tf.constant(1.0))


def test_cond_traced_and_eager():
    @tf.function
    def f(x):
        return tf.cond(x > 0, lambda: x * 2, lambda: -x)
    assert float(f(tf.constant(3.0))) == 6.0 and float(f(tf.constant(-3.0))) == 3.0
    assert f.experimental_get_tracing_count() == 1
    assert "select" in str(f.get_concrete_function(tf.constant(1.0)).graph)
    assert float(tf.cond(tf.constant(False), lambda: 1.0, lambda: 2.0)) == 2.0
    assert tf.cond(True, lambda: "a", lambda: "b") == "a"


def test_cond_merges_variable_assignments():
    v = tf.Variable(0.0)

    @tf.function
    def f(x):
        tf.cond(x > 0, lambda: v.assign(x), lambda: v.assign(-x * 10))
        return v.read_value()
    assert float(f(tf.constant(2.0))) == 2.0 and float(v) == 2.0
    assert float(f(tf.constant(-1.0))) == 10.0 and float(v) == 10.0


def test_cond_rejects_mismatched_branches():
    @tf.function
    def f(x):
        return tf.cond(x > 0, lambda: x, lambda: tf.stack([x, x]))
    with pytest.raises(tf.errors.TracingError, match="different types"):
        f(tf.constant(1.0))
    with pytest.raises(tf.errors.InvalidArgumentError, match="scalar bool"):
        tf.cond(tf.constant([True, False]), lambda: 1, lambda: 2)


def test_where_inside_function():
    f = tf.function(lambda x: tf.where(x > 0, x, tf.zeros_like(x)))
    assert f(tf.constant([-1.0, 2.0])).numpy().tolist() == [0.0, 2.0]


def test_variables_only_on_first_trace():
    created = []

    @tf.function
    def f(x):
        if not created:
            created.append(tf.Variable(tf.ones([2]) * 3.0, name="lazy"))
        created[0].assign_add(x)
        return created[0].read_value()
    assert f(tf.ones([2])).numpy().tolist() == [4.0, 4.0]
    assert created[0].numpy().tolist() == [4.0, 4.0]
    assert f(tf.ones([2])).numpy().tolist() == [5.0, 5.0]

    @tf.function
    def g(x):
        return x + tf.Variable(1.0)
    g(tf.constant(1.0))
    with pytest.raises(tf.errors.TracingError, match="only be created on the function's first trace"):
        g(tf.constant([1.0, 2.0]))


def test_leaked_symbolic_tensor_is_reported():
    leaked = []

    @tf.function
    def f(x):
        leaked.append(x * 2)
        return x
    f(tf.constant(1.0))
    with pytest.raises(tf.errors.TracingError, match="outside the @function trace"):
        leaked[0] + 1


def test_run_functions_eagerly():
    traced = []

    @tf.function
    def f(x):
        traced.append(1)
        return x.numpy() * 2        # only possible eagerly
    tf.config.run_functions_eagerly(True)
    assert f(tf.constant(2.0)) == 4.0 and f(tf.constant(2.0)) == 4.0
    assert len(traced) == 2 and f.experimental_get_tracing_count() == 0


def test_methods_trace_per_instance():
    class Scaler:
        def __init__(self, k):
            self.k = tf.Variable(k)

        @tf.function
        def __call__(self, x):
            return x * self.k

    a, b = Scaler(2.0), Scaler(3.0)
    assert float(a(tf.constant(1.0))) == 2.0 and float(b(tf.constant(1.0))) == 3.0
    a.k.assign(5.0)
    assert float(a(tf.constant(1.0))) == 5.0
    assert a.__call__.experimental_get_tracing_count() == 1


def test_nested_function_calls_inline():
    inner = tf.function(lambda x: x * 3)
    outer = tf.function(lambda x: inner(x) + 1)
    assert float(outer(tf.constant(2.0))) == 7.0
    assert "multiply" in str(outer.get_concrete_function(tf.constant(2.0)).graph)


def test_random_ops_draw_fresh_values_each_call():
    f = tf.function(lambda: tf.random.uniform([4]))
    a, b = f(), f()
    assert a.shape == (4,) and not np.array_equal(a.numpy(), b.numpy())
    assert f.experimental_get_tracing_count() == 1


def test_debug_level_1_logs_traces_and_retraces(monkeypatch, capsys):
    monkeypatch.setenv("TRACEJIT_DEBUG", "1")
    f = tf.function(lambda x: x + 1)
    f(x32((2,)))
    f(x16((2,)))
    err = capsys.readouterr().err
    assert "tracing <lambda>(x: float32[2])" in err
    assert "<lambda> retraced: x: float32[2] -> float16[2]" in err
    assert "graph" not in err


def test_debug_level_2_prints_ir_and_debug_argument(capsys):
    f = tf.function(lambda x: x + 1, debug=2)
    f(x32((2,)))
    err = capsys.readouterr().err
    assert "IR after tracing:" in err and "= add %0" in err
    tf.function(lambda x: x + 1)(x32((2,)))
    assert capsys.readouterr().err == ""
