"""Crash-safe file writes: a file appears under its final name complete, or not at all.

`atomic_write(path, data)` writes `data` to a fresh temporary name in the same directory, fsyncs
it, renames it over `path` (rename is atomic on POSIX) and fsyncs the directory, so the rename
itself survives a power loss. A kill at any instant leaves either the old file or the new one
(plus, at worst, a stray temporary file that nothing reads).

Every file operation goes through os.open / os.write / os.fsync / os.replace / os.remove, the
points where the crash tests inject failures.

A process whose output is off (config.output_enabled(): the workers other than 0 of a multi-worker
job, whose files would be copies of the chief's written to the same paths) writes and removes
nothing here: checkpoints, Keras weight and model files and SavedModels all go through it."""
import io
import os
import uuid

import numpy as np

from . import config

TEMPORARY_MARKER = ".tmp-"


def temporary_name(path):
    """A name beside `path` that no other writer (thread or process) will pick."""
    return f"{path}{TEMPORARY_MARKER}{os.getpid()}-{uuid.uuid4().hex[:12]}"


def write_new_file(path, data):
    """Create `path` (it must not exist), write all of `data` and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(directory):
    """Make renames and removals in `directory` durable (a no-op where directories cannot be opened)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(directory or ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path, data):
    """Replace `path` by a file holding `data` (bytes, or str written as UTF-8), atomically and durably."""
    if not config.output_enabled():
        return
    if isinstance(data, str):
        data = data.encode()
    temporary = temporary_name(path)
    try:
        write_new_file(temporary, data)
        os.replace(temporary, path)
    except BaseException:
        discard(temporary)
        raise
    fsync_directory(os.path.dirname(os.path.abspath(path)))


def npz_bytes(arrays):
    """The bytes of an .npz archive of {key: array}, ready for atomic_write."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def remove_files(paths):
    """Remove the existing ones of `paths` in order, then make the removals durable."""
    if not config.output_enabled():
        return
    directories = set()
    for path in paths:
        if os.path.lexists(path):
            os.remove(path)
            directories.add(os.path.dirname(os.path.abspath(path)))
    for directory in sorted(directories):
        fsync_directory(directory)


def discard(path):
    """Best-effort removal of a temporary file while another error is on its way out."""
    try:
        os.remove(path)
    except OSError:
        pass
