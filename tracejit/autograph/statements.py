"""if / while / for statements to `ag__.if_stmt` / `while_stmt` / `for_stmt` calls (TF's form).

    if x > 0:                          def get_state():
        y = x * 2                          return (y,)
    else:                              def set_state(vars_):
        y = -x                             nonlocal y
                               ->          (y,) = vars_
                                       def if_body():
                                           nonlocal y
                                           y = x * 2
                                       def else_body():
                                           nonlocal y
                                           y = -x
                                       ag__.if_stmt(x > 0, if_body, else_body, get_state, set_state, ('y',))

The state of a statement is what it modifies and what can be observed afterwards (liveness,
see analysis.py); blocks declare `nonlocal` the names they assign that are state or are read
from outside. A state name that no path has defined yet is first set to `ag__.Undefined`.
Runs per function scope, after jumps.py, on the whole body at once.
"""
import ast

from . import analysis
from .analysis import EXTRA_TEST, is_composite, root_of
from .templates import build, located


def convert_control_flow(function, namer, parameters, resolve):
    """Converts the statements of `function` (not of functions nested in it) in place.
    `resolve(expr)` gives the value an expression names, if it can (for directives).
    Returns the names given an Undefined placeholder."""
    converter = _ControlFlow(function, namer, parameters, resolve)
    function.body = converter.block(function.body)
    return converter.undefined_names


