"""Graphviz DOT text of a graph: `graph.to_dot()`, or `tracejit graph FILE.py:func` for a picture.

Every statement uses quoted ids, one per line:
  arguments, captured arrays and Variables   ellipses ("in%0", "var%5")
  nodes                                      boxes with op, type and file:line ("n%3"; assigns "assign<k>")
  fused groups                               clusters ("cluster_<k>") holding their member ops
  graph outputs                              "out<i>" (double octagons)
Edges go from the producer of a value to each node reading it, labelled with the value."""
from .primitives import ASSIGN, CONST, FUSED
from .printer import _format_const, _format_params, format_type

_STYLE = {
    "argument": 'shape=ellipse, style=filled, fillcolor="#e3f2fd"',
    "captured": 'shape=ellipse, style=filled, fillcolor="#ede7f6"',
    "variable": 'shape=ellipse, style=filled, fillcolor="#e8f5e9"',
    "const": 'shape=note, fontsize=9',
    "assign": 'shape=box, style=filled, fillcolor="#ffebee"',
    "output": 'shape=doubleoctagon',
}
_CLUSTER_STYLE = 'style="rounded,filled"; fillcolor="#fff8e1"; color="#ffb300"'


def _quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class _DotWriter:
    def __init__(self, graph):
        self.graph = graph
        self.lines = []
        self.producer = {}         # id(Value) -> DOT id of what computes it

    def node(self, dot_id, label, style="", indent="  "):
        attributes = f"label={_quote(label)}" + (f", {style}" if style else "")
        self.lines.append(f"{indent}{_quote(dot_id)} [{attributes}];")

    def edges_into(self, dot_id, values):
        for v in values:
            self.lines.append(f"  {_quote(self.producer[id(v)])} -> {_quote(dot_id)} [label={_quote(repr(v))}];")

    def graph_inputs(self):
        captured = {id(v) for v, _ in self.graph.captures}
        for v in self.graph.inputs:
            kind = "captured" if id(v) in captured else "argument"
            self.producer[id(v)] = f"in{v!r}"
            self.node(f"in{v!r}", f"{v!r}: {format_type(v)}\n{v.name or kind}", _STYLE[kind])
        for v, variable in self.graph.variables:
            self.producer[id(v)] = f"var{v!r}"
            self.node(f"var{v!r}", f"{v!r}: {format_type(v)}\nvariable {variable.name}", _STYLE["variable"])

    def op(self, node, indent="  "):
        """A node (or fused member); returns its DOT id after recording it as its outputs' producer.
        A node of several (or no) results (while_loop, print) shows them all in one box."""
        out = node.output
        dot_id = f"n{out!r}" if out is not None else f"effect{len(self.lines)}"
        if node.prim is CONST:
            label, style = f"{out!r} = const {_format_const(node.params['value'])}\n{format_type(out)}", _STYLE["const"]
        else:
            results = ", ".join(map(repr, node.outputs))
            types = ", ".join(format_type(v) for v in node.outputs)
            label = f"{results + ' = ' if results else ''}{node.op}{_format_params(node.params)}\n{types}\n{node.loc}"
            style = ""
        self.node(dot_id, label, style, indent)
        for v in node.outputs:
            self.producer[id(v)] = dot_id
        return dot_id

    def fused(self, node, index):
        members = node.params["members"]
        title = f"fused[{','.join(m.op for m in members)}] -> {', '.join(map(repr, node.outputs))}"
        self.lines.append(f"  subgraph {_quote(f'cluster_{index}')} {{")
        self.lines.append(f"    label={_quote(title)}; {_CLUSTER_STYLE};")
        ids = [self.op(m, indent="    ") for m in members]
        self.lines.append("  }")
        for member, dot_id in zip(members, ids):
            self.edges_into(dot_id, member.inputs)

    def assign(self, node, index):
        dot_id = f"assign{index}"
        variable = self.graph.variable_of(node.inputs[0])
        in_place = " (in place)" if node.params.get("in_place") else ""
        self.node(dot_id, f"assign {variable.name}{in_place}\n{node.loc}", _STYLE["assign"])
        self.edges_into(dot_id, node.inputs[1:])

    def write(self):
        self.lines += [f"digraph {_quote(self.graph.name)} {{", "  rankdir=TB;", '  graph [fontname="monospace"];',
                       '  node [shape=box, fontname="monospace", fontsize=10];', "  edge [fontsize=8];"]
        self.graph_inputs()
        clusters = assigns = 0
        for node in self.graph.nodes:
            if node.prim is FUSED:
                self.fused(node, clusters)
                clusters += 1
            elif node.prim is ASSIGN:
                self.assign(node, assigns)
                assigns += 1
            else:
                self.edges_into(self.op(node), node.inputs)
        for i, v in enumerate(self.graph.outputs):
            self.node(f"out{i}", f"return {v!r}: {format_type(v)}", _STYLE["output"])
            self.edges_into(f"out{i}", [v])
        self.lines.append("}")
        return "\n".join(self.lines) + "\n"


def to_dot(graph):
    """DOT text of `graph` (traced or optimized: fused groups become clusters of their ops)."""
    return _DotWriter(graph).write()
