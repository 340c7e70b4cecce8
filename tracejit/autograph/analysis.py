"""Static facts about one function body that the control-flow conversion needs.

Runs on the body after break/continue/return have been lowered to flags, so loops hold no jumps.
The body is structured code, so both analyses are computed directly on the AST (no CFG):

- **liveness** (backward): the names whose current value may still be read. An `if` outputs the
  names it modifies that are live after it; a loop carries the names it modifies that are live at
  its head or after it (TF's rule: anything else is local to the body).
- **reaching definitions** (forward, "may be defined"): the names some path may have assigned,
  in the scopes the conversion creates (a converted block's local names do not outlive it).
  A statement's state name that no path defines gets an `Undefined` placeholder first.

Symbols are plain names ("x") or attribute chains on a name ("self.count"); the latter are
"composites" and are always state of the statement that assigns them, as in TF.
"""
import ast

EXTRA_TEST = "_ag_extra_test"     # For-node attribute: the `not break_` test added by break lowering


class Facts:
    """Per-node results: live_in / live_out / may_defined_in of every compound statement."""

    def __init__(self):
        self.live_in, self.live_out, self.may_defined_in = {}, {}, {}


def analyze(body, parameters, escaping):
    """`escaping`: names whose value outlives the function (declared global or nonlocal)."""
    facts = Facts()
    _Liveness(facts).block(body, frozenset())
    _ReachingDefinitions(facts, escaping).block(body, frozenset(parameters))
    return facts


def is_generator_or_async(function):
    """Generators and coroutines are left as they are: their bodies cannot be split into functions."""
    if isinstance(function, ast.AsyncFunctionDef):
        return True
    return any(isinstance(node, (ast.Yield, ast.YieldFrom, ast.Await)) for node in walk_scope(function.body))


def walk_scope(nodes):
    """ast.walk over `nodes` that does not enter nested functions, lambdas or classes."""
    pending = list(nodes)
    while pending:
        node = pending.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            pending.extend(ast.iter_child_nodes(node))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            pending.extend(node.decorator_list)     # evaluated in this scope


def nested_functions(function):
    """User functions defined (at any depth) inside `function` that will be converted too:
    not generators, coroutines, or methods of classes defined inside it."""
    found = []
    for node in walk_scope(function.body):
        if isinstance(node, ast.FunctionDef) and not is_generator_or_async(node):
            found.append(node)
            found.extend(nested_functions(node))
    return found


