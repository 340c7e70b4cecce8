"""tf.saved_model.load: rebuilds the object graph (modules as tf.Modules, Variables restored from
the SavedModel's checkpoint, lists/dicts), the saved functions and the signatures. A saved
function replays its graph through the registered ops: eagerly under a GradientTape, inlined when
called inside another @function, and otherwise as a @function of its own, traced once per saved
input signature and compiled by the current backend. No Python source of the saved object is
needed."""
import inspect
import json
import os

import numpy as np

from ..checkpoint import read as read_checkpoint
from ..context import bind, current_context, init_scope
from ..errors import NotFoundError
from ..jit import function
from ..module import Module
from ..ops.core import convert_to_tensor
from ..tensor import Tensor, TensorShape, TensorSpec
from ..variables import Variable
from .encoding import Arrays, decode_nodes, decode_value, replay
from .save import CONSTANTS_FILE, FORMAT, SAVED_MODEL_FILE, VARIABLES_PREFIX

_UNSAVED = object()


def load(export_dir, tags=None, options=None):
    if options is not None:
        raise NotImplementedError("tf.saved_model.load: options are not supported")
    path = os.path.join(export_dir, SAVED_MODEL_FILE)
    if not os.path.exists(path):
        raise OSError(f"SavedModel file does not exist at: {export_dir}/{{{SAVED_MODEL_FILE}}}")
    with open(path) as f:
        data = json.load(f)
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: unknown SavedModel format {data.get('format')!r} (expected {FORMAT!r})")
    constants = os.path.join(export_dir, CONSTANTS_FILE)
    arrays = Arrays(dict(np.load(constants)) if os.path.exists(constants) else {})
    values = read_checkpoint(os.path.join(export_dir, VARIABLES_PREFIX)) if any(
        o["kind"] == "variable" for o in data["objects"]) else {}
    objects = [_create(entry, values) for entry in data["objects"]]
    concretes = [_RestoredConcrete(entry, objects, arrays) for entry in data["concrete_functions"]]
    functions = [RestoredFunction(entry, concretes) for entry in data["functions"]]
    for obj, entry in zip(objects, data["objects"]):
        if entry["kind"] == "module":
            for attr, index in entry["children"].items():
                obj.__dict__[attr] = objects[index]
            for attr, index in entry["functions"].items():
                obj.__dict__[attr] = functions[index]
        elif entry["kind"] in ("list", "tuple"):
            obj.extend(None if i is None else objects[i] for i in entry["items"])
        elif entry["kind"] == "dict":
            obj.update((k, objects[i]) for k, i in entry["items"])
    for i, entry in enumerate(data["objects"]):
        if entry["kind"] == "tuple":
            objects[i] = tuple(objects[i])
    root = objects[data["root"]]
    root.__dict__["signatures"] = SignatureMap({key: SignatureFunction(key, concretes[s["concrete"]], s)
                                                for key, s in data["signatures"].items()})
    return root


class _UserObject(Module):
    """A restored tf.Module: its saved children as attributes, its saved functions as methods."""

    def __init__(self, name, cls):
        self._init_name(name)
        self._saved_class = cls

    def __call__(self, *args, **kwargs):
        call = self.__dict__.get("__call__")
        if call is None:
            raise TypeError(f"the restored {self._saved_class} object is not callable (no __call__ was saved)")
        return call(*args, **kwargs)

    def __repr__(self):
        return f"<restored {self._saved_class} '{self.name}'>"


def _create(entry, values):
    kind = entry["kind"]
    if kind == "module":
        return _UserObject(entry["name"], entry["cls"])
    if kind == "variable":
        if entry["checkpoint_key"] not in values:
            raise NotFoundError(f"the SavedModel's checkpoint has no value for {entry['checkpoint_key']}")
        with init_scope():
            return Variable(values[entry["checkpoint_key"]], name=entry["name"], trainable=entry["trainable"],
                            dtype=entry["dtype"])
    return {} if kind == "dict" else []


def _spec(data):
    return TensorSpec(data["shape"], data["dtype"], data.get("name"))


class _RestoredConcrete:
    """One saved concrete function: its argument structure, and its graph as a @function."""

    def __init__(self, entry, objects, arrays):
        self.name, self.arguments, self._outputs = entry["name"], entry["arguments"], entry["outputs"]
        graph = entry["graph"]
        self.input_signature = [TensorSpec(i["shape"], i["dtype"]) for i in graph["inputs"]]

        nodes = decode_nodes(graph, arrays)

        def run(*tensors):
            outputs = replay(graph, nodes, objects, tensors, bind, Tensor)
            return outputs[0] if len(outputs) == 1 else tuple(outputs)
        self._replay = run
        self.function = function(run, input_signature=self.input_signature, name=self.name)

    def call_flat(self, tensors):
        """Runs on the flat input tensors; a GradientTape recording here sees every op."""
        outputs = self._replay(*tensors) if current_context().tapes else self.function(*tensors)
        flat = list(outputs) if isinstance(outputs, tuple) else [outputs]
        return _unpack(self._outputs, flat)

    def match(self, arguments, convert):
        """The flat input tensors if the call's bound arguments fit this function, else None."""
        flat = []
        for name, structure in self.arguments.items():
            if name not in arguments or not _match(structure, arguments[name], flat, convert):
                return None
        return flat


