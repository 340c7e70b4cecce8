"""Linear algebra: matmul (`@`) with batch broadcasting and transposes, einsum, solve/inv/det, norms."""
import numpy as np

from .. import dtypes as dt
from ..errors import InvalidArgumentError
from . import elementwise as E, reduction as R
from .broadcast import broadcast_like, sum_to
from ..primitive import MATMUL
from .core import convert_inputs, convert_matching, convert_to_tensor, op
from .rules import broadcast_shapes, normalize_axis
from .shape import expand_dims, squeeze, transpose


@op("matmul", MATMUL, dtypes=dt.ARITHMETIC, sample="matmul")
def _matmul(a, b, transpose_a=False, transpose_b=False):
    if a.ndim is None or b.ndim is None:
        return None, a.dtype                    # unknown rank: batch matmul of unknown shape (as TF)
    if a.ndim < 2 or b.ndim < 2:
        raise InvalidArgumentError(f"matmul: inputs must be at least 2-D, got shapes {tuple(a.shape)} and "
                                   f"{tuple(b.shape)}")
    n, k = (a.shape[-1], a.shape[-2]) if transpose_a else (a.shape[-2], a.shape[-1])
    k2, m = (b.shape[-1], b.shape[-2]) if transpose_b else (b.shape[-2], b.shape[-1])
    if k is not None and k2 is not None and k != k2:
        raise InvalidArgumentError(f"Matrix size-incompatible: In[0]: {list(a.shape)}, In[1]: {list(b.shape)}"
                                   f"{' (transposed)' if transpose_a or transpose_b else ''}")
    batch = broadcast_shapes("matmul", a.shape[:-2], b.shape[:-2])
    return batch + (n, m), a.dtype


def _matmul_impl(a, b, transpose_a=False, transpose_b=False):
    return np.matmul(np.swapaxes(a, -1, -2) if transpose_a else a, np.swapaxes(b, -1, -2) if transpose_b else b)


def _matmul_vjp(g, a, b, out, transpose_a=False, transpose_b=False):
    mm = _matmul
    if not transpose_a and not transpose_b:
        ga, gb = mm(g, b, transpose_b=True), mm(a, g, transpose_a=True)
    elif not transpose_a:
        ga, gb = mm(g, b), mm(g, a, transpose_a=True)
    elif not transpose_b:
        ga, gb = mm(b, g, transpose_b=True), mm(a, g)
    else:
        ga, gb = mm(b, g, transpose_a=True, transpose_b=True), mm(g, a, transpose_a=True, transpose_b=True)
    return sum_to(ga, a), sum_to(gb, b)


_matmul.impl = _matmul_impl
_matmul.vjp = _matmul_vjp


@op("gemm", MATMUL, dtypes=dt.FLOATS, sample="gemm")
def _gemm(a, b, c, alpha=1.0, transpose_a=False, transpose_b=False):
    """c + alpha * matmul(a, b): BLAS's C = alpha A B + beta C with beta 1. Not public API: the
    epilogue pass rewrites `c - s * matmul(a, b)` (an SGD update) into it."""
    shape, dtype = _matmul.rule(a, b, transpose_a=transpose_a, transpose_b=transpose_b)
    if shape is None or tuple(c.shape) != tuple(shape):
        raise InvalidArgumentError(f"gemm: c has shape {list(c.shape)}, the product {shape}")
    return shape, dtype


def _gemm_impl(a, b, c, alpha=1.0, transpose_a=False, transpose_b=False):
    product = _matmul_impl(a, b, transpose_a, transpose_b)
    return c + product.dtype.type(alpha) * product


def _gemm_vjp(g, a, b, c, out, alpha=1.0, transpose_a=False, transpose_b=False):
    ga, gb = _matmul_vjp(g * alpha, a, b, None, transpose_a, transpose_b)
    return ga, gb, g


_gemm.impl = _gemm_impl
_gemm.vjp = _gemm_vjp


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False, name=None):
    a, b = convert_inputs(_matmul, (a, b))
    return _matmul(a, b, transpose_a=bool(transpose_a or adjoint_a), transpose_b=bool(transpose_b or adjoint_b))



