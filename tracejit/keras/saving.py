"""Keras 3 file formats, read and written with the layout of keras/src/saving/saving_lib.py.

`.weights.h5` (HDF5): each object that owns variables (the model, each layer, the optimizer)
has a group `<path>/vars` holding datasets "0", "1", ... (trainable variables first, then the
others, in creation order) and an attribute `name`. Paths come from walking the model like
Keras: a Sequential's layers first ("layers/<class name in snake case>[_<n>]"), then the
object's other attributes in sorted order (private ones last), sublayers and the optimizer by
attribute name, lists/tuples/dicts by the snake-cased class names of their items. The model's
own variables are in the root group "vars".

`.keras` (zip, entries stored): `metadata.json` ({"keras_version", "date_saved"}),
`config.json` (the model serialized as Keras does: {"module", "class_name", "config",
"registered_name", "build_config", "compile_config"}) and `model.weights.h5` as above.

HDF5 goes through h5py, the optional extra `h5` (`pip install 'tracejit[h5]'`). Files are
written to a temporary file beside the target and moved into place (os.replace)."""
import datetime
import io
import json
import os
import warnings
import zipfile

import numpy as np

from ..fileio import atomic_write
from .layers import Layer
from .naming import snake_case
from .optimizers import Optimizer
from .serialization import (deserialize_keras_object, get_registered_name,  # noqa: F401
                            register_keras_serializable, serialize_keras_object)

KERAS_FORMAT_VERSION = "3.13.2"           # the Keras release whose saving layout this follows
_CONFIG, _METADATA, _WEIGHTS = "config.json", "metadata.json", "model.weights.h5"


def h5py():
    try:
        import h5py as module
    except ImportError:
        raise ImportError("Reading and writing Keras .weights.h5 and .keras files needs h5py, the optional extra "
                          "'h5': pip install 'tracejit[h5]' (or pip install h5py)") from None
    return module


# ---------------------------------------------------------------- the walk (saving_lib._walk_saveable)
def _saveable(obj):
    return isinstance(obj, (Layer, Optimizer))


_SKIPSETS = {}


def _skipset(obj):
    """Keras skips the attributes a bare Layer (or Optimizer) has; only the rest are walked."""
    kind = obj._obj_type()
    if kind not in _SKIPSETS:
        if kind == "Optimizer":
            skip = set(dir(Optimizer(1.0))) - {"variables"}
        else:
            skip = set(dir(Layer(name="reference_layer"))) | {"_self_unconditional_dependency_names"}
            if kind == "Sequential":
                skip |= {"_functional", "_layers"}
        _SKIPSETS[kind] = skip
    return _SKIPSETS[kind]


def _walk(obj):
    if obj._obj_type() == "Sequential":
        yield "layers", obj.layers
    skip = _skipset(obj)
    for attr in sorted(dir(obj), key=lambda n: "~" + n if n.startswith("_") else n):
        if attr.startswith("__") or attr in skip:
            continue
        try:
            value = getattr(obj, attr)
        except Exception:
            continue
        yield attr, value


def _own_variables(obj):
    return obj._own_weights() if isinstance(obj, Layer) else list(obj.variables)


def collect_variables(model):
    """[(path, name, [variables])] for every object that owns variables, in Keras' order."""
    found, visited = [], set()

    def visit(obj, path):
        if id(obj) in visited:
            return
        found.append((path, obj.name, _own_variables(obj), obj))
        visited.add(id(obj))
        for attr, child in _walk(obj):
            if _saveable(child):
                visit(child, f"{path}/{attr}" if path else attr)
            elif isinstance(child, (list, tuple, dict)):
                container(child, f"{path}/{attr}" if path else attr, set())

    def container(items, path, seen_containers):
        if id(items) in seen_containers:
            return
        seen_containers.add(id(items))
        used = {}
        for item in (list(items.values()) if isinstance(items, dict) else items):
            if _saveable(item):
                visit(item, f"{path}/{_unique_name(snake_case(type(item).__name__), used)}")
            elif isinstance(item, (list, tuple, dict)):
                container(item, f"{path}/{_unique_name('container', used)}", seen_containers)
    visit(model, "")
    return found


def _unique_name(name, used):
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


# ---------------------------------------------------------------- HDF5 weights
def _write_h5(model, h5file):
    for path, name, variables, _ in collect_variables(model):
        group = h5file.create_group(f"{path}/vars" if path else "vars")
        group.attrs["name"] = name
        for i, v in enumerate(variables):
            group[str(i)] = v.numpy()


