"""SSA graph: Values (shape, dtype; shape None = unknown rank), Nodes (primitive, inputs, params, outputs,
source location).

A node has one output, or any number for a primitive with `multiple_results` (while_loop, print).
Control-flow nodes keep their subgraphs (Graphs without variables) in params.

Besides the registered ops, three structural primitives belong to the IR itself:
  CONST   params {value: ndarray}                        -> one output
  ASSIGN  inputs [variable input, new value]              -> no output; an effect, kept in order
  FUSED   params {members: [Node]} (fusion's groups)      -> the members' exported values
Captured Variables are graph inputs by reference (`graph.variables`); what a read inside a trace
returns is the tracing context's business (context.py), not the graph's. Large captured arrays
are graph inputs too (`graph.captures`, after the argument inputs): the caller feeds the same
array on every call instead of the graph baking in a copy as a constant.
"""
from ..tensor import known_dims
from .primitives import ASSIGN, CONST, FUSED, constant_array  # noqa: F401


class Value:
    __slots__ = ("id", "shape", "dtype", "node", "name", "graph")

    def __init__(self, graph, vid, shape, dtype, node=None, name=None):
        self.graph, self.id, self.shape, self.dtype, self.node, self.name = graph, vid, shape, dtype, node, name

    @property
    def ndim(self):
        return None if self.shape is None else len(self.shape)

    def __repr__(self):
        return f"%{self.id}"


class Node:
    __slots__ = ("prim", "inputs", "params", "outputs", "loc")

    def __init__(self, prim, inputs, params, outputs, loc):
        self.prim, self.inputs, self.params, self.outputs, self.loc = prim, inputs, params, outputs, loc

    @property
    def op(self):
        return self.prim.name

    @property
    def output(self):
        return self.outputs[0] if self.outputs else None

    @property
    def effect(self):
        """Must this node run, in program order with the other effects? Its primitive's trait, or,
        for a primitive whose effects depend on what it runs (a while_loop whose body prints, a
        stateful py_function), the node's `effect` param."""
        return self.prim.effect or bool(self.params.get("effect", False))

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
        self._constants = {}        # id(ndarray) -> (ndarray, Value); the array is kept alive
        self.captures = []          # (input Value, ndarray) fed by reference at call time

    def new_value(self, shape, dtype, node=None, name=None):
        """shape: a tuple of dims (None = unknown dim), or None for unknown rank."""
        value = Value(self, self._next_id, known_dims(shape), dtype, node, name)
        self._next_id += 1
        return value

    def add_input(self, shape, dtype, name=None):
        value = self.new_value(shape, dtype, name=name)
        self.inputs.append(value)
        return value

    def add_node(self, prim, inputs, params, shape, dtype, loc):
        node = Node(prim, list(inputs), dict(params), [], loc)
        node.outputs.append(self.new_value(shape, dtype, node))
        self.nodes.append(node)
        return node.outputs[0]

    def add_multi_node(self, prim, inputs, params, shapes, dtypes, loc):
        """A node with any number of results (a primitive with multiple_results): its output Values."""
        node = Node(prim, list(inputs), dict(params), [], loc)
        node.outputs.extend(self.new_value(shape, dtype, node) for shape, dtype in zip(shapes, dtypes))
        self.nodes.append(node)
        return list(node.outputs)

    def add_output(self, node, shape, dtype):
        """One more result of a multiple-results node, added after the fact (a while loop's history
        once its gradient is taken, as TF's while_v2 adds accumulators to the forward loop)."""
        value = self.new_value(shape, dtype, node)
        node.outputs.append(value)
        return value

    def constant(self, array, loc="?"):
        cached = self._constants.get(id(array))
        if cached is not None and cached[0] is array:
            return cached[1]
        from ..dtypes import as_dtype
        value = self.add_node(CONST, [], {"value": array}, array.shape, as_dtype(array.dtype), loc)
        self._constants[id(array)] = (array, value)
        return value

    def capture(self, array):
        """A graph input that will be fed `array` itself on every call (see ConcreteFunction)."""
        for value, captured in self.captures:
            if captured is array:
                return value
        from ..dtypes import as_dtype
        value = self.add_input(array.shape, as_dtype(array.dtype), name="captured")
        self.captures.append((value, array))
        return value

    def variable_input(self, variable):
        value = self._var_input.get(id(variable))
        if value is None:
            value = self.new_value(variable.shape, variable.dtype, name=variable.name)
            self._var_input[id(variable)] = value
            self.variables.append((value, variable))
        return value

    def assign(self, target, new_value, loc="?"):
        """An ASSIGN effect: variable input `target` takes `new_value` at this point of the program."""
        node = Node(ASSIGN, [target, new_value], {}, [], loc)
        self.nodes.append(node)
        return node

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
            "inputs", "variables", "nodes", "outputs", "_var_input", "_constants", "captures")})
        new._constants = {}
        mapping = {}

        def copy_value(v, node=None):
            c = Value(new, v.id, v.shape, v.dtype, node, v.name)
            mapping[id(v)] = c
            return c
        new.inputs = [copy_value(v) for v in self.inputs]
        new.captures = [(mapping[id(v)], array) for v, array in self.captures]
        new.variables = [(copy_value(v), var) for v, var in self.variables]
        new._var_input = {id(var): mapping[id(v)] for v, var in self.variables}
        for node in self.nodes:
            copy = Node(node.prim, [mapping[id(v)] for v in node.inputs], node.params, [], node.loc)
            copy.outputs = [copy_value(v, copy) for v in node.outputs]
            new.nodes.append(copy)
        new.outputs = [mapping[id(v)] for v in self.outputs]
        new._next_id = self._next_id
        return new

    def __str__(self):
        from .printer import format_graph
        return format_graph(self)

    def to_dot(self):
        """Graphviz DOT text of the graph (fused groups drawn as clusters); see ir/dot.py."""
        from .dot import to_dot
        return to_dot(self)
