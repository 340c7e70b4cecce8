"""tf.saved_model.save: the object graph (modules, variables, containers, functions), every traced
concrete function as its IR graph in JSON, the signatures, and the variables in the checkpoint
format of tracejit/checkpoint.py. The format is documented in docs/saved_model.md. A process whose
output is off (config.output_enabled(): the workers other than 0 of a multi-worker job) traces
and encodes everything but writes no file."""
import inspect
import json
import os
import warnings

import numpy as np

from .. import config
from ..checkpoint import write as write_checkpoint
from ..jit.function import ConcreteFunction, Function
from ..jit.tracer import NONE_OUTPUT
from ..module import Module, variable_paths
from ..tensor import TensorSpec
from ..variables import Variable
from .encoding import Arrays, encode_graph, encode_type, encode_value

FORMAT = "tracejit-saved-model-1"
SAVED_MODEL_FILE = "saved_model.json"
CONSTANTS_FILE = "constants.npz"
VARIABLES_PREFIX = os.path.join("variables", "variables")
VALUE_SUFFIX = ".ATTRIBUTES/VARIABLE_VALUE"
DEFAULT_SIGNATURE_KEY = "serving_default"


def save(obj, export_dir, signatures=None, options=None):
    """Saves `obj` (a tf.Module: a Keras model too) so tf.saved_model.load can run its traced
    @tf.function methods and signatures without the Python code that defined them."""
    if options is not None:
        raise NotImplementedError("tf.saved_model.save: options are not supported")
    if not isinstance(obj, Module):
        raise ValueError(f"Expected an object of type `tf.Module` (Trackable), got {obj!r} of type {type(obj)}.")
    from .. import __version__
    writer = _Writer(obj)
    root = writer.node(obj)
    signature_map = _signature_functions(obj, signatures)
    data = {"format": FORMAT, "tracejit_version": __version__, "root": root, "objects": writer.objects,
            "functions": writer.functions, "concrete_functions": writer.concretes,
            "signatures": {key: writer.signature(fn, key) for key, fn in signature_map.items()}}
    if writer.untraced:
        warnings.warn(f"Found untraced functions such as {', '.join(writer.untraced[:5])} while saving (showing "
                      f"{min(5, len(writer.untraced))} of {len(writer.untraced)}). These functions will not be "
                      "directly callable after loading.", stacklevel=2)
    if not config.output_enabled():
        return
    os.makedirs(os.path.join(export_dir, "assets"), exist_ok=True)
    os.makedirs(os.path.join(export_dir, "graphs"), exist_ok=True)
    write_checkpoint(os.path.join(export_dir, VARIABLES_PREFIX),
                     {writer.objects[i]["checkpoint_key"]: v.numpy() for i, v in writer.variables})
    if writer.arrays.arrays:
        with open(os.path.join(export_dir, CONSTANTS_FILE + ".tmp"), "wb") as f:
            np.savez(f, **writer.arrays.arrays)
        os.replace(os.path.join(export_dir, CONSTANTS_FILE + ".tmp"), os.path.join(export_dir, CONSTANTS_FILE))
    for i, (concrete, entry) in enumerate(zip(writer.concrete_objects, writer.concretes)):
        with open(os.path.join(export_dir, "graphs", f"{i}_{entry['name']}.txt"), "w") as f:
            f.write(str(concrete.graph) + "\n")
    target = os.path.join(export_dir, SAVED_MODEL_FILE)
    with open(target + ".tmp", "w") as f:              # written last: a complete SavedModel or none
        json.dump(data, f, indent=1)
    os.replace(target + ".tmp", target)


def _signature_functions(obj, signatures):
    if signatures is None:
        default = getattr(obj, "_default_save_signature", None)
        if default is None:
            candidates = [fn for _, fn in _functions_of(obj) if fn.input_signature is not None]
            default = candidates[0] if len(candidates) == 1 else None
        return {} if default is None else {DEFAULT_SIGNATURE_KEY: default}
    if not isinstance(signatures, dict):
        signatures = {DEFAULT_SIGNATURE_KEY: signatures}
    return signatures


