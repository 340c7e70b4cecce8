"""Graph -> Graph optimizations. Each pass mutates the graph it is given (a clone of the traced
graph) and returns a list of human-readable changes; the pipeline records, per pass, the IR
before and after, the changes, the fused groups it created and the time it took (`PassRecord`).

Passes are looked up by name when the pipeline runs (not bound at import), so a test can replace
a pass module's `run` with monkeypatch, and `optimize(graph, disabled={"fuse"})` can leave any of
them out (the parity checker bisects by disabling one pass at a time)."""
import difflib
import re
import time

from .. import config
from ..ir.primitives import FUSED
from ..ir.verify import verify
from . import cse, dce, epilogue, fold, fuse, inplace, simplify

PASSES = {"fold": fold, "simplify": simplify, "cse": cse, "dce": dce, "epilogue": epilogue, "fuse": fuse,
          "inplace": inplace}
PIPELINE = ["fold", "simplify", "cse", "dce", "fold", "simplify", "cse", "epilogue", "dce", "fuse", "inplace"]


class FusedGroup:
    """One FUSED node a pass created: which ops now run as one loop, over what, and where."""

    def __init__(self, node):
        self.members = [m.op for m in node.params["members"]]
        self.outputs = [repr(v) for v in node.outputs]
        self.inputs = [repr(v) for v in node.inputs]
        self.shape = tuple(node.params["members"][0].outputs[0].shape)
        self.location = node.loc

    @property
    def name(self):
        return f"fused[{','.join(self.members)}]"

    def __str__(self):
        return (f"{self.name} -> {', '.join(self.outputs)} at {self.location}: {len(self.members)} ops in one loop "
                f"over shape {list(self.shape)}, reading {', '.join(self.inputs) or 'nothing'}")

    __repr__ = __str__


class PassRecord:
    """What one pass of the pipeline did. `before`/`after` are the IR texts, `diff` their unified
    diff, `changes` the pass's own account (what it folded/removed/merged/fused), `why` what the
    pass is for, `fused_groups` the FUSED nodes it created, `seconds` its running time."""

    def __init__(self, name, index, changes, before, after, seconds, fused_groups):
        self.name, self.index, self.changes = name, index, changes
        self.before, self.after, self.seconds = before, after, seconds
        self.fused_groups = fused_groups

    @property
    def why(self):
        doc = " ".join((PASSES[self.name].__doc__ or "").split())
        return re.split(r"(?<=\.)\s", doc, maxsplit=1)[0]      # the module docstring's first sentence

    @property
    def diff(self):
        lines = difflib.unified_diff(self.before.splitlines(), self.after.splitlines(),
                                     f"before {self.name}", f"after {self.name}", lineterm="", n=1)
        return "\n".join(lines)

    def summary(self):
        return f"{self.name} ({len(self.changes)} change(s), {self.seconds * 1e3:.2f} ms)"

    def __str__(self):
        parts = [self.summary() + ":", "  why: " + self.why]
        parts += ["  " + c for c in self.changes]
        parts += ["  " + str(g) for g in self.fused_groups]
        if self.changes:
            parts.append(self.diff)
        return "\n".join(parts)

    def __repr__(self):
        return f"<PassRecord {self.summary()}>"


PassReport = PassRecord        # the name the first pass reports had


def optimize(graph, debug=None, fusion=True, can_lower=None, disabled=()):
    """Run the pipeline on a clone of `graph`; returns (optimized graph, [PassRecord]).
    can_lower(node): the backend's answer to "can this elementwise node join a fused loop?".
    disabled: names of passes to leave out (fusion=False is disabled={"fuse"})."""
    disabled = _checked_pass_names(disabled) | (set() if fusion else {"fuse"})
    graph = graph.clone()
    level = config.debug_level(debug)
    records = []
    text = str(graph)
    for index, name in enumerate(PIPELINE):
        if name in disabled:
            continue
        before_fused = {id(n) for n in graph.nodes if n.prim is FUSED}
        start = time.perf_counter()
        changes = _run_pass(name, graph, can_lower)
        seconds = time.perf_counter() - start
        verify(graph)
        # the IR text is redrawn only after a pass that reports changes (formatting costs ~10 us/node)
        after = str(graph) if changes else text
        created = [FusedGroup(n) for n in graph.nodes if n.prim is FUSED and id(n) not in before_fused]
        record = PassRecord(name, index, changes, text, after, seconds, created)
        records.append(record)
        text = after
        if level >= 2 and changes:
            config.debug_print(f"after {record.summary()}: {record.why}\n  " + "\n  ".join(changes) + "\n"
                               + record.diff)
    return graph, records


def _run_pass(name, graph, can_lower):
    run = PASSES[name].run
    if name == "fuse" and can_lower is not None:
        return run(graph, can_lower)
    return run(graph)


def _checked_pass_names(names):
    names = {names} if isinstance(names, str) else set(names)
    unknown = names - set(PASSES)
    if unknown:
        raise ValueError(f"unknown pass name(s) {sorted(unknown)}; the passes are {sorted(PASSES)}")
    return names
