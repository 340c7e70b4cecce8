"""Elementwise ops: unary math, binary arithmetic with broadcasting, comparisons, logic,
select (3-way where) and cast. Each line: name, NumPy impl, vjp, dtypes (and test domain).
Their loop expressions live in the backends' lowering tables (backend/native/lowering.py)."""
import numpy as np

from .. import dtypes as dt
from ..errors import InvalidArgumentError
from .broadcast import ones_like, sum_to, zeros_like
from .core import convert_to_tensor, op
from ..primitive import ELEMENTWISE
from .rules import broadcast_shapes, dims


def _unary_rule(name):
    return lambda x: (dims(x), x.dtype)


def _binary_rule(name, out_dtype=None):
    def rule(x, y):
        return broadcast_shapes(name, x.shape, y.shape), (out_dtype(x.dtype) if out_dtype else x.dtype)
    return rule


def _declare(name, rule, impl, vjp, dtypes, sample, domain=None, differentiable=True):
    prim = op(name, ELEMENTWISE, dtypes=dtypes, sample=sample, domain=domain,
              differentiable=differentiable and vjp is not None)(rule)
    prim.impl, prim.vjp = impl, vjp
    return prim


def unary(name, impl, vjp, dtypes=dt.FLOATS, domain=None, out_dtype=None):
    """out_dtype: the result's DType, or a function of the input's (default: the input's)."""
    if out_dtype is None:
        rule = _unary_rule(name)
    else:
        rule = lambda x: (dims(x), out_dtype(x.dtype) if callable(out_dtype) else out_dtype)  # noqa: E731
    return _declare(name, rule, impl, vjp, dtypes, "unary", domain)


def binary(name, impl, vjp, dtypes=dt.NUMERIC, domain=None, out_dtype=None):
    return _declare(name, _binary_rule(name, out_dtype), impl, vjp, dtypes, "binary", domain)


def _sigmoid(x):
    e = np.exp(-np.abs(x))                      # never overflows
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _erf(x):
    from scipy.special import erf              # imported on first use: scipy.special costs 0.25 s at import
    return erf(x)


def _sum_to(g, x):
    return sum_to(g, x)


def _float(x):
    return x.dtype.is_floating


# ---- unary ----------------------------------------------------------------------------------
identity = unary("identity", lambda x: x.copy(), lambda g, x, out: (g,), dt.ALL)
stop_gradient = _declare("stop_gradient", _unary_rule("stop_gradient"), lambda x: x.copy(), None, dt.ALL,
                         "unary", differentiable=False)
negative = unary("negative", np.negative, lambda g, x, out: (-g,), dt.ARITHMETIC)
abs = unary("abs", np.abs, lambda g, x, out: (g * sign(x),), dt.ARITHMETIC,
            out_dtype=lambda d: d.real_dtype)          # |complex| is real
sign = unary("sign", np.sign, lambda g, x, out: (zeros_like(x),), dt.NUMERIC)
square = unary("square", np.square, lambda g, x, out: (g * (x + x),), dt.ARITHMETIC)
sqrt = unary("sqrt", np.sqrt, lambda g, x, out: (g * 0.5 / out,), domain=(0.1, 4))
rsqrt = unary("rsqrt", lambda x: 1 / np.sqrt(x), lambda g, x, out: (g * -0.5 * out / x,), domain=(0.1, 4))
exp = unary("exp", np.exp, lambda g, x, out: (g * out,))
expm1 = unary("expm1", np.expm1, lambda g, x, out: (g * (out + 1),))
log = unary("log", np.log, lambda g, x, out: (g / x,), domain=(0.1, 4))
log1p = unary("log1p", np.log1p, lambda g, x, out: (g / (x + 1),), domain=(-0.5, 4))
tanh = unary("tanh", np.tanh, lambda g, x, out: (g * (1 - out * out),))
sigmoid = unary("sigmoid", _sigmoid, lambda g, x, out: (g * out * (1 - out),))
sin = unary("sin", np.sin, lambda g, x, out: (g * cos(x),))
cos = unary("cos", np.cos, lambda g, x, out: (-g * sin(x),))
erf = unary("erf", _erf, lambda g, x, out: (g * (2 / np.sqrt(np.pi)) * exp(-x * x),))
softplus = unary("softplus", lambda x: np.logaddexp(x, 0), lambda g, x, out: (g * sigmoid(x),))
reciprocal = unary("reciprocal", np.reciprocal, lambda g, x, out: (-g * out * out,), domain=(0.5, 4))
relu = unary("relu", lambda x: np.maximum(x, 0), lambda g, x, out: (select(x > 0, g, zeros_like(g)),),
             dt.NUMERIC)
