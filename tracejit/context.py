"""Execution contexts: the single dispatch point for primitives (JAX's Trace.process_primitive).

    bind(primitive, inputs, params) ──► current_context().process_primitive(...)
        EagerContext    runs the NumPy implementation now
        TraceContext    records a node in the Graph being traced (jit/tracer.py)
        compat.v1       the TF1 default graph: a TraceContext with TF1 variable semantics

Variables read, write and get created through the current context too: it decides what a read
returns (the buffer, the SSA value in a trace) and what an assignment does (replace the buffer,
update the SSA value, record an effect). GradientTapes register with the context they were
entered in and observe the primitives and variable reads it processes.

Each thread has its own stack of contexts, so tracing in one thread never changes what another
thread's eager code or compiled calls do. The bottom of every stack is the thread's eager
context, unless a process-wide default is installed (TF1's disable_v2_behavior does that)."""
import contextlib
import threading

import numpy as np

from .errors import LeakedTensorError, TracingError, VariableCreationError
from .ir.primitives import VARIABLE_READ
from .source_location import user_location
from .tensor import Tensor


def bind(prim, inputs, params):
    """Apply a primitive to tensors: its type rule checks them, the current context runs or records it.
    Returns a Tensor, or for a primitive with multiple_results a list of Tensors (process_primitive
    then gets a list of shapes and a list of dtypes)."""
    result_type = prim.type_of(inputs, params)
    if prim.multiple_results:
        shapes, dtypes = [shape for shape, _ in result_type], [dtype for _, dtype in result_type]
        return current_context().process_primitive(prim, inputs, params, shapes, dtypes)
    shape, dtype = result_type
    return current_context().process_primitive(prim, inputs, params, shape, dtype)


class Context:
    executing_eagerly = False
    deferred_effects = False       # TF1 graphs: effects run only when Session.run fetches them

    def __init__(self):
        self.tapes = []            # GradientTapes recording here

    def process_primitive(self, prim, inputs, params, shape, dtype):
        raise NotImplementedError

    def read_variable(self, variable):
        raise NotImplementedError

    def assign_variable(self, variable, tensor):
        """Returns what Variable.assign returns in this context."""
        raise NotImplementedError

    def initial_value(self, variable, tensor):
        """The concrete array a new Variable starts from (contexts may also veto or record it)."""
        raise NotImplementedError

    def control_dependencies(self, control_inputs):
        """Eager code and traces run in program order already: nothing to add (as in TF2, where
        callables among control_inputs are called)."""
        for control in control_inputs or ():
            if callable(control):
                control()
        return contextlib.nullcontext()

    def effect_operation(self):
        """What an op that only has an effect (tf.print) returns, right after binding it: None, as in
        TF2; a TF1 graph returns the Operation that runs it when fetched."""
        return None

    def observe(self, prim, inputs, params, out):
        for tape in tuple(self.tapes):
            tape._record(prim, inputs, params, out)

    def observe_read(self, variable, tensor):
        for tape in tuple(self.tapes):
            tape._on_variable_read(variable, tensor)


class EagerContext(Context):
    executing_eagerly = True

    def process_primitive(self, prim, inputs, params, shape, dtype):
        arrays = [_eager_array(t, prim) for t in inputs]
        with np.errstate(all="ignore"):
            if prim.multiple_results:
                results = prim.apply(arrays, params, [d.np for d in dtype])
                out = [_eager_result(prim, r, s, d) for r, s, d in zip(results, shape, dtype)]
            else:
                out = _eager_result(prim, prim.apply(arrays, params, dtype.np), shape, dtype)
        if self.tapes:
            self.observe(prim, inputs, params, out)
        return out

    def read_variable(self, variable):
        tensor = Tensor(variable._read_buffer())
        if self.tapes:
            self.observe_read(variable, tensor)
        return tensor

    def assign_variable(self, variable, tensor):
        if tensor._symbol is not None:
            raise TracingError(f"assigning a symbolic tensor to variable '{variable.name}' outside its trace")
        variable._write_buffer(tensor._value)
        return variable

    def initial_value(self, variable, tensor):
        check_variable_creation()
        return _eager_array(tensor, None)


