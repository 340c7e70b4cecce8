"""Generate explicit loop nests (Python source for @njit) from a fused elementwise expression.

A LoopSpec describes, for an output of rank R:
  inputs:     one entry per argument: ("scalar",) or ("array", pattern) where pattern is a tuple of
              R booleans, True where the input spans that output dim and False where it is broadcast
              (size 1 or missing; arrays are passed with their own rank, aligned to the right);
  statements: ["t0 = a0 * a1", "t1 = tanh(t0)", ...] over argument names a0.. and temporaries;
  results:    temporaries stored to out0, out1, ... (all of the output shape).
Adjacent output dims with the same pattern in every input are collapsed, so a same-shape chain
becomes one flat loop whatever its rank, and identical chains share one kernel."""
import hashlib

PARALLEL_MIN_ELEMENTS = 1 << 18     # below this, threads cost more than they save on 2 cores


class LoopSpec:
    """in_place maps a result index to the input it overwrites (same shape, read at the same index):
    the kernel then stores through that input array and takes no output argument for the result."""

    def __init__(self, rank, inputs, statements, results, parallel=False, input_ranks=None, in_place=None,
                 half_inputs=(), half_results=(), reduction=None):
        self.rank, self.inputs, self.statements, self.results = rank, inputs, statements, results
        self.parallel = parallel
        self.input_ranks = input_ranks or [len(p[1]) if p[0] == "array" else 0 for p in inputs]
        self.in_place = in_place or {}
        # float16 arrays arrive as uint16 bit views: widened to float32 on read, rounded on store
        self.half_inputs, self.half_results = set(half_inputs), set(half_results)
        # reduction (a Reduction): the loop then runs over the pre-reduction shape, given as the last
        # argument `shape`, and accumulates the single result in float64 before storing it into out0.
        self.reduction = reduction


class Reduction:
    """A trailing reduction: `identity` (source text of the start value), `combine` (source text over
    {acc} and {v}), `mean` (divide by the count at the end) and `reduced`, a tuple of rank booleans
    marking the reduced loop dims."""

    def __init__(self, identity, combine, mean, reduced):
        self.identity, self.combine, self.mean, self.reduced = identity, combine, mean, reduced


def _collapse(rank, patterns):
    """Groups of adjacent output dims that can be merged: same pattern in every input."""
    groups = []
    for d in range(rank):
        column = tuple(p[d] for p in patterns)
        if groups and groups[-1][1] == column:
            groups[-1][0].append(d)
        else:
            groups.append(([d], column))
    return groups


def generate(spec, name="kernel"):
    """Source text of a function `name(a0, a1, ..., out0, out1, ...)`."""
    if spec.reduction is not None:
        return _generate_reduction(spec, name)
    array_patterns = [p[1] for p in spec.inputs if p[0] == "array"]
    groups = _collapse(spec.rank, array_patterns) if spec.rank else []
    outs = [j for j in range(len(spec.results)) if j not in spec.in_place]
    args = [f"a{i}" for i in range(len(spec.inputs))] + [f"out{j}" for j in outs]
    lines = [f"def {name}({', '.join(args)}):"]
    shape_source = f"out{outs[0]}" if outs else f"a{spec.in_place[0]}"
    dims = []
    for g, (members, _) in enumerate(groups):
        size = " * ".join(f"{shape_source}.shape[{d}]" for d in members)
        lines.append(f"    n{g} = {size}")
        dims.append(f"n{g}")
    flat_shape = "(" + "".join(f"{d}, " for d in dims) + ")"
    for j in outs:
        lines.append(f"    o{j} = out{j}.reshape({flat_shape})" if dims else f"    o{j} = out{j}")
    loop_vars = [f"i{g}" for g in range(len(groups))]
    reads = _reads(spec, groups, dims, loop_vars, lines)
    for j, i in spec.in_place.items():
        # stores through the very view the loop reads: LLVM sees load and store at one index of one
        # pointer (no loop-carried dependence) instead of two arrays it must check for overlap
        lines.append(f"    o{j} = v{i}" if spec.input_ranks[i] else f"    o{j} = a{i}")
    indent = _loop_nest(spec, reads, loop_vars, dims, lines)
    store_index = "[" + ", ".join(loop_vars) + "]" if dims else "[()]"
    for j, result in enumerate(spec.results):
        value = f"float_to_half({result})" if j in spec.half_results else result
        lines.append(f"{indent}o{j}{store_index} = {value}")
    return "\n".join(lines) + "\n"