floor = unary("floor", np.floor, None)
ceil = unary("ceil", np.ceil, None)
round = unary("round", np.round, None)
is_nan = unary("is_nan", np.isnan, None, out_dtype=dt.bool_)
is_inf = unary("is_inf", np.isinf, None, out_dtype=dt.bool_)
is_finite = unary("is_finite", np.isfinite, None, out_dtype=dt.bool_)
logical_not = unary("logical_not", np.logical_not, None, dt.BOOL)


@op("leaky_relu", ELEMENTWISE, dtypes=dt.FLOATS, sample="unary")
def leaky_relu(x, alpha=0.2):
    return dims(x), x.dtype


leaky_relu.impl = lambda x, alpha=0.2: np.where(x > 0, x, alpha * x)
leaky_relu.vjp = lambda g, x, out, alpha=0.2: (select(x > 0, g, g * alpha),)


@op("elu", ELEMENTWISE, dtypes=dt.FLOATS, sample="unary")
def elu(x):
    return dims(x), x.dtype


elu.impl = lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0)))
elu.vjp = lambda g, x, out: (select(x > 0, g, g * (out + 1)),)


# ---- binary ---------------------------------------------------------------------------------
def _pow_vjp(g, x, y, out):
    safe_log = select(x > 0, log(select(x > 0, x, ones_like(x))), zeros_like(x))
    return _sum_to(g * y * x ** (y - 1), x), _sum_to(g * out * safe_log, y)


def _divide_dtype(dtype):
    if dtype.is_floating or dtype.is_complex:
        return dtype
    return dt.float64 if dtype in (dt.int32, dt.int64) else dt.float32


def _integer_division(numpy_fn):
    def impl(x, y):
        if x.dtype.kind in "iu" and np.any(y == 0):
            raise InvalidArgumentError("Integer division by zero")
        return numpy_fn(x, y)
    return impl


def _maxmin_vjp(mask_fn):
    def vjp(g, x, y, out):
        mask = mask_fn(x, y)      # ties go to x, as in TF
        zeros = zeros_like(g)
        return _sum_to(select(mask, g, zeros), x), _sum_to(select(mask, zeros, g), y)
    return vjp


add = binary("add", np.add, lambda g, x, y, out: (_sum_to(g, x), _sum_to(g, y)),
             dt.ARITHMETIC + dt.STRING)               # strings: concatenation
subtract = binary("subtract", np.subtract, lambda g, x, y, out: (_sum_to(g, x), _sum_to(-g, y)), dt.ARITHMETIC)
multiply = binary("multiply", np.multiply, lambda g, x, y, out: (_sum_to(g * y, x), _sum_to(g * x, y)),
                  dt.ARITHMETIC)
divide = binary("divide", np.true_divide, lambda g, x, y, out: (_sum_to(g / y, x), _sum_to(-g * out / y, y)),
                dt.ARITHMETIC, domain=(0.5, 3), out_dtype=_divide_dtype)
floordiv = binary("floordiv", _integer_division(np.floor_divide), None, domain=(0.5, 3))
floormod = binary("floormod", _integer_division(np.mod),
                  lambda g, x, y, out: (_sum_to(g, x), _sum_to(-g * floor(x / y), y)), domain=(0.5, 3))
