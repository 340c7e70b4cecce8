"""The checkpoint format, shared by the TF2 API (tracejit.train.Checkpoint) and the TF1 Saver
(compat.v1.train). Format (documented in the README): for a prefix P,
  P.index                  JSON: {"format": "tracejit-checkpoint-2", "data_suffix": ".data-00000-of-00001",
                           "data_sha256": ..., "variables": [{"name", "key", "shape", "dtype"}, ...]}
  P<data_suffix>           an .npz archive; variable i is stored under the key "i" (keys never collide,
                           whatever the variable names are)
and, in the directory, the text file `checkpoint` (TF's format) naming the latest prefix and all
kept ones. Format 1 (keys = variable names, data always in P.data-00000-of-00001) is still read.

Crash safety: every file is written under a temporary name, fsynced and renamed (fileio.py). The
index is the commit record: it is written last and names its data file. Overwriting an existing
prefix writes the new data beside the old one (the data suffix alternates between
".data-00000-of-00001" and ".data-00000-of-00001.1"), so until the new index replaces the old one
the old index still describes complete data. The `checkpoint` pointer moves only after the
checkpoint is complete, and old checkpoints are deleted only after the pointer has moved.

Restores verify the hash, names, shapes and dtypes of everything before assigning anything: a bad
checkpoint raises and changes no variable."""
import glob
import hashlib
import io
import json
import os
import re
import warnings
import zipfile

import numpy as np

from . import dtypes as dt
from .errors import DataLossError, InvalidArgumentError, NotFoundError
from .fileio import TEMPORARY_MARKER, atomic_write, npz_bytes, remove_files

FORMAT = "tracejit-checkpoint-2"
FORMAT_1 = "tracejit-checkpoint-1"         # keys = variable names (two names could collide); read only
INDEX_SUFFIX = ".index"
DATA_SUFFIX = ".data-00000-of-00001"
DATA_SUFFIXES = (DATA_SUFFIX, DATA_SUFFIX + ".1")    # the two slots an overwrite alternates between


# ---------------------------------------------------------------- writing
def write(prefix, named_arrays):
    """Write a complete checkpoint at `prefix`: data first, the index (the commit point) last."""
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    replaced = _committed_data_suffix(prefix)
    suffix = DATA_SUFFIXES[1] if replaced == DATA_SUFFIXES[0] else DATA_SUFFIXES[0]
    entries = [{"name": name, "key": str(i), "shape": list(np.shape(array)),
                "dtype": dt.as_dtype(np.asarray(array).dtype).name}
               for i, (name, array) in enumerate(named_arrays.items())]
    data = npz_bytes({entry["key"]: array for entry, array in zip(entries, named_arrays.values())})
    index = {"format": FORMAT, "data_suffix": suffix, "data_sha256": hashlib.sha256(data).hexdigest(),
             "variables": entries}
    atomic_write(prefix + suffix, data)
    atomic_write(prefix + INDEX_SUFFIX, json.dumps(index, indent=1))
    remove_files([prefix + other for other in DATA_SUFFIXES if other != suffix])   # no index names them now
    return prefix


def _committed_data_suffix(prefix):
    """The data suffix the existing index of `prefix` names, or None (no index, or an unreadable one)."""
    try:
        return _load_index(prefix).data_suffix
    except (NotFoundError, DataLossError):
        return None


def remove(prefix):
    """Delete a checkpoint: the index first, so a half-removed checkpoint no longer exists."""
    leftovers = glob.glob(glob.escape(prefix) + ".*" + TEMPORARY_MARKER + "*")
    remove_files([prefix + INDEX_SUFFIX] + [prefix + s for s in DATA_SUFFIXES] + leftovers)


# ---------------------------------------------------------------- reading
class _Index:
    def __init__(self, data_suffix, data_sha256, entries):
        self.data_suffix = data_suffix
        self.data_sha256 = data_sha256
        self.entries = entries            # [(name, key in the archive, shape tuple, DType)]


def _load_index(prefix):
    path = prefix + INDEX_SUFFIX
    if not os.path.exists(path):
        raise NotFoundError(f"Failed to find any matching files for {prefix} (no {path})")
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
    except (OSError, ValueError) as error:
        raise DataLossError(f"{path} is not a valid checkpoint index: {error}") from None
    return _parse_index(path, index)


def _parse_index(path, index):
    def require(condition, what):
        if not condition:
            raise DataLossError(f"{path} is a malformed checkpoint index: {what}")
    require(isinstance(index, dict), f"expected a JSON object, got {type(index).__name__}")
    format_name = index.get("format")
    require(format_name in (FORMAT, FORMAT_1), f"unknown format {format_name!r} (this version reads {FORMAT} "
                                               f"and {FORMAT_1})")
    suffix = index.get("data_suffix", DATA_SUFFIX) if format_name == FORMAT else DATA_SUFFIX
    require(suffix in DATA_SUFFIXES, f"data_suffix {suffix!r} is not one of {list(DATA_SUFFIXES)}")
    digest = index.get("data_sha256")
    require(isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest) is not None,
            f"data_sha256 must be 64 hex digits, got {digest!r}")
    variables = index.get("variables")
    require(isinstance(variables, list), f"'variables' must be a list, got {type(variables).__name__}")
    entries = [_parse_entry(require, i, entry, format_name) for i, entry in enumerate(variables)]
    names = [name for name, _, _, _ in entries]
    require(len(set(names)) == len(names), "a variable name appears twice")
    return _Index(suffix, digest, entries)


