"""Graph -> Graph optimizations. Each pass mutates the graph it is given (a clone of the traced
graph) and returns a list of human-readable changes; the pipeline records them per pass."""
from .. import config
from ..ir.verify import verify
from . import cse, dce, fold, fuse, inplace, simplify

PIPELINE = [("fold", fold.run), ("simplify", simplify.run), ("cse", cse.run), ("dce", dce.run),
            ("fold", fold.run), ("simplify", simplify.run), ("cse", cse.run), ("dce", dce.run),
            ("fuse", fuse.run), ("inplace", inplace.run)]


class PassReport:
    def __init__(self, name, changes):
        self.name, self.changes = name, changes

    def __repr__(self):
        return f"{self.name}: {len(self.changes)} change(s)"


def optimize(graph, debug=None, fusion=True, can_lower=None):
    """Run the pipeline on a clone of `graph`; returns (optimized graph, [PassReport]).
    can_lower(node): the backend's answer to "can this elementwise node join a fused loop?"."""
    graph = graph.clone()
    level = config.debug_level(debug)
    reports = []
    for name, run in PIPELINE:
        if name == "fuse":
            if not fusion:
                continue
            changes = run(graph, can_lower) if can_lower is not None else run(graph)
        else:
            changes = run(graph)
        verify(graph)
        reports.append(PassReport(name, changes))
        if level >= 2 and changes:
            config.debug_print(f"after {name} ({len(changes)} change(s)):\n  " + "\n  ".join(changes) +
                               f"\n{graph}")
    return graph, reports
