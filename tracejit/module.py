"""tf.Module: a named container of Variables, other Modules and functions.

`variables`, `trainable_variables`, `non_trainable_variables` and `submodules` are found by
reflection, with the semantics of TF's `_flatten_module`: a module's attributes in name order,
each flattened like tf.nest (lists and tuples by index, dicts by sorted key), every leaf yielded
once; then each submodule found on the way is walked the same way (its own attributes first).
Cycles (a.b = b; b.a = a) are walked once."""
import re

from . import nest
from .naming import name_scope as _name_scope
from .variables import Variable

_CAMEL_TO_SNAKE = re.compile(r"((?<=[a-z0-9])[A-Z]|(?!^)[A-Z](?=[a-z]))")
_VALID_IDENTIFIER = re.compile(r"^[a-zA-Z_]([a-zA-Z0-9_])*$")


def camel_to_snake(value):
    return _CAMEL_TO_SNAKE.sub(r"_\1", value).lower()


def valid_identifier(name):
    return bool(_VALID_IDENTIFIER.match(name))


class Module:
    """Base class for stateful components: `name`, `name_scope`, and the variables and submodules
    reachable through its attributes.

        class Dense(tf.Module):
            def __init__(self, in_features, out_features, name=None):
                super().__init__(name=name)
                self.w = tf.Variable(tf.random.normal([in_features, out_features]), name="w")
                self.b = tf.Variable(tf.zeros([out_features]), name="b")

            @tf.function
            def __call__(self, x):
                return tf.nn.relu(x @ self.w + self.b)
    """

    # attributes that reference what other attributes already reach (subclasses add their bookkeeping)
    _TF_MODULE_IGNORED_PROPERTIES = frozenset()

    def __init__(self, name=None):
        if name is None:
            name = camel_to_snake(type(self).__name__)
        elif not valid_identifier(name):
            raise ValueError(f"{name!r} is not a valid module name. Module names must be valid Python "
                             "identifiers (e.g. a valid class name).")
        self._init_name(name)

    def _init_name(self, name):
        """Records the name and the scope it has under the scopes open now ("outer/name/")."""
        self._name = name
        with _name_scope(name) as scope_name:
            self._name_scope = _name_scope(scope_name)

    @property
    def name(self):
        """The name given to (or derived for) this module; `name_scope.name` also has the parents'."""
        return self._name

    @property
    def name_scope(self):
        """A tf.name_scope for this module, re-entrable: `with self.name_scope:`."""
        return self._name_scope

    @property
    def variables(self):
        """This module's variables (by attribute name), then its submodules', recursively."""
        return tuple(self._flatten(predicate=_is_variable))

    @property
    def trainable_variables(self):
        return tuple(self._flatten(predicate=_is_trainable_variable))

    @property
    def non_trainable_variables(self):
        return tuple(self._flatten(predicate=_is_non_trainable_variable))

    @property
    def submodules(self):
        """Every module reachable through attributes, each once: a.b = b; b.c = c gives (b, c)."""
        return tuple(self._flatten(predicate=_is_module))

    def _flatten(self, recursive=True, predicate=None, attribute_traversal_key=None, with_path=False):
        """The leaves of this module's attributes (and, if recursive, its submodules') that pass
        `predicate`; with_path=True yields (path, leaf) pairs, path a tuple of attribute names,
        list indices and dict keys, and then does not deduplicate."""
        return _flatten_module(self, recursive, predicate or (lambda _: True), attribute_traversal_key,
                               with_path, (), {id(self)}, [])

    @classmethod
    def with_name_scope(cls, method):
        """Decorator: run the method inside the module's name scope."""
        import functools

        @functools.wraps(method)
        def method_with_name_scope(self, *args, **kwargs):
            with self.name_scope:
                return method(self, *args, **kwargs)
        return method_with_name_scope


def _is_variable(obj):
    return isinstance(obj, Variable)


def _is_trainable_variable(obj):
    return isinstance(obj, Variable) and getattr(obj, "trainable", False)


def _is_non_trainable_variable(obj):
    return isinstance(obj, Variable) and not getattr(obj, "trainable", False)


def _is_module(obj):
    return isinstance(obj, Module)


def _flatten_module(module, recursive, predicate, attribute_traversal_key, with_path, module_path, seen,
                    recursion_stack):
    if id(module) in recursion_stack:           # a back edge of a cycle: this module's leaves only
        recursive = False
    attributes = vars(module)
    submodules = []
    for key in sorted(attributes, key=attribute_traversal_key):
        if key in module._TF_MODULE_IGNORED_PROPERTIES:
            continue
        try:
            leaves = nest.flatten_with_tuple_paths(attributes[key])
        except Exception as cause:
            raise ValueError(f"Error processing property {key!r} of {attributes[key]!r}") from cause
        for leaf_path, leaf in leaves:
            path = module_path + (key,) + leaf_path
            if not with_path:
                if id(leaf) in seen:
                    continue
                seen.add(id(leaf))
            if predicate(leaf):
                yield (path, leaf) if with_path else leaf
            if recursive and _is_module(leaf):
                submodules.append((path, leaf))
    recursion_stack.append(id(module))
    for path, submodule in submodules:
        yield from _flatten_module(submodule, recursive, predicate, attribute_traversal_key, with_path, path, seen,
                                   recursion_stack)
    recursion_stack.pop()


def variable_paths(module):
    """[("a/0/w", variable)]: each variable reachable from `module` once, under the first attribute
    path that reaches it (in _flatten order); checkpoints and SavedModels key variables by these."""
    found, seen = [], set()
    for path, variable in module._flatten(predicate=_is_variable, with_path=True):
        if id(variable) not in seen:
            seen.add(id(variable))
            found.append(("/".join(str(p) for p in path), variable))
    return found