class TraceContext(Context):
    """Records primitives into `graph`. Variables are graph inputs by reference; inside the trace a
    read returns the variable's current SSA value, so reads after an assign see the assigned value.

    capture_bytes: eager arrays larger than this become graph inputs fed by reference at call time
    (graph.captures) instead of constants, so the graph neither copies them nor goes stale when
    the array is updated in place. observer: told about every symbolic tensor and Variable the
    trace creates (`on_tensor(tensor)`, `on_variable_created(variable, location, allowed)`), for
    @function's trace report."""

    def __init__(self, graph, allow_variable_creation=True, capture_bytes=None, observer=None):
        super().__init__()
        self.graph = graph
        self.allow_variable_creation = allow_variable_creation
        self.capture_bytes = capture_bytes
        self.observer = observer
        self._current = {}         # id(variable) -> (variable, Value holding its value at this point)

    def process_primitive(self, prim, inputs, params, shape, dtype):
        symbols = [self.symbol(t, prim.name) for t in inputs]
        if prim.multiple_results:
            values = self.graph.add_multi_node(prim, symbols, params, shape, dtype, user_location())
            out = [Tensor(symbol=v) for v in values]
        else:
            out = Tensor(symbol=self.graph.add_node(prim, symbols, params, shape, dtype, user_location()))
        if self.tapes:
            self.observe(prim, inputs, params, out)
        if self.observer is not None:
            for tensor in out if prim.multiple_results else (out,):
                self.observer.on_tensor(tensor)
        return out

    def symbol(self, tensor, what):
        """The graph Value of a tensor: eager values become constants of the graph (or, above
        capture_bytes, inputs fed by reference)."""
        if tensor._symbol is None:
            array = tensor._value
            if self.capture_bytes is not None and array.nbytes > self.capture_bytes:
                return self.graph.capture(array)
            return self.graph.constant(array, user_location())
        if tensor._symbol.graph is not self.graph:
            raise LeakedTensorError(
                f"{what} at {user_location()} received a symbolic tensor from another trace "
                f"(graph '{tensor._symbol.graph.name}'); tensors cannot be carried between traces.")
        return tensor._symbol

    def read_variable(self, variable):
        entry = self._current.get(id(variable))
        start = self.graph.variable_input(variable)
        if entry is None:
            entry = self._current[id(variable)] = (variable, start)
        symbol = entry[1]
        if symbol is not start:     # after an assignment: for gradients a read of the Variable (ir/primitives.py)
            symbol = self.graph.add_node(VARIABLE_READ, [symbol, start], {}, symbol.shape, symbol.dtype,
                                         user_location())
        tensor = Tensor(symbol=symbol)
        if self.tapes:
            self.observe_read(variable, tensor)
        return tensor

    def assign_variable(self, variable, tensor):
        symbol = self.symbol(tensor, f"assignment to '{variable.name}'")
        self.graph.assign(self.graph.variable_input(variable), symbol, user_location())
        self._current[id(variable)] = (variable, symbol)
        return variable

    def initial_value(self, variable, tensor):
        if self.observer is not None:
            self.observer.on_variable_created(variable, user_location(), self.allow_variable_creation)
        check_variable_creation()
        if tensor._symbol is None:
            return tensor._value
        from .backend.interpreter import evaluate_value
        return evaluate_value(self.graph, tensor._symbol)