# ---- which symbols a piece of code reads and writes ------------------------------------------
def symbol_of(node):
    """'x' for a Name, 'a.b.c' for an attribute chain on a name, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = symbol_of(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def is_composite(symbol):
    return "." in symbol


def root_of(symbol):
    return symbol.split(".", 1)[0]


def modified_symbols(nodes):
    """Symbols that `nodes` (a statement list, a statement or a target) assign in this scope."""
    collector = _Writes()
    for node in nodes if isinstance(nodes, list) else [nodes]:
        collector.visit(node)
    return collector.symbols


def bound_names(nodes):
    """The plain names among modified_symbols."""
    return {s for s in modified_symbols(nodes) if not is_composite(s)}


def read_names(node):
    """Names whose value `node` (an expression or a simple statement) reads, including the
    free names of nested lambdas, comprehensions and functions."""
    if node is None:
        return set()
    collector = _Reads()
    collector.visit(node)
    return collector.names


class _Writes(ast.NodeVisitor):
    def __init__(self):
        self.symbols = set()

    def _target(self, node):
        symbol = symbol_of(node)
        if symbol is not None:
            self.symbols.add(symbol)

    def visit_Name(self, node):
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self.symbols.add(node.id)

    def visit_Attribute(self, node):
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self._target(node)
        self.visit(node.value)

    def visit_AnnAssign(self, node):
        if node.value is not None:          # `x: int` alone binds nothing
            self.generic_visit(node)

    def visit_FunctionDef(self, node):
        self.symbols.add(node.name)
    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_Lambda(self, node):
        pass

    def _comprehension(self, node):
        # Only an assignment expression inside a comprehension binds in the enclosing scope.
        for inner in ast.walk(node):
            if isinstance(inner, ast.NamedExpr):
                self._target(inner.target)
    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_Import(self, node):
        for alias in node.names:
            self.symbols.add(alias.asname or alias.name.split(".")[0])
    visit_ImportFrom = visit_Import

    def visit_ExceptHandler(self, node):
        if node.name:
            self.symbols.add(node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node):
        if node.name:
            self.symbols.add(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node):
        if node.name:
            self.symbols.add(node.name)

    def visit_MatchMapping(self, node):
        if node.rest:
            self.symbols.add(node.rest)
        self.generic_visit(node)


class _Reads(ast.NodeVisitor):
    """Loads of names, with nested scopes contributing only their free names."""

    def __init__(self):
        self.names = set()

    def visit_Name(self, node):
        if isinstance(node.ctx, (ast.Load, ast.Del)):
            self.names.add(node.id)

    def visit_AugAssign(self, node):
        self.names |= {s for s in [symbol_of(node.target)] if s and not is_composite(s)}
        self.generic_visit(node)

    def visit_Lambda(self, node):
        self._defaults(node.args)
        self.names |= read_names(node.body) - _parameters(node.args)

    def visit_FunctionDef(self, node):
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._defaults(node.args)
        self.names |= _free_names_of_body(node.body, _parameters(node.args))
    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        for expr in node.bases + [k.value for k in node.keywords] + node.decorator_list:
            self.visit(expr)
        self.names |= _free_names_of_body(node.body, set())

    def _comprehension(self, node):
        first, *rest = node.generators
        self.visit(first.iter)
        inner = _Reads()
        for part in [g.iter for g in rest] + [c for g in node.generators for c in g.ifs]:
            inner.visit(part)
        for part in (node.key, node.value) if isinstance(node, ast.DictComp) else (node.elt,):
            inner.visit(part)
        self.names |= inner.names - {n for g in node.generators for n in bound_names(g.target)}
    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def _defaults(self, args):
        for default in args.defaults + [d for d in args.kw_defaults if d is not None]:
            self.visit(default)


def _parameters(args):
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    return names | {a.arg for a in (args.vararg, args.kwarg) if a is not None}


def _free_names_of_body(body, parameters):
    reads, writes, declared = set(), set(), set()
    for statement in body:
        for node in ast.walk(statement):
            if isinstance(node, (ast.Nonlocal, ast.Global)):
                declared |= set(node.names)
        reads |= read_names(statement)
        writes |= bound_names(statement)
    return reads - parameters - (writes - declared)


# ---- liveness -------------------------------------------------------------------------------
class _Liveness:
    def __init__(self, facts):
        self.facts = facts
        self.live_everywhere = frozenset()     # inside a try body: what its handlers read

    def block(self, statements, live_after):
        live = live_after | self.live_everywhere
        for statement in reversed(statements):
            live = self.statement(statement, live) | self.live_everywhere
        return live

    def statement(self, node, live_after):
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            return (live_after - bound_names(node)) | read_names(node)
        live_before = method(node, live_after)
        self.facts.live_out[node] = live_after
        self.facts.live_in[node] = live_before
        return live_before

    def _Return(self, node, live_after):
        return frozenset(read_names(node.value))

    def _Raise(self, node, live_after):
        return frozenset(read_names(node.exc) | read_names(node.cause))

    def _If(self, node, live_after):
        return frozenset(read_names(node.test) | self.block(node.body, live_after)
                         | self.block(node.orelse, live_after))

    def _While(self, node, live_after):
        exit_live = self.block(node.orelse, live_after)
        test_reads = read_names(node.test)

        def head_from(head):
            return frozenset(test_reads | self.block(node.body, head) | exit_live)
        return _fixpoint(head_from, frozenset(test_reads | exit_live))

    def _For(self, node, live_after):
        exit_live = self.block(node.orelse, live_after)
        targets = bound_names(node.target)
        head_reads = read_names(getattr(node, EXTRA_TEST, None)) | read_names_of_target(node.target)

        def head_from(head):
            return frozenset(head_reads | (self.block(node.body, head) - targets) | exit_live)
        head = _fixpoint(head_from, frozenset(head_reads | exit_live))
        return head | read_names(node.iter)

    def _With(self, node, live_after):
        reads = set()
        for item in node.items:
            reads |= read_names(item.context_expr) | read_names_of_target(item.optional_vars)
        targets = bound_names([i.optional_vars for i in node.items if i.optional_vars is not None])
        return frozenset(reads | (self.block(node.body, live_after) - targets))

    def _Try(self, node, live_after):
        # An exception may leave the body anywhere, so whatever a handler or the finally block
        # reads is live throughout the body.
        final_live = self.block(node.finalbody, live_after)
        handlers_live = set()
        for handler in node.handlers:
            inner = self.block(handler.body, final_live) - ({handler.name} if handler.name else set())
            handlers_live |= inner | read_names(handler.type)
        anywhere = frozenset(handlers_live | final_live)
        body_exit = self.block(node.orelse, final_live)
        outer, self.live_everywhere = self.live_everywhere, self.live_everywhere | anywhere
        try:
            return frozenset(self.block(node.body, body_exit))
        finally:
            self.live_everywhere = outer
    _TryStar = _Try

    def _Match(self, node, live_after):
        live = set(live_after)
        for case in node.cases:
            captured = bound_names(case.pattern)
            live |= (self.block(case.body, live_after) | read_names(case.guard)) - captured
            live |= read_names(case.pattern)
        return frozenset(live | read_names(node.subject))

    def _FunctionDef(self, node, live_after):
        return frozenset((live_after - {node.name}) | read_names(node))
    _AsyncFunctionDef = _ClassDef = _FunctionDef


def read_names_of_target(target):
    """Names an assignment target reads (`a[i] = ...` reads a and i; `x = ...` reads nothing)."""
    if target is None:
        return set()
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _fixpoint(step, start):
    current = start
    while True:
        following = step(current)
        if following == current:
            return current
        current = following | current


# ---- reaching definitions -----------------------------------------------------------------------
class _ReachingDefinitions:
    """`may_defined_in[node]`: names that some path may have assigned on entry to `node`, in the
    scope `node` will run in once converted. A converted if's blocks and a loop's body become
    functions: names they assign without exporting (declaring nonlocal) are locals of those
    functions, undefined on entry to them and gone after them. A block's result is None when it
    cannot complete (it raised)."""

    def __init__(self, facts, escaping):
        self.facts, self.escaping = facts, frozenset(escaping)

    def block(self, statements, defined):
        for statement in statements:
            if defined is None:            # unreachable code: nothing reaches it
                defined = frozenset()
            defined = self.statement(statement, defined)
        return defined

    def statement(self, node, defined):
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            return defined | bound_names(node)
        self.facts.may_defined_in[node] = defined
        return method(node, defined)

    def exported(self, node, modified):
        """The names a converted statement's blocks assign in the enclosing scope (see statements.py)."""
        return modified & (self.facts.live_in.get(node, frozenset()) | self.facts.live_out.get(node, frozenset())
                           | self.escaping)

    def _Return(self, node, defined):
        return None
    _Raise = _Return

    def _If(self, node, defined):
        exported = self.exported(node, bound_names(node.body + node.orelse))
        outs = [self.block(block, defined - (bound_names(block) - exported)) for block in (node.body, node.orelse)]
        after = _union(*outs)
        return None if after is None else defined | (after & exported)

    def _While(self, node, defined):
        return self._loop(node, defined, node.body, frozenset())

    def _For(self, node, defined):
        return self._loop(node, defined, node.body, frozenset(bound_names(node.target)))

    def _loop(self, node, defined, body, targets):
        local = (bound_names(body) | targets) - self.exported(node, bound_names(body) | targets)
        head = defined
        while True:
            after_body = self.block(body, (head - local) | targets)
            following = head | ((after_body or frozenset()) - local)
            if following == head:
                return head
            head = following

    def _With(self, node, defined):
        targets = bound_names([i.optional_vars for i in node.items if i.optional_vars is not None])
        return self.block(node.body, defined | targets)

    def _Try(self, node, defined):
        body_out = self.block(node.body, defined)
        anywhere = defined | bound_names(node.body)     # where an exception may leave the body
        outs = [self.block(node.orelse, body_out) if body_out is not None else None]
        for handler in node.handlers:
            outs.append(self.block(handler.body, anywhere | ({handler.name} if handler.name else set())))
        completed = _union(*outs)
        final_out = self.block(node.finalbody, _union(completed, anywhere))
        return None if completed is None or final_out is None else final_out
    _TryStar = _Try

    def _Match(self, node, defined):
        outs = [defined]                                  # no case matched
        for case in node.cases:
            outs.append(self.block(case.body, defined | bound_names(case.pattern) | bound_names(case.guard or [])))
        return _union(*outs)

    def _FunctionDef(self, node, defined):
        return defined | {node.name}
    _AsyncFunctionDef = _ClassDef = _FunctionDef


def _union(*sets):
    present = [s for s in sets if s is not None]
    if not present:
        return None
    result = frozenset()
    for s in present:
        result |= s
    return result
