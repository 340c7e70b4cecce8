"""tracejit.data.Dataset semantics and the MNIST loader."""
import gzip
import os

import numpy as np
import pytest

import tracejit as tf
from tracejit.keras.datasets import mnist


def test_from_tensor_slices_structures():
    ds = tf.data.Dataset.from_tensor_slices((np.arange(6).reshape(3, 2), np.array([1, 2, 3])))
    elements = list(ds)
    assert len(elements) == 3 and isinstance(elements[0][0], tf.Tensor)
    assert elements[1][0].numpy().tolist() == [2, 3] and int(elements[2][1]) == 3
    d = list(tf.data.Dataset.from_tensor_slices({"a": [1, 2], "b": [[1.0], [2.0]]}))
    assert set(d[0]) == {"a", "b"} and d[1]["b"].numpy().tolist() == [2.0]
    with pytest.raises(ValueError, match="same first dimension"):
        tf.data.Dataset.from_tensor_slices((np.zeros(3), np.zeros(4)))


def test_batch_shuffle_repeat_take_map():
    ds = tf.data.Dataset.from_tensor_slices(np.arange(10))
    assert [b.numpy().tolist() for b in ds.batch(4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(list(ds.batch(4, drop_remainder=True))) == 2 and len(ds.batch(4)) == 3
    first, second = ([int(x) for x in ds.shuffle(10, seed=1)] for _ in range(2))
    shuffled = ds.shuffle(10, seed=1)
    a, b = [int(x) for x in shuffled], [int(x) for x in shuffled]
    assert sorted(a) == list(range(10)) and a != list(range(10)) and a != b          # reshuffled each epoch
    assert first == second                                                             # same seed, same order
    assert [int(x) for x in ds.take(3).repeat(2)] == [0, 1, 2, 0, 1, 2]
    assert [int(x) for x in ds.map(lambda x: x * 2).take(3)] == [0, 2, 4]
    pairs = tf.data.Dataset.from_tensor_slices((np.arange(3), np.arange(3))).map(lambda x, y: (x + y, x))
    assert [(int(a), int(b)) for a, b in pairs] == [(0, 0), (2, 1), (4, 2)]
    assert ds.prefetch(2).cardinality() == 10 and ds.repeat().cardinality() == -1
    assert [int(x) for x in ds.skip(8)] == [8, 9]


def test_mnist_from_the_shared_idx_files():
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert np.bincount(y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert int(x_test.sum(dtype=np.int64)) == 264923200


def test_mnist_rejects_corrupt_files_and_explains_missing_data(tmp_path, monkeypatch):
    source = os.environ["TRACEJIT_DATASETS"]
    for name in mnist.IDX_FILES:
        data = open(os.path.join(source, "mnist", name), "rb").read()
        (tmp_path / name).write_bytes(data[:-1] + bytes([data[-1] ^ 1]) if name.startswith("t10k-l") else data)
    monkeypatch.setenv("TRACEJIT_DATASETS", str(tmp_path))
    with pytest.raises(mnist.DatasetError, match="SHA-256 .* does not match"):
        mnist.load_data()
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("TRACEJIT_DATASETS", str(empty))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(mnist, "NPZ_URL", "http://127.0.0.1:9/mnist.npz")      # offline: refused at once
    with pytest.raises(mnist.DatasetError, match="Provide it by pointing TRACEJIT_DATASETS"):
        mnist.load_data()


def test_idx_parser_errors(tmp_path):
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wb") as f:
        f.write((1234).to_bytes(4, "big") + b"\0" * 8)
    with pytest.raises(mnist.DatasetError, match="bad IDX magic number 1234"):
        mnist.read_idx(str(bad))
    short = tmp_path / "short.gz"
    with gzip.open(short, "wb") as f:
        f.write((2049).to_bytes(4, "big") + (10).to_bytes(4, "big") + b"\0" * 3)
    with pytest.raises(mnist.DatasetError, match="expected 10 bytes"):
        mnist.read_idx(str(short))