# ---- einsum ---------------------------------------------------------------------------------
def _parse_einsum(equation, ranks):
    """A canonical equation: explicit output, '...' expanded to upper-case letters (the dimensions
    that broadcast), no spaces. Inputs keep their lower-case letters."""
    equation = equation.replace(" ", "")
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(ranks):
        raise InvalidArgumentError(f"einsum: equation {equation!r} names {len(terms)} operands, got {len(ranks)}")
    if any(not (c.isascii() and c.isalpha()) and c not in ".," for c in inputs + output):
        raise InvalidArgumentError(f"einsum: invalid character in equation {equation!r}")
    spare = iter(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in equation)
    width = max([r - len(t.replace("...", "")) for t, r in zip(terms, ranks) if "..." in t], default=0)
    ellipsis = "".join(next(spare) for _ in range(width))
    expanded = []
    for term, rank in zip(terms, ranks):
        if "..." in term:
            own = rank - len(term.replace("...", ""))
            term = term.replace("...", ellipsis[width - own:] if own else "")
        if len(term) != rank:
            raise InvalidArgumentError(f"einsum: operand with subscripts {term!r} has rank {rank}")
        expanded.append(term)
    if arrow:
        output = output.replace("...", ellipsis)
    else:             # implicit output: broadcast dims, then letters used once, alphabetically
        letters = "".join(expanded)
        output = ellipsis + "".join(sorted(c for c in set(letters) if c.islower() and letters.count(c) == 1))
    return ",".join(expanded) + "->" + output


@op("einsum", MATMUL, dtypes=dt.ARITHMETIC, sample="einsum")
def _einsum(*operands, equation):
    terms, output = equation.split("->")
    sizes = {}
    for term, x in zip(terms.split(","), operands):
        for letter, d in zip(term, x.shape):
            known = sizes.get(letter)
            if letter.isupper() and (known == 1 or d == 1):      # '...' dims broadcast
                sizes[letter] = d if known in (1, None) else known
            elif known is not None and d is not None and known != d:
                raise InvalidArgumentError(f"einsum: dimension {letter!r} has sizes {known} and {d} in {equation!r}")
            else:
                sizes[letter] = d if known is None else known
    if any(c not in sizes for c in output):
        raise InvalidArgumentError(f"einsum: output subscripts of {equation!r} name a letter no input has")
    return tuple(sizes[c] for c in output), operands[0].dtype


_einsum.impl = lambda *operands, equation: np.einsum(equation, *operands, optimize=len(operands) > 2)


def _einsum_vjp(g, *args, equation):
    """d operand i = einsum(output, other operands -> operand i's letters), then broadcast back over
    letters only operand i has and summed over dims it broadcast."""
    operands, terms, output = args[:-1], *equation.split("->")
    terms = terms.split(",")
    grads = []
    for i, (term, x) in enumerate(zip(terms, operands)):
        if len(set(term)) != len(term):
            raise NotImplementedError(f"einsum gradient for an operand with a repeated index ({term!r}, a diagonal "
                                      "or trace): use tf.linalg.diag_part / tf.linalg.trace style ops instead")
        others = [t for j, t in enumerate(terms) if j != i]
        kept = "".join(c for c in term if c in output or any(c in t for t in others))
        grad = _einsum(g, *[o for j, o in enumerate(operands) if j != i],
                       equation=",".join([output] + others) + "->" + kept)
        for position, letter in enumerate(term):
            if letter not in kept:
                grad = expand_dims(grad, position)
        grads.append(sum_to(broadcast_like(grad, x), x))
    return tuple(grads)


_einsum.vjp = _einsum_vjp


def einsum(equation, *inputs, **kwargs):
    """tf.einsum: Einstein summation, '...' for broadcast dimensions, implicit or explicit output."""
    if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)):
        inputs = tuple(inputs[0])
    tensors = convert_matching(inputs)
    return _einsum(*tensors, equation=_parse_einsum(equation, [t.ndim for t in tensors]))


# ---- solve / inverse / determinant ----------------------------------------------------------
def _square_rule(name):
    def rule(x, **params):
        if x.ndim < 2 or (None not in x.shape[-2:] and x.shape[-1] != x.shape[-2]):
            raise InvalidArgumentError(f"{name}: input must be a (batch of) square matrices, got shape "
                                       f"{tuple(x.shape)}")
        return tuple(x.shape), x.dtype
    return rule


def _adjoint(x):
    return np.conj(np.swapaxes(x, -1, -2))


def _invertible(fn):
    def impl(*arrays, **params):
        try:
            return fn(*arrays, **params)
        except np.linalg.LinAlgError:
            raise InvalidArgumentError("Input matrix is not invertible.") from None
    return impl


def _mT(x):
    """The matrix transpose of the last two dimensions."""
    return transpose(x, tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2))


_inverse = op("matrix_inverse", MATMUL, dtypes=dt.FLOATS[1:] + dt.COMPLEX, sample="square_matrix")(
    _square_rule("linalg.inv"))
_inverse.impl = _invertible(lambda x, adjoint: np.linalg.inv(_adjoint(x) if adjoint else x))
_inverse.vjp = lambda g, x, out, adjoint: (
    -_matmul(out, _matmul(g, out, transpose_a=True)) if adjoint else
    -_matmul(_matmul(out, g, transpose_a=True), out, transpose_b=True),)


