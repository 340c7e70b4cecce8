"""compat.v1.train.Saver over the shared checkpoint format (tracejit/checkpoint.py)."""
import numpy as np

from ...checkpoint import (CheckpointState, assign_all, checkpoint_exists, commit_state,  # noqa: F401
                           get_checkpoint_state, latest_checkpoint, read, retain, write)


def _step(global_step):
    if global_step is None:
        return None
    return int(global_step.numpy() if hasattr(global_step, "numpy") else global_step)


class Saver:
    """TF1 Saver over Variables (default: all global variables)."""

    def __init__(self, var_list=None, max_to_keep=5):
        from .graph_mode import global_variables
        if var_list is None:
            var_list = global_variables()
        if isinstance(var_list, dict):
            self._pairs = list(var_list.items())
        else:
            self._pairs = [(v.name.rsplit(":", 1)[0], v) for v in var_list]
        names = [n for n, _ in self._pairs]
        if len(set(names)) != len(names):
            raise ValueError(f"Saver: variable names must be unique, got {names}; pass a dict name -> variable")
        self.max_to_keep = max_to_keep
        self._kept = []

    def save(self, sess, save_path, global_step=None, latest_filename=None, write_meta_graph=True):
        step = _step(global_step)
        prefix = save_path if step is None else f"{save_path}-{step}"
        write(prefix, {name: v.numpy() if v.ndim else np.asarray(v.numpy()) for name, v in self._pairs})
        self._kept, dropped = retain(self._kept, prefix, self.max_to_keep)
        commit_state(prefix, self._kept, dropped, latest_filename or "checkpoint")   # as TF: pointer, then delete
        return prefix

    def restore(self, sess, save_path):
        if save_path is None:
            raise ValueError("Can't load save_path when it is None (no checkpoint found?)")
        assign_all(self._pairs, read(save_path), save_path)
