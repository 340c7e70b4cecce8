"""Converting one function: source -> AST -> the passes -> code object, instantiated with the
original function's globals, closure cells and defaults. Cached by code object.

The passes, in TF's order:
  1. jumps.py       break / continue / return -> flags         (each function scope)
  2. statements.py  if / while / for -> ag__.*_stmt calls       (each function scope)
  3. bindings.py    nonlocal targets bound; possibly-undefined reads -> ag__.ld
  4. expressions.py and / or / not / ternary -> ag__ operators; calls -> ag__.converted_call

The converted code keeps the user's file name and line numbers (generated statements take the
line of the statement they replace), so tracebacks and error messages point at the user's code.

Closures: the converted `def` is compiled inside two factories, as TF's AutoGraph does:

    def ag__outer_factory():
        x = None                       # one per free variable of the original function
        def ag__inner_factory(ag__):
            def tf__f(...): ...        # refers to x: a free variable of ag__inner_factory
            return tf__f
        return ag__inner_factory

The inner factory's code is then instantiated with the original function's cells as its
closure, so the converted function reads and writes the very same variables.
"""
import ast
import builtins
import functools
import inspect
import linecache
import os
import sysconfig
import types
import warnings
import weakref

from . import analysis, operators, py_builtins
from .bindings import bind_declared_names, guard_undefined_reads
from .expressions import add_super_arguments, convert_expressions, mangle_private_names
from .jumps import lower_jumps
from .statements import convert_control_flow
from .templates import Namer, build, located


class Unconvertible(Exception):
    """The function cannot be converted (no source, a generator, ...): it runs as it is."""


class AutoGraphWarning(UserWarning):
    """A function could not be converted and runs unconverted."""


_LIBRARY_PACKAGES = {"tracejit", "kernels", "numpy", "scipy", "numba", "llvmlite", "pytest", "_pytest", "pluggy"}
_STDLIB = sysconfig.get_paths()["stdlib"] + os.sep
_NOT_PLAIN_FUNCTION = (inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
                       | inspect.CO_ITERABLE_COROUTINE)

_conversions = {}                          # code object -> _Conversion, or the exception it raised
_converted_codes = set()                   # code objects conversion produced: never converted again
_user_locals = {}                          # code nested in a converted function -> that function's cell names
_instances = weakref.WeakKeyDictionary()   # function -> its converted function
_warned = set()


# ---- entry points -------------------------------------------------------------------------------
def convert_function(f):
    """The converted function (cached); raises Unconvertible or the conversion's error."""
    converted = _instances.get(f)
    if converted is None:
        converted = _instances[f] = _conversion(f.__code__, f).instantiate(f)
    return converted


def converted_source(f):
    return _conversion(f.__code__, f).source


def user_locals(code):
    """For a code object nested in a converted function (the blocks AutoGraph generates: branch and
    loop bodies, get_state / set_state): the names that are the converted function's own local
    variables, which those blocks read and write through closure cells. Empty for other code."""
    return _user_locals.get(code, frozenset())



def converted_call(f, args, kwargs):
    """f(*args, **kwargs) with f converted first (user functions and methods; cached)."""
    kwargs = kwargs or {}
    result = py_builtins.overload(f, args, kwargs)
    if result is not py_builtins.NOT_OVERLOADED:
        return result
    return converted_callable(f)(*args, **kwargs)


def converted_callable(f, warn=True):
    """What converted code calls instead of `f`: its converted form when it is user code that
    can be converted, else `f` itself (library code, builtins, classes, do_not_convert)."""
    if _never_converted(f):
        return f
    if isinstance(f, types.FunctionType):
        return _convert_or_fall_back(f, warn)
    if isinstance(f, types.MethodType):
        function = converted_callable(f.__func__, warn)
        return f if function is f.__func__ else types.MethodType(function, f.__self__)
    if isinstance(f, functools.partial):
        function = converted_callable(f.func, warn)
        return f if function is f.func else functools.partial(function, *f.args, **f.keywords)
    if not isinstance(f, type) and isinstance(getattr(type(f), "__call__", None), types.FunctionType):
        call = converted_callable(type(f).__call__, warn)      # a callable object of a user class
        return f if call is type(f).__call__ else types.MethodType(call, f)
    return f


def _never_converted(f):
    if getattr(f, "__ag_do_not_convert__", False) or isinstance(f, type):
        return True
    module = getattr(f, "__module__", None) or ""
    if module.split(".")[0] in _LIBRARY_PACKAGES:
        return True
    code = getattr(f, "__code__", None)
    if code is not None:
        return code in _converted_codes or _is_standard_library(code.co_filename)
    return False


def _is_standard_library(filename):
    return filename.startswith(_STDLIB) and "-packages" + os.sep not in filename


def _convert_or_fall_back(f, warn):
    try:
        return convert_function(f)
    except Unconvertible:
        return f
    except Exception as e:                               # noqa: BLE001 -- any failure: run as-is, as TF does
        if warn and f.__code__ not in _warned:
            _warned.add(f.__code__)
            warnings.warn(f"AutoGraph could not convert {_describe(f)} and will run it as-is: "
                          f"{type(e).__name__}: {e}", AutoGraphWarning, stacklevel=3)
        return f


