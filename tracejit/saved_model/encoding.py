"""JSON forms of what a SavedModel stores (docs/saved_model.md): op parameters and Python literals,
nested argument/result structures, and traced graphs (the IR: nodes by registered op name)."""
import base64
import math

import numpy as np

from .. import dtypes as dt
from ..custom_gradient import CUSTOM_GRADIENT
from ..ir.graph import ASSIGN, CONST
from ..ir.primitives import VARIABLE_READ
from ..passes import simplify
from ..ops.core import REGISTRY
from ..ops.random import SeedStream

_PLAIN = (str, bool, int, type(None))


class Arrays:
    """The arrays a SavedModel keeps beside its JSON (constants.npz): "c0", "c1", ... in order."""

    def __init__(self, stored=None):
        self.arrays = dict(stored or {})

    def add(self, array):
        if array.dtype == object:             # string tensors: bytes, base64 in the JSON itself
            return {"strings": [base64.b64encode(b if isinstance(b, bytes) else str(b).encode()).decode()
                                for b in array.ravel()], "shape": list(array.shape)}
        key = f"c{len(self.arrays)}"
        self.arrays[key] = array
        return {"array": key}

    def get(self, key):
        return self.arrays[key]


def encode_value(value, arrays, what):
    """A parameter or literal as JSON; `what` names it in the error for an unsupported type."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, bytes):
        return {"bytes": base64.b64encode(value).decode()}
    if isinstance(value, tuple):
        return {"tuple": [encode_value(v, arrays, what) for v in value]}
    if isinstance(value, list):
        return {"list": [encode_value(v, arrays, what) for v in value]}
    if isinstance(value, dict):
        return {"dict": [[encode_value(k, arrays, what), encode_value(v, arrays, what)] for k, v in value.items()]}
    if isinstance(value, slice):
        return {"slice": [encode_value(p, arrays, what) for p in (value.start, value.stop, value.step)]}
    if value is Ellipsis:
        return {"ellipsis": True}
    if isinstance(value, dt.DType):
        return {"dtype": value.name}
    if isinstance(value, np.ndarray):
        return arrays.add(value)
    if isinstance(value, np.generic):
        return {"scalar": encode_value(value.item(), arrays, what), "dtype": np.dtype(value.dtype).name}
    if isinstance(value, SeedStream):
        return {"seed_stream": None if value.seeds is None else list(value.seeds)}
    raise NotImplementedError(f"cannot save {what}: a {type(value).__name__} ({value!r}) has no saved form (saved "
                              "functions hold tensors, dtypes and Python literals)")


def decode_value(data, arrays):
    if isinstance(data, list):
        return [decode_value(v, arrays) for v in data]
    if not isinstance(data, dict):
        return data
    kind, body = next(iter(data.items()))
    if kind == "float":
        return float(body)
    if kind == "bytes":
        return base64.b64decode(body)
    if kind == "tuple":
        return tuple(decode_value(v, arrays) for v in body)
    if kind == "list":
        return [decode_value(v, arrays) for v in body]
    if kind == "dict":
        return {_hashable(decode_value(k, arrays)): decode_value(v, arrays) for k, v in body}
    if kind == "slice":
        return slice(*(decode_value(p, arrays) for p in body))
    if kind == "ellipsis":
        return Ellipsis
    if kind == "dtype":
        return dt.as_dtype(body)
    if kind == "array":
        return arrays.get(body)
    if kind == "strings":
        return np.array([base64.b64decode(s) for s in body], dtype=object).reshape(data["shape"])
    if kind == "scalar":
        return np.dtype(data["dtype"]).type(decode_value(body, arrays))
    if kind == "seed_stream":
        return SeedStream(None if body is None else tuple(body))
    raise ValueError(f"unknown saved value kind {kind!r}")


def _hashable(value):
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


def encode_type(value):
    return {"shape": [None if d is None else int(d) for d in value.shape], "dtype": value.dtype.name}


# ---------------------------------------------------------------- graphs
def encode_graph(graph, variable_index, arrays):
    """The traced graph as JSON: inputs, captured variables (as object-graph indices), nodes in
    program order (op name, input value ids, params, outputs with shape/dtype, source location),
    outputs. Constants go to `arrays`. Nodes that only shape gradients (a read after an assignment,
    a custom gradient) are saved as the values they pass through."""
    graph = graph.clone()
    simplify.run_rules(graph, (VARIABLE_READ, CUSTOM_GRADIENT))
    nodes = []
    for node in graph.nodes:
        if node.prim is not CONST and node.prim is not ASSIGN and REGISTRY.get(node.op) is not node.prim:
            raise NotImplementedError(f"cannot save graph '{graph.name}': op '{node.op}' is not a registered op "
                                      "(tracejit.ops); only registered ops can be loaded without Python source")
        what = f"graph '{graph.name}', op '{node.op}' at {node.loc}"
        nodes.append({"op": node.op, "inputs": [v.id for v in node.inputs],
                      "params": {k: encode_value(v, arrays, f"{what}, parameter '{k}'") for k, v in node.params.items()},
                      "outputs": [{"id": v.id, **encode_type(v)} for v in node.outputs], "loc": node.loc})
    return {"name": graph.name,
            "inputs": [{"id": v.id, "name": v.name, **encode_type(v)} for v in graph.inputs],
            "variables": [{"id": v.id, "object": variable_index(var)} for v, var in graph.variables],
            "nodes": nodes, "outputs": [v.id for v in graph.outputs]}


def decode_nodes(data, arrays):
    """[(op name, input ids, params, output id)] of a saved graph, params decoded once (so a seeded
    random op keeps one stream across calls)."""
    return [(node["op"], node["inputs"], {k: decode_value(v, arrays) for k, v in node["params"].items()},
             node["outputs"][0]["id"] if node["outputs"] else None) for node in data["nodes"]]


def replay(data, nodes, variables, inputs, bind, constant):
    """Runs a saved graph (its decode_nodes) on `inputs` (tensors) through `bind`, in whatever
    context is current: eagerly, inside another trace (so it is traced and compiled again) or under a
    tape. Variables are read once at the start, as the traced graph's variable inputs were; assign
    nodes assign them."""
    values = {spec["id"]: tensor for spec, tensor in zip(data["inputs"], inputs)}
    owner = {}
    for entry in data["variables"]:
        variable = variables[entry["object"]]
        owner[entry["id"]] = variable
        values[entry["id"]] = variable.read_value()
    for op, input_ids, params, output in nodes:
        if op == CONST.name:
            values[output] = constant(params["value"])
        elif op == ASSIGN.name:
            owner[input_ids[0]].assign(values[input_ids[1]])
        else:
            values[output] = bind(REGISTRY[op], [values[i] for i in input_ids], params)
    return [values[i] for i in data["outputs"]]
