"""TF1 graphs and sessions, checkpoints and TensorBoard summaries."""
import os

import numpy as np
import pytest

import tracejit as tf2
import tracejit.compat.v1 as tf


@pytest.fixture(autouse=True)
def graph_mode():
    tf.disable_v2_behavior()
    tf.reset_default_graph()
    yield
    tf.enable_v2_behavior()


def test_constants_sessions_and_tf1_printing():
    a, b = tf.constant(2), tf.constant(3)
    c = tf.add(a, b)
    assert str(c) == 'Tensor("Add:0", shape=(), dtype=int32)' and str(a) == 'Tensor("Const:0", shape=(), dtype=int32)'
    assert str(tf.add(a, c)) == 'Tensor("Add_1:0", shape=(), dtype=int32)'
    hello = tf.constant("Hello, TensorFlow!")
    with tf.Session() as sess:
        assert sess.run(c) == 5 and sess.run(hello) == b"Hello, TensorFlow!"
        assert sess.run([a, {"sum": c}]) == [2, {"sum": 5}]
        assert sess.run("Add:0") == 5
    with pytest.raises(RuntimeError, match="closed Session"):
        sess.run(c)


def test_placeholders_feeds_and_errors():
    x = tf.placeholder(tf.float32, shape=[None, 2], name="x")
    y = tf.reduce_sum(x * 2.0, axis=1)
    with tf.Session() as sess:
        assert sess.run(y, feed_dict={x: [[1, 2], [3, 4]]}).tolist() == [6.0, 14.0]
        assert sess.run(y, feed_dict={x: np.ones((3, 2))}).tolist() == [4.0, 4.0, 4.0]
        with pytest.raises(tf2.errors.InvalidArgumentError, match="You must feed a value for placeholder tensor 'x'"):
            sess.run(y)
        with pytest.raises(ValueError, match=r"Cannot feed value of shape \(3,\) for Tensor 'x:0', which has shape"):
            sess.run(y, feed_dict={x: [1.0, 2.0, 3.0]})
        with pytest.raises(TypeError, match="invalid type"):
            sess.run(42)


def test_variables_initializer_and_assign():
    with tf.name_scope("layer"):
        v = tf.Variable(tf.random_normal([3]), name="w")
        counter = tf.Variable(0, name="count", trainable=False)
    assert v.name == "layer/w:0" and [x.name for x in tf.global_variables()] == ["layer/w:0", "layer/count:0"]
    assert tf.trainable_variables() == [v]
    increment = counter.assign_add(1)
    initial = v.numpy()
    with tf.Session() as sess:
        sess.run(v.assign([1.0, 2.0, 3.0]))
        assert sess.run(v).tolist() == [1.0, 2.0, 3.0]
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(v), initial)
        assert [sess.run(increment) for _ in range(3)] == [1, 2, 3]


def _linear_regression(optimizer):
    rng = np.random.default_rng(0)
    xs = rng.random(100).astype(np.float32)
    ys = 3 * xs + 2 + rng.normal(0, 0.05, 100).astype(np.float32)
    X, Y = tf.placeholder(tf.float32, [None], name="X"), tf.placeholder(tf.float32, [None], name="Y")
    W, b = tf.Variable(tf.random_normal([]), name="weight"), tf.Variable(tf.random_normal([]), name="bias")
    cost = tf.reduce_mean(tf.square(X * W + b - Y))
    step = tf.Variable(0, name="global_step", trainable=False)
    train = optimizer.minimize(cost, global_step=step)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(300):
            _, c = sess.run([train, cost], feed_dict={X: xs, Y: ys})
        return c, sess.run(W), sess.run(b), sess.run(step), train


def test_classic_linear_regression_converges():
    cost, w, b, steps, train = _linear_regression(tf.train.GradientDescentOptimizer(0.5))
    assert cost < 0.005 and abs(w - 3) < 0.1 and abs(b - 2) < 0.05 and steps == 300
    assert isinstance(train, tf.Operation)


