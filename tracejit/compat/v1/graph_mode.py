"""TF1 graph mode: a default graph that ops record into (through a GraphContext, the TF1 execution
context), TF1 tensor names ("Add:0"), placeholders (of unknown rank too: Session.run re-types the
graph with the fed shapes), Operations (grouped assign effects), control dependencies,
initializers and graph gradients."""
import contextlib

import numpy as np

from ... import dtypes as dt
from ... import context
from ...autodiff import backward
from ...ir import graph as ir
from ...naming import clear_name_scopes, name_scope as _name_scope, scoped_name
from ...source_location import user_location
from ...tensor import Tensor, TensorShape, disable_tensor_equality, enable_tensor_equality
from ...variables import Variable
from .graph_def import graph_def

_TF_NAMES = {"add": "Add", "subtract": "Sub", "multiply": "Mul", "divide": "RealDiv", "matmul": "MatMul",
             "negative": "Neg", "reduce_sum": "Sum", "reduce_mean": "Mean", "reduce_max": "Max",
             "reduce_min": "Min", "const": "Const", "random_normal": "RandomStandardNormal",
             "random_uniform": "RandomUniform", "sigmoid": "Sigmoid", "relu": "Relu", "tanh": "Tanh",
             "exp": "Exp", "log": "Log", "square": "Square", "sqrt": "Sqrt", "pow": "Pow", "cast": "Cast",
             "reshape": "Reshape", "transpose": "Transpose", "select": "SelectV2", "argmax": "ArgMax",
             "while_loop": "while", "cond": "cond", "print": "PrintV2"}


def _camel(op):
    return _TF_NAMES.get(op) or "".join(part.capitalize() for part in op.split("_"))


class Graph(ir.Graph):
    """The TF1 default graph: names every value, and keeps the variables created in it (with
    their initial values, for initializers), its summaries and its control dependencies."""

    def __init__(self, name="default"):
        super().__init__(name)
        self.global_variables = []
        self.initial_values = {}        # id(variable) -> the array an initializer (re)assigns
        self.summaries = []
        self.control_inputs = {}        # id(node) -> the Operations/Tensors it runs after
        self._control_frames = []       # the enclosing control_dependencies blocks (None: a reset)
        self._name_counts = {}

    # ---- control dependencies ----
    @contextlib.contextmanager
    def control_dependencies(self, control_inputs):
        """Ops created inside run after `control_inputs` (Operations, Tensors, Variables) whenever
        they run; reads of a variable that one of them assigns see the assigned value. None clears
        the enclosing blocks."""
        frame = None if control_inputs is None else list(control_inputs)
        for dep in frame or ():
            if not isinstance(dep, (Operation, Tensor, Variable)):
                raise TypeError(f"Can not convert a {type(dep).__name__} into a Tensor or Operation.")
        self._control_frames.append(frame)
        try:
            yield
        finally:
            self._control_frames.pop()

    def current_control_inputs(self):
        deps = []
        for frame in reversed(self._control_frames):
            if frame is None:
                break
            deps = frame + deps
        return deps

    def effects_before(self, deps):
        """The assign effects that these control inputs run, transitively."""
        effects, pending, seen = [], list(deps), set()
        while pending:
            dep = pending.pop()
            if id(dep) in seen:
                continue
            seen.add(id(dep))
            if isinstance(dep, Operation):
                effects += dep.effects
                pending += dep.control_inputs + [d for e in dep.effects for d in self.control_inputs.get(id(e), ())]
            elif isinstance(dep, Tensor) and dep.is_symbolic and dep._symbol.node is not None:
                pending += self.control_inputs.get(id(dep._symbol.node), ())
        return effects

    def record_control_inputs(self, node):
        deps = self.current_control_inputs()
        if deps:
            self.control_inputs[id(node)] = deps

    def unique_name(self, base):
        base = scoped_name(base)
        count = self._name_counts.get(base, 0)
        self._name_counts[base] = count + 1
        return base if count == 0 else f"{base}_{count}"

    def add_node(self, prim, inputs, params, shape, dtype, loc):
        value = super().add_node(prim, inputs, params, shape, dtype, loc)
        value.name = self.unique_name(_camel(prim.name))
        return value

    def add_multi_node(self, prim, inputs, params, shapes, dtypes, loc):
        """The outputs of one op are "Name:0", "Name:1"... as in TF."""
        values = super().add_multi_node(prim, inputs, params, shapes, dtypes, loc)
        base = self.unique_name(_camel(prim.name))
        for index, value in enumerate(values):
            value.name = f"{base}:{index}"
        return values

    def by_name(self, name):
        """The value named 'name' or 'name:0' ('name:1'... for the other outputs of an op)."""
        for v in self.inputs + [out for n in self.nodes for out in n.outputs]:
            if v.name is not None and name in (v.name, f"{v.name}:0"):
                return v
        raise KeyError(f"The name '{name}:0' refers to a Tensor which does not exist in the graph")

    def as_graph_def(self):
        return graph_def(self)

    def as_default(self):
        """`with graph.as_default():` ops record into this graph."""
        return context.entered(GraphContext(self))


