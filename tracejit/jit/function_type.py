"""A concrete function's type as TensorFlow prints it (FunctionType in TF 2.21):

    Input Parameters:
      x (POSITIONAL_OR_KEYWORD): TensorSpec(shape=(None, 2), dtype=tf.float32, name=None)
      n (POSITIONAL_OR_KEYWORD): Literal[3]
    Output Type:
      Tuple[TensorSpec(shape=(None, 2), dtype=tf.float32, name=None), Literal[None]]
    Captures:
      140235: TensorSpec(shape=(), dtype=tf.resource, name=None)

and, not verbose, as a Python signature: `(x: TensorSpec(...), n: Literal[3]) -> Tuple[...]`.
Trace types: TensorSpec for tensors, Literal[v] for Python values, Tuple[...]/List[...]/
Dict[[key, type], ...] for containers, NamedTuple as Name[[field, type], ...]."""
import inspect
import weakref

from ..tensor import TensorSpec
from ..variables import Variable
from . import signature as sig


class _Type:
    """An annotation whose repr is the TF trace-type text (inspect prints annotations by repr)."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


def _describe(value, leaf_type):
    """The trace type of a (nested) value; leaf_type(leaf value) describes its leaves in flatten order
    (dicts by sorted key, like signature.flatten), containers print in their own order."""
    if isinstance(value, dict):
        parts = {k: _describe(value[k], leaf_type) for k in sorted(value)}
        return "Dict[" + ", ".join(f"[{k!r}, {parts[k]}]" for k in value) + "]"
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        parts = [_describe(v, leaf_type) for v in value]
        return f"{type(value).__name__}[" + ", ".join(f"[{f!r}, {p}]" for f, p in zip(value._fields, parts)) + "]"
    if isinstance(value, (list, tuple)):
        return ("List[" if isinstance(value, list) else "Tuple[") + ", ".join(
            _describe(v, leaf_type) for v in value) + "]"
    return leaf_type(value)


def _leaf_text(leaf):
    if leaf.kind == sig.TENSOR:
        return repr(TensorSpec(leaf.spec.shape, leaf.spec.dtype, leaf.spec.name))
    if leaf.kind == sig.STATIC:
        return f"Literal[{leaf.value!r}]"
    if isinstance(leaf.value, Variable):
        v = leaf.value
        return f"VariableSpec(shape={v.shape}, dtype={v.dtype!r}, trainable={v.trainable}, alias_id=None)"
    return f"Weakref[{weakref.ref(leaf.value)!r}]"


def build(bound, leaves, output_values, structured_outputs, captured):
    """An inspect.Signature whose annotations are trace types, and the captures: [(id, text)]."""
    next_leaf = iter(leaves).__next__
    has_var_positional = any(p.kind == p.VAR_POSITIONAL for p in bound.signature.parameters.values())
    parameters = []
    for name, value in bound.arguments.items():
        param = bound.signature.parameters[name]
        described = {}
        for key in sorted(value) if param.kind == param.VAR_KEYWORD else ():
            described[key] = _describe(value[key], lambda _: _leaf_text(next_leaf()))
        if param.kind == param.VAR_POSITIONAL:
            parameters += [inspect.Parameter(f"{name}_{i}", inspect.Parameter.POSITIONAL_ONLY, annotation=_Type(
                _describe(v, lambda _: _leaf_text(next_leaf())))) for i, v in enumerate(value)]
        elif param.kind == param.VAR_KEYWORD:
            parameters += [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, annotation=_Type(described[k]))
                           for k in sorted(value)]
        else:
            kind = inspect.Parameter.POSITIONAL_ONLY if has_var_positional and \
                param.kind == param.POSITIONAL_OR_KEYWORD else param.kind
            parameters.append(inspect.Parameter(name, kind, annotation=_Type(
                _describe(value, lambda _: _leaf_text(next_leaf())))))

    def output_text(index):
        if type(index) is not int:                       # None (no output)
            return "Literal[None]"
        value = output_values[index]
        return repr(TensorSpec(value.shape, value.dtype))
    output = _Type(_describe(structured_outputs, output_text))
    captures = [(id(variable), "TensorSpec(shape=(), dtype=tf.resource, name=None)") for variable in captured]
    return inspect.Signature(parameters, return_annotation=output), captures


def pretty(signature, captures, verbose=True):
    if not verbose:
        return str(signature)
    lines = ["Input Parameters:"]
    lines += [f"  {p.name} ({p.kind.name}): {p.annotation!r}" for p in signature.parameters.values()]
    lines += ["Output Type:", f"  {signature.return_annotation!r}", "Captures:"]
    lines += [f"  {key}: {text}" for key, text in captures] or ["  None"]
    return "\n".join(lines)
