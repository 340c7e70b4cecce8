"""Expression-level conversions.

- `a and b`, `a or b`, `not a`, `a if c else b` -> `ag__.and_(lambda: a, lambda: b)`, `ag__.or_`,
  `ag__.not_(a)`, `ag__.if_exp(c, lambda: a, lambda: b, 'c')`: lazy like Python, and staged
  with cond when the deciding operand is a symbolic tensor.
- `f(x, k=v)` -> `ag__.converted_call(f, (x,), {'k': v})`, so functions the converted code calls
  are converted too (at call time). Calls whose meaning depends on the calling frame (super,
  locals, ...) stay as they are; print goes through converted_call, which prints tensors when the
  graph runs (py_builtins), as TF's AutoGraph does.
- Before anything moves into generated functions: zero-argument `super()` gets its implicit
  arguments, and private names in methods are mangled (`self.__x` -> `self._Cls__x`) since the
  recompiled code is no longer inside the class body that mangled them.

Generators and coroutines nested in the function, and classes, are left untouched.
"""
import ast

from .analysis import is_generator_or_async, walk_scope
from .templates import build_expr, is_generated, located

_FRAME_DEPENDENT = {"super", "locals", "globals", "vars", "eval", "exec", "dir", "__import__"}


def convert_expressions(function):
    _LogicalExpressions().visit(function)
    _CallTrees().visit(function)


class _ScopedTransformer(ast.NodeTransformer):
    def visit_FunctionDef(self, node):
        if is_generator_or_async(node):
            return node
        return self.generic_visit(node)

    def visit_AsyncFunctionDef(self, node):
        return node

    def visit_ClassDef(self, node):
        return node


def _binds_names(node):
    """Expressions with := (or yield) cannot move into a lambda: they would bind in it instead."""
    return any(isinstance(n, (ast.NamedExpr, ast.Yield, ast.YieldFrom, ast.Await)) for n in ast.walk(node))


class _LogicalExpressions(_ScopedTransformer):
    def visit_BoolOp(self, node):
        self.generic_visit(node)
        if _binds_names(node):
            return node
        operator = "ag__.and_" if isinstance(node.op, ast.And) else "ag__.or_"
        result = node.values[-1]
        for value in reversed(node.values[:-1]):
            result = build_expr(f"{operator}(lambda: ag__left, lambda: ag__right)", ag__left=value, ag__right=result)
        return located(result, node)

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Not):
            return located(build_expr("ag__.not_(ag__operand)", ag__operand=node.operand), node)
        return node

    def visit_IfExp(self, node):
        self.generic_visit(node)
        if _binds_names(node):
            return node
        return located(build_expr("ag__.if_exp(ag__test, lambda: ag__body, lambda: ag__orelse, ag__repr)",
                                  ag__test=node.test, ag__body=node.body, ag__orelse=node.orelse,
                                  ag__repr=ast.Constant(ast.unparse(node.test))), node)


class _CallTrees(_ScopedTransformer):
    def visit_Call(self, node):
        self.generic_visit(node)
        if _stays_a_plain_call(node):
            return node
        args = ast.Tuple(elts=node.args, ctx=ast.Load())
        if node.keywords:
            kwargs = ast.Dict(keys=[None if k.arg is None else ast.Constant(k.arg) for k in node.keywords],
                              values=[k.value for k in node.keywords])
        else:
            kwargs = ast.Constant(None)
        return located(build_expr("ag__.converted_call(ag__f, ag__args, ag__kwargs)",
                                  ag__f=node.func, ag__args=args, ag__kwargs=kwargs), node)


def _stays_a_plain_call(node):
    func = node.func
    if isinstance(func, ast.Name):
        return func.id in _FRAME_DEPENDENT
    # Operator calls of generated code.
    return isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "ag__" \
        or is_generated(func)


# ---- prepared before conversion ---------------------------------------------------------------
def add_super_arguments(function):
    """`super()` -> `super(__class__, self)`: zero-argument super finds its arguments in the
    calling frame, which is no longer the method once its code moves into a block function."""
    arguments = function.args.posonlyargs + function.args.args
    if not arguments:
        return False
    first = arguments[0].arg
    changed = False
    for node in walk_scope(function.body):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super" \
                and not node.args and not node.keywords:
            node.args = [ast.Name("__class__", ast.Load()), ast.Name(first, ast.Load())]
            changed = True
    return changed


def mangle_private_names(function, class_name):
    """Python mangles `__name` inside a class body; recompiled outside it, the method must
    spell the mangled names itself."""
    prefix = "_" + class_name.lstrip("_")
    if prefix == "_":
        return

    def mangle(name):
        if name and name.startswith("__") and not name.endswith("__") and "." not in name:
            return prefix + name
        return name

    pending = [function]
    while pending:
        node = pending.pop()
        for field in ("id", "attr", "arg", "name", "asname"):
            value = getattr(node, field, None)
            if isinstance(value, str):
                setattr(node, field, mangle(value))
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            node.names = [mangle(n) for n in node.names]
        if not isinstance(node, ast.ClassDef):            # a nested class mangles with its own name
            pending.extend(ast.iter_child_nodes(node))