def _generate_reduction(spec, name):
    reduction = spec.reduction
    reduced = reduction.reduced
    array_patterns = [p[1] for p in spec.inputs if p[0] == "array"]
    groups = _collapse(spec.rank, array_patterns + [tuple(not r for r in reduced)])
    args = [f"a{i}" for i in range(len(spec.inputs))] + ["out0", "shape"]
    lines = [f"def {name}({', '.join(args)}):"]
    dims, kept = [], []
    for g, (members, column) in enumerate(groups):
        lines.append(f"    n{g} = " + " * ".join(f"shape[{d}]" for d in members))
        dims.append(f"n{g}")
        if column[-1]:                       # the pseudo-pattern: True where the dim is kept
            kept.append(g)
    loop_vars = [f"i{g}" for g in range(len(groups))]
    kept_shape = "(" + "".join(f"n{g}, " for g in kept) + ")"
    if kept:
        lines.append(f"    acc = np.full({kept_shape}, {reduction.identity}, np.float64)")
    else:                                     # a full reduction accumulates in a register
        lines.append(f"    total = np.float64({reduction.identity})")
    reads = _reads(spec, groups, dims, loop_vars, lines)
    indent = _loop_nest(spec, reads, loop_vars, dims, lines)
    target = "acc[" + ", ".join(loop_vars[g] for g in kept) + "]" if kept else "total"
    combined = reduction.combine.format(acc=target, v=f"np.float64({spec.results[0]})")
    lines.append(f"{indent}{target} = {combined}")
    count = " * ".join(dims[g] for g in range(len(groups)) if g not in kept) or "1"
    scale = f" / ({count})" if reduction.mean else ""
    store = "float_to_half({})" if 0 in spec.half_results else "{}"
    if kept:
        lines.append("    flat = out0.reshape((acc.size,))")
        lines.append("    accumulated = acc.reshape((acc.size,))")
        lines.append("    for j in range(acc.size):")
        lines.append("        flat[j] = " + store.format(f"accumulated[j]{scale}"))
    else:
        lines.append("    out0.reshape((1,))[0] = " + store.format(f"total{scale}"))
    return "\n".join(lines) + "\n"


def _loop_nest(spec, reads, loop_vars, dims, lines):
    """Emit the loops, the per-element reads and the statements; returns the body's indentation."""
    indent = "    "
    for depth, (var, dim) in enumerate(zip(loop_vars, dims)):
        # prange on the outermost loop only (numba splits it into one static range per thread, and the
        # loop body stays vectorizable; a hand-chunked range with a min() bound measured 4x slower)
        loop = "prange" if spec.parallel and depth == 0 else "range"
        lines.append(f"{indent}for {var} in {loop}({dim}):")
        indent += "    "
    for name, read in reads.items():
        lines.append(f"{indent}{name}_ = {read}")
    for statement in spec.statements:
        lines.append(f"{indent}{_rename_arguments(statement, len(spec.inputs))}")
    return indent


def _reads(spec, groups, dims, loop_vars, lines):
    """Per-element reads of each input, aligned to the (collapsed) loop dims."""
    reads = {}
    array_index = 0
    for i, entry in enumerate(spec.inputs):
        if entry[0] == "scalar":
            reads[f"a{i}"] = f"a{i}"
            continue
        if spec.input_ranks[i] == 0:
            lines.append(f"    s{i} = half_to_float(a{i}[()])" if i in spec.half_inputs else f"    s{i} = a{i}[()]")
            reads[f"a{i}"] = f"s{i}"
            array_index += 1
            continue
        shape = [dims[g] if column[array_index] else "1" for g, (_, column) in enumerate(groups)]
        lines.append(f"    v{i} = a{i}.reshape(({''.join(s + ', ' for s in shape)}))")
        index = ", ".join(loop_vars[g] if column[array_index] else "0" for g, (_, column) in enumerate(groups))
        reads[f"a{i}"] = f"half_to_float(v{i}[{index}])" if i in spec.half_inputs else f"v{i}[{index}]"
        array_index += 1
    return reads


def _rename_arguments(statement, count):
    """a3 -> a3_ (the per-element read), longest names first so a1 never clobbers a12."""
    import re
    return re.sub(r"\ba(\d+)\b", lambda m: f"a{m.group(1)}_" if int(m.group(1)) < count else m.group(0), statement)


def module_source(kernels, parallel, imports=()):
    """A module defining the kernels, compiled lazily by numba with an on-disk cache.
    imports: (module, name) pairs the kernels' statements call."""
    header = ["import numpy as np", "from numba import njit, prange"]
    header += [f"from {module} import {name}  # noqa: F401" for module, name in imports]
    header.append("")
    body = []
    for name, source in kernels:
        flags = "error_model='numpy', fastmath={'contract'}, cache=True" + (", parallel=True" if parallel else "")
        body.append(f"@njit({flags})\n{source}")
    return "\n".join(header) + "\n" + "\n\n".join(body)


def source_hash(text):
    return hashlib.sha256(text.encode()).hexdigest()[:20]