class SubgraphContext(TraceContext):
    """Records the graph of a control-flow body (a loop's condition or body, a branch of cond, a
    gradient) in the middle of another trace. The graph takes what it reads from the enclosing
    trace as extra inputs (captures): tensors of `parent`'s graph (or of graphs enclosing it, which
    `parent` captures in turn), large eager arrays, and Variables. A Variable gets an input of its
    own (its value when the control-flow node starts); an assignment only changes what later reads
    in the subgraph see, and `assigned` lists the Variables assigned: the control-flow node makes
    them loop variables or results, and the parent assigns them after it (no ASSIGN nodes here).

    captures: {key: (outer Tensor, inner input Value)} in capture order; a tensor's key is the id
    of its Value (or array), a Variable's ("variable", id(variable)), so a Variable read inside is
    never confused with a tensor read from it outside.
    parent: the enclosing context (None: nothing may be captured, e.g. a gradient graph whose
    inputs are all explicit)."""

    def __init__(self, graph, parent):
        super().__init__(graph, allow_variable_creation=getattr(parent, "allow_variable_creation", True),
                         capture_bytes=getattr(parent, "capture_bytes", None),
                         observer=getattr(parent, "observer", None))
        self.parent = parent
        self.captures = {}
        self.assigned = {}              # id(variable) -> variable, in assignment order

    def symbol(self, tensor, what):
        sym = tensor._symbol
        if sym is not None and sym.graph is self.graph:
            return sym
        if sym is None and not self._captures_array(tensor._value):
            return self.graph.constant(tensor._value, user_location())
        if self.parent is None:
            raise LeakedTensorError(
                f"{what} at {user_location()} received a symbolic tensor from another graph "
                f"('{sym.graph.name}') while building '{self.graph.name}', which captures nothing")
        key = id(sym) if sym is not None else id(tensor._value)
        if key not in self.captures:
            outer = tensor if sym is not None and sym.graph is getattr(self.parent, "graph", None) else \
                Tensor(symbol=self.parent.symbol(tensor, what))
            self.captures[key] = (outer, self.graph.add_input(tensor.shape, tensor.dtype, name="captured"))
        return self.captures[key][1]

    def _captures_array(self, array):
        return self.parent is not None and self.capture_bytes is not None and array.nbytes > self.capture_bytes

    def read_variable(self, variable):
        entry = self._current.get(id(variable))
        if entry is None:
            entry = self._current[id(variable)] = (variable, self._variable_input(variable))
        symbol = entry[1]
        if id(variable) in self.assigned:      # gradients of this read go to the Variable, not the assignment
            start = self._variable_input(variable)
            symbol = self.graph.add_node(VARIABLE_READ, [symbol, start], {}, symbol.shape, symbol.dtype,
                                         user_location())
        tensor = Tensor(symbol=symbol)
        if self.tapes:
            self.observe_read(variable, tensor)
        return tensor

    def _variable_input(self, variable):
        """The input holding `variable`'s value when the control-flow node starts."""
        key = ("variable", id(variable))
        if key not in self.captures:
            if self.parent is None:
                raise LeakedTensorError(f"Variable '{variable.name}' read at {user_location()} while building "
                                        f"'{self.graph.name}', which captures nothing")
            outer = self.parent.read_variable(variable)
            self.captures[key] = (outer, self.graph.add_input(variable.shape, variable.dtype, name=variable.name))
        return self.captures[key][1]

    def release_variable(self, variable):
        """No longer a capture (it becomes a loop variable): its input Value, or None if never read."""
        capture = self.captures.pop(("variable", id(variable)), None)
        return None if capture is None else capture[1]

    def assign_variable(self, variable, tensor):
        symbol = self.symbol(tensor, f"assignment to '{variable.name}'")
        self._current[id(variable)] = (variable, symbol)
        self.assigned[id(variable)] = variable
        return variable

    def current_value(self, variable):
        """The Value `variable` holds at this point of the subgraph (its input if untouched)."""
        entry = self._current.get(id(variable))
        return entry[1] if entry is not None else self._variable_input(variable)


def check_variable_creation():
    """Variables may be created only on a @function's first trace, even under init_scope (optimizer
    slots, lazily built layers): any retrace on this thread's stack forbids it. ValueError, as in TF."""
    if any(not getattr(c, "allow_variable_creation", True) for c in _thread.stack):
        raise VariableCreationError(
            f"tracejit.Variable created at {user_location()} while retracing a @function. Variables may "
            "only be created on the function's first trace; create it outside the function (or in a "
            "layer's build) and capture it.")


def _eager_result(prim, array, shape, dtype):
    if len(array.shape) != len(shape) or any(d is not None and d != r for d, r in zip(shape, array.shape)):
        raise AssertionError(f"op {prim.name}: type rule says shape {shape}, impl gave {array.shape}")
    return Tensor(array, dtype=dtype if dtype.kind == "v" else None)


def _eager_array(tensor, prim):
    if tensor._symbol is not None:
        what = f"{prim.name} at {user_location()}" if prim is not None else f"a Variable created at {user_location()}"
        raise LeakedTensorError(
            f"{what} received a symbolic tensor (shape={tensor.shape}, dtype={tensor.dtype.name}) outside the "
            "@function trace that created it. Return it from the function instead of keeping it in a Python "
            "variable.")
    return tensor._value


# ---- which context is current: a stack per thread ----
class _ThreadState(threading.local):
    def __init__(self):
        self.stack = []
        self.eager = EagerContext()


_thread = _ThreadState()
_process_default = [None]       # installed by compat.v1.disable_v2_behavior: the TF1 default graph


def current_context():
    stack = _thread.stack
    if stack:
        return stack[-1]
    return _process_default[0] or _thread.eager


def executing_eagerly():
    return current_context().executing_eagerly


def set_default_context(context):
    """Install (or with None remove) a process-wide bottom context, e.g. TF1's default graph."""
    _process_default[0] = context


def default_context():
    return _process_default[0]


@contextlib.contextmanager
def entered(context):
    _thread.stack.append(context)
    try:
        yield context
    finally:
        _thread.stack.pop()


def control_dependencies(control_inputs):
    """`with control_dependencies([op, tensor, ...]):` ops created inside run after those. The current
    context decides what that takes: nothing eagerly or in a trace (program order), recorded control
    edges in a TF1 graph."""
    return current_context().control_dependencies(control_inputs)


def init_scope():
    """Run the body eagerly even while tracing (how layers and optimizers create their weights)."""
    return entered(_thread.eager)
