"""Session.run: prune the default graph to what the fetches need (and what their control
dependencies make them wait for), give placeholders the fed shapes (so every shape and rank is
static), and compile it with the same passes and backend as @function, cached per fetch set and
feed signature."""
import numpy as np


from ...backend import current_backend
from ...errors import InvalidArgumentError
from ...ir.analysis import ancestors
from ...ir.graph import ASSIGN, CONST, Graph as IRGraph
from ...ir.verify import verify
from ... import nest
from ...passes import optimize
from ...ops.core import convert_to_tensor
from ...tensor import Tensor, TensorShape, format_dims
from ...variables import Variable
from .graph_mode import Operation, get_default_graph


class Session:
    def __init__(self, target="", graph=None, config=None):
        self.graph = graph or get_default_graph()
        self._executables = {}
        self.closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.closed = True
        self._executables.clear()

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        if self.closed:
            raise RuntimeError("Attempted to use a closed Session.")
        leaves = nest.flatten(fetches)
        summaries = {}
        expanded = []
        for i, leaf in enumerate(leaves):        # a summary is fetched as its tensors, then serialized
            if hasattr(leaf, "serialize"):
                summaries[i] = (leaf, len(expanded), len(leaf.parts))
                expanded += [tensor for _, _, tensor in leaf.parts]
            else:
                expanded.append(leaf)
        values, effects, actions, controls = [], [], [], []
        for leaf in expanded:
            if isinstance(leaf, str):
                leaf = Tensor(symbol=self.graph.by_name(leaf))
            if isinstance(leaf, Operation):
                effects += leaf.effects
                if leaf.action is not None:
                    actions.append(leaf.action)
                controls += leaf.control_inputs
                values.append(leaf.value)
            elif isinstance(leaf, Variable):
                values.append(self.graph.variable_input(leaf))
            elif isinstance(leaf, Tensor) and leaf.is_symbolic:
                values.append(leaf._symbol)
            elif isinstance(leaf, Tensor):                 # an eager value: nothing to compute
                values.append(self.graph.constant(leaf._value))
            else:
                raise TypeError(f"Fetch argument {leaf!r} has invalid type {type(leaf).__name__}: must be a "
                                "Tensor, Variable or Operation of this graph")
        wanted = [v for v in values if v is not None]
        effects, actions = _with_control_dependencies(self.graph, wanted, effects, actions, controls)
        for action in actions:           # initializers run before the graph computation
            action()
        feeds = self._feeds(feed_dict or {})
        if not wanted and not effects:
            return nest.pack_sequence_as(fetches, [None] * len(leaves))
        key = (tuple(id(v) for v in wanted), tuple(id(e) for e in effects),
               tuple((id(p), a.dtype.str, a.shape) for p, a in feeds))
        executable = self._executables.get(key)
        if executable is None:
            executable = self._executables[key] = self._compile(wanted, effects, feeds)
        runner, fed_order, out_index = executable
        results = runner([a for p, a in feeds if id(p) in fed_order])
        fetched = []
        for value in values:
            if value is None:
                fetched.append(None)
            else:
                array = results[out_index[id(value)]]
                fetched.append(array[()] if array.ndim == 0 else array)
        outputs, position = [], 0
        for i in range(len(leaves)):
            if i in summaries:
                op, start, count = summaries[i]
                outputs.append(op.serialize(fetched[start: start + count]))
                position = start + count
            else:
                outputs.append(fetched[position])
                position += 1
        return nest.pack_sequence_as(fetches, outputs)

    def _feeds(self, feed_dict):
        feeds = []
        for key, value in feed_dict.items():
            placeholder = self.graph.by_name(key) if isinstance(key, str) else getattr(key, "_symbol", None)
            if placeholder is None or not any(placeholder is p for p in self.graph.inputs):
                raise TypeError(f"feed_dict key {key!r} is not a placeholder of this graph")
            dtype = placeholder.dtype
            array = convert_to_tensor(value, dtype=dtype)._value if dtype.kind == "s" else np.asarray(value, dtype.np)
            if not TensorShape(placeholder.shape).is_compatible_with(array.shape):
                shape = "(" + ", ".join("?" if d is None else str(d) for d in placeholder.shape) + ")"
                raise ValueError(f"Cannot feed value of shape {array.shape} for Tensor '{placeholder.name}:0', "
                                 f"which has shape '{shape}'")
            feeds.append((placeholder, array))
        return feeds

    def _compile(self, wanted, effects, feeds):
        graph = self.graph
        needed = ancestors(list(wanted) + [v for e in effects for v in _effect_inputs(e)])
        fed = {id(p): a for p, a in feeds}
        for p in graph.inputs:
            if id(p) in needed and id(p) not in fed:
                shape = "<unknown>" if p.shape is None else f"[{format_dims(p.shape)}]"
                raise InvalidArgumentError(f"You must feed a value for placeholder tensor '{p.name}' with dtype "
                                           f"{p.dtype.name} and shape {shape}")
        run_graph = IRGraph(f"session_run_{len(self._executables)}")
        mapping, fed_order = {}, []
        for p, array in feeds:
            if id(p) in needed:
                mapping[id(p)] = run_graph.add_input(array.shape, p.dtype, p.name)
                fed_order.append(id(p))
        for value, variable in graph.variables:
            if id(value) in needed:
                mapping[id(value)] = run_graph.variable_input(variable)
        chosen = {id(e) for e in effects}
        for node in graph.nodes:
            if node.prim is ASSIGN:
                if id(node) in chosen:
                    target = run_graph.variable_input(graph.variable_of(node.inputs[0]))
                    run_graph.assign(target, mapping[id(node.inputs[1])], node.loc)
                continue
            if not any(id(o) in needed for o in node.outputs) and id(node) not in chosen:
                continue
            if node.prim is CONST:
                mapping[id(node.outputs[0])] = run_graph.constant(node.params["value"], node.loc)
                continue
            inputs = [mapping[id(v)] for v in node.inputs]
            params = node.prim.params_for(inputs, node.params)       # re-typed with the fed shapes
            result_type = node.prim.rule(*inputs, **params)
            if node.prim.multiple_results:
                outputs = run_graph.add_multi_node(node.prim, inputs, params, [s for s, _ in result_type],
                                                   [d for _, d in result_type], node.loc)
                mapping.update((id(old), new) for old, new in zip(node.outputs, outputs))
            else:
                mapping[id(node.outputs[0])] = run_graph.add_node(node.prim, inputs, params, *result_type, node.loc)
        outputs, out_index = [], {}
        for v in wanted:
            if id(v) not in out_index:
                out_index[id(v)] = len(outputs)
                outputs.append(mapping[id(v)])
        run_graph.outputs = outputs
        verify(run_graph)
        backend = current_backend()
        optimized, _ = optimize(run_graph, can_lower=backend.can_lower)
        return backend.executable(optimized), set(fed_order), out_index


