"""TF1 graph mode: a default graph that ops record into, TF1 tensor names ("Add:0"),
placeholders, Operations (grouped assign effects), initializers and graph gradients."""
import contextlib
import re

import numpy as np

from ... import dtypes as dt
from ...autodiff import backward
from ...ir import graph as ir
from ...tensor import Tensor, TensorShape
from ...variables import Variable, _name_scopes

_TF_NAMES = {"add": "Add", "subtract": "Sub", "multiply": "Mul", "divide": "RealDiv", "matmul": "MatMul",
             "negative": "Neg", "reduce_sum": "Sum", "reduce_mean": "Mean", "reduce_max": "Max",
             "reduce_min": "Min", "const": "Const", "random_normal": "RandomStandardNormal",
             "random_uniform": "RandomUniform", "sigmoid": "Sigmoid", "relu": "Relu", "tanh": "Tanh",
             "exp": "Exp", "log": "Log", "square": "Square", "sqrt": "Sqrt", "pow": "Pow", "cast": "Cast",
             "reshape": "Reshape", "transpose": "Transpose", "select": "SelectV2", "argmax": "ArgMax"}


def _camel(op):
    return _TF_NAMES.get(op) or "".join(part.capitalize() for part in op.split("_"))


class Graph(ir.Graph):
    """The TF1 default graph: names every value, collects variables, and keeps variable reads
    at their Session.run-start state (assigns are effects, run when fetched)."""
    ssa_variables = False
    allow_variable_creation = True

    def __init__(self, name="default"):
        super().__init__(name)
        self.global_variables = []
        self._name_counts = {}

    def unique_name(self, base):
        scope = "/".join(_name_scopes)
        base = f"{scope}/{base}" if scope else base
        count = self._name_counts.get(base, 0)
        self._name_counts[base] = count + 1
        return base if count == 0 else f"{base}_{count}"

    def add_node(self, op, prim, inputs, params, shape, dtype, loc):
        value = super().add_node(op, prim, inputs, params, shape, dtype, loc)
        value.name = self.unique_name(_camel(op))
        return value

    def register_variable(self, variable):
        self.global_variables.append(variable)

    def by_name(self, name):
        """The value named 'name' or 'name:0'."""
        name = name[:-2] if name.endswith(":0") else name
        for v in self.inputs + [out for n in self.nodes for out in n.outputs]:
            if v.name == name:
                return v
        raise KeyError(f"The name '{name}:0' refers to a Tensor which does not exist in the graph")

    def as_graph_def(self):
        from .summary import graph_def
        return graph_def(self)


def get_default_graph():
    graph = ir.current_graph()
    if not isinstance(graph, Graph):
        raise RuntimeError("there is no TF1 default graph: call tracejit.compat.v1.disable_v2_behavior() first")
    return graph


def reset_default_graph():
    ir.set_default_graph(Graph())
    _name_scopes.clear()


def disable_v2_behavior():
    if not isinstance(ir._default_graph[0], Graph):
        reset_default_graph()


disable_eager_execution = disable_v2_behavior


def enable_v2_behavior():
    ir.set_default_graph(None)
    _name_scopes.clear()


@contextlib.contextmanager
def name_scope(name, default_name=None, values=None):
    name = name or default_name
    _name_scopes.append(re.sub(r"/$", "", name))
    try:
        yield "/".join(_name_scopes) + "/"
    finally:
        _name_scopes.pop()


class Operation:
    """Something Session.run can execute: assign effects in the graph and/or a Python action; an
    assign also carries the value it writes (fetching it returns that value)."""

    def __init__(self, effects=(), value=None, action=None, name="NoOp"):
        self.effects, self.value, self.action, self.name = list(effects), value, action, name

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


def control_dependencies(control_inputs):
    raise NotImplementedError("control_dependencies is not supported yet: fetch the operations together "
                              "(sess.run([train_op, other])) or group them with tf.group(...)")


def no_op(name="NoOp"):
    return Operation(name=name)


def placeholder(dtype, shape=None, name=None):
    graph = get_default_graph()
    if shape is None:
        raise NotImplementedError("placeholder of unknown rank: give a shape (None for unknown dimensions)")
    value = graph.add_input(tuple(TensorShape(shape)), dt.as_dtype(dtype), graph.unique_name(name or "Placeholder"))
    return Tensor(symbol=value)


def global_variables():
    return list(get_default_graph().global_variables)


def trainable_variables():
    return [v for v in global_variables() if v.trainable]


def variables_initializer(var_list, name="init"):
    initial = [(v, np.array(v._initial_value, copy=True)) for v in var_list]

    def run():
        for variable, value in initial:
            variable._value = value.copy()
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
    entries = [(n.prim, [tensor(v) for v in n.inputs], n.params, tensor(n.outputs[0]))
               for n in list(graph.nodes) if n.prim is not None and n.prim.differentiable and n.outputs]
    ys = list(ys) if isinstance(ys, (list, tuple)) else [ys]
    seeds = [None] * len(ys) if grad_ys is None else list(grad_ys if isinstance(grad_ys, (list, tuple)) else [grad_ys])
    grads = backward(entries, [tensor(y._symbol) for y in ys], seeds)
    single = not isinstance(xs, (list, tuple))
    results = []
    for x in ([xs] if single else xs):
        value = graph.variable_input(x) if isinstance(x, Variable) else x._symbol
        results.append(grads.get(id(tensor(value))))
    return results[0] if single else results
