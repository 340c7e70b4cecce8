"""Weight initializers with Keras 3 names, defaults and configs."""
import numpy as np

from .. import dtypes as dt
from ..ops import random as R
from .serialization import deserialize_keras_object, register_builtins, serialize_keras_object


class Initializer:
    _keras_module = "keras.initializers"

    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _fans(shape):
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


class _Seeded(Initializer):
    def __init__(self, seed=None):
        self.seed = seed

    def get_config(self):
        return {"seed": self.seed}


class RandomNormal(_Seeded):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        return R.normal(shape, self.mean, self.stddev, dtype=dt.as_dtype(dtype or "float32"), seed=self.seed)

    def get_config(self):
        return {"seed": self.seed, "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomNormal):
    def __call__(self, shape, dtype=None):
        return R.truncated_normal(shape, self.mean, self.stddev, dtype=dt.as_dtype(dtype or "float32"),
                                  seed=self.seed)


class RandomUniform(_Seeded):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype=None):
        return R.uniform(shape, self.minval, self.maxval, dtype=dt.as_dtype(dtype or "float32"), seed=self.seed)

    def get_config(self):
        return {"seed": self.seed, "minval": self.minval, "maxval": self.maxval}


class VarianceScaling(_Seeded):
    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None, input_axes=None,
                 output_axes=None):
        super().__init__(seed)
        if input_axes is not None or output_axes is not None:
            raise NotImplementedError("VarianceScaling: input_axes/output_axes are not supported yet")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"Invalid `mode` argument: {mode}")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(f"Invalid `distribution` argument: {distribution}")
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape, dtype=None):
        dtype = dt.as_dtype(dtype or "float32")
        fan_in, fan_out = _fans(tuple(shape))
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, fan)
        if self.distribution == "uniform":
            limit = float(np.sqrt(3.0 * variance))
            return R.uniform(shape, -limit, limit, dtype=dtype, seed=self.seed)
        if self.distribution == "untruncated_normal":
            return R.normal(shape, 0.0, float(np.sqrt(variance)), dtype=dtype, seed=self.seed)
        return R.truncated_normal(shape, 0.0, float(np.sqrt(variance) / 0.87962566103423978), dtype=dtype,
                                  seed=self.seed)

    def get_config(self):
        return {"seed": self.seed, "scale": self.scale, "mode": self.mode, "distribution": self.distribution}


def _variance_scaling(name, scale, mode, distribution):
    def __init__(self, seed=None, input_axes=None, output_axes=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed, input_axes, output_axes)

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": _Seeded.get_config})


GlorotUniform = _variance_scaling("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _variance_scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeNormal = _variance_scaling("HeNormal", 2.0, "fan_in", "truncated_normal")
HeUniform = _variance_scaling("HeUniform", 2.0, "fan_in", "uniform")
LecunNormal = _variance_scaling("LecunNormal", 1.0, "fan_in", "truncated_normal")
LecunUniform = _variance_scaling("LecunUniform", 1.0, "fan_in", "uniform")


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        from ..ops import fill
        return fill(shape, np.asarray(self.value, dt.as_dtype(dtype or "float32").np))

    def get_config(self):
        return {"value": self.value}


class Zeros(Initializer):
    def __call__(self, shape, dtype=None):
        return Constant(0)(shape, dtype)


class Ones(Initializer):
    def __call__(self, shape, dtype=None):
        return Constant(1)(shape, dtype)


ALL = {c.__name__: c for c in (Constant, Zeros, Ones, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling,
                                GlorotUniform, GlorotNormal, HeNormal, HeUniform, LecunNormal, LecunUniform)}
_BY_NAME = dict(ALL)
_BY_NAME.update({"".join("_" + ch.lower() if ch.isupper() else ch for ch in n).lstrip("_"): c for n, c in ALL.items()})
_BY_NAME.update({"normal": RandomNormal, "uniform": RandomUniform, "one": Ones, "zero": Zeros})


def get(identifier):
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, Initializer) or callable(identifier) and not isinstance(identifier, str):
        return identifier
    if identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r} (known: {sorted(_BY_NAME)})")


def serialize(initializer):
    return serialize_keras_object(initializer)


def deserialize(config, custom_objects=None):
    return deserialize_keras_object(config, custom_objects=custom_objects, module_objects=_BY_NAME)


register_builtins(globals())