@op("matrix_solve", MATMUL, dtypes=dt.FLOATS[1:] + dt.COMPLEX, sample="matrix_solve")
def _solve(a, b, adjoint):
    _square_rule("linalg.solve")(a)
    if b.ndim < 2 or (a.shape[-1] is not None and b.shape[-2] is not None and a.shape[-1] != b.shape[-2]):
        raise InvalidArgumentError(f"linalg.solve: rhs of shape {tuple(b.shape)} does not match a matrix of shape "
                                   f"{tuple(a.shape)}")
    return broadcast_shapes("linalg.solve", a.shape[:-2], b.shape[:-2]) + tuple(b.shape[-2:]), a.dtype


_solve.impl = _invertible(lambda a, b, adjoint: np.linalg.solve(_adjoint(a) if adjoint else a, b))


def _solve_vjp(g, a, b, out, adjoint):
    gb = _solve(a, g, adjoint=not adjoint)              # A^-T g  (A^-1 g when solving with A^T)
    ga = -_matmul(out, gb, transpose_b=True) if adjoint else -_matmul(gb, out, transpose_b=True)
    return sum_to(ga, a), sum_to(gb, b)


_solve.vjp = _solve_vjp

_det = op("matrix_determinant", MATMUL, dtypes=dt.FLOATS[1:] + dt.COMPLEX, sample="square_matrix_det")(
    lambda x: (_square_rule("linalg.det")(x)[0][:-2], x.dtype))
_det.impl = np.linalg.det
_det.vjp = lambda g, x, out: (expand_dims(expand_dims(g * out, -1), -1) * _mT(_inverse(x, adjoint=False)),)


def inv(input, adjoint=False, name=None):
    return _inverse(convert_to_tensor(input), adjoint=bool(adjoint))


def solve(matrix, rhs, adjoint=False, name=None):
    a, b = convert_matching((matrix, rhs))
    return _solve(a, b, adjoint=bool(adjoint))


def det(input, name=None):
    return _det(convert_to_tensor(input))


# ---- norms ----------------------------------------------------------------------------------
def norm(tensor, ord="euclidean", axis=None, keepdims=None, name=None):
    """Vector norms (axis None: the whole tensor as a vector; or one axis): 'euclidean' (2), 1,
    np.inf, any p > 0. Matrix norms (axis a pair): 'euclidean'/'fro', 1, np.inf."""
    x = convert_to_tensor(tensor)
    keepdims = bool(keepdims)
    matrix = isinstance(axis, (list, tuple)) and len(axis) == 2
    if isinstance(axis, (list, tuple)) and not matrix:
        if len(axis) != 1:
            raise ValueError(f"norm: axis must be None, an int or a pair of ints, got {axis}")
        axis = axis[0]
    is_p = isinstance(ord, (int, float)) and not isinstance(ord, bool) and ord > 0
    if ord not in ("euclidean", "fro") and not is_p:
        raise ValueError(f"norm: ord must be 'euclidean', 'fro', 1, 2, np.inf or a positive number, got {ord!r}")
    if ord == "fro" and not matrix:
        raise ValueError("norm: 'fro' is a matrix norm: give axis a pair of dimensions")
    magnitude = E.abs(x)
    if ord in ("euclidean", "fro") or (ord == 2 and not matrix):
        return E.sqrt(R.reduce_sum(magnitude * magnitude, axis=axis, keepdims=keepdims))
    if matrix:
        rows, cols = (normalize_axis("norm", a, x.ndim) for a in axis)
        if ord == 2:
            raise NotImplementedError("norm: the matrix 2-norm (largest singular value) is not supported; use "
                                      "ord='fro', 1 or np.inf")
        if ord not in (1, np.inf):
            raise ValueError(f"norm: matrix norms support ord 'euclidean', 'fro', 1, 2 and np.inf, not {ord!r}")
        summed, kept = (rows, cols) if ord == 1 else (cols, rows)     # 1: max column sum; inf: max row sum
        sums = R.reduce_sum(magnitude, axis=summed, keepdims=True)
        result = R.reduce_max(sums, axis=kept, keepdims=True)
        return result if keepdims else squeeze(result, axis=sorted((rows, cols)))
    if ord == np.inf:
        return R.reduce_max(magnitude, axis=axis, keepdims=keepdims)
    if ord == 1:
        return R.reduce_sum(magnitude, axis=axis, keepdims=keepdims)
    p = E.cast(ord, magnitude.dtype)
    return R.reduce_sum(magnitude ** p, axis=axis, keepdims=keepdims) ** (1 / p)