def _functions_of(obj):
    """(attribute, Function) for the @function methods and Function attributes of a module, by name."""
    found = {}
    for name in dir(type(obj)):
        if isinstance(inspect.getattr_static(type(obj), name, None), Function):
            found[name] = getattr(obj, name)
    for name, value in vars(obj).items():
        if isinstance(value, Function) and name not in obj._TF_MODULE_IGNORED_PROPERTIES:
            found[name] = value
    return sorted(found.items())


def _trackable(value):
    if isinstance(value, (Variable, Module)):
        return True
    if isinstance(value, (list, tuple)):
        return any(_trackable(v) for v in value)
    if isinstance(value, dict):
        return any(_trackable(v) for v in value.values())
    return False


class _Writer:
    def __init__(self, root):
        self.objects, self.index, self.alive = [], {}, []
        self.variables = []                       # (object index, Variable)
        self.functions, self.concretes, self.concrete_objects = [], [], []
        self.concrete_index = {}
        self.arrays = Arrays()
        self.untraced = []
        self.keys = {id(v): f"{path}/{VALUE_SUFFIX}" for path, v in variable_paths(root)}

    def node(self, obj):
        if id(obj) in self.index:
            return self.index[id(obj)]
        i = len(self.objects)
        self.index[id(obj)] = i
        self.alive.append(obj)
        entry = {}
        self.objects.append(entry)
        if isinstance(obj, Variable):
            key = self.keys.get(id(obj), f"_captured/{len(self.variables)}/{VALUE_SUFFIX}")
            entry.update(kind="variable", name=obj._name.rsplit(":", 1)[0], trainable=bool(obj.trainable),
                         checkpoint_key=key, **encode_type(obj))
            self.variables.append((i, obj))
        elif isinstance(obj, Module):
            entry.update(kind="module", cls=type(obj).__name__, name=obj.name, children={}, functions={})
            for attr, value in sorted(vars(obj).items()):
                if attr not in obj._TF_MODULE_IGNORED_PROPERTIES and _trackable(value):
                    entry["children"][attr] = self.node(value)
            for attr, fn in _functions_of(obj):
                index = self.function(fn, f"{type(obj).__name__}.{attr}")
                if index is not None:
                    entry["functions"][attr] = index
        elif isinstance(obj, dict):
            entry.update(kind="dict", items=[[k, self.node(v)] for k, v in obj.items()
                                             if isinstance(k, str) and _trackable(v)])
        else:
            entry.update(kind=type(obj).__name__ if isinstance(obj, (list, tuple)) else "list",
                         items=[self.node(v) if _trackable(v) else None for v in obj])
        return i

    def variable_index(self, variable):
        return self.node(variable)

    def function(self, fn, where):
        concretes = fn._list_all_concrete_functions()
        if not concretes and fn.input_signature is not None:
            concretes = [fn.get_concrete_function()]
        if not concretes:
            self.untraced.append(where)
            return None
        parameters = [_parameter(p, where) for p in fn._signature.parameters.values()]
        self.functions.append({"name": fn._name, "parameters": parameters,
                               "concrete": [self.concrete(c, fn._signature, where) for c in concretes]})
        return len(self.functions) - 1

    def concrete(self, concrete, signature, where):
        if id(concrete) in self.concrete_index:
            return self.concrete_index[id(concrete)]
        args, kwargs = concrete.structured_input_signature
        bound = signature.bind(*args, **kwargs)
        arguments = {name: _encode_argument(value, self.arrays, f"{where}, argument '{name}'")
                     for name, value in bound.arguments.items()}
        self.concretes.append({"name": concrete.graph.name, "arguments": arguments,
                               "graph": encode_graph(concrete.graph, self.variable_index, self.arrays),
                               "outputs": _encode_outputs(concrete.structured_outputs)})
        self.concrete_objects.append(concrete)
        self.concrete_index[id(concrete)] = len(self.concretes) - 1
        return len(self.concretes) - 1

    def signature(self, fn, key):
        if isinstance(fn, Function):
            if fn.input_signature is None:
                raise ValueError(f"signature '{key}': expected a tf.function with an input_signature or a "
                                 f"ConcreteFunction, got {fn!r} (use fn.get_concrete_function(...))")
            fn = fn.get_concrete_function()
        if not isinstance(fn, ConcreteFunction):
            raise ValueError(f"signature '{key}': expected a tf.function or a ConcreteFunction, got {fn!r}")
        return {"concrete": self.concrete(fn, fn.function_type, f"signature '{key}'"), "inputs": _input_names(fn),
                "outputs": _output_keys(fn.structured_outputs, key)}


