"""TF1 book code: placeholders without a shape (unknown rank, re-typed per feed by Session.run),
Python scalars and lists as feeds, and tf.control_dependencies. Also TensorShape(None) and
TensorSpec(None), the unknown-rank shape they share with the IR."""
import numpy as np
import pytest

import tracejit as tf2
import tracejit.compat.v1 as tf


@pytest.fixture
def graph_mode():
    tf.disable_v2_behavior()
    tf.reset_default_graph()
    yield
    tf.enable_v2_behavior()


# ---- unknown-rank placeholders ------------------------------------------------------------------
def test_placeholder_without_shape_prints_and_verifies(graph_mode):
    x = tf.placeholder(tf.float32)
    assert x.shape.rank is None and x.shape == tf2.TensorShape(None)
    assert str(x) == 'Tensor("Placeholder:0", dtype=float32)'          # TF leaves out an unknown shape
    y = x * 2.0 + 1.0
    assert str(y) == 'Tensor("Add:0", dtype=float32)' and y.ndim is None
    total = tf.reduce_sum(y)
    assert total.shape == () and str(total) == 'Tensor("Sum:0", shape=(), dtype=float32)'
    graph = tf.get_default_graph()
    text = str(graph)
    assert "(%0: f32[*])" in text and "multiply %0" in text and ": f32[*]" in text
    tf2.ir.verify(graph)


def test_book_linear_regression_with_shapeless_placeholders(graph_mode):
    """Sung Kim's lab 2: X and Y fed as Python lists, W and b trained by gradient descent."""
    tf.set_random_seed(777)
    X, Y = tf.placeholder(tf.float32), tf.placeholder(tf.float32)
    W = tf.Variable(tf.random_normal([1]), name="weight")
    b = tf.Variable(tf.random_normal([1]), name="bias")
    hypothesis = X * W + b
    cost = tf.reduce_mean(tf.square(hypothesis - Y))
    train = tf.train.GradientDescentOptimizer(learning_rate=0.01).minimize(cost)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(2001):
            cost_val, w_val, b_val, _ = sess.run([cost, W, b, train],
                                                 feed_dict={X: [1, 2, 3, 4, 5], Y: [2.1, 3.1, 4.1, 5.1, 6.1]})
        assert cost_val < 1e-4 and w_val[0] == pytest.approx(1.0, abs=0.02) and b_val[0] == pytest.approx(1.1, abs=0.05)
        assert sess.run(hypothesis, feed_dict={X: [5]}).shape == (1,)
        assert sess.run(hypothesis, feed_dict={X: 5}).shape == (1,)              # a Python scalar feed
        assert sess.run(hypothesis, feed_dict={X: [[1.5, 3.5]]}).shape == (1, 2)  # any rank, per feed
        assert sess.run(hypothesis, feed_dict={X: 5})[0] == pytest.approx(6.1, abs=0.05)


def test_matmul_on_a_shapeless_placeholder(graph_mode):
    X = tf.placeholder(tf.float32)
    W = tf.Variable([[1.0], [2.0]])
    product = tf.matmul(X, W)
    assert product.shape.rank is None
    grad = tf.gradients(tf.reduce_sum(product), W)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(product, feed_dict={X: [[1, 2]]}).tolist() == [[5.0]]
        assert sess.run(product, feed_dict={X: [[1, 2], [3, 4]]}).tolist() == [[5.0], [11.0]]
        assert sess.run(grad, feed_dict={X: [[1, 2], [3, 4]]}).tolist() == [[4.0], [6.0]]
        with pytest.raises(tf2.errors.InvalidArgumentError, match="Matrix size-incompatible"):
            sess.run(product, feed_dict={X: [[1, 2, 3]]})