def _describe(f):
    code = f.__code__
    return f"{f.__qualname__} ({os.path.basename(code.co_filename)}:{code.co_firstlineno})"


# ---- one conversion per code object ---------------------------------------------------------
class _Conversion:
    def __init__(self, factory_code, source):
        self.factory_code = factory_code      # ag__inner_factory
        self.source = source                  # the converted function, as text (to_code)

    def instantiate(self, f):
        cells = dict(zip(f.__code__.co_freevars, f.__closure__ or ()))
        closure = tuple(cells[name] for name in self.factory_code.co_freevars)
        factory = types.FunctionType(self.factory_code, f.__globals__, "ag__inner_factory", None, closure)
        converted = factory(_AG)
        for attribute in ("__defaults__", "__kwdefaults__", "__name__", "__qualname__", "__doc__", "__module__",
                          "__annotations__"):
            setattr(converted, attribute, getattr(f, attribute))
        converted.__dict__.update(f.__dict__)
        return converted


def _conversion(code, f):
    cached = _conversions.get(code)
    if cached is None:
        try:
            cached = _convert(f)
        except Exception as e:        # remembered, so a function that fails is not parsed on every call
            cached = e
        _conversions[code] = cached
    if isinstance(cached, Exception):
        raise cached.with_traceback(None)
    return cached


def _convert(f):
    node = _function_node(f)
    _prepare(node, f)
    try:
        _transform(node, _resolver(f))
    except NotImplementedError as e:
        raise NotImplementedError(f"AutoGraph cannot convert {_describe(f)}: {e}") from None
    source = ast.unparse(node)
    factory_code = _compile(node, f)
    _converted_codes.update(_code_objects(factory_code))
    converted_code = _constant_code(factory_code, node.name)
    for nested in _code_objects(converted_code)[1:]:
        _user_locals[nested] = frozenset(converted_code.co_cellvars)
    return _Conversion(factory_code, source)


def _transform(node, resolve):
    namer = Namer(node)
    scopes = [node] + analysis.nested_functions(node)
    for scope in scopes:
        lower_jumps(scope, namer)
    undefined = set()
    for scope in scopes:
        undefined |= convert_control_flow(scope, namer, _parameters(scope.args), resolve)
    undefined |= bind_declared_names(node)
    guard_undefined_reads(node, undefined)
    convert_expressions(node)
    ast.fix_missing_locations(node)


def _parameters(args):
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    return names | {a.arg for a in (args.vararg, args.kwarg) if a is not None}


def _prepare(node, f):
    """Decorators, defaults and annotations are the original function's already (defaults are
    copied onto the converted function); evaluating them again could fail or differ."""
    node.decorator_list, node.returns = [], None
    arguments = node.args
    for argument in arguments.posonlyargs + arguments.args + arguments.kwonlyargs + [arguments.vararg,
                                                                                       arguments.kwarg]:
        if argument is not None:
            argument.annotation = None
    arguments.defaults, arguments.kw_defaults = [], [None] * len(arguments.kwonlyargs)
    class_name = _class_name(f)
    if class_name is not None:
        mangle_private_names(node, class_name)
    if "__class__" in f.__code__.co_freevars:
        add_super_arguments(node)
    name = f.__code__.co_name
    node.name = "tf__" + ("lambda" if name == "<lambda>" else name)


def _class_name(f):
    parts = f.__qualname__.split(".")
    return parts[-2] if len(parts) >= 2 and parts[-2] != "<locals>" else None


def _resolver(f):
    """Evaluates a name or attribute chain as the function would see it (for directives)."""
    namespace = dict(vars(builtins))
    namespace.update(f.__globals__)
    for name, cell in zip(f.__code__.co_freevars, f.__closure__ or ()):
        try:
            namespace[name] = cell.cell_contents
        except ValueError:
            pass

    def resolve(expr):
        if isinstance(expr, ast.Name):
            return namespace.get(expr.id)
        if isinstance(expr, ast.Attribute):
            return getattr(resolve(expr.value), expr.attr, None)
        return None
    return resolve


def _compile(node, f):
    placeholders = [s for name in f.__code__.co_freevars for s in build(f"{name} = None")]
    module = located(build(f"""
        def ag__outer_factory():
            ag__placeholders
            def ag__inner_factory(ag__):
                ag__function
                return {node.name}
            return ag__inner_factory
    """, ag__placeholders=placeholders, ag__function=[node]), node)
    code = compile(ast.Module(body=module, type_ignores=[]), f.__code__.co_filename, "exec")
    outer = _constant_code(code, "ag__outer_factory")
    return _constant_code(outer, "ag__inner_factory")


def _constant_code(code, name):
    return next(c for c in code.co_consts if isinstance(c, types.CodeType) and c.co_name == name)