class _ControlFlow:
    def __init__(self, function, namer, parameters, resolve):
        declared = [n for n in analysis.walk_scope(function.body) if isinstance(n, (ast.Global, ast.Nonlocal))]
        self.global_names = {name for n in declared if isinstance(n, ast.Global) for name in n.names}
        # Globals and the enclosing function's variables outlive this call: always observable.
        self.escaping = {name for n in declared for name in n.names}
        self.facts = analysis.analyze(function.body, parameters, self.escaping)
        self.namer = namer
        self.resolve = resolve
        self.undefined_names = set()
        self.vars_name = namer.shared("vars_")
        self.iterate_name = namer.shared("itr")

    # ---- blocks -------------------------------------------------------------------------------
    def block(self, statements):
        result = []
        for statement in statements:
            result.extend(self.statement(statement))
        return result

    def statement(self, node):
        if isinstance(node, ast.If):
            return self._if(node)
        if isinstance(node, ast.While):
            return self._while(node)
        if isinstance(node, ast.For):
            return self._for(node)
        if isinstance(node, (ast.With, ast.Try, getattr(ast, "TryStar", ast.Try), ast.Match)):
            self._convert_inner_blocks(node)
        return [node]            # simple statements; nested functions and classes are separate scopes

    def _convert_inner_blocks(self, node):
        for child in [node] + [c for c in ast.iter_child_nodes(node) if isinstance(c, (ast.excepthandler,
                                                                                           ast.match_case))]:
            for field in ("body", "orelse", "finalbody"):
                statements = getattr(child, field, None)
                if statements:
                    setattr(child, field, self.block(statements))

    # ---- if -----------------------------------------------------------------------------------
    def _if(self, node):
        modified = analysis.modified_symbols(node.body + node.orelse)
        names = {s for s in modified if not is_composite(s)}
        live_out = self.facts.live_out.get(node, frozenset()) | self.escaping
        outputs = sorted(names & live_out)
        state = outputs + self._composites(modified, names)
        declared_from_outside = set(outputs) | self.facts.live_in.get(node, frozenset()) | self.escaping
        getter, setter, state_functions = self._state_functions(state)
        body_name, else_name = self.namer.new("if_body"), self.namer.new("else_body")
        body = self._block_function(body_name, "", node.body, declared_from_outside)
        orelse = self._block_function(else_name, "", node.orelse, declared_from_outside)
        call = build(f"ag__.if_stmt(ag__test, {body_name}, {else_name}, {getter}, {setter}, {_names_tuple(state)})",
                     ag__test=node.test)
        return located(self._undefined(outputs, node) + state_functions + body + orelse + call, node)

    # ---- while --------------------------------------------------------------------------------
    def _while(self, node):
        if any(isinstance(n, ast.NamedExpr) for n in ast.walk(node.test)):
            raise NotImplementedError(f"line {node.lineno}: an assignment expression (:=) in a while condition "
                                      "is not supported by AutoGraph; assign before the loop and at the end of "
                                      "its body instead")
        options = self._loop_options(node)
        loop_vars, state = self._loop_state(node, analysis.modified_symbols(node.body))
        getter, setter, state_functions = self._state_functions(state)
        body_name, test_name = self.namer.new("loop_body"), self.namer.new("loop_test")
        body = self._block_function(body_name, "", node.body, set(loop_vars))
        test = build(f"""
            def {test_name}():
                return ag__test
        """, ag__test=node.test)
        call = build(f"ag__.while_stmt({test_name}, {body_name}, {getter}, {setter}, {_names_tuple(state)}, "
                     "ag__options)", ag__options=options)
        return located(self._undefined(loop_vars, node) + state_functions + body + test + call, node)

    # ---- for ----------------------------------------------------------------------------------
    def _for(self, node):
        options = self._loop_options(node, iterate_names=ast.unparse(node.target))
        modified = analysis.modified_symbols(node.body) | analysis.modified_symbols(node.target)
        loop_vars, state = self._loop_state(node, modified)
        getter, setter, state_functions = self._state_functions(state)
        body_name = self.namer.new("loop_body")
        take_item = build(f"ag__target = {self.iterate_name}", ag__target=node.target)
        body = self._block_function(body_name, self.iterate_name, take_item + node.body, set(loop_vars))
        extra_test, extra_name = [], "None"
        if getattr(node, EXTRA_TEST, None) is not None:
            extra_name = self.namer.new("extra_test")
            extra_test = build(f"""
                def {extra_name}():
                    return ag__test
            """, ag__test=getattr(node, EXTRA_TEST))
        call = build(f"ag__.for_stmt(ag__iterable, {extra_name}, {body_name}, {getter}, {setter}, "
                     f"{_names_tuple(state)}, ag__options)", ag__iterable=node.iter, ag__options=options)
        return located(self._undefined(loop_vars, node) + state_functions + body + extra_test + call, node)

    def _loop_state(self, node, modified):
        """Loop variables: the names the loop modifies that are live at its head or after it."""
        names = {s for s in modified if not is_composite(s)}
        live = (self.facts.live_in.get(node, frozenset()) | self.facts.live_out.get(node, frozenset())
                | self.escaping)
        loop_vars = sorted(names & live)
        return loop_vars, loop_vars + self._composites(modified, names)

    def _loop_options(self, node, **fixed):
        """`tf.autograph.experimental.set_loop_options(...)` calls in the loop body (removed
        from it) and `fixed` entries, as the opts dict of the operator call."""
        from . import experimental
        keys, values = [ast.Constant(k) for k in fixed], [ast.Constant(v) for v in fixed.values()]
        kept = []
        for statement in node.body:
            call = statement.value if isinstance(statement, ast.Expr) else None
            if isinstance(call, ast.Call) and self.resolve(call.func) is experimental.set_loop_options:
                if call.args:
                    raise NotImplementedError(f"line {call.lineno}: pass set_loop_options arguments by keyword")
                keys += [ast.Constant(k.arg) for k in call.keywords]
                values += [k.value for k in call.keywords]
            else:
                kept.append(statement)
        node.body = kept or [ast.Pass()]
        return ast.Dict(keys=keys, values=values)

    # ---- generated pieces ---------------------------------------------------------------------
    def _composites(self, modified, names):
        """Attribute state (`self.x`) of objects that exist before the statement."""
        return sorted(s for s in modified if is_composite(s) and root_of(s) not in names)

    def _block_function(self, name, parameter, statements, declarable):
        """`def name(parameter): nonlocal ...; statements` — the block converted, declaring the names
        it assigns that are in `declarable`."""
        declared = analysis.bound_names(statements) & declarable
        body = self._declarations(declared) + self.block(statements)
        return build(f"""
            def {name}({parameter}):
                ag__body
        """, ag__body=body or [ast.Pass()])

    def _state_functions(self, state):
        getter, setter = self.namer.new("get_state"), self.namer.new("set_state")
        if not state:
            return getter, setter, build(f"""
                def {getter}():
                    return ()
                def {setter}({self.vars_name}):
                    pass
            """)
        reads = ", ".join(f"ag__.ldu(lambda: {s}, {s!r})" if is_composite(s) else s for s in state)
        declarations = self._declarations({s for s in state if not is_composite(s)})
        return getter, setter, build(f"""
            def {getter}():
                return ({reads},)
            def {setter}({self.vars_name}):
                ag__declarations
                ({", ".join(state)},) = {self.vars_name}
        """, ag__declarations=declarations)

    def _declarations(self, names):
        statements = []
        nonlocal_names = sorted(n for n in names if n not in self.global_names)
        global_names = sorted(n for n in names if n in self.global_names)
        if nonlocal_names:
            statements.append(ast.Nonlocal(names=nonlocal_names))
        if global_names:
            statements.append(ast.Global(names=global_names))
        return statements

    def _undefined(self, names, node):
        """`x = ag__.Undefined('x')` for the state names no path has defined before `node`."""
        defined = self.facts.may_defined_in.get(node, frozenset())
        missing = [n for n in names if n not in defined and n not in self.escaping]
        self.undefined_names.update(missing)
        return [statement for n in missing for statement in build(f"{n} = ag__.Undefined({n!r})")]


def _names_tuple(state):
    return repr(tuple(state))
