"""The NumPy reference executor: runs any graph node by node with each op's `impl`.
It is the backend until the Numba one lands, and the reference the compiled path is tested against."""
import types

import numpy as np

from ..errors import TracingError
from ..ops.core import apply_impl


class Interpreter:
    """A graph prepared for repeated calls: a flat list of steps over an environment list."""

    def __init__(self, graph):
        self.graph = graph
        slot = {}
        for i, v in enumerate(graph.inputs):
            slot[v.id] = i
        self.var_slots = []
        for v, var in graph.variables:
            slot[v.id] = len(slot)
            self.var_slots.append((slot[v.id], var))
        self.steps = []
        nodes = [m for n in graph.nodes for m in (n.params["members"] if n.op == "fused" else [n])]
        for node in nodes:
            ins = [slot[v.id] for v in node.inputs]
            if node.op == "assign":
                self.steps.append(("assign", graph.variable_of(node.inputs[0]), ins[1], None))
                continue
            out = slot[node.outputs[0].id] = len(slot)
            if node.op == "const":
                self.steps.append(("const", node.params["value"], None, out))
            else:
                self.steps.append((node.prim.impl, node.params, ins, out, node.outputs[0].dtype.np))
        self.size = len(slot)
        self.out_slots = [slot[v.id] for v in graph.outputs]
        # outputs that are arguments, variable values or constants are copied: results never alias state
        self.copied_outputs = {slot[v.id] for v in graph.outputs if v.node is None or v.node.op == "const"}

    def __call__(self, arrays):
        env = [None] * self.size
        env[:len(arrays)] = arrays
        for index, var in self.var_slots:
            env[index] = var._value
        with np.errstate(all="ignore"):
            for step in self.steps:
                kind = step[0]
                if kind == "const":
                    env[step[3]] = step[1]
                elif kind == "assign":
                    step[1]._value = np.array(env[step[2]], copy=True)
                else:
                    impl, params, ins, out, np_dtype = step
                    env[out] = apply_impl(impl, [env[i] for i in ins], params, np_dtype)
        return [env[i].copy() if i in self.copied_outputs else env[i] for i in self.out_slots]


def evaluate_value(graph, value):
    """Compute one value of a graph under construction, if it does not depend on an argument
    (e.g. a Variable's initial value computed while tracing)."""
    needed, stack = set(), [value]
    while stack:
        v = stack.pop()
        if v.id in needed:
            continue
        needed.add(v.id)
        if v.node is None and any(v is i for i in graph.inputs):
            raise TracingError("a Variable's initial value depends on an argument of the traced function; "
                               "compute it outside the function or from Python values")
        if v.node is not None:
            stack.extend(v.node.inputs)
    # the value's slice of the graph, run by the interpreter (no arguments, no effects)
    pruned = types.SimpleNamespace(inputs=[], variables=graph.variables, outputs=[value],
                                   nodes=[n for n in graph.nodes if n.outputs and n.outputs[0].id in needed])
    return Interpreter(pruned)([])[0]
