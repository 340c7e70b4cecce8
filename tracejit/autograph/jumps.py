"""break, continue and return lowered to boolean flags, as TF's AutoGraph does.

A loop or branch that becomes a function (cond/while_loop body) cannot jump out of itself, so:

    while test:                       break_ = False
        a                             while not break_ and test:
        if c:                   ->        a
            break                         if c:
        b                                     break_ = True
                                          if not break_:
                                              b

`continue` sets a flag reset at the top of each iteration; `return x` sets `do_return = True;
retval_ = x`, adds `not do_return` to the tests of the loops it is in, and the function ends
with `return ag__.retval(retval_)`. A loop's `else:` runs after it unless it broke. The flags
are ordinary variables, so under a tensor condition they become tensors like any other.
Each pass handles one function scope; nested functions are lowered on their own.
"""
import ast

from .analysis import EXTRA_TEST
from .templates import build, build_expr, located


def lower_jumps(function, namer):
    _BreakLowering(namer).lower_function(function)
    _ContinueLowering(namer).lower_function(function)
    if _has_return_inside_control_flow(function):
        _ReturnLowering(namer).lower_function(function)


class _Flag:
    """A loop's flag variable, named only when first needed."""

    def __init__(self, namer, base):
        self.namer, self.base, self._name = namer, base, None

    @property
    def name(self):
        if self._name is None:
            self._name = self.namer.new(self.base)
        return self._name

    @property
    def used(self):
        return self._name is not None


class _Lowering(ast.NodeTransformer):
    """Statement lists go through `block`, which guards the statements after one that may have
    jumped with `if not <flag>:`. Nested functions, lambdas and classes are left alone.
    A subclass names the statement it lowers (`jump_type`) and its current flag (`flag()`)."""
    jump_type = None

    def __init__(self, namer):
        self.namer = namer
        self.jumps = 0              # jumps lowered so far in the current loop (or function)

    def lower_function(self, function):
        function.body = self.block(function.body)

    def block(self, statements):
        result = []
        for index, statement in enumerate(statements):
            before = self.jumps
            result.extend(_as_list(self.visit(statement)))
            rest = statements[index + 1:]
            if self.jumps != before and rest:
                if not isinstance(statement, self.jump_type):      # after a jump itself: dead code
                    result.append(_guard(self.flag(), self.block(rest), rest[0]))
                break
        return result

    def generic_visit(self, node):
        for field, value in ast.iter_fields(node):
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                setattr(node, field, self.block(value))
            elif isinstance(value, list):
                setattr(node, field, [self.visit(v) if isinstance(v, ast.AST) else v for v in value])
        return node

    def visit_FunctionDef(self, node):
        return node
    visit_AsyncFunctionDef = visit_ClassDef = visit_Lambda = visit_FunctionDef


def _as_list(result):
    return result if isinstance(result, list) else [result]


def _guard(flag, statements, origin):
    return located(build(f"""
        if not {flag}:
            ag__statements
    """, ag__statements=statements), origin)[0]


class _LoopLowering(_Lowering):
    """break or continue: each loop has its own flag; a jump in a loop's `else:` belongs to
    the enclosing loop."""
    flag_base = None

    def __init__(self, namer):
        super().__init__(namer)
        self.loop = None

    def flag(self):
        return self.loop.name

    def visit_While(self, node):
        return self._loop(node)
    visit_For = visit_While

    def _loop(self, node):
        outer = self.loop, self.jumps
        self.loop, self.jumps = _Flag(self.namer, self.flag_base), 0
        node.body = self.block(node.body)
        loop = self.loop
        self.loop, self.jumps = outer
        node.orelse = self.block(node.orelse)
        return self.finish_loop(node, loop)

    def finish_loop(self, node, loop):
        return node


