"""The "numpy" backend: the reference executor. It runs any graph node by node with each op's
NumPy implementation; the compiled backend is tested against it. Its lowering table says how
each primitive becomes a step over an environment list; a primitive without an entry runs its
`impl`."""
import types

import numpy as np

from ..errors import TracingError
from ..ir.analysis import ancestors
from ..ir.graph import ASSIGN, CONST, FUSED
from .lowering import LoweringTable

LOWERINGS = LoweringTable("numpy")


def can_lower(node):
    return True            # fused groups run member by member


def executable(graph, debug=None, on_host=()):
    return Interpreter(graph)              # every node runs on NumPy already


# Each rule: (node, slots of its inputs, slot of its output or None, graph) -> [step]. A step is
# (function, argument): function(env, argument) runs it.
def _run_impl(env, step):
    prim, params, ins, out, np_dtype = step
    env[out] = prim.apply([env[i] for i in ins], params, np_dtype)


def _run_const(env, step):
    array, out = step
    env[out] = array


def _run_assign(env, step):
    variable, source = step
    variable._write_buffer(env[source])


LOWERINGS.register(CONST, lambda node, ins, out, graph: [(_run_const, (node.params["value"], out))])
LOWERINGS.register(ASSIGN, lambda node, ins, out, graph: [(_run_assign, (graph.variable_of(node.inputs[0]), ins[1]))])


def _run_multi_impl(env, step):
    prim, params, ins, outs, np_dtypes = step
    for slot, result in zip(outs, prim.apply([env[i] for i in ins], params, np_dtypes)):
        env[slot] = result


def _impl_step(node, ins, out, graph):
    if node.prim.multiple_results:      # `out` is the list of the output slots
        return [(_run_multi_impl, (node.prim, node.params, ins, out, [v.dtype.np for v in node.outputs]))]
    return [(_run_impl, (node.prim, node.params, ins, out, node.outputs[0].dtype.np))]


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
        nodes = [m for n in graph.nodes for m in (n.params["members"] if n.prim is FUSED else [n])]
        for node in nodes:
            ins = [slot[v.id] for v in node.inputs]
            out = None
            if node.prim.multiple_results:
                out = []
                for value in node.outputs:
                    out.append(len(slot))
                    slot[value.id] = len(slot)
            elif node.outputs:
                out = slot[node.outputs[0].id] = len(slot)
            rule = LOWERINGS.get(node.prim) or _impl_step
            self.steps += rule(node, ins, out, graph)
        self.size = len(slot)
        self.out_slots = [slot[v.id] for v in graph.outputs]
        # outputs that are arguments, variable values or constants are copied: results never alias state
        self.copied_outputs = {slot[v.id] for v in graph.outputs if v.node is None or v.node.prim is CONST}
        # a graph that computes nothing only copies: no shared state, no lock needed around it
        self.computes_nothing = all(run is _run_const for run, _ in self.steps)
        self.run = self._copies if self.computes_nothing else self.__call__

    def _copies(self, arrays):
        """A graph that computes nothing returns copies of its arguments, constants and variables."""
        env = list(arrays)
        for index, var in self.var_slots:
            env.append(var._read_buffer())
        for _, (array, _) in self.steps:
            env.append(array)
        return [env[i].copy() for i in self.out_slots]

    def __call__(self, arrays):
        env = [None] * self.size
        env[:len(arrays)] = arrays
        for index, var in self.var_slots:
            env[index] = var._read_buffer()
        with np.errstate(all="ignore"):
            for run, argument in self.steps:
                run(env, argument)
        return [env[i].copy() if i in self.copied_outputs else env[i] for i in self.out_slots]


def evaluate_value(graph, value):
    """Compute one value of a graph under construction, if it does not depend on an argument
    (e.g. a Variable's initial value computed while tracing)."""
    needed = ancestors([value])
    if any(id(v) in needed for v in graph.inputs):
        raise TracingError("a Variable's initial value depends on an argument of the traced function; "
                           "compute it outside the function or from Python values")
    # the value's slice of the graph, run by the interpreter (no arguments, no effects)
    pruned = types.SimpleNamespace(inputs=[], variables=graph.variables, outputs=[value],
                                   nodes=[n for n in graph.nodes if any(id(v) in needed for v in n.outputs)])
    return Interpreter(pruned)([])[0]