class GraphContext(context.TraceContext):
    """TF1 semantics on top of tracing: a read sees the variable as it is when Session.run starts
    (its graph input), an assignment is an effect that runs only when fetched and returns an
    Operation, and every Variable created is registered with the graph."""

    def __init__(self, graph):
        super().__init__(graph, allow_variable_creation=True)

    def process_primitive(self, prim, inputs, params, shape, dtype):
        out = super().process_primitive(prim, inputs, params, shape, dtype)
        node = self.graph.nodes[-1]
        self.graph.record_control_inputs(node)
        return out

    def read_variable(self, variable):
        target = self.graph.variable_input(variable)
        tensor = Tensor(symbol=self._assigned_before(target) or target)
        if self.tapes:
            self.observe_read(variable, tensor)
        return tensor

    def _assigned_before(self, target):
        """The value the latest assignment to this variable among the current control inputs (and
        theirs, transitively) writes, if there is one."""
        assigns = [e for e in self.graph.effects_before(self.graph.current_control_inputs())
                   if e.prim is ir.ASSIGN and e.inputs[0] is target]
        return max(assigns, key=self.graph.nodes.index).inputs[1] if assigns else None

    def assign_variable(self, variable, tensor):
        symbol = self.symbol(tensor, f"assignment to '{variable.name}'")
        node = self.graph.assign(self.graph.variable_input(variable), symbol, user_location())
        self.graph.record_control_inputs(node)
        return Operation([node], value=symbol, name=f"{variable.name.split(':')[0]}/Assign")

    def control_dependencies(self, control_inputs):
        return self.graph.control_dependencies(control_inputs)

    def effect_operation(self):
        node = self.graph.nodes[-1]                    # the effect just bound
        return Operation([node], name=self.graph.unique_name(_camel(node.op)))

    def initial_value(self, variable, tensor):
        array = super().initial_value(variable, tensor)
        self.graph.global_variables.append(variable)
        self.graph.initial_values[id(variable)] = np.array(array, copy=True)
        return array

    deferred_effects = True         # an assignment runs only when Session.run fetches it


def get_default_graph():
    default = context.current_context()
    if not isinstance(default, GraphContext):
        raise RuntimeError("there is no TF1 default graph: call tracejit.compat.v1.disable_v2_behavior() first")
    return default.graph


def reset_default_graph():
    context.set_default_context(GraphContext(Graph()))
    clear_name_scopes()


def disable_v2_behavior():
    if not isinstance(context.default_context(), GraphContext):
        reset_default_graph()
    disable_tensor_equality()


disable_eager_execution = disable_v2_behavior


def enable_v2_behavior():
    context.set_default_context(None)
    enable_tensor_equality()
    clear_name_scopes()


def name_scope(name, default_name=None, values=None):
    return _name_scope(name or default_name)


class Operation:
    """Something Session.run can execute: assign effects in the graph and/or a Python action; an
    assign also carries the value it writes (fetching it returns that value). Created inside a
    control_dependencies block, it runs after that block's control inputs."""

    def __init__(self, effects=(), value=None, action=None, name="NoOp"):
        self.effects, self.value, self.action, self.name = list(effects), value, action, name
        current = context.current_context()
        self.control_inputs = current.graph.current_control_inputs() if isinstance(current, GraphContext) else []

    def __repr__(self):
        return f'<tf.Operation "{self.name}">'


def group(*inputs, name="group_deps"):
    effects, actions = [], []
    for item in inputs:
        for op in (item if isinstance(item, (list, tuple)) else [item]):
            effects += op.effects
            if op.action is not None:
                actions.append(op.action)
    return Operation(effects, action=(lambda: [a() for a in actions]) if actions else None, name=name)


def no_op(name="NoOp"):
    return Operation(name=name)


def placeholder(dtype, shape=None, name=None):
    """shape None: unknown rank (any value can be fed); [None, 3]: rank 2 with any number of rows."""
    graph = get_default_graph()
    value = graph.add_input(TensorShape(shape), dt.as_dtype(dtype), graph.unique_name(name or "Placeholder"))
    return Tensor(symbol=value)


def global_variables():
    return list(get_default_graph().global_variables)


def trainable_variables():
    return [v for v in global_variables() if v.trainable]


def variables_initializer(var_list, name="init"):
    """Variables created in the default graph go back to their initial value; others (created
    eagerly, e.g. under init_scope) already hold theirs."""
    known = get_default_graph().initial_values
    initial = [(v, known[id(v)]) for v in var_list if id(v) in known]

    def run():
        for variable, value in initial:
            variable._write_buffer(value)
    return Operation(action=run, name=name)


def global_variables_initializer():
    return variables_initializer(global_variables())


initialize_all_variables = global_variables_initializer


def gradients(ys, xs, grad_ys=None):
    """Symbolic gradients of the sum of ys w.r.t. xs, from the graph's recorded nodes (the same
    backward pass as GradientTape). Variables are differentiated at their run-start value."""
    graph = get_default_graph()
    wrappers = {}

    def tensor(value):
        return wrappers.setdefault(id(value), Tensor(symbol=value))
    entries = [(n.prim, [tensor(v) for v in n.inputs], n.params,
                [tensor(v) for v in n.outputs] if n.prim.multiple_results else tensor(n.outputs[0]))
               for n in list(graph.nodes) if n.prim.differentiable and n.outputs]
    ys = list(ys) if isinstance(ys, (list, tuple)) else [ys]
    seeds = [None] * len(ys) if grad_ys is None else list(grad_ys if isinstance(grad_ys, (list, tuple)) else [grad_ys])
    grads = backward(entries, [tensor(y._symbol) for y in ys], seeds)
    single = not isinstance(xs, (list, tuple))
    results = []
    for x in ([xs] if single else xs):
        value = graph.variable_input(x) if isinstance(x, Variable) else x._symbol
        results.append(grads.get(id(tensor(value))))
    return results[0] if single else results
