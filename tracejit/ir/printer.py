"""The IR's text form (DESIGN.md): readable by people, stable enough for tests to assert on."""
import numpy as np

from ..tensor import format_dims
from .primitives import ASSIGN, CONST, FUSED


def format_type(value):
    """f32[2,?]; f32[*] for unknown rank."""
    return f"{value.dtype.short}[{format_dims(value.shape)}]"


def _format_param(value):
    if isinstance(value, str) and not value.isprintable():      # e.g. tf.print's end="\n"
        return repr(value)
    if isinstance(value, np.ndarray):
        return f"<{value.dtype}{list(value.shape)}>"
    if isinstance(value, slice):
        text = ":".join("" if p is None else str(p) for p in (value.start, value.stop))
        return text if value.step is None else f"{text}:{value.step}"
    if value is Ellipsis:
        return "..."
    if isinstance(value, tuple):
        return "(" + ",".join(_format_param(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if hasattr(value, "name") and hasattr(value, "short"):       # DType
        return value.name
    if _subgraph_of(value) is not None:
        return value.name
    return str(value)


def _subgraph_of(value):
    """The Graph a control-flow param holds (a Subgraph of while_loop / cond), else None."""
    graph = getattr(value, "graph", None)
    return graph if graph is not None and hasattr(graph, "nodes") else None


def _format_const(array):
    if array.size <= 4:
        text = np.array2string(array, separator=",", threshold=8).replace("\n", "")
        return text
    return f"<{array.size} values>"


def _format_params(params):
    return (" {" + ", ".join(f"{k}={_format_param(v)}" for k, v in params.items()) + "}") if params else ""


def format_node(node, indent="  "):
    if node.prim is ASSIGN:
        left = f"assign {node.inputs[0]!r}, {node.inputs[1]!r}" + _format_params(node.params)
        return f"{indent}{left:<52}  # {node.loc}"
    args = ", ".join(repr(v) for v in node.inputs)
    if node.prim is CONST:
        args = _format_const(node.params["value"])
        params = ""
    else:
        params = _format_params(node.params)
    out = node.output
    if node.prim is FUSED:
        op = f"fused[{','.join(m.op for m in node.params['members'])}]"
        left = f"{', '.join(map(repr, node.outputs))} = {op} {args}"
        typed = f"{left:<34} : {', '.join(format_type(v) for v in node.outputs)}"
        return f"{indent}{typed:<52}  # {node.loc}"
    if node.prim.multiple_results:
        results = ", ".join(map(repr, node.outputs))
        left = f"{results + ' = ' if results else ''}{node.op} {args}{params}".rstrip()
        typed = f"{left:<34} : {', '.join(format_type(v) for v in node.outputs) or '()'}"
        line = f"{indent}{typed:<52}  # {node.loc}"
        nested = [format_graph(g, indent + "  ") for g in map(_subgraph_of, node.params.values()) if g is not None]
        return "\n".join([line] + nested)
    left = f"{out!r} = {node.op} {args}{params}".rstrip()
    typed = f"{left:<34} : {format_type(out)}"
    return f"{indent}{typed:<52}  # {node.loc}"


def format_graph(graph, indent=""):
    captured = {id(v) for v, _ in graph.captures}
    args = ", ".join(f"{v!r}: {format_type(v)}" for v in graph.inputs if id(v) not in captured)
    head = f"graph {graph.name}({args})"
    if captured:
        head += " captures(" + ", ".join(f"{v!r}: {format_type(v)}" for v, _ in graph.captures) + ")"
    if graph.variables:
        head += " vars(" + ", ".join(f'{v!r}: {format_type(v)} "{var.name}"' for v, var in graph.variables) + ")"
    lines = [indent + head + " {"]
    lines += [format_node(node, indent + "  ") for node in graph.nodes]
    lines.append(indent + "  return " + ", ".join(repr(v) for v in graph.outputs))
    lines.append(indent + "}")
    return "\n".join(line.rstrip() for line in lines)