def _classifier_graph():
    """The classic 2-10-20-3 network with Adam, global_step, name scopes and summaries."""
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    y = tf.placeholder(tf.float32, [None, 3], name="y")
    tf.set_random_seed(1)
    with tf.name_scope("hidden1"):
        w1, b1 = tf.Variable(tf.random_normal([2, 10]), name="w"), tf.Variable(tf.zeros([10]), name="b")
        h1 = tf.nn.relu(tf.matmul(x, w1) + b1)
    with tf.name_scope("hidden2"):
        w2, b2 = tf.Variable(tf.random_normal([10, 20]), name="w"), tf.Variable(tf.zeros([20]), name="b")
        h2 = tf.nn.relu(tf.matmul(h1, w2) + b2)
    with tf.name_scope("output"):
        w3, b3 = tf.Variable(tf.random_normal([20, 3]), name="w"), tf.Variable(tf.zeros([3]), name="b")
        logits = tf.matmul(h2, w3) + b3
    cost = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=logits))
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), tf.argmax(y, 1)), tf.float32))
    global_step = tf.Variable(0, name="global_step", trainable=False)
    train = tf.train.AdamOptimizer(0.01).minimize(cost, global_step=global_step)
    tf.summary.scalar("cost", cost)
    tf.summary.histogram("hidden1/weights", w1)
    return x, y, cost, accuracy, train, global_step


def _blobs():
    rng = np.random.default_rng(3)
    centers = np.array([[0, 3], [3, -2], [-3, -2]], np.float32)
    labels = rng.integers(0, 3, 300)
    return (centers[labels] + rng.normal(0, 0.7, (300, 2))).astype(np.float32), np.eye(3, dtype=np.float32)[labels]


def test_classifier_trains_saves_and_restores_bit_identically(tmp_path):
    x, y, cost, accuracy, train, global_step = _classifier_graph()
    assert x.name == "x:0" and tf.global_variables()[0].name == "hidden1/w:0"
    data, labels = _blobs()
    merged = tf.summary.merge_all()
    saver = tf.train.Saver()
    with tf.Session() as sess:
        writer = tf.summary.FileWriter(str(tmp_path / "logs"), sess.graph if hasattr(sess, "graph") else None)
        sess.run(tf.global_variables_initializer())
        first = sess.run(cost, feed_dict={x: data, y: labels})
        for step in range(150):
            _, summary = sess.run([train, merged], feed_dict={x: data, y: labels})
            if step % 50 == 0:
                writer.add_summary(summary, step)
        writer.close()
        final, acc = sess.run([cost, accuracy], feed_dict={x: data, y: labels})
        assert final < first / 4 and acc > 0.95 and sess.run(global_step) == 150
        path = saver.save(sess, str(tmp_path / "model.ckpt"), global_step=global_step)
        saved = {v.name: sess.run(v) for v in tf.global_variables()}
    assert path.endswith("model.ckpt-150") and tf.train.checkpoint_exists(path)
    assert tf.train.latest_checkpoint(str(tmp_path)) == path
    assert tf.train.get_checkpoint_state(str(tmp_path)).all_model_checkpoint_paths == [path]

    tf.reset_default_graph()                                     # a fresh graph, restored from disk
    x, y, cost, accuracy, train, global_step = _classifier_graph()
    with tf.Session() as sess:
        tf.train.Saver().restore(sess, tf.train.latest_checkpoint(str(tmp_path)))
        for v in tf.global_variables():
            np.testing.assert_array_equal(sess.run(v), saved[v.name])      # bit-identical
        assert sess.run(accuracy, feed_dict={x: data, y: labels}) == acc
    _check_event_file(tmp_path / "logs")


def _check_event_file(logdir):
    accumulator_module = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    accumulator = accumulator_module.EventAccumulator(str(logdir), size_guidance={"scalars": 0, "histograms": 0})
    accumulator.Reload()
    tags = accumulator.Tags()
    assert tags["scalars"] == ["cost"] and tags["histograms"] == ["hidden1/weights"] and tags["graph"]
    events = accumulator.Scalars("cost")
    assert [e.step for e in events] == [0, 50, 100] and events[0].value > events[-1].value
    histogram = accumulator.Histograms("hidden1/weights")[0].histogram_value
    assert histogram.num == 20 and histogram.min <= histogram.max
    names = [node.name for node in accumulator.Graph().node]
    assert "x" in names and any(n.startswith("hidden1/") for n in names)


