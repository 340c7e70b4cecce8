"""graph.to_dot(): DOT text whose structure (nodes, edges, clusters) matches the graph, and the
`tracejit graph FILE.py:func` command."""
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import tracejit as tf
from tracejit.__main__ import main

STATEMENT = re.compile(r'^\s*(?:"(?P<node>[^"]+)" \[(?P<attrs>.*)\];|"(?P<src>[^"]+)" -> "(?P<dst>[^"]+)" \[.*\];'
                       r'|subgraph "(?P<cluster>cluster_\d+)" \{|label=.*;|\}|rankdir=TB;|(?:graph|node|edge) \[.*\];'
                       r'|digraph "(?:[^"\\]|\\.)*" \{)$')


def parse_dot(text):
    """A small DOT reader for the subset to_dot writes: every line must be one statement.
    Returns (nodes {id: label}, edges [(src, dst)], clusters {name: [node ids]})."""
    nodes, edges, clusters, open_clusters, depth = {}, [], {}, [], 0
    for line in text.strip().splitlines():
        match = STATEMENT.match(line)
        assert match, f"not a DOT statement: {line!r}"
        if line.strip().endswith("{"):
            depth += 1
            if match["cluster"]:
                open_clusters.append(match["cluster"])
                clusters[match["cluster"]] = []
        elif line.strip() == "}":
            depth -= 1
            if open_clusters and depth == 1:
                open_clusters.pop()
        elif match["node"]:
            nodes[match["node"]] = re.search(r'label="((?:[^"\\]|\\.)*)"', match["attrs"])[1]
            if open_clusters:
                clusters[open_clusters[-1]].append(match["node"])
        elif match["src"]:
            edges.append((match["src"], match["dst"]))
    assert depth == 0, "unbalanced braces"
    assert all(a in nodes and b in nodes for a, b in edges), "an edge names an undeclared node"
    return nodes, edges, clusters


def step_function():
    v = tf.Variable(np.zeros(3, np.float32), name="acc")

    def f(x, a):
        y = tf.tanh(x * a + 1.0)
        v.assign_add(tf.reduce_sum(y, axis=0))
        return y * 2.0
    return tf.function(f)


def test_traced_graph_to_dot_has_one_node_per_ir_node_and_an_edge_per_use():
    concrete = step_function().get_concrete_function(tf.ones([4, 3]), tf.ones([3]))
    nodes, edges, clusters = parse_dot(concrete.graph.to_dot())
    graph = concrete.graph
    ops = {k for k in nodes if k.startswith("n%")}
    assert ops == {f"n{n.outputs[0]!r}" for n in graph.nodes if n.outputs}
    assert {"in%0", "in%1", "out0", "assign0"} <= set(nodes) and any(k.startswith("var%") for k in nodes)
    uses = sum(len(n.inputs) - (1 if n.op == "assign" else 0) for n in graph.nodes) + len(graph.outputs)
    assert len(edges) == uses and clusters == {}
    assert nodes["n%2"].startswith("%2 = multiply\\nf32[4,3]\\ntest_graph_dot.py:")
    assert ("in%0", "n%2") in edges and ("in%1", "n%2") in edges


def test_optimized_graph_draws_fused_groups_as_clusters():
    concrete = step_function().get_concrete_function(tf.ones([4, 3]), tf.ones([3]))
    nodes, edges, clusters = parse_dot(concrete.optimized_graph.to_dot())
    fused = [n for n in concrete.optimized_graph.nodes if n.op == "fused"]
    assert len(clusters) == len(fused) >= 1
    for (name, members), node in zip(sorted(clusters.items()), fused):
        assert members == [f"n{m.outputs[0]!r}" for m in node.params["members"]]
    assert "fused[" in concrete.optimized_graph.to_dot()
    # values computed inside a cluster feed nodes outside it
    inside = {m for ms in clusters.values() for m in ms}
    assert any(a in inside and b not in inside for a, b in edges)


def test_labels_are_escaped():
    f = tf.function(lambda x: x, name='say "hi"')
    nodes, _, _ = parse_dot(f.get_concrete_function(tf.ones([1])).graph.to_dot())
    assert nodes["out0"] == "return %0: f32[1]"
    assert 'digraph "say \\"hi\\"" {' in f.get_concrete_function(tf.ones([1])).graph.to_dot()


EXAMPLE = '''
import tracejit as tf

@tf.function
def model(x, w):
    return tf.nn.relu(tf.matmul(x, w) + 1.0) * 2.0

def plain(x):
    return x + 1
'''


def test_cli_writes_dot_text(tmp_path, capsys):
    source = tmp_path / "example.py"
    source.write_text(EXAMPLE)
    assert main(["graph", f"{source}:model", "--args", "tf.zeros([2,3])", "np.ones((3,4), np.float32)"]) == 0
    nodes, edges, _ = parse_dot(capsys.readouterr().out)
    assert any("matmul" in label for label in nodes.values())
    out = tmp_path / "plain.dot"
    assert main(["graph", f"{source}:plain", "--args", "tf.zeros([2])", "-o", str(out)]) == 0
    assert "add" in out.read_text() and f"wrote {out}" in capsys.readouterr().out


def test_cli_optimized_picture_or_dot_fallback(tmp_path, capsys):
    source = tmp_path / "example.py"
    source.write_text(EXAMPLE)
    svg = tmp_path / "model.svg"
    main(["graph", f"{source}:model", "--optimized", "--args", "tf.zeros([2,3])", "tf.ones([3,4])", "-o", str(svg)])
    if shutil.which("dot"):
        assert svg.read_text().lstrip().startswith(("<?xml", "<svg")) and "cluster" in svg.read_text()
    else:
        assert not svg.exists() and "fused[" in (tmp_path / "model.dot").read_text()
        assert "Graphviz's `dot` is not installed" in capsys.readouterr().err


def test_cli_runs_as_a_module_and_reports_bad_targets(tmp_path):
    source = tmp_path / "example.py"
    source.write_text(EXAMPLE)
    run = subprocess.run([sys.executable, "-m", "tracejit", "graph", f"{source}:missing"], capture_output=True,
                         text=True)
    assert run.returncode != 0 and "has no 'missing'" in run.stderr
    with pytest.raises(SystemExit, match="expected FILE.py:function"):
        main(["graph", "example.py"])
