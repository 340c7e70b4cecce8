"""The Numba backend's lowering table for loop bodies: per primitive, the scalar expression one
loop iteration computes from its operands' per-element values. Expressions may call the
vectorizable math of kernels/mathfuncs.py; each rule names the functions it uses, and the
generated kernel module imports exactly those (test_lowering checks they exist).

Reductions need no entry: a primitive with a monoid trait is computed by combining elements
with its monoid's `combine` primitive, whose expression comes from this table.
Importing this module does not import Numba (fusion asks it what can join a loop)."""
from ...ops import REGISTRY as P
from ..lowering import LoweringTable

LOWERINGS = LoweringTable("numba")
MATHFUNCS = "kernels.mathfuncs"
FLOAT16 = "kernels.float16"

_NUMPY_TYPE = {"float32": "np.float32", "float64": "np.float64", "int8": "np.int8", "int16": "np.int16",
               "int32": "np.int32", "int64": "np.int64", "uint8": "np.uint8"}


class Elementwise:
    """A template over operand names {0}, {1}, ... and the node's params ({alpha}); `uses` names
    the kernels.mathfuncs functions it calls."""

    def __init__(self, template, uses=(), floats_only=False):
        self.template, self.floats_only = template, floats_only
        self.imports = [(MATHFUNCS, name) for name in uses]

    def accepts(self, node):
        # integer floordiv/floormod raise on division by zero in eager mode; a Numba loop cannot raise
        return not (self.floats_only and not node.outputs[0].dtype.is_floating)

    def expression(self, node, operands):
        params = {k: repr(float(v)) if isinstance(v, (int, float)) else v for k, v in node.params.items()}
        return self.template.format(*operands, **params)


class Cast:
    """Conversions by target dtype; float16 values live as float32 inside kernels, rounded per op."""
    imports = [(FLOAT16, "float_to_half"), (FLOAT16, "half_to_float")]

    def accepts(self, node):
        return True

    def expression(self, node, operands):
        dtype = node.outputs[0].dtype
        if dtype.is_bool:
            return f"({operands[0]} != 0)"
        if dtype.name == "float16":
            return f"half_to_float(float_to_half({operands[0]}))"
        return f"{_NUMPY_TYPE[dtype.name]}({operands[0]})"


def elementwise(name, template, *uses, floats_only=False):
    LOWERINGS.register(P[name], Elementwise(template, uses, floats_only))


for _name in ("exp", "expm1", "log", "log1p", "tanh", "sigmoid", "softplus", "relu", "sqrt", "floor", "ceil",
              "sign", "round", "erf", "sin", "cos"):
    elementwise(_name, f"{_name}({{0}})", _name)
for _name, _function in (("is_nan", "isnan"), ("is_inf", "isinf"), ("is_finite", "isfinite")):
    elementwise(_name, f"{_function}({{0}})", _function)
elementwise("identity", "{0}")
elementwise("stop_gradient", "{0}")
elementwise("broadcast_like", "{0}")
elementwise("negative", "-{0}")
elementwise("abs", "abs({0})")
elementwise("square", "{0} * {0}")
elementwise("rsqrt", "1 / sqrt({0})", "sqrt")
elementwise("reciprocal", "1 / {0}")
elementwise("logical_not", "not {0}")
elementwise("leaky_relu", "{0} if {0} > 0 else {alpha} * {0}")
elementwise("elu", "{0} if {0} > 0 else expm1({0})", "expm1")
elementwise("add", "{0} + {1}")
elementwise("subtract", "{0} - {1}")
elementwise("multiply", "{0} * {1}")
elementwise("divide", "{0} / {1}")
elementwise("floordiv", "{0} // {1}", floats_only=True)
elementwise("floormod", "{0} % {1}", floats_only=True)
elementwise("pow", "{0} ** {1}")
elementwise("maximum", "maximum({0}, {1})", "maximum")
elementwise("minimum", "minimum({0}, {1})", "minimum")
elementwise("squared_difference", "({0} - {1}) * ({0} - {1})")
elementwise("equal", "{0} == {1}")
elementwise("not_equal", "{0} != {1}")
elementwise("less", "{0} < {1}")
elementwise("less_equal", "{0} <= {1}")
elementwise("greater", "{0} > {1}")
elementwise("greater_equal", "{0} >= {1}")
elementwise("logical_and", "{0} and {1}")
elementwise("logical_or", "{0} or {1}")
elementwise("logical_xor", "{0} != {1}")
elementwise("select", "{1} if {0} else {2}")
LOWERINGS.register(P["cast"], Cast())


_LOOP_KINDS = "fiub"      # numbers and bools: complex and string nodes run on their NumPy impl


def can_lower(node):
    rule = LOWERINGS.get(node.prim)
    return rule is not None and rule.accepts(node) and all(
        v.dtype.kind in _LOOP_KINDS for v in node.inputs + node.outputs)