def _parameter(param, where):
    entry = {"name": param.name, "kind": param.kind.name}
    if param.default is not param.empty:
        try:
            entry["default"] = encode_value(param.default, Arrays(), where)
        except NotImplementedError:
            entry["default_unsaved"] = True           # callers must pass it
    return entry


def _encode_argument(value, arrays, what):
    """An argument structure: containers, {"spec": ...} for tensors, {"literal": ...} for Python values."""
    if isinstance(value, TensorSpec):
        return {"spec": {**encode_type(value), "name": value.name}}
    if isinstance(value, dict):
        return {"dict": [[k, _encode_argument(value[k], arrays, what)] for k in sorted(value)]}
    if isinstance(value, (list, tuple)):
        return {type(value).__name__ if type(value) in (list, tuple) else "tuple":
                [_encode_argument(v, arrays, what) for v in value]}
    if isinstance(value, Variable) or not isinstance(value, (str, bytes, bool, int, float, complex, type(None))):
        raise NotImplementedError(f"cannot save {what}: it was traced with a {type(value).__name__} ({value!r}); "
                                  "saved functions take tensors and Python literals only")
    return {"literal": encode_value(value, arrays, what)}


def _encode_outputs(structure):
    if structure is NONE_OUTPUT or structure is None:
        return {"none": True}
    if type(structure) is int:
        return {"output": structure}
    if isinstance(structure, dict):
        return {"dict": [[k, _encode_outputs(v)] for k, v in structure.items()]}
    return {type(structure).__name__ if type(structure) in (list, tuple) else "tuple":
            [_encode_outputs(v) for v in structure]}


def _input_names(concrete):
    """A signature's keyword arguments, in the graph's input order: each tensor's TensorSpec name,
    else its parameter's name in TF's function type (x; x_0, x_1 for the tensors of a nested
    argument; args_0 for *args)."""
    args, kwargs = concrete.structured_input_signature
    bound = concrete.function_type.bind(*args, **kwargs)
    names, used = [], set()
    for parameter, value in bound.arguments.items():
        leaves = [v for v in _leaves(value) if isinstance(v, TensorSpec)]
        for i, spec in enumerate(leaves):
            name = spec.name or (parameter if isinstance(value, TensorSpec) else f"{parameter}_{i}")
            while name in used:
                name += "_"
            used.add(name)
            names.append([name, {**encode_type(spec), "name": spec.name}])
    return names


def _leaves(value):
    if isinstance(value, dict):
        return [leaf for k in sorted(value) for leaf in _leaves(value[k])]
    if isinstance(value, (list, tuple)):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def _output_keys(structure, key):
    if type(structure) is int:
        return [["output_0", structure]]
    if isinstance(structure, (list, tuple)) and all(type(s) is int for s in structure):
        return [[f"output_{i}", s] for i, s in enumerate(structure)]
    if isinstance(structure, dict) and all(isinstance(k, str) and type(v) is int for k, v in structure.items()):
        return [[k, v] for k, v in structure.items()]
    raise ValueError(f"signature '{key}': a signature function must return a tensor, a list/tuple of tensors or a "
                     f"dict of str -> tensor; got the structure {structure!r}")
