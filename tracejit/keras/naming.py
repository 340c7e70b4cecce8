"""Keras-style unique layer names: dense, dense_1, dense_2, ... (reset by backend.clear_session)."""
import collections
import re

_counts = collections.Counter()


def snake_case(name):
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def unique(base):
    count = _counts[base]
    _counts[base] += 1
    return base if count == 0 else f"{base}_{count}"


def reset():
    _counts.clear()