def _read_h5(model, h5file, source):
    """Checks every object against the file first, then assigns (never half-loads layers)."""
    assignments, errors = [], []
    for path, name, variables, obj in collect_variables(model):
        group_path = f"{path}/vars" if path else "vars"
        group = h5file[group_path] if group_path in h5file else {}
        keys = sorted(group.keys(), key=lambda k: int(k) if k.isdigit() else k)
        if isinstance(obj, Optimizer):
            if len(keys) != len(variables):
                warnings.warn(f"Skipping variable loading for optimizer '{name}', because it has {len(variables)} "
                              f"variables whereas the saved optimizer has {len(keys)} variables. ", stacklevel=3)
                continue
        elif len(keys) != len(variables):
            errors.append((obj, f"Layer '{name}' expected {len(variables)} variables, but received {len(keys)} "
                                f"variables during loading. Expected: {[v.name for v in variables]}"))
            continue
        for i, v in enumerate(variables):
            array = np.asarray(group[str(i)])
            if tuple(array.shape) != tuple(v.shape):
                errors.append((obj, f"{source}: the saved value of {getattr(v, 'path', v.name)} has shape "
                                    f"{tuple(array.shape)}, the variable {tuple(v.shape)}"))
                break
            assignments.append((v, array))
    if errors:
        raise ValueError(f"A total of {len(errors)} objects could not be loaded. Example error message for object "
                         f"{errors[0][0]}:\n\n{errors[0][1]}\n\nList of objects that could not be loaded:\n"
                         f"{[e[0] for e in errors]}")
    for variable, array in assignments:
        variable.assign(array.astype(variable.dtype.np, copy=False))


def _replace_atomically(path, write):
    """write(file object) into memory, then replace `path` atomically and durably (fileio.atomic_write)."""
    buffer = io.BytesIO()
    write(buffer)
    atomic_write(path, buffer.getvalue())


def _require_built(model, what):
    if not model.built:
        raise ValueError(f"You are {what} a model that has not yet been built. Try building the model first by "
                         "calling it on some data or by using `build()`.")


def save_weights(model, filepath):
    _require_built(model, "saving")
    h5 = h5py()

    def write(f):
        with h5.File(f, "w") as h5file:
            _write_h5(model, h5file)
    _replace_atomically(str(filepath), write)


def load_weights(model, filepath):
    _require_built(model, "loading weights into")
    h5, filepath = h5py(), str(filepath)
    if filepath.endswith(".keras"):
        with zipfile.ZipFile(filepath) as archive:
            data = io.BytesIO(archive.read(_WEIGHTS))
        with h5.File(data, "r") as h5file:
            _read_h5(model, h5file, filepath)
        return
    with h5.File(filepath, "r") as h5file:
        _read_h5(model, h5file, filepath)


# ---------------------------------------------------------------- .keras archives
def save_model(model, filepath):
    filepath = str(filepath)
    if not filepath.endswith(".keras"):
        raise ValueError(f"Invalid `filepath` argument: expected a `.keras` extension. Received: filepath={filepath}")
    if not model.built:
        warnings.warn("You are saving a model that has not yet been built. It might not contain any weights yet. "
                      "Consider building the model first by calling it on some data.", stacklevel=3)
    h5 = h5py()
    config = json.dumps(serialize_keras_object(model))
    metadata = json.dumps({"keras_version": KERAS_FORMAT_VERSION,
                           "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")})
    weights = io.BytesIO()
    with h5.File(weights, "w") as h5file:
        _write_h5(model, h5file)

    def write(f):
        with zipfile.ZipFile(f, "w") as archive:
            archive.writestr(_METADATA, metadata)
            archive.writestr(_CONFIG, config)
            archive.writestr(_WEIGHTS, weights.getvalue())
    _replace_atomically(filepath, write)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    filepath = str(filepath)
    if not filepath.endswith(".keras"):
        if filepath.endswith((".h5", ".hdf5")):
            raise NotImplementedError(f"{filepath}: the legacy Keras 2 HDF5 model format is not supported; save the "
                                      "model as .keras (model.save('model.keras'))")
        raise ValueError(f"Invalid filename: expected a `.keras` extension. Received: filepath={filepath}")
    h5 = h5py()
    with zipfile.ZipFile(filepath) as archive:
        names = archive.namelist()
        for required in (_CONFIG, _WEIGHTS):
            if required not in names:
                raise ValueError(f"{filepath} is not a Keras archive: it has no {required} (entries: {names})")
        config = json.loads(archive.read(_CONFIG))
        weights = io.BytesIO(archive.read(_WEIGHTS))
    if not compile:
        config.pop("compile_config", None)
    model = deserialize_keras_object(config, custom_objects=custom_objects, safe_mode=safe_mode)
    with h5.File(weights, "r") as h5file:
        _read_h5(model, h5file, filepath)
    return model