def _code_objects(code):
    found = [code]
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            found.extend(_code_objects(constant))
    return found


# ---- finding the function's AST -----------------------------------------------------------------
def _function_node(f):
    code = f.__code__
    if code.co_flags & _NOT_PLAIN_FUNCTION:
        raise Unconvertible("generators and coroutines are not converted")
    if code.co_name == "<lambda>":
        return _lambda_node(code)
    lines, first_line = _source_lines(f)
    statements = _parse_lines(lines, first_line)
    node = statements[0] if statements else None
    if not isinstance(node, ast.FunctionDef) or node.name != code.co_name:
        raise Unconvertible(f"the source found for {code.co_name} does not define it")
    return node


def _source_lines(f):
    try:
        return inspect.getsourcelines(f)
    except (OSError, TypeError) as e:
        raise Unconvertible(f"its source code is not available ({e})") from None


def _parse_lines(lines, first_line):
    """The statements of source `lines` starting at file line `first_line`, with the file's line
    numbers and columns. Indented source (a method, a nested function) is parsed inside an
    `if 1:` rather than dedented, so columns stay exact for tracebacks."""
    source = "".join(lines)
    indented = source[:1] in (" ", "\t")
    try:
        tree = ast.parse("if 1:\n" + source if indented else source)
    except SyntaxError as e:
        raise Unconvertible(f"its source could not be parsed ({e})") from None
    ast.increment_lineno(tree, first_line - 1 - (1 if indented else 0))
    return tree.body[0].body if indented else tree.body


def _lambda_node(code):
    """A lambda as `def tf__lambda(<its parameters>): return <its body>`. The body is located
    by the columns its instructions come from, so several lambdas on one line are told apart."""
    body = _lambda_body(code)
    node = ast.FunctionDef(name="tf__lambda", args=_arguments(code), body=[ast.Return(body)],
                           decorator_list=[], returns=None, type_comment=None)
    return located(node, body)


def _lambda_body(code):
    spans = [(line, col, end_line, end_col) for line, end_line, col, end_col in _positions(code)
             if None not in (line, end_line, col, end_col) and (line, col) != (end_line, end_col)]
    lines = linecache.getlines(code.co_filename)
    if not spans or not lines:
        raise Unconvertible("its source code is not available")
    start, end = min(s[:2] for s in spans), max(s[2:] for s in spans)
    text = _text_between(lines, start, end)
    try:
        body = ast.parse("(" + text + ")", mode="eval").body
    except SyntaxError:
        raise Unconvertible("its source could not be located") from None
    _move_to(body, start)
    if not {n.id for n in ast.walk(body) if isinstance(n, ast.Name)} <= _names_used_by(code):
        raise Unconvertible("its source could not be located")
    return body


def _positions(code):
    if not hasattr(code, "co_positions"):            # Python 3.10: no columns to find it by
        raise Unconvertible("lambdas are converted from Python 3.11 on")
    return code.co_positions()


def _text_between(lines, start, end):
    """Source text from (line, byte column) `start` to `end` (columns count UTF-8 bytes, as in ast)."""
    encoded = [line.encode("utf-8") for line in lines[start[0] - 1:end[0]]]
    encoded[-1] = encoded[-1][:end[1]]
    encoded[0] = encoded[0][start[1]:]
    return b"".join(encoded).decode("utf-8")


def _move_to(expr, start):
    """Positions of an expression parsed from "(" + text to those of text at `start` in the file."""
    line, col = start
    for node in ast.walk(expr):
        if hasattr(node, "lineno"):
            if node.lineno == 1:
                node.col_offset += col - 1
            if node.end_lineno == 1:
                node.end_col_offset += col - 1
    ast.increment_lineno(expr, line - 1)


def _names_used_by(code):
    names = set(code.co_names + code.co_varnames + code.co_freevars + code.co_cellvars)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _names_used_by(constant)
    return names


def _arguments(code):
    names = code.co_varnames
    n_positional, n_positional_only = code.co_argcount, code.co_posonlyargcount
    n_keyword_only = code.co_kwonlyargcount
    index = n_positional + n_keyword_only
    vararg = kwarg = None
    if code.co_flags & inspect.CO_VARARGS:
        vararg, index = ast.arg(names[index]), index + 1
    if code.co_flags & inspect.CO_VARKEYWORDS:
        kwarg = ast.arg(names[index])
    return ast.arguments(posonlyargs=[ast.arg(n) for n in names[:n_positional_only]],
                         args=[ast.arg(n) for n in names[n_positional_only:n_positional]],
                         vararg=vararg,
                         kwonlyargs=[ast.arg(n) for n in names[n_positional:n_positional + n_keyword_only]],
                         kw_defaults=[None] * n_keyword_only, kwarg=kwarg, defaults=[])


# What converted code calls `ag__`: the runtime operators, and converted_call (which converts the
# functions it calls, so it lives here with the converter).
_AG = types.SimpleNamespace(**{name: value for name, value in vars(operators).items() if not name.startswith("__")},
                            converted_call=converted_call)