def test_reductions_and_softmax_over_axes_of_a_shapeless_placeholder(graph_mode):
    logits = tf.placeholder(tf.float32)
    labels = tf.placeholder(tf.float32)
    probabilities = tf.nn.softmax(logits)
    best = tf.argmax(probabilities, 1)
    loss = tf.reduce_mean(-tf.reduce_sum(labels * tf.log(probabilities), axis=-1))
    grad = tf.gradients(loss, logits)
    feed = {logits: [[2.0, 1.0, 0.1], [0.5, 2.5, 0.0]], labels: [[1, 0, 0], [0, 1, 0]]}
    with tf.Session() as sess:
        p, b, value, g = sess.run([probabilities, best, loss, grad], feed_dict=feed)
    x = np.array(feed[logits])
    expected = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(p, expected, rtol=1e-6)
    assert b.tolist() == [0, 1]
    assert value == pytest.approx(-np.mean(np.log(expected[[0, 1], [0, 1]])), rel=1e-6)
    np.testing.assert_allclose(g, (expected - np.array(feed[labels])) / 2, rtol=1e-5, atol=1e-7)


def test_feeds_of_several_ranks_compile_once_each(graph_mode):
    x = tf.placeholder(tf.int32, name="x")
    doubled = x + x
    with tf.Session() as sess:
        assert sess.run(doubled, feed_dict={x: 3}) == 6
        assert sess.run(doubled, feed_dict={x: [1, 2]}).tolist() == [2, 4]
        assert sess.run(doubled, feed_dict={x: [[1], [2]]}).tolist() == [[2], [4]]
        assert sess.run(doubled, feed_dict={x: 4}) == 8
        assert len(sess._executables) == 3
        with pytest.raises(tf2.errors.InvalidArgumentError, match="placeholder tensor 'x' with dtype int32 and "
                                                                  "shape <unknown>"):
            sess.run(doubled)


def test_an_op_that_needs_the_rank_says_so(graph_mode):
    x = tf.placeholder(tf.float32)
    with pytest.raises(tf2.errors.InvalidArgumentError, match="concat needs inputs of known rank.*give it a shape"):
        tf.concat([x, x], axis=0)


# ---- control dependencies -------------------------------------------------------------------------
def test_ops_created_under_control_dependencies_run_after_them(graph_mode):
    counter = tf.Variable(0)
    increment = counter.assign_add(1)
    with tf.control_dependencies([increment]):
        seen = tf.identity(counter) * 10          # reads the incremented value
        unrelated = tf.constant(3) + 1
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(seen) == 10 and sess.run(counter) == 1
        assert sess.run(seen) == 20
        assert sess.run(unrelated) == 4 and sess.run(counter) == 3       # fetching it runs the increment too
        assert sess.run(counter) == 3                                    # reading alone does not


def test_control_dependencies_on_operations_tensors_and_nesting(graph_mode):
    a, b = tf.Variable(0.0), tf.Variable(0.0)
    set_a, set_b = a.assign(5.0), b.assign(7.0)
    with tf.control_dependencies([set_a]):
        with tf.control_dependencies([set_b]):
            both = tf.no_op()
            total = a + b                         # sees both assignments
        with tf.control_dependencies(None):
            free = a * 1.0                        # None clears the enclosing blocks
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(free) == 0.0
        assert sess.run(both) is None and sess.run([a, b]) == [5.0, 7.0]
        sess.run(tf.global_variables_initializer())
        assert sess.run(total) == 12.0
        sess.run(tf.global_variables_initializer())
        grouped = tf.group(set_a)
        with tf.control_dependencies([grouped, total]):
            after = tf.identity(b)
        assert sess.run(after) == 7.0             # total's own dependency (set_b) ran too
    with pytest.raises(TypeError, match="Tensor or Operation"):
        with tf.control_dependencies([3]):
            pass


