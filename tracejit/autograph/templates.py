"""Generated code written as code: `build(source, **pieces)` parses a snippet and splices the
user's AST pieces into it, so the converters read like the code they produce.

    build('''
        def if_body():
            ag__body
        ag__.if_stmt(ag__test, if_body, else_body, get_state, set_state, ('y',))
    ''', ag__body=[...statements...], ag__test=<expr>)

A placeholder name whose piece is an expression is replaced by it (with the context of the
place it lands in); an expression statement holding just a placeholder name is replaced by a
list of statements. Placeholders are named `ag__...`, a prefix user code does not use; other
identifiers are taken literally, so the caller formats names straight into the source.
The template's own nodes carry no source location: `located` gives them the user statement's.
"""
import ast
import copy
import textwrap

GENERATED = "_ag_generated"    # attribute set on every node a template made (not on spliced pieces)


def build(source, **pieces):
    """The statements of `source` with the placeholders replaced."""
    tree = ast.parse(textwrap.dedent(source))
    for node in ast.walk(tree):
        setattr(node, GENERATED, True)
        for attribute in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
            if hasattr(node, attribute):
                delattr(node, attribute)
    return _Splicer(pieces).splice_block(tree.body)


def build_expr(source, **pieces):
    """One expression."""
    (statement,) = build(source, **pieces)
    return statement.value


def is_generated(node):
    return getattr(node, GENERATED, False)


def located(nodes, origin):
    """`nodes` (a node or a list) with every missing location taken from `origin`, so errors and
    tracebacks in generated code point at the user's statement."""
    # Generated code spans only the first line of `origin`: CPython places a method call that
    # spans lines on its last line, which would move `ag__.if_stmt(...)` to the end of the if.
    one_line = getattr(origin, "end_lineno", None) == getattr(origin, "lineno", None)
    position = dict(lineno=origin.lineno, col_offset=origin.col_offset, end_lineno=origin.lineno,
                    end_col_offset=origin.end_col_offset if one_line else origin.col_offset)
    for root in nodes if isinstance(nodes, list) else [nodes]:
        for node in ast.walk(root):
            if "lineno" in node._attributes and not hasattr(node, "lineno"):
                for attribute, value in position.items():
                    setattr(node, attribute, value)
    return nodes


class _Splicer(ast.NodeTransformer):
    def __init__(self, pieces):
        self.pieces = pieces

    def splice_block(self, statements):
        result = []
        for statement in statements:
            replacement = self._statement_piece(statement)
            if replacement is not None:
                result.extend(replacement)
            else:
                result.append(self.visit(statement))
        return result

    def _statement_piece(self, statement):
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Name):
            piece = self.pieces.get(statement.value.id)
            if isinstance(piece, list):
                return piece
        return None

    def generic_visit(self, node):
        # Only the template's own nodes are visited: spliced pieces may use placeholder names.
        for field, value in ast.iter_fields(node):
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                setattr(node, field, self.splice_block(value))
            elif isinstance(value, list):
                setattr(node, field, [self.visit(v) if isinstance(v, ast.AST) else v for v in value])
            elif isinstance(value, ast.AST):
                setattr(node, field, self.visit(value))
        return node

    def visit_Name(self, node):
        piece = self.pieces.get(node.id)
        if piece is None:
            return node
        if isinstance(piece, list):
            raise ValueError(f"template placeholder {node.id!r} holds statements but is used as an expression")
        piece = copy.copy(piece)
        if hasattr(piece, "ctx"):
            piece = _with_context(piece, node.ctx)
        return piece


def _with_context(node, ctx):
    """A shallow copy of a target expression whose outer names/tuples get the context `ctx`."""
    node = copy.copy(node)
    node.ctx = type(ctx)()
    if isinstance(node, (ast.Tuple, ast.List)):
        node.elts = [_with_context(e, ctx) if hasattr(e, "ctx") else e for e in node.elts]
    elif isinstance(node, ast.Starred):
        node.value = _with_context(node.value, ctx)
    return node


class Namer:
    """Fresh identifiers for generated symbols: never one the function already uses."""

    def __init__(self, tree):
        self.taken = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                self.taken.add(node.id)
            elif isinstance(node, ast.arg):
                self.taken.add(node.arg)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.taken.add(node.name)
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                self.taken.update(node.names)
            elif isinstance(node, ast.alias):
                self.taken.add(node.asname or node.name.split(".")[0])
        self.shared_names = {}

    def new(self, base):
        name, n = base, 0
        while name in self.taken:
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        return name

    def shared(self, base):
        """One fresh name for every use of `base` (parameter names of generated functions)."""
        if base not in self.shared_names:
            self.shared_names[base] = self.new(base)
        return self.shared_names[base]
