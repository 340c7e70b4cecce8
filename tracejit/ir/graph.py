"""SSA graph: Values (shape, dtype), Nodes (op, inputs, params, outputs, source location).

Special node ops besides registered primitives:
  const   params {value: ndarray}                     -> one output
  assign  inputs [variable input, new value]           -> no output (an effect, kept in order)
Captured Variables are graph inputs by reference (`graph.variables`); inside a trace every read
returns the variable's current SSA value, so reads after an assign see the assigned value.
"""
import contextlib


class Value:
    __slots__ = ("id", "shape", "dtype", "node", "name", "graph")

    def __init__(self, graph, vid, shape, dtype, node=None, name=None):
        self.graph, self.id, self.shape, self.dtype, self.node, self.name = graph, vid, shape, dtype, node, name

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"%{self.id}"


class Node:
    __slots__ = ("op", "prim", "inputs", "params", "outputs", "loc")

    def __init__(self, op, prim, inputs, params, outputs, loc):
        self.op, self.prim, self.inputs, self.params, self.outputs, self.loc = op, prim, inputs, params, outputs, loc

    @property
    def output(self):
        return self.outputs[0] if self.outputs else None

    def __repr__(self):
        return f"Node({self.op}, {self.inputs} -> {self.outputs})"


class Graph:
    def __init__(self, name="graph"):
        self.name = name
        self.inputs = []            # placeholder Values, in flattened-argument order
        self.variables = []         # (Value, Variable): captured by reference
        self.nodes = []
        self.outputs = []
        self._next_id = 0
        self._var_input = {}        # id(variable) -> its input Value
        self._var_current = {}      # id(variable) -> Value holding its current value in program order
        self._constants = {}        # id(ndarray) -> (ndarray, Value); the array is kept alive

    def _new_value(self, shape, dtype, node=None, name=None):
        value = Value(self, self._next_id, tuple(shape), dtype, node, name)
        self._next_id += 1
        return value

    def add_input(self, shape, dtype, name=None):
        value = self._new_value(shape, dtype, name=name)
        self.inputs.append(value)
        return value

    def add_node(self, op, prim, inputs, params, shape, dtype, loc):
        node = Node(op, prim, list(inputs), dict(params), [], loc)
        node.outputs.append(self._new_value(shape, dtype, node))
        self.nodes.append(node)
        return node.outputs[0]

    def constant(self, array, loc="?"):
        cached = self._constants.get(id(array))
        if cached is not None and cached[0] is array:
            return cached[1]
        from ..dtypes import as_dtype
        value = self.add_node("const", None, [], {"value": array}, array.shape, as_dtype(array.dtype), loc)
        self._constants[id(array)] = (array, value)
        return value

    def variable_input(self, variable):
        value = self._var_input.get(id(variable))
        if value is None:
            value = self._new_value(variable.shape, variable.dtype, name=variable.name)
            self._var_input[id(variable)] = value
            self._var_current[id(variable)] = value
            self.variables.append((value, variable))
        return value

    # TF1 graphs set this False: reads see the variable as it is when Session.run starts, and an
    # assign is an effect that runs only when fetched.
    ssa_variables = True

    def read_variable(self, variable):
        self.variable_input(variable)
        return self._var_current[id(variable)]

    def assign_variable(self, variable, new_value, loc="?"):
        target = self.variable_input(variable)
        node = Node("assign", None, [target, new_value], {}, [], loc)
        self.nodes.append(node)
        if self.ssa_variables:
            self._var_current[id(variable)] = new_value
        return node

    def variable_state(self):
        """Snapshot of each captured variable's current SSA value (for tracing branches)."""
        return dict(self._var_current)

    def restore_variable_state(self, state):
        self._var_current = {k: state.get(k, self._var_input[k]) for k in self._var_current}

    def captured_variable(self, variable_id):
        """(input Value, Variable) for the id() of a captured variable."""
        value = self._var_input[variable_id]
        return value, self.variable_of(value)

    def variable_of(self, value):
        """The Variable object a variable-input Value refers to."""
        for v, var in self.variables:
            if v is value:
                return var
        raise KeyError(value)

    def clone(self, name=None):
        """A copy with fresh Values and Nodes (params shared): passes mutate clones, never the traced graph."""
        new = Graph(name or self.name)
        new.__dict__.update({k: v for k, v in self.__dict__.items() if k not in (
            "inputs", "variables", "nodes", "outputs", "_var_input", "_var_current", "_constants")})
        new._constants = {}
        mapping = {}

        def copy_value(v, node=None):
            c = Value(new, v.id, v.shape, v.dtype, node, v.name)
            mapping[id(v)] = c
            return c
        new.inputs = [copy_value(v) for v in self.inputs]
        new.variables = [(copy_value(v), var) for v, var in self.variables]
        new._var_input = {id(var): mapping[id(v)] for v, var in self.variables}
        new._var_current = {k: mapping[id(v)] for k, v in self._var_current.items() if id(v) in mapping}
        for node in self.nodes:
            copy = Node(node.op, node.prim, [mapping[id(v)] for v in node.inputs], node.params, [], node.loc)
            copy.outputs = [copy_value(v, copy) for v in node.outputs]
            new.nodes.append(copy)
        new.outputs = [mapping[id(v)] for v in self.outputs]
        new._next_id = self._next_id
        return new

    def new_value(self, shape, dtype, node=None):
        return self._new_value(shape, dtype, node)

    def uses(self):
        """id(Value) -> number of uses by nodes and outputs."""
        counts = {}
        for node in self.nodes:
            for v in node.inputs:
                counts[id(v)] = counts.get(id(v), 0) + 1
        for v in self.outputs:
            counts[id(v)] = counts.get(id(v), 0) + 1
        return counts

    def replace_uses(self, old, new):
        """Every use of Value `old` (node inputs and graph outputs) now uses `new`."""
        for node in self.nodes:
            node.inputs = [new if v is old else v for v in node.inputs]
        self.outputs = [new if v is old else v for v in self.outputs]

    def __str__(self):
        from .printer import format_graph
        return format_graph(self)


def constant_array(value):
    """The ndarray of a const node's output, else None."""
    node = value.node
    if node is not None and node.op == "const":
        return node.params["value"]
    return None


# ---- which graph is being built (None on the stack = eager, as in tf.init_scope) ----
_graph_stack = []
_default_graph = [None]          # TF1 graph mode (compat.v1.disable_v2_behavior) sets a default graph


def current_graph():
    return _graph_stack[-1] if _graph_stack else _default_graph[0]


def set_default_graph(graph):
    _default_graph[0] = graph


@contextlib.contextmanager
def building(graph):
    _graph_stack.append(graph)
    try:
        yield graph
    finally:
        _graph_stack.pop()


def init_scope():
    """Run the body eagerly even while tracing (how layers create their weights)."""
    return building(None)
