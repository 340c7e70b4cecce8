"""tracejit.math: the same registered ops under TF's math namespace."""
from .ops import (  # noqa: F401
    abs, add, add_n, argmax, argmin, ceil, conj, cos, cumsum, divide, equal, erf, exp, expm1, floor, floordiv,
    floormod, greater, greater_equal, imag, is_finite, is_inf, is_nan, less, less_equal, log, log1p, logical_and,
    logical_not, logical_or, logical_xor, maximum, minimum, multiply, negative, not_equal, pow, real, reciprocal,
    reduce_all, reduce_any, reduce_logsumexp, reduce_max, reduce_mean, reduce_min, reduce_prod, reduce_sum, round,
    rsqrt, sigmoid, sign, sin, softplus, sqrt, square, squared_difference, subtract, tanh, truediv)
from .ops.nn import log_softmax, softmax  # noqa: F401

mod = floormod
