"""Two finishing passes over the converted function.

`bind_declared_names`: Python requires the target of a `nonlocal` declaration to be bound in an
enclosing function. Once its assignments have moved into generated block functions, a scope may
no longer bind a name its blocks declare nonlocal (a variable used only inside one loop body, for
example); such a name is a local of that scope that nothing has assigned on entry, so
`name = ag__.Undefined('name')` at the top of the scope is exactly its state there.

`guard_undefined_reads`: reads of a name that may hold `ag__.Undefined` become `ag__.ld(name)`,
which raises UnboundLocalError as Python would have.
"""
import ast

from . import analysis
from .templates import build, is_generated, located


def bind_declared_names(function):
    """Returns the names it bound, in all scopes."""
    bound = set()
    for scope in [function] + _functions_inside(function):
        bound |= _bind_in_scope(scope)
    return bound


def _functions_inside(function):
    return [n for n in ast.walk(function) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and n is not function]


def _bind_in_scope(scope):
    own = _parameters(scope.args) | analysis.bound_names(scope.body)
    for node in analysis.walk_scope(scope.body):
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            own |= set(node.names)
    wanted = set()
    for child in analysis.walk_scope(scope.body):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in analysis.walk_scope(child.body):
                if isinstance(node, ast.Nonlocal):
                    wanted |= set(node.names)
    missing = sorted(wanted - own)
    if missing:
        first = 1 if _is_docstring(scope.body[0]) else 0
        while first < len(scope.body) and isinstance(scope.body[first], (ast.Global, ast.Nonlocal)):
            first += 1                     # after the declarations, for readability
        statements = [s for n in missing for s in build(f"{n} = ag__.Undefined({n!r})")]
        scope.body[first:first] = located(statements, scope.body[first] if first < len(scope.body) else scope)
    return set(missing)


def _parameters(args):
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    return names | {a.arg for a in (args.vararg, args.kwarg) if a is not None}


def _is_docstring(statement):
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) and \
        isinstance(statement.value.value, str)


def guard_undefined_reads(function, names):
    if names:
        _GuardReads(names).visit(function)


class _GuardReads(ast.NodeTransformer):
    def __init__(self, names):
        self.names = names

    def visit_Name(self, node):
        if node.id in self.names and isinstance(node.ctx, ast.Load) and not is_generated(node):
            return ast.copy_location(ast.Call(func=ast.Attribute(value=ast.Name("ag__", ast.Load()), attr="ld",
                                                                 ctx=ast.Load()),
                                              args=[node], keywords=[]), node)
        return node