class _BreakLowering(_LoopLowering):
    jump_type = ast.Break
    flag_base = "break_"

    def visit_Break(self, node):
        self.jumps += 1
        return located(build(f"{self.loop.name} = True"), node)

    def finish_loop(self, node, loop):
        # The else clause runs when the loop was not broken: afterwards, guarded by the flag.
        orelse, node.orelse = node.orelse, []
        if not loop.used:
            return [node] + orelse
        if isinstance(node, ast.While):
            node.test = located(build_expr(f"not {loop.name} and ag__test", ag__test=node.test), node.test)
        else:
            setattr(node, EXTRA_TEST, located(build_expr(f"not {loop.name}"), node))
        statements = located(build(f"{loop.name} = False"), node) + [node]
        if orelse:
            statements.append(_guard(loop.name, orelse, orelse[0]))
        return statements


class _ContinueLowering(_LoopLowering):
    jump_type = ast.Continue
    flag_base = "continue_"

    def visit_Continue(self, node):
        self.jumps += 1
        return located(build(f"{self.loop.name} = True"), node)

    def finish_loop(self, node, loop):
        if loop.used:
            node.body = located(build(f"{loop.name} = False"), node.body[0]) + node.body
        return node


class _ReturnLowering(_Lowering):
    jump_type = ast.Return

    def __init__(self, namer):
        super().__init__(namer)
        self.do_return = namer.new("do_return")
        self.retval = namer.new("retval_")

    def flag(self):
        return self.do_return

    def lower_function(self, function):
        docstring = function.body[:1] if _is_docstring(function.body[0]) else []
        body = self.block(function.body[len(docstring):])
        start = located(build(f"""
            {self.do_return} = False
            {self.retval} = ag__.UndefinedReturnValue()
        """), function.body[len(docstring)])
        end = located(build(f"return ag__.retval({self.retval})"), function.body[-1])
        function.body = docstring + start + body + end

    def visit_Return(self, node):
        self.jumps += 1
        value = node.value if node.value is not None else ast.Constant(None)
        return located(build(f"""
            {self.do_return} = True
            {self.retval} = ag__value
        """, ag__value=value), node)

    def visit_While(self, node):
        if self._lower_loop_body(node):
            node.test = located(build_expr(f"not {self.do_return} and ag__test", ag__test=node.test), node.test)
        return node

    def visit_For(self, node):
        if self._lower_loop_body(node):
            extra = getattr(node, EXTRA_TEST, None)
            test = (build_expr(f"not {self.do_return} and ag__extra", ag__extra=extra) if extra is not None
                    else build_expr(f"not {self.do_return}"))
            setattr(node, EXTRA_TEST, located(test, node))
        return node

    def _lower_loop_body(self, node):
        before = self.jumps
        node.body = self.block(node.body)
        node.orelse = self.block(node.orelse)
        return self.jumps != before

    def block(self, statements):
        for index, statement in enumerate(statements):
            rest = statements[index + 1:]
            if isinstance(statement, ast.If) and rest and (
                    _definitely_returns(statement.body) or _definitely_returns(statement.orelse)):
                # "if c: return a" then more code is "if c: return a / else: more code" (as in TF):
                # both branches then set the return value, which a tensor condition needs.
                if _definitely_returns(statement.body):
                    statement.orelse = statement.orelse + rest
                else:
                    statement.body = statement.body + rest
                return super().block(statements[:index + 1])
        return super().block(statements)


def _definitely_returns(statements):
    for statement in statements:
        if isinstance(statement, ast.Return):
            return True
        if isinstance(statement, ast.If) and _definitely_returns(statement.body) and \
                _definitely_returns(statement.orelse):
            return True
        if isinstance(statement, ast.With) and _definitely_returns(statement.body):
            return True
    return False


def _has_return_inside_control_flow(function):
    """Returns need lowering only if one sits inside an if or a loop (which become functions)."""
    from .analysis import walk_scope
    for node in walk_scope(function.body):
        if isinstance(node, (ast.If, ast.For, ast.While)):
            if any(isinstance(inner, ast.Return) for inner in walk_scope(node.body + node.orelse)):
                return True
    return False


def _is_docstring(statement):
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) and \
        isinstance(statement.value.value, str)