def test_train_op_under_control_dependencies(graph_mode):
    """The batch-norm pattern: an update op must run whenever the train op does."""
    x = tf.placeholder(tf.float32, [None])
    w = tf.Variable(1.0)
    moving = tf.Variable(0.0)
    update = moving.assign(moving * 0.5 + tf.reduce_mean(x) * 0.5)
    loss = tf.reduce_mean(tf.square(x * w - 2.0))
    with tf.control_dependencies([update]):
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, feed_dict={x: [1.0, 3.0]})
        assert sess.run(moving) == 1.0
        sess.run(train, feed_dict={x: [1.0, 3.0]})
        assert sess.run(moving) == 1.5 and sess.run(w) != 1.0


def test_control_dependencies_are_a_no_op_eagerly_and_in_functions():
    v = tf2.Variable(1.0)
    with tf2.control_dependencies([v.assign_add(1.0)]):
        assert (v * 2.0).numpy() == 4.0

    @tf2.function
    def f():
        op = v.assign_add(1.0)
        with tf2.control_dependencies([op]):
            return tf2.identity(v.read_value())
    assert f().numpy() == 3.0


# ---- TensorShape(None) / TensorSpec(None) --------------------------------------------------------
def test_unknown_rank_tensor_shape():
    shape = tf2.TensorShape(None)
    assert shape.rank is None and shape.ndims is None and shape.dims is None
    assert repr(shape) == "TensorShape(None)" and str(shape) == "<unknown>"
    assert not shape.is_fully_defined() and shape.num_elements() is None
    assert shape.is_compatible_with([2, 3]) and tf2.TensorShape([2]).is_compatible_with(shape)
    assert shape == tf2.TensorShape(None) and shape != tf2.TensorShape([]) and shape != ()
    assert shape[0] is None and shape[1:] == tf2.TensorShape(None)
    with pytest.raises(ValueError, match="unknown rank"):
        len(shape)
    with pytest.raises(ValueError, match="unknown rank"):
        list(shape)
    with pytest.raises(ValueError, match="as_list"):
        shape.as_list()
    assert tf2.TensorShape([]).rank == 0 and len(tf2.TensorShape([None, 3])) == 2


def test_unknown_rank_tensor_spec():
    spec = tf2.TensorSpec(None)
    assert spec.shape == tf2.TensorShape(None) and spec.shape.rank is None and spec.dtype == tf2.float32
    assert repr(spec) == "TensorSpec(shape=<unknown>, dtype=tf.float32, name=None)"
    assert spec.is_compatible_with(tf2.constant([[1.0]])) and spec.is_compatible_with(tf2.constant(1.0))
    assert not spec.is_compatible_with(tf2.constant(1))
    assert hash(spec) == hash(tf2.TensorSpec(None)) and spec == tf2.TensorSpec(None)
    assert spec != tf2.TensorSpec([])
    f = tf2.function(lambda x: x * 2.0, input_signature=[tf2.TensorSpec(None, tf2.float32)])
    with pytest.raises(NotImplementedError, match=r"unknown rank.*TensorSpec\(\[None, None\]\)"):
        f(tf2.constant([1.0]))
    with pytest.raises(NotImplementedError, match="unknown rank"):
        tf2.function(lambda x: x).get_concrete_function(tf2.TensorSpec(None))
    assert not tf2.TensorShape(None) and tf2.TensorShape([1]) and not tf2.TensorShape([])


def test_string_placeholders(graph_mode):
    line = tf.placeholder(tf.string, shape=[])
    words = tf.strings.split(tf.strings.upper(line))
    anything = tf.placeholder(tf.string)
    with tf.Session() as sess:
        assert sess.run(words, feed_dict={line: "hello tf world"}).tolist() == [b"HELLO", b"TF", b"WORLD"]
        assert sess.run(tf.strings.upper(anything) + "!", feed_dict={anything: ["a", "b"]}).tolist() == [b"A!", b"B!"]
        assert sess.run(tf.strings.length(anything), feed_dict={anything: [["ab"], ["c"]]}).tolist() == [[2], [1]]
