"""The native backend's lowering table for loop bodies: per elementwise primitive, how one loop
iteration computes its result from its operands' values (kernels.ir Scalars), with NumPy's
semantics. The vectorizable math lives in kernels/mathfuncs.py. Reductions need no entry: a
primitive with a monoid trait combines elements with its monoid's `combine` primitive, whose
entry is here. Other primitives (matmul, one_hot, ...) have whole-node rules in rules.py.

Values of float16 tensors are computed as float32 (and rounded back after every op by the
emitter). Importing this module imports neither llvmlite nor anything heavy: fusion asks it
what can join a loop."""
import math

from ...ops import REGISTRY as P
from ..lowering import LoweringTable

LOWERINGS = LoweringTable("native")


class Elementwise:
    """`build(ir_ops, node, *operands)` -> the result Scalar (any kind: the emitter converts it to
    the node's dtype). floats_only: integer results run on the host (e.g. integer floor division,
    which must raise on a zero divisor)."""

    def __init__(self, build, floats_only=False):
        self.build, self.floats_only = build, floats_only

    def accepts(self, node):
        return not (self.floats_only and not node.outputs[0].dtype.is_floating)


def elementwise(name, build, floats_only=False):
    LOWERINGS.register(P[name], Elementwise(build, floats_only))


def _math(function_name):
    def build(ops, node, x):
        from kernels import mathfuncs
        return getattr(mathfuncs, function_name)(ops, ops.to_float(x, _float_kind(x, ops)))
    return build


def _float_kind(x, ops):
    return x.kind if x.kind in ("f32", "f64") else "f64"


for _name in ("exp", "expm1", "log", "log1p", "tanh", "sigmoid", "softplus", "erf"):
    elementwise(_name, _math(_name))
for _name, _intrinsic in (("sqrt", "sqrt"), ("floor", "floor"), ("ceil", "ceil"), ("round", "rint"), ("sin", "sin"),
                          ("cos", "cos")):
    elementwise(_name, lambda ops, node, x, _i=_intrinsic: getattr(ops, _i)(x))


def _abs(ops, node, x):
    return ops.fabs(x) if x.kind in ("f32", "f64") else ops.where(x < 0, -x, x)


def _true_divide(ops, node, x, y):
    if x.kind not in ("f32", "f64"):          # int / int is float64 (float32 for small ints), as NumPy
        kind = "f64" if node.outputs[0].dtype.name == "float64" else "f32"
        x, y = ops.to_float(x, kind), ops.to_float(y, kind)
    return x / y


def _fmod(ops, x, y):
    return x.fn.arith("mod", x, y)


def _floordiv(ops, node, x, y):
    """NumPy's npy_divmod for floats: floor of the exact quotient, corrected by fmod."""
    mod = _fmod(ops, x, y)
    div = (x - mod) / y
    adjust = (mod != 0) & ((y < 0) != (mod < 0))
    div = ops.where(adjust, div - 1.0, div)
    floor = ops.floor(div)
    floor = ops.where(div - floor > 0.5, floor + 1.0, floor)
    return ops.where(div != 0, floor, ops.copysign(ops.const(0.0, x), x / y))


def _floormod(ops, node, x, y):
    mod = _fmod(ops, x, y)
    adjust = (mod != 0) & ((y < 0) != (mod < 0))
    mod = ops.where(adjust, mod + y, mod)
    return ops.where(mod == 0, ops.copysign(ops.const(0.0, x), y), mod)


def _pow(ops, node, x, y):
    return x.fn.intrinsic("pow", x, y)


def _maximum(ops, node, x, y):
    from kernels import mathfuncs
    return mathfuncs.maximum(ops, x, y)


def _minimum(ops, node, x, y):
    from kernels import mathfuncs
    return mathfuncs.minimum(ops, x, y)


def _relu(ops, node, x):
    from kernels import mathfuncs
    return mathfuncs.relu(ops, x)


def _sign(ops, node, x):
    from kernels import mathfuncs
    return mathfuncs.sign(ops, x)


elementwise("abs", _abs)
elementwise("sign", _sign)
elementwise("relu", _relu)
elementwise("identity", lambda ops, node, x: x)
elementwise("stop_gradient", lambda ops, node, x: x)
elementwise("broadcast_like", lambda ops, node, x, like: x)
elementwise("negative", lambda ops, node, x: -x)
elementwise("square", lambda ops, node, x: x * x)
elementwise("rsqrt", lambda ops, node, x: 1.0 / ops.sqrt(x))
elementwise("reciprocal", lambda ops, node, x: 1.0 / x)
elementwise("is_nan", lambda ops, node, x: x != x)
elementwise("is_inf", lambda ops, node, x: ops.fabs(x) == math.inf)
elementwise("is_finite", lambda ops, node, x: ops.fabs(x) < math.inf)
elementwise("logical_not", lambda ops, node, x: x.fn.logical_not(x))
elementwise("leaky_relu", lambda ops, node, x: ops.where(x > 0, x, x * float(node.params.get("alpha", 0.2))))
elementwise("elu", lambda ops, node, x: ops.where(x > 0, x, _math("expm1")(ops, node, x)))
elementwise("add", lambda ops, node, x, y: x + y)
elementwise("subtract", lambda ops, node, x, y: x - y)
elementwise("multiply", lambda ops, node, x, y: x * y)
elementwise("divide", _true_divide)
elementwise("floordiv", _floordiv, floats_only=True)
elementwise("floormod", _floormod, floats_only=True)
elementwise("pow", _pow, floats_only=True)
elementwise("maximum", _maximum)
elementwise("minimum", _minimum)
elementwise("squared_difference", lambda ops, node, x, y: (x - y) * (x - y))
elementwise("equal", lambda ops, node, x, y: x == y)
elementwise("not_equal", lambda ops, node, x, y: x != y)
elementwise("less", lambda ops, node, x, y: x < y)
elementwise("less_equal", lambda ops, node, x, y: x <= y)
elementwise("greater", lambda ops, node, x, y: x > y)
elementwise("greater_equal", lambda ops, node, x, y: x >= y)
elementwise("logical_and", lambda ops, node, x, y: x & y)
elementwise("logical_or", lambda ops, node, x, y: x | y)
elementwise("logical_xor", lambda ops, node, x, y: x ^ y)
elementwise("select", lambda ops, node, c, x, y: ops.where(c, x, y))
elementwise("cast", lambda ops, node, x: x)        # the emitter converts every result to the node's dtype


_LOOP_KINDS = set("fiub")        # complex and string values run on NumPy


def can_lower(node):
    rule = LOWERINGS.get(node.prim)
    return isinstance(rule, Elementwise) and rule.accepts(node) and all(
        v.dtype.kind in _LOOP_KINDS for v in node.inputs + node.outputs)
