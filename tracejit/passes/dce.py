"""Dead-code elimination: drop nodes whose results nobody uses (effects always stay)."""


def run(graph):
    live = {id(v) for v in graph.outputs}
    kept, removed = [], []
    for node in reversed(graph.nodes):
        if node.effect or any(id(v) in live for v in node.outputs):
            kept.append(node)
            live.update(id(v) for v in node.inputs)
        else:
            removed.append(f"removed {node.op} -> {', '.join(map(repr, node.outputs))}")
    graph.nodes = kept[::-1]
    return removed[::-1]
