"""tracejit.train (TF2): Checkpoint and CheckpointManager over variables, layers/models and
optimizers, in the checkpoint format of tracejit/checkpoint.py (shared with the TF1 Saver)."""
import os

from .checkpoint import (assign_all, checkpoint_exists, commit_state, get_checkpoint_state,  # noqa: F401
                         latest_checkpoint, read, retain, write)
from .module import Module, variable_paths
from .variables import Variable

VALUE_SUFFIX = ".ATTRIBUTES/VARIABLE_VALUE"
_SAVE_COUNTER = f"save_counter/{VALUE_SUFFIX}"


def _variables(obj, path, found):
    """(name, variable) pairs reachable from obj: Variables, tf.Modules (Keras layers and models
    too: keyed by attribute path, "model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE" as in TF),
    optimizers (iterations, learning rate and slots), nested Checkpoints, lists and dicts."""
    if isinstance(obj, Variable):
        found.append((f"{path}/{VALUE_SUFFIX}", obj))
    elif isinstance(obj, Checkpoint):
        for key, value in obj._objects.items():
            _variables(value, f"{path}/{key}" if path else key, found)
    elif isinstance(obj, Module):
        for attribute_path, variable in variable_paths(obj):
            found.append((f"{path}/{attribute_path}/{VALUE_SUFFIX}" if path else f"{attribute_path}/{VALUE_SUFFIX}",
                          variable))
    elif hasattr(obj, "apply_gradients") and hasattr(obj, "variables"):
        for i, v in enumerate(obj.variables):
            found.append((f"{path}/{i}", v))
    elif isinstance(obj, (list, tuple)):
        for i, item in enumerate(obj):
            _variables(item, f"{path}/{i}", found)
    elif isinstance(obj, dict):
        for key, item in obj.items():
            _variables(item, f"{path}/{key}", found)
    return found


class Checkpoint:
    """tf.train.Checkpoint(root=None, **objects): with `root`, its own variables are keyed from the
    root (as a SavedModel's variables/variables checkpoint is), so either restores the other."""

    def __init__(self, root=None, **objects):
        self._objects = objects
        self._root = root
        self.save_counter = Variable(0, name="save_counter", trainable=False, dtype="int64")

    def __getattr__(self, name):
        objects = self.__dict__.get("_objects", {})
        if name in objects:
            return objects[name]
        raise AttributeError(name)

    def _pairs(self):
        found = [] if self._root is None else _variables(self._root, "", [])
        return found + [p for key, value in self._objects.items() for p in _variables(value, key, [])]

    def write(self, file_prefix):
        arrays = {name: v.numpy() for name, v in self._pairs()}
        arrays[_SAVE_COUNTER] = self.save_counter.numpy()
        return write(file_prefix, arrays)

    def save(self, file_prefix):
        """As TF: the state file then names this checkpoint only (CheckpointManager keeps a history)."""
        self.save_counter.assign_add(1)
        path = self.write(f"{file_prefix}-{int(self.save_counter)}")
        commit_state(path, [path])
        return path

    def restore(self, save_path):
        if save_path is None:
            return _RestoreStatus(False)
        arrays = read(save_path)
        # the counter goes on from the restored one (files written without it, e.g. a SavedModel's, start at 0)
        counter = [(_SAVE_COUNTER, self.save_counter)] if _SAVE_COUNTER in arrays else []
        assign_all(self._pairs() + counter, arrays, save_path)
        return _RestoreStatus(True)

    read = restore


class _RestoreStatus:
    def __init__(self, restored):
        self.restored = restored

    def assert_consumed(self):
        if not self.restored:
            raise AssertionError("nothing was restored (no checkpoint path)")
        return self

    expect_partial = assert_existing_objects_matched = assert_consumed


class CheckpointManager:
    def __init__(self, checkpoint, directory, max_to_keep=5, checkpoint_name="ckpt"):
        self._checkpoint, self.directory, self.max_to_keep = checkpoint, directory, max_to_keep
        self._prefix = os.path.join(directory, checkpoint_name)
        state = get_checkpoint_state(directory)
        self.checkpoints = list(state.all_model_checkpoint_paths) if state else []

    @property
    def latest_checkpoint(self):
        return self.checkpoints[-1] if self.checkpoints else None

    def save(self, checkpoint_number=None):
        """Write the checkpoint, move the state file to it, and only then delete the ones beyond
        max_to_keep (as TF's CheckpointManager, a crash never leaves the state file naming a
        deleted checkpoint). As TF, save_counter counts every save, numbered or not."""
        self._checkpoint.save_counter.assign_add(1)
        number = int(self._checkpoint.save_counter) if checkpoint_number is None else int(checkpoint_number)
        path = self._checkpoint.write(f"{self._prefix}-{number}")
        self.checkpoints, dropped = retain(self.checkpoints, path, self.max_to_keep)
        commit_state(path, self.checkpoints, dropped)
        return path
