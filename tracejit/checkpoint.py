"""The checkpoint format, shared by the TF2 API (tracejit.train.Checkpoint) and the TF1 Saver
(compat.v1.train). Format (documented in the README): for a prefix P,
  P.index                  JSON: {"format": "tracejit-checkpoint-1", "data_sha256": ..., "variables":
                           [{"name", "shape", "dtype"}, ...]}
  P.data-00000-of-00001    an .npz archive, one array per variable name
and, in the directory, the text file `checkpoint` (TF's format) naming the latest prefix and all
kept ones. Restores verify the hash, names, shapes and dtypes of everything before assigning
anything: a bad checkpoint raises and changes no variable."""
import hashlib
import json
import os
import re
import zipfile

import numpy as np

from . import dtypes as dt
from .errors import DataLossError, InvalidArgumentError, NotFoundError

FORMAT = "tracejit-checkpoint-1"
DATA_SUFFIX = ".data-00000-of-00001"


def write(prefix, named_arrays):
    directory = os.path.dirname(os.path.abspath(prefix))
    os.makedirs(directory, exist_ok=True)
    data_path = prefix + DATA_SUFFIX
    with open(data_path + ".tmp", "wb") as f:
        np.savez(f, **named_arrays)
    os.replace(data_path + ".tmp", data_path)
    digest = hashlib.sha256(open(data_path, "rb").read()).hexdigest()
    index = {"format": FORMAT, "data_sha256": digest,
             "variables": [{"name": n, "shape": list(a.shape), "dtype": dt.as_dtype(a.dtype).name}
                           for n, a in named_arrays.items()]}
    with open(prefix + ".index.tmp", "w") as f:
        json.dump(index, f, indent=1)
    os.replace(prefix + ".index.tmp", prefix + ".index")
    return prefix


def read(prefix):
    """{name: array}, verified against the index."""
    if not os.path.exists(prefix + ".index"):
        raise NotFoundError(f"Failed to find any matching files for {prefix} (no {prefix}.index)")
    try:
        with open(prefix + ".index") as f:
            index = json.load(f)
    except (OSError, ValueError) as error:
        raise DataLossError(f"{prefix}.index is not a valid checkpoint index: {error}") from None
    if index.get("format") != FORMAT:
        raise DataLossError(f"{prefix}.index: unknown checkpoint format {index.get('format')!r}")
    data_path = prefix + DATA_SUFFIX
    if not os.path.exists(data_path):
        raise DataLossError(f"checkpoint data file {data_path} is missing")
    if hashlib.sha256(open(data_path, "rb").read()).hexdigest() != index["data_sha256"]:
        raise DataLossError(f"checkpoint data file {data_path} is corrupt (SHA-256 does not match the index)")
    try:
        with np.load(data_path) as archive:
            arrays = {entry["name"]: archive[entry["name"]] for entry in index["variables"]}
    except (KeyError, ValueError, zipfile.BadZipFile) as error:
        raise DataLossError(f"checkpoint data file {data_path} cannot be read: {error}") from None
    return arrays


def assign_all(pairs, arrays, prefix):
    """pairs: [(name, variable)]. Checks every pair first, then assigns (never half-restores)."""
    for name, variable in pairs:
        if name not in arrays:
            raise NotFoundError(f"Key {name} not found in checkpoint {prefix}")
        array = arrays[name]
        if tuple(array.shape) != tuple(variable.shape) or dt.as_dtype(array.dtype) != variable.dtype:
            raise InvalidArgumentError(
                f"checkpoint {prefix}: {name} is {dt.as_dtype(array.dtype).name}{list(array.shape)} but the variable "
                f"is {variable.dtype.name}{list(variable.shape)}")
    for name, variable in pairs:
        variable._write_buffer(arrays[name])


class CheckpointState:
    def __init__(self, model_checkpoint_path, all_model_checkpoint_paths):
        self.model_checkpoint_path = model_checkpoint_path
        self.all_model_checkpoint_paths = list(all_model_checkpoint_paths)

    def __repr__(self):
        return f"CheckpointState(model_checkpoint_path={self.model_checkpoint_path!r})"


def update_state_file(directory, latest, all_paths, filename="checkpoint"):
    lines = [f'model_checkpoint_path: "{latest}"'] + [f'all_model_checkpoint_paths: "{p}"' for p in all_paths]
    with open(os.path.join(directory, filename), "w") as f:
        f.write("\n".join(lines) + "\n")


def get_checkpoint_state(checkpoint_dir, latest_filename=None):
    path = os.path.join(checkpoint_dir, latest_filename or "checkpoint")
    if not os.path.exists(path):
        return None
    text = open(path).read()
    latest = re.search(r'^model_checkpoint_path: "(.*)"$', text, re.M)
    if latest is None:
        raise DataLossError(f"{path}: no model_checkpoint_path")
    resolve = lambda p: p if os.path.isabs(p) else os.path.join(checkpoint_dir, p)  # noqa: E731
    return CheckpointState(resolve(latest.group(1)),
                           [resolve(p) for p in re.findall(r'^all_model_checkpoint_paths: "(.*)"$', text, re.M)])


def latest_checkpoint(checkpoint_dir, latest_filename=None):
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    return state.model_checkpoint_path if state is not None and checkpoint_exists(state.model_checkpoint_path) else None


def checkpoint_exists(checkpoint_prefix):
    return os.path.exists(checkpoint_prefix + ".index")


def remove(prefix):
    for suffix in (".index", DATA_SUFFIX):
        if os.path.exists(prefix + suffix):
            os.remove(prefix + suffix)
