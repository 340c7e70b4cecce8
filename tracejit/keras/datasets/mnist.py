"""keras.datasets.mnist.load_data(): ((x_train, y_train), (x_test, y_test)) as uint8 arrays.

Looks in $TRACEJIT_DATASETS (the four LeCun IDX .gz files, directly or in an `mnist/` folder, or
mnist.npz), then the user cache (~/.cache/tracejit/datasets), then downloads Keras' mnist.npz with
its SHA-256 checked. Every file is checked against the published checksums before use."""
import gzip
import hashlib
import os
import urllib.request

import numpy as np

IDX_FILES = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
NPZ_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


class DatasetError(OSError):
    """MNIST could not be found, verified or read."""


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path, expected):
    actual = _sha256(path)
    if actual != expected:
        raise DatasetError(f"{path}: SHA-256 {actual} does not match the published {expected}; the file is "
                           "corrupt or not the original MNIST file")


def read_idx(path):
    """Parse a (gzipped) IDX file: magic 2049 (labels, 1-D) or 2051 (images, 3-D), big-endian dims."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise DatasetError(f"{path}: too short to be an IDX file")
    magic = int.from_bytes(data[:4], "big")
    if magic not in (2049, 2051):
        raise DatasetError(f"{path}: bad IDX magic number {magic} (expected 2049 or 2051)")
    rank = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * rank)
    if body.size != int(np.prod(dims)):
        raise DatasetError(f"{path}: expected {int(np.prod(dims))} bytes of data for shape {dims}, found {body.size}")
    return body.reshape(dims)


def _from_idx(directory):
    paths = {name: os.path.join(directory, name) for name in IDX_FILES}
    if not all(os.path.exists(p) for p in paths.values()):
        return None
    for name, path in paths.items():
        _verify(path, IDX_FILES[name])
    load = lambda name: read_idx(paths[name])  # noqa: E731
    return ((load("train-images-idx3-ubyte.gz"), load("train-labels-idx1-ubyte.gz")),
            (load("t10k-images-idx3-ubyte.gz"), load("t10k-labels-idx1-ubyte.gz")))


def _from_npz(path):
    if not os.path.exists(path):
        return None
    _verify(path, NPZ_SHA256)
    with np.load(path) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tracejit", "datasets")


def load_data(path="mnist.npz"):
    searched = []
    root = os.environ.get("TRACEJIT_DATASETS")
    candidates = [root, os.path.join(root, "mnist")] if root else []
    candidates.append(cache_dir())
    for directory in candidates:
        searched.append(directory)
        found = _from_idx(directory) or _from_npz(os.path.join(directory, path))
        if found is not None:
            return found
    target = os.path.join(cache_dir(), path)
    try:
        os.makedirs(cache_dir(), exist_ok=True)
        tmp = target + ".part"
        urllib.request.urlretrieve(NPZ_URL, tmp)
        _verify(tmp, NPZ_SHA256)
        os.replace(tmp, target)
    except OSError as error:
        raise DatasetError(
            f"MNIST is not available: no IDX files or {path} in {searched}, and downloading {NPZ_URL} failed "
            f"({error}). Provide it by pointing TRACEJIT_DATASETS at a directory holding the four LeCun files "
            f"({', '.join(IDX_FILES)}) or mnist.npz.") from None
    return _from_npz(target)
