"""TensorFlow 2 semantics that real code relies on: each test asserts TF's documented behaviour,
eagerly and (where it applies) inside @function."""
import numpy as np
import pytest

import tracejit as tf


# ---- tape.gradient(v, v) ----------------------------------------------------------------------
def test_gradient_of_a_watched_variable_with_respect_to_itself_is_ones():
    v = tf.Variable([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        pass
    assert tape.gradient(v, v).numpy().tolist() == [1.0, 1.0, 1.0]
    with tf.GradientTape(persistent=True) as tape:
        y = v * 2.0
    assert tape.gradient(v, v).numpy().tolist() == [1.0, 1.0, 1.0]
    assert tape.gradient([y, v], v).numpy().tolist() == [3.0, 3.0, 3.0]


def test_gradient_of_a_watched_tensor_with_respect_to_itself_is_ones():
    x = tf.constant([[1.0, 2.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
    g = tape.gradient(x, x)
    assert g.shape == (1, 2) and g.dtype == tf.float32 and g.numpy().tolist() == [[1.0, 1.0]]


def test_gradient_of_a_variable_with_respect_to_itself_inside_function():
    v = tf.Variable(2.0)

    @tf.function
    def f():
        with tf.GradientTape() as tape:
            y = v * v
        return tape.gradient([y, v], v)
    assert f().numpy() == 5.0           # 2v + 1


def test_unconnected_gradients_enum():
    x, unused = tf.constant(1.0), tf.constant(2.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, unused])
        y = x * 3.0
    assert tape.gradient(y, unused, unconnected_gradients=tf.UnconnectedGradients.NONE) is None
    assert tape.gradient(y, unused, unconnected_gradients=tf.UnconnectedGradients.ZERO).numpy() == 0.0
    assert tape.gradient(y, unused, unconnected_gradients="zero").numpy() == 0.0
    assert tf.UnconnectedGradients.ZERO.value == "zero"
    with pytest.raises(ValueError, match="unconnected_gradients"):
        tape.gradient(y, unused, unconnected_gradients="sometimes")


def _batch_jacobian_case():
    x = tf.constant(np.arange(6.0).reshape(2, 3) / 4)
    w = tf.constant(np.arange(12.0).reshape(3, 4) / 10)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.tanh(tf.matmul(x, w))             # [2, 4], rows independent
    return tape.batch_jacobian(y, x), x.numpy(), w.numpy()


def test_batch_jacobian_matches_the_closed_form():
    jac, x, w = _batch_jacobian_case()
    expected = (1 - np.tanh(x @ w) ** 2)[:, :, None] * w.T[None]       # d y[b,i] / d x[b,j]
    assert jac.shape == (2, 4, 3)
    np.testing.assert_allclose(jac.numpy(), expected, rtol=1e-12)


def test_batch_jacobian_inside_function_and_of_rank3_target():
    jac = tf.function(lambda: _batch_jacobian_case()[0])()
    _, x, w = _batch_jacobian_case()
    np.testing.assert_allclose(jac.numpy(), (1 - np.tanh(x @ w) ** 2)[:, :, None] * w.T[None], rtol=1e-12)
    x = tf.constant(np.ones((2, 3)))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reshape(x * x, (2, 3, 1))
    assert tape.batch_jacobian(y, x).shape == (2, 3, 1, 3)
    with pytest.raises(ValueError, match="batch"):
        with tf.GradientTape() as tape:
            tape.watch(x)
            z = tf.reduce_sum(x)
        tape.batch_jacobian(z, x)


# ---- conversion of Python operands ------------------------------------------------------------
def test_a_python_list_takes_the_dtype_of_the_first_operand():
    out = tf.maximum(0., [1, -1])
    assert out.dtype == tf.float32 and out.numpy().tolist() == [1.0, 0.0]
    assert tf.add(tf.constant(1.5), [1, 2]).dtype == tf.float32
    assert tf.minimum([1, 2], tf.constant([0.5, 3.0])).numpy().tolist() == [0.5, 2.0]   # the tensor decides
    with pytest.raises(TypeError, match="int32"):
        tf.maximum(0, [1.5])                      # TF: cannot convert [1.5] to an int32 tensor
    f = tf.function(lambda x: tf.maximum(x, [1, -1]))
    assert f(tf.constant(0.5)).numpy().tolist() == [1.0, 0.5]


# ---- variables only on the first trace ----------------------------------------------------------
def test_creating_a_variable_on_a_retrace_is_a_value_error():
    @tf.function
    def g(x):
        return x + tf.Variable(1.0)
    assert g(tf.constant(1.0)).numpy() == 2.0
    with pytest.raises(ValueError, match="first trace"):
        g(tf.constant([1.0, 2.0]))
    assert issubclass(tf.errors.VariableCreationError, ValueError)


def test_optimizer_slots_created_on_a_retrace_are_a_value_error():
    w1, w2 = tf.Variable([1.0, 2.0]), tf.Variable([3.0])
    opt = tf.keras.optimizers.Adam(0.1)

    @tf.function
    def step(second):
        var = w2 if second else w1
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(var * var)
        opt.apply_gradients([(tape.gradient(loss, var), var)])
        return loss
    step(False)
    step(False)
    with pytest.raises(ValueError, match="first trace"):
        step(True)                  # Adam's slots for w2 would be created while retracing


def test_slots_created_on_the_first_trace_serve_later_retraces():
    w = tf.Variable([1.0, 2.0])
    opt = tf.keras.optimizers.Adam(0.1)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(w * tf.reduce_mean(x))
        opt.apply_gradients([(tape.gradient(loss, w), w)])
        return loss
    step(tf.ones([2]))
    step(tf.ones([3]))              # a retrace: no new variables, fine
    assert step.experimental_get_tracing_count() == 2 and int(opt.iterations) == 2


# ---- .numpy() on symbolic tensors --------------------------------------------------------------
def test_numpy_of_an_escaped_symbolic_tensor_is_an_attribute_error():
    leaked = []

    @tf.function
    def f(x):
        y = x * 2.0
        leaked.append(y)
        return y
    f(tf.constant(1.0))
    with pytest.raises(AttributeError, match=r"\.numpy\(\) of a symbolic tensor.*return the tensor"):
        leaked[0].numpy()
    assert not hasattr(leaked[0], "numpy")            # as TF's symbolic tensors
    assert hasattr(tf.constant(1.0), "numpy")


def test_numpy_inside_function_is_an_attribute_error_that_except_attribute_error_catches():
    @tf.function
    def f(x):
        try:
            return x.numpy() * 2       # eager-only code path
        except AttributeError:
            return x * 3.0
    assert f(tf.constant(2.0)).numpy() == 6.0


# ---- Dataset.shuffle under the global seed -------------------------------------------------------
def _epochs(dataset, n=2):
    return [[int(x) for x in dataset] for _ in range(n)]


def test_shuffle_is_reproducible_under_the_global_seed():
    tf.random.set_seed(1234)
    first = _epochs(tf.data.Dataset.range(20).shuffle(20))
    tf.random.set_seed(1234)
    again = _epochs(tf.data.Dataset.range(20).shuffle(20))
    assert first == again
    assert sorted(first[0]) == list(range(20)) and first[0] != list(range(20))
    assert first[0] != first[1]                     # each epoch reshuffles
    tf.random.set_seed(99)
    assert _epochs(tf.data.Dataset.range(20).shuffle(20)) != first


def test_shuffle_with_op_seed_and_no_reshuffle():
    a = _epochs(tf.data.Dataset.range(10).shuffle(10, seed=5, reshuffle_each_iteration=False))
    b = _epochs(tf.data.Dataset.range(10).shuffle(10, seed=5, reshuffle_each_iteration=False))
    assert a == b and a[0] == a[1]


# ---- repr ---------------------------------------------------------------------------------------
def test_one_line_array_repr_stays_on_one_line():
    assert repr(tf.constant([1, 2, 4])) == "<tf.Tensor: shape=(3,), dtype=int32, numpy=array([1, 2, 4], dtype=int32)>"
    assert repr(tf.Variable([1.0, 2.0], name="v")) == (
        "<tf.Variable 'v:0' shape=(2,) dtype=float32, numpy=array([1., 2.], dtype=float32)>")
    assert repr(tf.constant([[1, 2], [3, 4]])) == (
        "<tf.Tensor: shape=(2, 2), dtype=int32, numpy=\narray([[1, 2],\n       [3, 4]], dtype=int32)>")
