"""Name scopes (tf.name_scope): a per-thread stack of prefixes for the names of Variables and of
TF1 graph operations."""
import threading

_thread = threading.local()


def _scopes():
    scopes = getattr(_thread, "scopes", None)
    if scopes is None:
        scopes = _thread.scopes = []
    return scopes


def current_scope():
    """The full current scope, "outer/inner/" ("" at the top level)."""
    scopes = _scopes()
    return scopes[-1] if scopes else ""


class name_scope:
    """`with name_scope("layer1") as scope:` names created inside start with "layer1/" (scope is
    "outer/layer1/" inside an "outer" scope). A name ending in "/" is absolute: it replaces the
    current scope, which is how a captured scope is re-entered (tf.Module.name_scope). The object
    can be entered again and again, like TF's."""

    def __init__(self, name):
        if not isinstance(name, str):
            raise ValueError("name for name_scope must be a string.")
        self._name = name

    @property
    def name(self):
        return self._name

    def __enter__(self):
        name, current = self._name, current_scope()
        scope = "" if not name else name if name.endswith("/") else current + name + "/"
        _scopes().append(scope)
        return scope

    def __exit__(self, *exc_info):
        _scopes().pop()


def scoped_name(base):
    """`base` under the current name scope: "outer/inner/base"."""
    return current_scope() + base


def clear_name_scopes():
    _scopes().clear()
