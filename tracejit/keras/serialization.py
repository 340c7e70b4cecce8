"""Keras 3 serialization: objects <-> the JSON records of config.json ({"module", "class_name",
"config", "registered_name", "build_config", "compile_config"}), and the registry that resolves
class names when loading (tracejit's Keras classes, `register_keras_serializable` objects and
`custom_objects`)."""
import inspect
import types

import numpy as np

from .. import dtypes as dt

_CUSTOM_OBJECTS = {}
_BUILTINS = {}


def register_builtins(namespace):
    """Called by each tracejit.keras module with its globals(): its public classes become loadable by name."""
    for name, value in list(namespace.items()):
        if isinstance(value, type) and not name.startswith("_") and value.__module__.startswith("tracejit.keras"):
            _BUILTINS.setdefault(value.__name__, value)
            _BUILTINS.setdefault(name, value)


def register_keras_serializable(package="Custom", name=None):
    """Decorator: `package>name` resolves to the class or function when loading."""
    def decorate(obj):
        key = f"{package}>{name or obj.__name__}"
        _CUSTOM_OBJECTS[key] = obj
        obj._keras_registered_name = key
        return obj
    return decorate


def get_registered_name(obj):
    return vars(obj).get("_keras_registered_name") or obj.__name__


# ---------------------------------------------------------------- serialization (Keras 3 format)
def serialize_keras_object(obj):
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(x) for x in obj]
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    if isinstance(obj, dt.DType):
        return obj.name
    if isinstance(obj, (np.ndarray, np.generic)):
        if isinstance(obj, np.ndarray) and obj.ndim > 0:
            return {"class_name": "__numpy__", "config": {"value": obj.tolist(), "dtype": dt.as_dtype(obj.dtype).name}}
        return obj.item()
    if isinstance(obj, types.FunctionType):
        name = get_registered_name(obj)
        return {"module": obj.__module__, "class_name": "function", "config": name, "registered_name": name}
    if not hasattr(obj, "get_config"):
        raise TypeError(f"Cannot serialize object {obj!r} of type {type(obj)}. To be serializable, a class must "
                        "implement the `get_config()` method.")
    cls = type(obj)
    builtin = getattr(cls, "_keras_module", None) and cls.__module__.startswith("tracejit.")
    config = {"module": cls._keras_module if builtin else cls.__module__, "class_name": cls.__name__,
              "config": serialize_keras_object(obj.get_config()),
              "registered_name": None if builtin else get_registered_name(cls)}
    build_config = obj.get_build_config() if hasattr(obj, "get_build_config") else None
    if build_config is not None:
        config["build_config"] = serialize_keras_object(build_config)
    compile_config = obj.get_compile_config() if hasattr(obj, "get_compile_config") else None
    if compile_config:
        config["compile_config"] = serialize_keras_object(compile_config)
    return config


def deserialize_keras_object(config, custom_objects=None, module_objects=None, safe_mode=True):
    """The object a Keras config describes. Strings pass through unless `module_objects` or
    `custom_objects` name them; classes are found in custom_objects, registered objects, then
    tracejit's Keras classes."""
    custom = {**_CUSTOM_OBJECTS, **(custom_objects or {})}
    recurse = lambda c: deserialize_keras_object(c, custom_objects, None, safe_mode)  # noqa: E731
    if config is None or isinstance(config, (int, float, bool)):
        return config
    if isinstance(config, str):
        return custom.get(config) or (module_objects or {}).get(config, config)
    if isinstance(config, (list, tuple)):
        return [recurse(c) for c in config]
    if not isinstance(config, dict):
        raise TypeError(f"Could not parse config: {config}")
    if "class_name" not in config or "config" not in config:
        return {k: recurse(v) for k, v in config.items()}
    class_name, inner = config["class_name"], config["config"] if config["config"] is not None else {}
    if class_name == "__numpy__":
        return np.array(inner["value"], dtype=inner["dtype"])
    if class_name in ("__tensor__",):
        return np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__lambda__":
        raise ValueError("Requested the deserialization of a Python lambda: tracejit does not load serialized Python "
                         "code (Keras refuses it too unless safe_mode=False); pass the function in custom_objects")
    if class_name == "function":
        name = config.get("registered_name") or inner
        found = custom.get(name) or custom.get(inner) or (module_objects or {}).get(inner)
        if found is None:
            raise TypeError(f"Could not locate function '{inner}'. Make sure custom functions are decorated with "
                            "`@keras.saving.register_keras_serializable()` or passed in `custom_objects`.")
        return found
    cls = custom.get(config.get("registered_name")) or custom.get(class_name) or \
        (module_objects or {}).get(class_name) or _BUILTINS.get(class_name)
    if cls is None:
        raise TypeError(f"Could not locate class '{class_name}'. Make sure custom classes are decorated with "
                        f"`@keras.saving.register_keras_serializable()`. Full object config: {config}")
    if not isinstance(cls, type):
        return cls
    obj = cls.from_config(inner, custom_objects=custom) if _takes_custom_objects(cls) else cls.from_config(inner)
    build_config = config.get("build_config")
    if build_config and not getattr(obj, "built", True):
        obj.build_from_config(build_config)
    compile_config = config.get("compile_config")
    if compile_config and hasattr(obj, "compile_from_config"):
        obj.compile_from_config(compile_config, custom_objects=custom)
    return obj


def _takes_custom_objects(cls):
    try:
        return "custom_objects" in inspect.signature(cls.from_config).parameters
    except (TypeError, ValueError):
        return False
