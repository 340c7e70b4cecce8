"""tf.print: TF's text for tensors and Python structures, printed when the graph runs (each call,
in program order with the other effects, only on the branch taken), eagerly at once, to stderr
by default; output_stream, sep, end, summarize; TF1 graphs print when the op is fetched."""
import logging
import sys

import numpy as np
import pytest

import tracejit as tf
import tracejit.compat.v1 as tf1


@pytest.mark.parametrize("args,kwargs,text", [
    ((tf.range(10),), {}, "[0 1 2 ... 7 8 9]"),                                       # TF's docstring examples
    (("tensors:", tf.range(10), {2: tf.range(10) * 2}), {}, "tensors: [0 1 2 ... 7 8 9] {2: [0 2 4 ... 14 16 18]}"),
    ((tf.range(2), tf.range(2) * 2), {"sep": ","}, "[0 1],[0 2]"),
    ((tf.reshape(tf.range(12), [2, 2, 3]),), {}, "[[[0 1 2]\n  [3 4 5]]\n\n [[6 7 8]\n  [9 10 11]]]"),
    ((tf.reshape(tf.range(49), [7, 7]),), {"summarize": 1}, "[[0 ... 6]\n ...\n [42 ... 48]]"),
    ((tf.range(10),), {"summarize": -1}, "[0 1 2 3 4 5 6 7 8 9]"),
    ((tf.range(5),), {}, "[0 1 2 3 4]"),
    ((tf.constant([1.5, 2.0, 1e10, 0.1, -0.0]),), {}, "[1.5 2 1e+10 0.1 -0]"),
    ((tf.constant([True, False]), tf.constant(["a", 'b"c'])), {}, '[1 0] ["a" "b\\"c"]'),
    ((tf.constant("raw string"),), {}, "raw string"),
    ((tf.constant(3.25), 7, [tf.constant(1), "x"]), {}, "3.25 7 [1, 'x']"),
    ((tf.zeros([0, 2]),), {}, "[]"),
    ((tf.Variable([1, 2]),), {"end": "!"}, "[1 2]!"),
])
def test_tf_formatting(capsys, args, kwargs, text):
    tf.print(*args, **kwargs)
    captured = capsys.readouterr()
    assert captured.err == text + ("" if "end" in kwargs else "\n") and captured.out == ""


def test_output_streams(capsys, tmp_path, caplog):
    tf.print("to stdout", output_stream=sys.stdout)
    assert capsys.readouterr().out == "to stdout\n"
    path = tmp_path / "log.txt"
    tf.print("line", 1, output_stream=f"file://{path}")
    tf.print("line", 2, output_stream=f"file://{path}")
    assert path.read_text() == "line 1\nline 2\n"
    with caplog.at_level(logging.INFO):
        tf.print("logged", tf.constant(5), output_stream=logging.info)
    assert "logged 5" in caplog.text
    with pytest.raises(ValueError, match="Unsupported output stream"):
        tf.print("x", output_stream=object())


def test_prints_when_the_compiled_function_runs_not_when_it_traces(capsys, backend):
    @tf.function
    def f(x):
        tf.print("x =", x)
        return x * 2.0
    concrete = f.get_concrete_function(tf.constant([1.0]))
    assert capsys.readouterr().err == ""                 # tracing printed nothing
    f(tf.constant([1.0]))
    f(tf.constant([3.5]))
    concrete(tf.constant([4.0]))
    assert capsys.readouterr().err == "x = [1]\nx = [3.5]\nx = [4]\n"
    assert "print" in str(concrete.graph)


def test_program_order_with_assignments_loops_and_branches(capsys, backend):
    v = tf.Variable(0.0)

    @tf.function
    def f(x, n):
        tf.print("start", v)
        v.assign(tf.reduce_sum(tf.tanh(x)))       # native code between the host steps
        tf.print("assigned", v)
        for i in tf.range(n):
            tf.print("iteration", i)
        if n > 1:
            tf.print("many")
        else:
            tf.print("few")
        v.assign_add(1.0)
        tf.print("end", v)
        return v.read_value()
    f(tf.constant([0.0, 0.0]), tf.constant(2))
    assert capsys.readouterr().err == "start 0\nassigned 0\niteration 0\niteration 1\nmany\nend 1\n"
    f(tf.constant([0.0, 0.0]), tf.constant(0))
    assert capsys.readouterr().err == "start 1\nassigned 0\nfew\nend 1\n"


def test_print_is_kept_by_the_optimizer_even_without_outputs(capsys):
    @tf.function
    def f(x):
        tf.print(x + 1.0)
        tf.print(x + 1.0)             # not merged with the first (an effect)
    f(tf.constant(1.0))
    assert capsys.readouterr().err == "2\n2\n"


def test_tf1_print_runs_when_fetched_or_as_a_control_dependency(capsys):
    tf1.disable_v2_behavior()
    tf1.reset_default_graph()
    x = tf1.placeholder(tf.float32, shape=[None])
    op = tf1.print("sum:", tf1.reduce_sum(x))
    with tf1.control_dependencies([op]):
        doubled = x * 2.0
    tripled = x * 3.0
    with tf1.Session() as sess:
        assert sess.run(op, feed_dict={x: [1.0, 2.0]}) is None
        assert capsys.readouterr().err == "sum: 3\n"
        sess.run(tripled, feed_dict={x: [1.0]})
        assert capsys.readouterr().err == ""
        assert sess.run(doubled, feed_dict={x: [5.0]}).tolist() == [10.0]
        assert capsys.readouterr().err == "sum: 5\n"
