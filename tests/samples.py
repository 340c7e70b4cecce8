"""Sample inputs for every registered primitive, used by the registry-wide tests.

Ops of a family (`sample="unary"`, "binary", "reduction") get generated samples from their
declaration (dtypes, domain); other ops have an entry in SPECIFIC. A primitive with neither
makes test_every_primitive_has_samples fail, so declaring an op means testing it."""
import numpy as np

import tracejit as tf
from tracejit import dtypes as dt


class Sample:
    def __init__(self, args, params=None, label=""):
        self.args, self.params, self.label = list(args), dict(params or {}), label

    def __repr__(self):
        shapes = ",".join(f"{np.asarray(a).dtype}{list(np.shape(a))}" for a in self.args)
        return f"{self.label or 'sample'}({shapes})"


def _rng(seed=0):
    return np.random.default_rng(seed)


def array(shape, dtype, domain=None, seed=0):
    """Random test data of a dtype; floats avoid the domain's edges, ints avoid 0 if the domain is positive."""
    rng, dtype = _rng(seed + hash(tuple(shape)) % 1000), dt.as_dtype(dtype)
    low, high = domain or (-2.0, 2.0)
    if dtype.is_bool:
        return rng.random(shape) > 0.5
    if dtype == dt.string:
        return strings(shape, rng)
    if dtype.is_complex:
        real = rng.uniform(low, high, size=shape) + 1j * rng.uniform(low, high, size=shape)
        return real.astype(dtype.np)
    if dtype.is_integer:
        lo = max(int(np.ceil(low)), 1 if low > 0 else (0 if dtype.is_unsigned else -3))
        hi = min(int(np.floor(high)), 3) if high < 3 else 3
        return rng.integers(lo, max(hi, lo) + 1, size=shape).astype(dtype.np)
    return rng.uniform(low, high, size=shape).astype(dtype.np)


def strings(shape, rng=None, words=(b"", b"a", b"tf", b"Hello", b"x y", b"caf\xc3\xa9", b"42")):
    """An object array of byte strings (what a string tensor holds)."""
    rng = rng or _rng()
    out = np.empty(shape, dtype=object)
    out.reshape(-1)[:] = [words[i] for i in rng.integers(len(words), size=int(np.prod(shape, dtype=int)))]
    return out


def _s(values):
    out = np.empty(np.shape(values), dtype=object)
    out[...] = values
    return out