InteractiveSession = Session


def _with_control_dependencies(graph, values, effects, actions, controls):
    """The effects and actions to run for fetches that need `values` and `effects` and were given
    `controls`: also those of every control input, transitively, of the nodes they need (TF runs
    an op's control inputs before it)."""
    values, effects, actions = list(values), list(effects), list(actions)
    chosen, visited, pending = {id(e) for e in effects}, set(), list(controls)
    while True:
        while pending:
            dep = pending.pop()
            if id(dep) in visited:
                continue
            visited.add(id(dep))
            if isinstance(dep, Operation):
                effects += [e for e in dep.effects if id(e) not in chosen]
                chosen.update(id(e) for e in dep.effects)
                if dep.action is not None and dep.action not in actions:
                    actions.append(dep.action)
                values += [dep.value] if dep.value is not None else []
                pending += dep.control_inputs
            elif isinstance(dep, Tensor) and dep.is_symbolic:
                values.append(dep._symbol)
        needed = ancestors(values + [v for e in effects for v in _effect_inputs(e)])
        for node in graph.nodes:
            if id(node) in graph.control_inputs and id(node) not in visited and (
                    id(node) in chosen or any(id(o) in needed for o in node.outputs)):
                visited.add(id(node))
                pending += graph.control_inputs[id(node)]
        if not pending:
            return effects, actions




def _effect_inputs(effect):
    """What an effect node reads: an assign its value (input 0 is the variable), others everything."""
    return effect.inputs[1:] if effect.prim is ASSIGN else effect.inputs
