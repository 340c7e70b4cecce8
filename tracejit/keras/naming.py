"""Keras 3 naming: unique object names (dense, dense_1, ...; reset by backend.clear_session) and
variable paths. A layer opens its path scope around build and call, so its variables get paths
like "sequential/dense/kernel" (Keras' name_scope stack, per thread); entering a path scope also
enters the tf.name_scope of the same name, as Keras' TensorFlow backend does."""
import collections
import re
import threading

from ..naming import name_scope as tf_name_scope

_counts = collections.Counter()
_thread = threading.local()


def snake_case(name):
    """Keras' to_snake_case: Conv2D -> conv2d, BatchNormalization -> batch_normalization, ReLU -> re_lu."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def unique(base):
    count = _counts[base]
    _counts[base] += 1
    return base if count == 0 else f"{base}_{count}"


def reset():
    _counts.clear()


def _stack():
    stack = getattr(_thread, "stack", None)
    if stack is None:
        stack = _thread.stack = []
    return stack


def validate_name(name):
    if not isinstance(name, str) or "/" in name:
        raise ValueError(f"Argument `name` must be a string and cannot contain character `/`. Received: name={name}")
    return name


class name_scope:
    """A path scope. `caller` dedupes: a layer re-entering its own scope (build inside call) adds
    no level; a caller with a `_parent_path` is placed under that path wherever it is entered."""

    def __init__(self, name, caller=None):
        self.name, self.caller = validate_name(name), caller
        self.override_parent = getattr(caller, "_parent_path", None)
        self._pushed = None

    def __enter__(self):
        stack = _stack()
        top = stack[-1] if stack else None
        if top is not None and self.caller is not None and top.caller is self.caller and top.name == self.name:
            self._pushed = False
            return self
        stack.append(self)
        self._pushed = tf_name_scope(self.name)
        self._pushed.__enter__()
        return self

    def __exit__(self, *exc_info):
        if self._pushed:
            self._pushed.__exit__(*exc_info)
            _stack().pop()
        self._pushed = None


def current_path():
    parts = []
    for entry in _stack():
        if entry.override_parent is not None:
            parts = [p for p in entry.override_parent.split("/") if p]
        parts.append(entry.name)
    return "/".join(parts)