pow = binary("pow", np.power, _pow_vjp, domain=(0.5, 2))
maximum = binary("maximum", np.maximum, _maxmin_vjp(lambda x, y: x >= y))
minimum = binary("minimum", np.minimum, _maxmin_vjp(lambda x, y: x <= y))
squared_difference = binary("squared_difference", lambda x, y: np.square(x - y),
                            lambda g, x, y, out: (_sum_to(2 * g * (x - y), x), _sum_to(-2 * g * (x - y), y)))

equal = binary("equal", np.equal, None, dt.ALL, out_dtype=lambda d: dt.bool_)
not_equal = binary("not_equal", np.not_equal, None, dt.ALL, out_dtype=lambda d: dt.bool_)
less = binary("less", np.less, None, dt.NUMERIC, out_dtype=lambda d: dt.bool_)
less_equal = binary("less_equal", np.less_equal, None, dt.NUMERIC, out_dtype=lambda d: dt.bool_)
greater = binary("greater", np.greater, None, dt.NUMERIC, out_dtype=lambda d: dt.bool_)
greater_equal = binary("greater_equal", np.greater_equal, None, dt.NUMERIC,
                       out_dtype=lambda d: dt.bool_)
logical_and = binary("logical_and", np.logical_and, None, dt.BOOL)
logical_or = binary("logical_or", np.logical_or, None, dt.BOOL)
logical_xor = binary("logical_xor", np.logical_xor, None, dt.BOOL)


# ---- complex numbers ------------------------------------------------------------------------
_real = unary("real", np.real, None, dt.COMPLEX, out_dtype=lambda d: d.real_dtype)
_imag = unary("imag", np.imag, None, dt.COMPLEX, out_dtype=lambda d: d.real_dtype)
_conj = unary("conj", np.conj, None, dt.COMPLEX)
make_complex = binary("complex", lambda re, im: re + 1j * im, None, (dt.float32, dt.float64),
                      out_dtype=lambda d: dt.complex64 if d == dt.float32 else dt.complex128)


def real(input, name=None):
    """The real part; a real input is returned unchanged (as in TF)."""
    x = convert_to_tensor(input)
    return _real(x) if x.dtype.is_complex else x


def imag(input, name=None):
    """The imaginary part; zeros for a real input."""
    x = convert_to_tensor(input)
    return _imag(x) if x.dtype.is_complex else zeros_like(x)


def conj(x, name=None):
    x = convert_to_tensor(x)
    return _conj(x) if x.dtype.is_complex else x


# ---- select and cast ------------------------------------------------------------------------
@op("select", ELEMENTWISE, same_dtype=(1, 2), sample="select")
def select(cond, x, y):
    if not cond.dtype.is_bool:
        raise InvalidArgumentError(f"where: condition must be bool, got {cond.dtype.name}")
    return broadcast_shapes("where", cond.shape, x.shape, y.shape), x.dtype


select.impl = np.where
select.vjp = lambda g, c, x, y, out: (None, _sum_to(select(c, g, zeros_like(g)), x),
                                      _sum_to(select(c, zeros_like(g), g), y))


@op("cast", ELEMENTWISE, same_dtype=(), sample="cast")
def _cast(x, dtype):
    if x.dtype.kind == "s" or dtype.kind == "s":
        raise InvalidArgumentError(f"cast: cannot cast {x.dtype.name} to {dtype.name}")
    return dims(x), dtype


_cast.impl = lambda x, dtype: (x if dtype.is_complex else np.real(x)).astype(dtype.np)   # complex -> real part
_cast.vjp = lambda g, x, out, dtype: (cast(g, x.dtype) if _float(x) and dtype.is_floating else None,)


def cast(x, dtype, name=None):
    x, dtype = convert_to_tensor(x), dt.as_dtype(dtype)
    return x if x.dtype == dtype else _cast(x, dtype=dtype)