UNARY_SHAPES = [(), (3,), (2, 3), (0, 3)]
BINARY_SHAPES = [((), ()), ((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((2, 3), ()), ((0, 3), (3,))]
REDUCTION_CASES = [((2, 3, 4), None, False), ((2, 3, 4), (0,), False), ((2, 3, 4), (1, 2), True),
                   ((3,), (0,), True), ((0, 3), (1,), False)]


def test_dtypes(prim):
    """The dtypes a family op is exercised with: the interesting subset of what it accepts."""
    allowed = prim.dtypes or dt.ALL
    wanted = [dt.float32, dt.float64, dt.int32, dt.bool_, dt.float16, dt.complex64, dt.string]
    return [d for d in wanted if d in allowed]


def family_samples(prim, dtype):
    d = prim.domain
    if prim.sample == "unary":
        params = {"alpha": 0.2} if prim.name == "leaky_relu" else {}
        return [Sample([array(s, dtype, d)], params, f"{s}") for s in UNARY_SHAPES]
    if prim.sample == "binary":
        return [Sample([array(a, dtype, d, 1), array(b, dtype, d, 2)], {}, f"{a}x{b}") for a, b in BINARY_SHAPES]
    if prim.sample == "reduction":
        return [Sample([array(s, dtype, d)], {"axis": tuple(range(len(s))) if ax is None else ax,
                                              "keepdims": k}, f"{s}/{ax}/{k}") for s, ax, k in REDUCTION_CASES]
    raise KeyError(prim.sample)


def _f(shape, seed=0, dtype=np.float64, domain=None):
    return array(shape, dtype, domain, seed)


def _i(values):
    return np.array(values, np.int32)


def specific(dtype):
    """Samples per op name, for ops whose params or inputs are specific. Float data uses `dtype`."""
    f = lambda shape, seed=0: _f(shape, seed, dtype.np)  # noqa: E731
    slicing = [(slice(1, 3), slice(None, None, 2)), (1, Ellipsis), (None, -1), (slice(None, None, -1),)]
    return {
        "select": [Sample([array((2, 3), "bool"), f((2, 3), 1), f((3,), 2)]),
                   Sample([array((), "bool"), f((2,), 1), f((2,), 2)])],
        "cast": [Sample([f((2, 3))], {"dtype": dt.float64 if dtype != dt.float64 else dt.float32}),
                 Sample([f((3,))], {"dtype": dt.int32}), Sample([f((0,))], {"dtype": dt.bool_})],
        "reshape": [Sample([f((2, 3))], {"shape": (3, 2)}), Sample([f((2, 3))], {"shape": (-1,)}),
                    Sample([f((0, 3))], {"shape": (3, 0)})],
        "transpose": [Sample([f((2, 3))], {"perm": (1, 0)}), Sample([f((2, 3, 4))], {"perm": (2, 0, 1)})],
        "squeeze": [Sample([f((1, 3, 1))], {"axis": (0, 2)}), Sample([f((2, 1))], {"axis": (1,)})],
        "expand_dims": [Sample([f((2, 3))], {"axis": 0}), Sample([f((2, 3))], {"axis": 2})],
        "broadcast_to": [Sample([f((3,))], {"shape": (2, 3)}), Sample([f((2, 1))], {"shape": (2, 4)})],
        "grow_rows": [Sample([f((2, 3)), _i(4)]), Sample([f((3,)), _i(1)])],
        "rows_like": [Sample([f((4, 3)), f((2, 5), 1)]), Sample([f((3,)), f((3,), 1)])],
        "ensure_shape": [Sample([f((2, 3))], {"shape": (2, None)}), Sample([f((2,))], {"shape": None})],
        "sum_to": [Sample([f((2, 3)), f((1, 3), 1)]), Sample([f((2, 3)), f((3,), 1)])],
        "broadcast_like": [Sample([f((1, 3)), f((2, 3), 1)]), Sample([f((3,)), f((2, 3), 1)])],
        "tile": [Sample([f((2, 3))], {"multiples": (2, 1)}), Sample([f((2,))], {"multiples": (3,)})],
        "concat": [Sample([f((2, 3)), f((1, 3), 1)], {"axis": 0}), Sample([f((2, 1)), f((2, 2), 1), f((2, 0))],
                                                                         {"axis": 1})],
        "stack": [Sample([f((2, 3)), f((2, 3), 1)], {"axis": 1}), Sample([f(()), f((), 1)], {"axis": 0})],
        "strided_slice": [Sample([f((4, 5))], {"index": ix}, str(ix)) for ix in slicing],
        "strided_slice_grad": [Sample([f((2, 3)), f((4, 5), 1)], {"index": (slice(1, 3), slice(None, None, 2))})],
        "slice_update": [Sample([f((4, 5)), f((2, 3), 1)], {"index": (slice(1, 3), slice(None, None, 2))}),
                         Sample([f((4, 5)), f((), 1)], {"index": (0, 1)})],
        "gather": [Sample([f((5, 3)), _i([0, 4, 2, 2])], {"axis": 0}), Sample([f((2, 3)), _i([[0, 1], [2, 2]])],
                                                                              {"axis": 1})],
        "gather_grad": [Sample([f((4, 3)), _i([0, 4, 2, 2]), f((5, 3), 1)], {"axis": 0})],
        "scatter_nd_update": [Sample([f((4, 3)), _i([[0], [2]]), f((2, 3), 1)]),
                              Sample([f((4, 3)), _i([[0, 1], [3, 2]]), f((2,), 1)])],
        "gather_nd": [Sample([f((4, 3)), _i([[0, 1], [3, 2], [3, 2]])]), Sample([f((4, 3)), _i([[1], [1]])])],
        "scatter_nd_add": [Sample([f((4, 3)), _i([[0], [0]]), f((2, 3), 1)])],
        "one_hot": [Sample([_i([0, 2, 5])], {"depth": 4, "on_value": 1, "off_value": 0, "axis": 1,
                                             "dtype": dtype}),
                    Sample([_i([[1, 0]])], {"depth": 3, "on_value": 5, "off_value": -1, "axis": 0,
                                            "dtype": dtype})],
        "fill_like": [Sample([f((2, 3))], {"value": 0, "dtype": dtype}), Sample([f((0,))], {"value": 1,
                                                                                          "dtype": dt.int32})],
        "shape": [Sample([f((2, 3))], {"out_type": dt.int32}), Sample([f(())], {"out_type": dt.int64})],
        "where_indices": [Sample([array((2, 3), "bool")]), Sample([array((4,), "bool", seed=3)])],
        "matmul": [Sample([f((2, 3)), f((3, 4), 1)]), Sample([f((2, 2, 3)), f((3, 4), 1)]),
                   Sample([f((3, 2)), f((4, 3), 1)], {"transpose_a": True, "transpose_b": True}),
                   Sample([f((3, 2)), f((3, 4), 1)], {"transpose_a": True}),
                   Sample([f((2, 0)), f((0, 4), 1)])],
        "gemm": [Sample([f((2, 3)), f((3, 4), 1), f((2, 4), 2)], {"alpha": -0.5}),
                 Sample([f((3, 2)), f((3, 4), 1), f((2, 4), 2)], {"alpha": 0.1, "transpose_a": True}),
                 Sample([f((2, 2, 3)), f((2, 4, 3), 1), f((2, 2, 4), 2)], {"transpose_b": True})],
        "sparse_softmax_cross_entropy": [Sample([_i([0, 3, 2]), f((3, 4))]),
                                         Sample([_i([[1, 0], [2, 2]]), f((2, 2, 3), 1)])],
        "argmax": [Sample([f((3, 4))], {"axis": 1, "output_type": dt.int64}),
                   Sample([f((3, 4))], {"axis": 0, "output_type": dt.int32})],
        "argmin": [Sample([f((3, 4))], {"axis": 1, "output_type": dt.int64})],
        "im2col": [Sample([f((2, 5, 5, 2))], {"window": (3, 3), "strides": (1, 1), "padding": "VALID"}),
                   Sample([f((1, 5, 4, 3))], {"window": (2, 3), "strides": (2, 1), "padding": "SAME"})],
        "col2im": [Sample([f((18, 18)), f((2, 5, 5, 2), 1)], {"window": (3, 3), "strides": (1, 1), "padding": "VALID"}),
                   Sample([f((12, 18)), f((1, 5, 4, 3), 1)], {"window": (2, 3), "strides": (2, 1), "padding": "SAME"})],
        "max_pool": [Sample([f((2, 4, 4, 3))], {"window": (2, 2), "strides": (2, 2), "padding": "VALID"}),
                     Sample([f((1, 5, 5, 2))], {"window": (3, 3), "strides": (2, 2), "padding": "SAME"})],
        "avg_pool": [Sample([f((2, 4, 4, 3))], {"window": (2, 2), "strides": (2, 2), "padding": "VALID"}),
                     Sample([f((1, 5, 5, 2))], {"window": (3, 3), "strides": (2, 2), "padding": "SAME"})],
        "max_pool_grad": [Sample([f((1, 5, 5, 2)), f((1, 3, 3, 2), 1), f((1, 3, 3, 2), 2)],
                                 {"window": (3, 3), "strides": (2, 2), "padding": "SAME"})],
        "max_pool_select": [Sample([f((1, 5, 5, 2)), f((1, 3, 3, 2), 1), f((1, 5, 5, 2), 2)],
                                   {"window": (3, 3), "strides": (2, 2), "padding": "SAME"})],
        "avg_pool_grad": [Sample([f((1, 3, 3, 2)), f((1, 5, 5, 2), 1)],
                                 {"window": (3, 3), "strides": (2, 2), "padding": "SAME"})],
        "cumsum": [Sample([f((2, 3))], {"axis": 1, "exclusive": False, "reverse": False}),
                   Sample([f((4,))], {"axis": 0, "exclusive": True, "reverse": True}),
                   Sample([f((3, 2))], {"axis": 0, "exclusive": True, "reverse": False})],
        "ragged_to_dense": [Sample([f((5, 2)), np.array([0, 2, 2, 5], np.int64)], {"default": 0, "width": None}),
                            Sample([f((4,)), np.array([0, 3, 4], np.int64)], {"default": -1, "width": 2})],
        "ragged_from_dense": [Sample([f((3, 3, 2)), np.array([0, 2, 2, 5], np.int64), f((5, 2), 1)]),
                              Sample([f((2, 2)), np.array([0, 3, 4], np.int64), f((4,), 1)])],
        "pad": [Sample([f((2, 3))], {"paddings": ((1, 0), (2, 1)), "mode": "CONSTANT", "constant_values": 0.5}),
                Sample([f((3, 4))], {"paddings": ((2, 1), (1, 3)), "mode": "REFLECT", "constant_values": 0}),
                Sample([f((2, 3, 2))], {"paddings": ((2, 1), (0, 3), (1, 1)), "mode": "SYMMETRIC",
                                        "constant_values": 0})],
        "pad_grad": [Sample([f((6, 7))], {"paddings": ((2, 1), (1, 2)), "mode": "REFLECT"}),
                     Sample([f((5, 6))], {"paddings": ((2, 1), (0, 3)), "mode": "SYMMETRIC"}),
                     Sample([f((3, 6))], {"paddings": ((1, 0), (2, 1)), "mode": "CONSTANT"})],
        "einsum": [Sample([f((2, 3)), f((3, 4), 1)], {"equation": "ij,jk->ik"}),
                   Sample([f((2, 3, 4)), f((2, 4), 1)], {"equation": "bij,bj->bi"}),
                   Sample([f((3, 4))], {"equation": "ij->j"}),
                   Sample([f((2, 3)), f((3,), 1), f((3, 2), 2)], {"equation": "ij,j,jk->ik"}),
                   Sample([f((1, 2, 3)), f((4, 2, 3), 1)], {"equation": "ABi,ABi->AB"})],   # A broadcasts 1 -> 4
        "matrix_inverse": [Sample([_well((3, 3), dtype)], {"adjoint": False}),
                           Sample([_well((2, 3, 3), dtype)], {"adjoint": True})],
        "matrix_solve": [Sample([_well((3, 3), dtype), f((3, 2), 1)], {"adjoint": False}),
                         Sample([_well((2, 3, 3), dtype), f((2, 3, 1), 1)], {"adjoint": True})],
        "matrix_determinant": [Sample([_well((3, 3), dtype)]), Sample([_well((2, 2, 2), dtype)])],
        **string_samples(),
        # collectives in this process: a job of one worker (LocalCommunicator)
        "all_reduce": [Sample([f((2, 3))], {"reduction": "sum"}),
                       Sample([f((2, 3)), f((4,), 1), f((0, 2), 2)], {"reduction": "mean"}, "packed")],
        "broadcast": [Sample([f((2, 3))], {"root": 0})],
    }


def _well(shape, dtype):
    """Well-conditioned square matrices: random plus 3 on the diagonal."""
    return (_f(shape, 3, dtype.np) + 3 * np.eye(shape[-1])).astype(dtype.np)


def string_samples():
    words = strings((2, 3), _rng(5))
    return {
        "string_join": [Sample([words, _s(b"-")], {"separator": b""}),
                        Sample([words[0], words[1], words[0]], {"separator": b", "})],
        "string_length": [Sample([words], {"unit": "BYTE"}), Sample([words], {"unit": "UTF8_CHAR"})],
        "string_lower": [Sample([words], {"encoding": ""}), Sample([_s([b"\xc3\x80B"])], {"encoding": "utf-8"})],
        "string_upper": [Sample([words], {"encoding": ""}), Sample([_s([b"caf\xc3\xa9"])], {"encoding": "utf-8"})],
        "substr": [Sample([_s([b"hello", b"caf\xc3\xa9"]), _i([1, -2]), _i(3)], {"unit": "BYTE"}),
                   Sample([_s([b"caf\xc3\xa9"]), _i([2]), _i([5])], {"unit": "UTF8_CHAR"})],
        "regex_replace": [Sample([words], {"pattern": rb"[aeiou]", "rewrite": b"<\\0>", "replace_global": True}),
                          Sample([_s([b"ab12cd3"])],
                                 {"pattern": rb"(\d+)", "rewrite": b"#\\1", "replace_global": False})],
        "as_string": [Sample([np.array([1.5, -2.25], np.float32)], _as_string()),
                      Sample([np.array([[3, -40]], np.int32)], _as_string(width=4, fill="0")),
                      Sample([np.array([1234.5678])], _as_string(precision=2, scientific=True)),
                      Sample([np.array([True, False])], _as_string())],
        "to_number": [Sample([_s([b"1.5", b"-2e3", b" 7"])], {"out_type": dt.float32}),
                      Sample([_s([[b"12", b"-3"]])], {"out_type": dt.int64})],
        "decode_raw": [Sample([_s([np.array([1, 2], np.int32).tobytes(), np.array([-3, 4], np.int32).tobytes()])],
                              {"out_type": dt.int32, "little_endian": True}),
                       Sample([_s(np.array([1.5, 2.0], ">f8").tobytes())],
                              {"out_type": dt.float64, "little_endian": False})],
        "string_format": [Sample([np.arange(10, dtype=np.int32), _s(b"ab")],
                                 {"template": b"x={} s={}", "placeholder": b"{}", "summarize": 3}),
                          Sample([np.array([[0.5, 1 / 3], [True, 2]], np.float32)],
                                 {"template": b"v: %", "placeholder": b"%", "summarize": -1})],
        "string_split_values": [Sample([_s([b"hello world", b"  a  b ", b""])], {"sep": None, "maxsplit": -1}),
                                Sample([_s([[b"a,b,,c"], [b"d"]])], {"sep": b",", "maxsplit": 1})],
        "string_split_lengths": [Sample([_s([b"hello world", b"  a  b ", b""])], {"sep": None, "maxsplit": -1}),
                                 Sample([_s([[b"a,b,,c"], [b"d"]])], {"sep": b",", "maxsplit": 1})],
    }


def _as_string(precision=-1, scientific=False, shortest=False, width=-1, fill=""):
    return {"precision": precision, "scientific": scientific, "shortest": shortest, "width": width, "fill": fill}


def samples_for(prim, dtype=dt.float64):
    if prim.sample in ("unary", "binary", "reduction"):
        return family_samples(prim, dtype)
    table = specific(dtype)
    return table.get(prim.name)


def cases(dtypes_for=test_dtypes, differentiable_only=False, float64_only=False):
    """(prim, dtype, sample) triples over the registry, for parametrize."""
    out = []
    for name, prim in sorted(tf.ops.REGISTRY.items()):
        if prim.stateful or (differentiable_only and not prim.differentiable):
            continue
        if float64_only:
            kinds = [dt.float64]
        elif prim.sample in ("unary", "binary", "reduction"):
            kinds = dtypes_for(prim)
        else:
            kinds = [dt.float32, dt.float64]
        for dtype in kinds:
            for i, s in enumerate(samples_for(prim, dtype) or []):
                out.append((prim, dtype, s, f"{name}-{dtype.name}-{i}"))
    return out
