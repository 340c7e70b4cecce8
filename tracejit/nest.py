"""Nested structures as tf.nest sees them: tuples, lists, namedtuples and dicts hold leaves."""


def map_structure(fn, structure):
    """The same structure with every leaf replaced by fn(leaf); leaves are visited in order
    (dicts in insertion order)."""
    if isinstance(structure, dict):
        return {k: map_structure(fn, v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        items = [map_structure(fn, v) for v in structure]
        return type(structure)(*items) if hasattr(structure, "_fields") else type(structure)(items)
    return fn(structure)


def flatten(structure):
    """The leaves, in map_structure's order."""
    leaves = []
    map_structure(leaves.append, structure)
    return leaves


def pack_sequence_as(structure, flat):
    """`structure` with its leaves replaced, in order, by the items of `flat`."""
    items = iter(flat)
    return map_structure(lambda _: next(items), structure)


def flatten_with_tuple_paths(structure):
    """[(path, leaf)] as tf.nest.flatten_with_tuple_paths sees them: dict keys sorted, list/tuple
    indices; path is a tuple of keys/indices (() for a lone leaf)."""
    if isinstance(structure, dict):
        items = [(k, structure[k]) for k in sorted(structure)]
    elif isinstance(structure, (list, tuple)):
        items = list(enumerate(structure))
    else:
        return [((), structure)]
    return [((key,) + path, leaf) for key, value in items for path, leaf in flatten_with_tuple_paths(value)]
