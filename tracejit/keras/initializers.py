"""Weight initializers with Keras names and defaults."""
import numpy as np

from .. import dtypes as dt
from ..ops import random as R


class Initializer:
    def __call__(self, shape, dtype=dt.float32):
        raise NotImplementedError


def _fans(shape):
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


class GlorotUniform(Initializer):
    def __init__(self, seed=None):
        self.seed = seed

    def __call__(self, shape, dtype=dt.float32):
        fan_in, fan_out = _fans(shape)
        limit = float(np.sqrt(6.0 / (fan_in + fan_out)))
        return R.uniform(shape, -limit, limit, dtype=dtype, seed=self.seed)


class HeNormal(Initializer):
    def __init__(self, seed=None):
        self.seed = seed

    def __call__(self, shape, dtype=dt.float32):
        return R.truncated_normal(shape, 0.0, float(np.sqrt(2.0 / _fans(shape)[0]) / 0.87962566103423978),
                                  dtype=dtype, seed=self.seed)


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def __call__(self, shape, dtype=dt.float32):
        return R.normal(shape, self.mean, self.stddev, dtype=dtype, seed=self.seed)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=dt.float32):
        from ..ops import fill
        return fill(shape, np.asarray(self.value, dt.as_dtype(dtype).np))


class Zeros(Constant):
    def __init__(self):
        super().__init__(0.0)


class Ones(Constant):
    def __init__(self):
        super().__init__(1.0)


_BY_NAME = {"glorot_uniform": GlorotUniform, "he_normal": HeNormal, "random_normal": RandomNormal,
            "zeros": Zeros, "ones": Ones}


def get(identifier):
    if isinstance(identifier, Initializer) or callable(identifier) and not isinstance(identifier, str):
        return identifier
    if identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    raise ValueError(f"Unknown initializer {identifier!r}; known: {sorted(_BY_NAME)}")
