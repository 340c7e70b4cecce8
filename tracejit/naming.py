"""Name scopes (tf.name_scope): a per-thread stack of prefixes for the names of Variables and of
TF1 graph operations."""
import contextlib
import re
import threading

_thread = threading.local()


def _scopes():
    scopes = getattr(_thread, "scopes", None)
    if scopes is None:
        scopes = _thread.scopes = []
    return scopes


@contextlib.contextmanager
def name_scope(name):
    """`with name_scope("layer1") as scope:` names created inside start with "layer1/" (scope is "layer1/")."""
    scopes = _scopes()
    scopes.append(re.sub(r"/$", "", name))
    try:
        yield "/".join(scopes) + "/"
    finally:
        scopes.pop()


def scoped_name(base):
    """`base` under the current name scopes: "outer/inner/base"."""
    return "/".join(_scopes() + [base])


def clear_name_scopes():
    _scopes().clear()
