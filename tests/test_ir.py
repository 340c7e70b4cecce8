"""IR: the printed text form and the verifier."""
import numpy as np
import pytest

import tracejit as tf
from tracejit.ir import Graph, verify
from tracejit.ir.verify import GraphVerificationError


def test_printed_graph_text():
    w = tf.Variable(np.ones((3, 2), np.float32), name="dense/kernel")

    @tf.function
    def model(x):
        h = tf.nn.relu(tf.matmul(x, w))
        w.assign(w * 0.5)
        return tf.reduce_sum(h, axis=1)
    text = str(model.get_concrete_function(tf.zeros([4, 3])).graph)
    lines = text.splitlines()
    assert lines[0] == 'graph model(%0: f32[4,3]) vars(%1: f32[3,2] "dense/kernel:0") {'
    assert lines[1].split("#")[0].rstrip() == "%2 = matmul %0, %1 {transpose_a=False, transpose_b=False} : f32[4,2]".join(
        ["  ", ""])
    assert lines[1].endswith(f"# test_ir.py:{test_printed_graph_text.__code__.co_firstlineno + 5}")
    assert lines[2].split("#")[0].rstrip() == "  %3 = relu %2                       : f32[4,2]"
    assert lines[3].split("#")[0].rstrip() == "  %4 = const 0.5                     : f32[]"
    assert lines[5].split("#")[0].rstrip() == "  assign %1, %5"
    assert lines[6].split("#")[0].rstrip() == "  %6 = reduce_sum %3 {axis=(1,), keepdims=False} : f32[4]"
    assert lines[-2:] == ["  return %6", "}"]


def test_params_with_slices_print_readably():
    f = tf.function(lambda x: x[1:, ::2, tf.newaxis, ...])
    assert "strided_slice %0 {index=(1:,::2,None,...)}" in str(f.get_concrete_function(tf.zeros([3, 4])).graph)


def test_verifier_accepts_traced_graphs_and_rejects_broken_ones():
    f = tf.function(lambda x: tf.exp(x) + 1.0)
    graph = f.get_concrete_function(tf.zeros([2])).graph
    assert verify(graph) is graph
    graph.nodes.reverse()                              # uses before definitions
    with pytest.raises(GraphVerificationError, match="before it is defined"):
        verify(graph)
    graph.nodes.reverse()
    graph.nodes[0].outputs[0].shape = (3,)             # type no longer matches the op's rule
    with pytest.raises(GraphVerificationError, match=r"type rule gives float32\[2\], node has float32\[3\]"):
        verify(graph)


def test_verifier_rejects_undefined_outputs():
    graph = Graph("g")
    x = graph.add_input((2,), tf.float32)
    other = Graph("h").add_input((2,), tf.float32)
    graph.outputs = [x, other]
    with pytest.raises(GraphVerificationError, match="output %0 is not defined"):
        verify(graph)