def _parse_entry(require, i, entry, format_name):
    require(isinstance(entry, dict), f"variables[{i}] must be an object, got {type(entry).__name__}")
    name, shape, dtype_name = entry.get("name"), entry.get("shape"), entry.get("dtype")
    require(isinstance(name, str), f"variables[{i}] has no string 'name'")
    require(isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape),
            f"variables[{i}] ({name}): 'shape' must be a list of non-negative ints, got {shape!r}")
    try:
        dtype = dt.as_dtype(dtype_name)
    except TypeError:
        require(False, f"variables[{i}] ({name}): unknown dtype {dtype_name!r}")
    key = entry.get("key") if format_name == FORMAT else name
    require(isinstance(key, str), f"variables[{i}] ({name}) has no string 'key'")
    return name, key, tuple(shape), dtype


def read(prefix):
    """{name: array}, verified against the index."""
    index = _load_index(prefix)
    data_path = prefix + index.data_suffix
    if not os.path.exists(data_path):
        raise DataLossError(f"checkpoint data file {data_path} is missing")
    with open(data_path, "rb") as f:
        data = f.read()
    if hashlib.sha256(data).hexdigest() != index.data_sha256:
        raise DataLossError(f"checkpoint data file {data_path} is corrupt (SHA-256 does not match the index)")
    try:
        with np.load(io.BytesIO(data)) as archive:
            arrays = {name: archive[key] for name, key, _, _ in index.entries}
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as error:
        raise DataLossError(f"checkpoint data file {data_path} cannot be read: {error}") from None
    for name, _, shape, dtype in index.entries:
        array = arrays[name]
        if array.shape != shape or dt.as_dtype(array.dtype) != dtype:
            raise DataLossError(f"checkpoint data file {data_path}: {name} holds {array.dtype}{list(array.shape)} "
                                f"but the index says {dtype.name}{list(shape)}")
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


# ---------------------------------------------------------------- the `checkpoint` state file
class CheckpointState:
    def __init__(self, model_checkpoint_path, all_model_checkpoint_paths):
        self.model_checkpoint_path = model_checkpoint_path
        self.all_model_checkpoint_paths = list(all_model_checkpoint_paths)

    def __repr__(self):
        return f"CheckpointState(model_checkpoint_path={self.model_checkpoint_path!r})"


def retain(previous, latest, max_to_keep):
    """(kept, dropped): `latest` appended to `previous` (moved to the end if already there), and
    the oldest beyond `max_to_keep` (None or 0: keep all)."""
    kept = [p for p in previous if p != latest] + [latest]
    if not max_to_keep or len(kept) <= max_to_keep:
        return kept, []
    return kept[-max_to_keep:], kept[:-max_to_keep]


def commit_state(latest, kept, dropped=(), filename="checkpoint"):
    """Point the state file beside `latest` at it, then delete `dropped`: the state file never names
    a deleted checkpoint, and a crash leaves at worst an unreferenced old checkpoint behind."""
    directory = os.path.dirname(os.path.abspath(latest))
    update_state_file(directory, os.path.basename(latest), [os.path.basename(p) for p in kept], filename)
    for prefix in dropped:
        if prefix not in kept:
            remove(prefix)


def update_state_file(directory, latest, all_paths, filename="checkpoint"):
    lines = [f'model_checkpoint_path: "{_escape(latest)}"']
    lines += [f'all_model_checkpoint_paths: "{_escape(p)}"' for p in all_paths]
    atomic_write(os.path.join(directory, filename), "\n".join(lines) + "\n")


_STATE_LINE = re.compile(r'(model_checkpoint_path|all_model_checkpoint_paths): "((?:[^"\\]|\\.)*)"'
                         r'|(all_model_checkpoint_timestamps|last_preserved_timestamp): [-+.0-9eE]+')
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n"}


def _escape(text):
    return "".join(_ESCAPES.get(c, c) for c in text)


def _unescape(text):
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def get_checkpoint_state(checkpoint_dir, latest_filename=None):
    """As TF: None when there is no state file or it cannot be parsed (with a warning); ValueError
    when it parses but names no checkpoint."""
    path = os.path.join(checkpoint_dir, latest_filename or "checkpoint")
    if not os.path.exists(path):
        return None
    fields = _parse_state_file(path)
    if fields is None:
        return None
    if not fields.get("model_checkpoint_path"):
        raise ValueError(f"Invalid checkpoint state loaded from {checkpoint_dir}")
    resolve = lambda p: p if os.path.isabs(p) else os.path.join(checkpoint_dir, p)  # noqa: E731
    return CheckpointState(resolve(fields["model_checkpoint_path"][-1]),
                           [resolve(p) for p in fields.get("all_model_checkpoint_paths", [])])


def _parse_state_file(path):
    """{field: [values]} of a state file, or None (with a warning) when a line is not TF's text format."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        warnings.warn(f"{path}: {error}; checkpoint state ignored", RuntimeWarning, stacklevel=3)
        return None
    fields = {}
    for number, line in enumerate(lines, start=1):
        match = _STATE_LINE.fullmatch(line.strip())
        if line.strip() and match is None:
            warnings.warn(f"{path}:{number}: cannot parse {line[:80]!r}; checkpoint state ignored",
                          RuntimeWarning, stacklevel=3)
            return None
        if match is not None and match.group(1):
            fields.setdefault(match.group(1), []).append(_unescape(match.group(2)))
    return fields


def latest_checkpoint(checkpoint_dir, latest_filename=None):
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    return state.model_checkpoint_path if state is not None and checkpoint_exists(state.model_checkpoint_path) else None


def checkpoint_exists(checkpoint_prefix):
    return os.path.exists(checkpoint_prefix + INDEX_SUFFIX)
