"""tf.image: resize (bilinear and nearest, TF2's half-pixel centers) and flips. Resizing is
gathers plus a lerp with weights computed once from the static sizes, so it is traced, fused and
differentiated like any composition of ops."""
import numpy as np

from . import dtypes as dt
from .errors import InvalidArgumentError
from .ops.array import gather, strided_slice
from .ops.core import convert_to_tensor, static_shape
from .ops.elementwise import cast
from .ops.shape import expand_dims, squeeze
from .tensor import Tensor


class ResizeMethod:
    BILINEAR = "bilinear"
    NEAREST_NEIGHBOR = "nearest"
    BICUBIC = "bicubic"
    AREA = "area"
    LANCZOS3 = "lanczos3"
    LANCZOS5 = "lanczos5"
    GAUSSIAN = "gaussian"
    MITCHELLCUBIC = "mitchellcubic"


def _bilinear_weights(in_size, out_size):
    """TF's compute_interpolation_weights with HalfPixelScaler, in float32: source rows, lerp."""
    scale = np.float32(in_size) / np.float32(out_size)
    source = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    floor = np.floor(source)
    lower = np.maximum(floor, 0).astype(np.int32)
    upper = np.minimum(np.ceil(source), in_size - 1).astype(np.int32)
    return lower, upper, (source - floor).astype(np.float32)


def _nearest_source(in_size, out_size):
    """TF's nearest neighbour with half-pixel centers: floor((i + 0.5) * scale), clamped."""
    scale = np.float32(in_size) / np.float32(out_size)
    source = np.floor((np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale).astype(np.int32)
    return np.clip(source, 0, in_size - 1)


def _lerp(a, b, weight):
    return a + (b - a) * weight


def _resize_bilinear(images, height, width):
    images = cast(images, dt.float32)
    y0, y1, ylerp = _bilinear_weights(images.shape[1], height)
    x0, x1, xlerp = _bilinear_weights(images.shape[2], width)
    top, bottom = gather(images, Tensor(y0), axis=1), gather(images, Tensor(y1), axis=1)
    xw, yw = Tensor(xlerp.reshape(1, 1, -1, 1)), Tensor(ylerp.reshape(1, -1, 1, 1))
    top = _lerp(gather(top, Tensor(x0), axis=2), gather(top, Tensor(x1), axis=2), xw)
    bottom = _lerp(gather(bottom, Tensor(x0), axis=2), gather(bottom, Tensor(x1), axis=2), xw)
    return _lerp(top, bottom, yw)


def _resize_nearest(images, height, width):
    rows = gather(images, Tensor(_nearest_source(images.shape[1], height)), axis=1)
    return gather(rows, Tensor(_nearest_source(images.shape[2], width)), axis=2)


_RESIZERS = {ResizeMethod.BILINEAR: _resize_bilinear, ResizeMethod.NEAREST_NEIGHBOR: _resize_nearest}


def resize(images, size, method=ResizeMethod.BILINEAR, preserve_aspect_ratio=False, antialias=False, name=None):
    """Resize [batch, height, width, channels] (or [height, width, channels]) images to `size`.
    Bilinear returns float32; nearest keeps the dtype (as TF2)."""
    images = convert_to_tensor(images)
    method = getattr(method, "value", method)
    if method not in _RESIZERS:
        raise NotImplementedError(f"image.resize: method {method!r} is not supported; use 'bilinear' or 'nearest'")
    if antialias:
        raise NotImplementedError("image.resize(antialias=True) is not supported; resize without antialiasing (or "
                                  "blur first with a depthwise convolution)")
    if images.ndim not in (3, 4):
        raise InvalidArgumentError(f"image.resize: images must be 3-D or 4-D, got shape {tuple(images.shape)}")
    batched = images if images.ndim == 4 else expand_dims(images, 0)
    height, width = batched.shape[1], batched.shape[2]
    if height is None or width is None:
        raise NotImplementedError("image.resize needs the input height and width known while tracing (give them "
                                  "in the input_signature)")
    new_height, new_width = static_shape("image.resize", size)
    if new_height <= 0 or new_width <= 0:
        raise InvalidArgumentError(f"image.resize: size must be positive, got {[new_height, new_width]}")
    if preserve_aspect_ratio:       # the largest size that fits, rounded as TF rounds (half to even)
        scale = min(np.float32(new_height) / np.float32(height), np.float32(new_width) / np.float32(width))
        new_height, new_width = (int(np.round(scale * np.float32(d))) for d in (height, width))
    resized = _RESIZERS[method](batched, new_height, new_width)
    return resized if images.ndim == 4 else squeeze(resized, axis=0)


def _flip(image, axis_from_end):
    image = convert_to_tensor(image)
    if image.ndim not in (3, 4):
        raise InvalidArgumentError(f"image flips need a 3-D or 4-D image, got shape {tuple(image.shape)}")
    index = (Ellipsis, slice(None, None, -1)) + (slice(None),) * (axis_from_end - 1)
    return strided_slice(image, index)


def flip_left_right(image):
    return _flip(image, 2)


def flip_up_down(image):
    return _flip(image, 3)