def _match(structure, value, flat, convert):
    kind, body = next(iter(structure.items()))
    if kind == "spec":
        spec = _spec(body)
        if isinstance(value, Variable):
            value = value.read_value()
        if not isinstance(value, (Tensor, np.ndarray, np.generic)):
            if not convert:
                return False
            try:
                value = convert_to_tensor(value, dtype_hint=spec.dtype)
            except (TypeError, ValueError):
                return False
        tensor = convert_to_tensor(value)
        if not spec.is_compatible_with(tensor):
            return False
        flat.append(tensor)
        return True
    if kind == "literal":
        return not isinstance(value, (Tensor, np.ndarray)) and value == decode_value(body, None) and \
            type(value) is type(decode_value(body, None))
    if kind == "dict":
        return isinstance(value, dict) and sorted(value) == [k for k, _ in body] and \
            all(_match(s, value[k], flat, convert) for k, s in body)
    if kind in ("list", "tuple"):
        return isinstance(value, (list, tuple)) and isinstance(value, tuple) == (kind == "tuple") and \
            len(value) == len(body) and all(_match(s, v, flat, convert) for s, v in zip(body, value))
    return False


def _unpack(structure, flat):
    kind, body = next(iter(structure.items()))
    if kind == "output":
        return flat[body]
    if kind == "none":
        return None
    if kind == "dict":
        return {k: _unpack(s, flat) for k, s in body}
    items = [_unpack(s, flat) for s in body]
    return tuple(items) if kind == "tuple" else items


def _describe(structure):
    kind, body = next(iter(structure.items()))
    if kind == "spec":
        return repr(_spec(body))
    if kind == "literal":
        return repr(decode_value(body, None))
    if kind == "dict":
        return "{" + ", ".join(f"{k!r}: {_describe(s)}" for k, s in body) + "}"
    items = ", ".join(_describe(s) for s in body)
    return f"({items}{',' if len(body) == 1 else ''})" if kind == "tuple" else f"[{items}]"


class RestoredFunction:
    """A saved @function: called like the original, it runs the saved concrete function whose input
    signature matches (Python values are converted to tensors if no function matches exactly)."""

    def __init__(self, entry, concretes):
        self.name = entry["name"]
        parameters = []
        for p in entry["parameters"]:
            default = decode_value(p["default"], None) if "default" in p else \
                _UNSAVED if p.get("default_unsaved") else inspect.Parameter.empty
            parameters.append(inspect.Parameter(p["name"], getattr(inspect.Parameter, p["kind"]), default=default))
        self._signature = inspect.Signature(parameters)
        self.concrete_functions = [concretes[i] for i in entry["concrete"]]

    def __call__(self, *args, **kwargs):
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        for convert in (False, True):
            for concrete in self.concrete_functions:
                flat = concrete.match(bound.arguments, convert)
                if flat is not None:
                    return concrete.call_flat(flat)
        got = [f"    * {a!r}" for a in args]
        options = [f"Option {i + 1}:\n" + "\n".join(f"    {n}: {_describe(s)}" for n, s in c.arguments.items())
                   for i, c in enumerate(self.concrete_functions)]
        raise ValueError("Could not find matching concrete function to call loaded from the SavedModel. Got:\n"
                         f"  Positional arguments ({len(args)} total):\n" + "\n".join(got) +
                         f"\n  Keyword arguments: {kwargs}\n\n Expected these arguments to match one of the "
                         f"following {len(options)} option(s):\n\n" + "\n\n".join(options))

    def __repr__(self):
        return f"<restored function {self.name}>"


class SignatureFunction:
    """signatures[key](**inputs) -> {output name: tensor}: keyword arguments only, as in TF."""

    def __init__(self, key, concrete, entry):
        self.key, self._concrete = key, concrete
        self._inputs = [(name, _spec(spec)) for name, spec in entry["inputs"]]
        self._outputs = entry["outputs"]
        self.structured_input_signature = ((), {name: spec for name, spec in self._inputs})
        outputs = concrete.function.get_concrete_function().outputs
        self.structured_outputs = {name: TensorSpec(TensorShape(outputs[i].shape), outputs[i].dtype, name)
                                   for name, i in self._outputs}

    def __call__(self, *args, **kwargs):
        names = [name for name, _ in self._inputs]
        if args:
            raise TypeError(f"signature_wrapper(*, {', '.join(names)}) takes 0 positional arguments but "
                            f"{len(args)} were given (call a signature with keyword arguments)")
        missing, unexpected = [n for n in names if n not in kwargs], sorted(set(kwargs) - set(names))
        if missing or unexpected:
            raise TypeError(f"signature_wrapper(*, {', '.join(names)}): missing required arguments {missing}, "
                            f"unexpected arguments {unexpected}")
        flat = []
        for name, spec in self._inputs:
            tensor = convert_to_tensor(kwargs[name], dtype_hint=spec.dtype)
            if not spec.is_compatible_with(tensor):
                raise ValueError(f"signature '{self.key}': input '{name}' must be {spec}, got "
                                 f"{tensor.dtype.name} tensor of shape {tuple(tensor.shape)}")
            flat.append(tensor)
        outputs = self._concrete.function(*flat) if not current_context().tapes else self._concrete._replay(*flat)
        outputs = list(outputs) if isinstance(outputs, tuple) else [outputs]
        return {name: outputs[i] for name, i in self._outputs}

    def __repr__(self):
        return f"<signature {self.key}({', '.join(n for n, _ in self._inputs)})>"


class SignatureMap(dict):
    """loaded.signatures: signature key -> SignatureFunction."""

    def __repr__(self):
        return f"_SignatureMap({dict.__repr__(self)})"