def test_corrupt_or_mismatched_checkpoints_never_half_restore(tmp_path):
    a = tf.Variable([1.0, 2.0], name="a")
    tf.Variable([3.0], name="b")                   # saved too: the Saver takes all global variables
    saver = tf.train.Saver()
    with tf.Session() as sess:
        path = saver.save(sess, str(tmp_path / "ckpt"))
        sess.run(a.assign([9.0, 9.0]))
        data = path + ".data-00000-of-00001"
        original = open(data, "rb").read()
        open(data, "wb").write(original[:-10])
        with pytest.raises(tf2.errors.DataLossError, match="corrupt"):
            saver.restore(sess, path)
        assert sess.run(a).tolist() == [9.0, 9.0]
        open(data, "wb").write(original)
        tf.reset_default_graph()
        a2, b2 = tf.Variable([0.0, 0.0], name="a"), tf.Variable([0.0, 0.0], name="b")    # b has another shape
        with pytest.raises(tf2.errors.InvalidArgumentError, match="b is float32\\[1\\] but the variable is"):
            tf.train.Saver().restore(sess, path)
        assert a2.numpy().tolist() == [0.0, 0.0]                                           # nothing assigned
        with pytest.raises(tf2.errors.NotFoundError, match="Key c not found"):
            tf.train.Saver({"a": a2, "c": b2}).restore(sess, path)
        with pytest.raises(tf2.errors.NotFoundError, match="Failed to find"):
            tf.train.Saver().restore(sess, str(tmp_path / "missing"))
    assert tf.train.latest_checkpoint(str(tmp_path / "nothing-here")) is None


def test_tf2_checkpoint_and_manager_with_keras(tmp_path):
    tf.enable_v2_behavior()
    model = tf2.keras.Sequential([tf2.keras.layers.Dense(4, input_shape=(3,)), tf2.keras.layers.Dense(1)])
    optimizer = tf2.keras.optimizers.Adam(0.1)
    x = np.random.default_rng(0).random((8, 3)).astype("float32")
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(x, x[:, :1], epochs=2, verbose=0)
    checkpoint = tf2.train.Checkpoint(model=model, optimizer=optimizer)
    manager = tf2.train.CheckpointManager(checkpoint, str(tmp_path), max_to_keep=2)
    paths = [manager.save() for _ in range(3)]
    assert [os.path.basename(p) for p in paths] == ["ckpt-1", "ckpt-2", "ckpt-3"]
    assert manager.checkpoints == paths[1:] and not tf.train.checkpoint_exists(paths[0])
    saved = [w.numpy() for w in model.weights] + [int(optimizer.iterations)]
    model.fit(x, x[:, :1], epochs=1, verbose=0)
    restored = tf2.train.Checkpoint(model=model, optimizer=optimizer).restore(manager.latest_checkpoint)
    restored.assert_consumed()
    assert all(np.array_equal(w.numpy(), s) for w, s in zip(model.weights, saved))
    assert int(optimizer.iterations) == saved[-1]


def test_tf2_summary_writer(tmp_path):
    tf.enable_v2_behavior()
    writer = tf2.summary.create_file_writer(str(tmp_path))
    assert tf2.summary.scalar("ignored", 1.0, step=0) is False          # no default writer
    with writer.as_default():
        for step in range(3):
            assert tf2.summary.scalar("loss", 1.0 / (step + 1), step=step)
        tf2.summary.histogram("weights", np.arange(10.0), step=2)
    writer.close()
    accumulator_module = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    accumulator = accumulator_module.EventAccumulator(str(tmp_path))
    accumulator.Reload()
    assert [round(e.value, 4) for e in accumulator.Scalars("loss")] == [1.0, 0.5, 0.3333]
    assert accumulator.Histograms("weights")[0].histogram_value.sum == 45.0


def test_crc32c_known_vectors():
    from tracejit.summary.events import crc32c
    assert crc32c(b"123456789") == 0xE3069283 and crc32c(b"") == 0


def test_while_loop_in_a_graph_runs_when_fetched_and_differentiates():
    n = tf.placeholder(tf.int32, shape=[], name="n")
    x = tf.placeholder(tf.float64, shape=[None], name="x")
    i, y = tf.while_loop(lambda i, y: i < n, lambda i, y: (i + 1, y * x), [tf.constant(0), tf.ones_like(x)])
    grad, = tf.gradients(tf.reduce_sum(y), [x])
    assert str(i) == 'Tensor("while:0", shape=(), dtype=int32)' and y.name == "while:1"
    with tf.Session() as sess:
        for steps, values in ((3, [2.0, 3.0]), (0, [5.0]), (4, [0.5, 1.0, 2.0])):
            got_i, got_y, got_grad = sess.run([i, y, grad], feed_dict={n: steps, x: values})
            values = np.array(values)
            assert got_i == steps
            np.testing.assert_allclose(got_y, values ** steps)
            np.testing.assert_allclose(got_grad, steps * values ** (steps - 1) if steps else 0 * values)


def test_while_loop_in_a_graph_may_not_assign_variables():
    v = tf.Variable(0.0)
    with pytest.raises(NotImplementedError, match="TF1 graph loop is not supported.*carry the value"):
        tf.while_loop(lambda i: i < 3, lambda i: (v.assign_add(1.0), i + 1)[1], [tf.constant(0)])
