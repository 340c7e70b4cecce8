"""Checkpoints never lose the last good state: every save is atomic (a crash after any file step,
or a SIGKILL at any moment, leaves latest_checkpoint restoring the old or the new checkpoint,
complete), the format cannot confuse two variables, and a damaged checkpoint says what is wrong."""
import contextlib
import glob
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tracejit as tf
from tracejit import checkpoint as ckpt
from tracejit.errors import DataLossError, NotFoundError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------- crash injection
class SimulatedCrash(Exception):
    pass


class FileSteps(contextlib.AbstractContextManager):
    """Counts the file steps (create, write, fsync, rename, remove) while active. With `crash_at=k`
    step k fails, a write there being torn (half its bytes land), and every later step fails too:
    the process is dead from then on. `log` records (step, path or fd) for ordering checks."""

    MUTATING = ("write", "fsync", "replace", "rename", "remove", "unlink")

    def __init__(self, crash_at=None):
        self.crash_at, self.count, self.log, self.paths = crash_at, 0, [], {}
        self._saved = {}

    def __enter__(self):
        for name in self.MUTATING + ("open",):
            self._saved[name] = real = getattr(os, name)
            setattr(os, name, self._wrap(name, real))
        return self

    def __exit__(self, *exc):
        for name, real in self._saved.items():
            setattr(os, name, real)
        return False

    @property
    def crashed(self):
        return self.crash_at is not None and self.count >= self.crash_at

    def _wrap(self, name, real):
        def step(*args, **kwargs):
            if name == "open" and not args[1] & (os.O_WRONLY | os.O_RDWR):
                if self.crashed:
                    raise SimulatedCrash("dead")
                fd = real(*args, **kwargs)            # a directory opened to fsync it
                self.paths[fd] = args[0]
                return fd
            if self.crashed:
                raise SimulatedCrash(f"dead before {name}")
            if self.crash_at is not None and self.count == self.crash_at - 1 and name == "write":
                real(args[0], bytes(args[1])[: len(args[1]) // 2])       # a torn write, then death
                self.count += 1
                raise SimulatedCrash("killed during write")
            self.count += 1
            result = real(*args, **kwargs)
            if name == "open":
                self.paths[result] = args[0]
                self.log.append(("create", args[0]))
            elif name == "fsync":
                self.log.append(("fsync", self.paths.get(args[0])))
            elif name in ("replace", "rename"):
                self.log.append(("rename", args[0], args[1]))
            elif name in ("remove", "unlink"):
                self.log.append(("remove", args[0]))
            return result
        return step


# ---------------------------------------------------------------- what is saved
def _values(generation):
    """Every variable's value says which save wrote it, so a mix of two saves is detected."""
    return {"dense/kernel": np.full((64, 32), generation, np.float32),
            "dense/bias": np.full((32,), generation * 10, np.float64),
            "step": np.array(generation, np.int64)}


def _variables(generation=0):
    return {name: tf.Variable(value, name=name.replace("/", "_")) for name, value in _values(generation).items()}


def _generation_of(variables):
    """The one generation all the variables hold (fails on a mix of saves)."""
    generations = {name: v.numpy().reshape(-1)[0] / (10 if name == "dense/bias" else 1)
                   for name, v in variables.items()}
    assert len(set(generations.values())) == 1, f"variables restored from different saves: {generations}"
    for name, v in variables.items():
        np.testing.assert_array_equal(v.numpy(), _values(int(generations[name]))[name])
    return int(generations["step"])


def _assign(variables, generation):
    for name, value in _values(generation).items():
        variables[name].assign(value)


class SaverScenario:
    """TF1 Saver; `same_prefix` overwrites one prefix, else global steps with max_to_keep=1."""

    def __init__(self, directory, same_prefix):
        self.directory, self.same_prefix = str(directory), same_prefix
        self.variables = _variables()
        self.saver = tf.compat.v1.train.Saver(self.variables, max_to_keep=1)

    def save(self, generation):
        _assign(self.variables, generation)
        step = None if self.same_prefix else generation
        self.saver.save(None, os.path.join(self.directory, "model.ckpt"), global_step=step)

    def restored_generation(self):
        fresh = _variables(-1)
        tf.compat.v1.train.Saver(fresh).restore(None, tf.train.latest_checkpoint(self.directory))
        return _generation_of(fresh)


class ManagerScenario:
    """TF2 Checkpoint + CheckpointManager(max_to_keep=1)."""

    def __init__(self, directory):
        self.directory = str(directory)
        self.variables = _variables()
        checkpoint = tf.train.Checkpoint(**{k.replace("/", "_"): v for k, v in self.variables.items()})
        self.manager = tf.train.CheckpointManager(checkpoint, self.directory, max_to_keep=1)

    def save(self, generation):
        _assign(self.variables, generation)
        self.manager.save()

    def restored_generation(self):
        fresh = _variables(-1)
        checkpoint = tf.train.Checkpoint(**{k.replace("/", "_"): v for k, v in fresh.items()})
        checkpoint.restore(tf.train.latest_checkpoint(self.directory)).assert_consumed()
        return _generation_of(fresh)


class KerasScenario:
    """Model.save_weights over the same file."""

    def __init__(self, directory):
        self.path = str(directory / "weights.npz")
        self.model = self._model()

    @staticmethod
    def _model():
        model = tf.keras.Sequential([tf.keras.layers.Dense(32, input_shape=(64,))])
        model.build((None, 64))
        return model

    def save(self, generation):
        for w in self.model.weights:
            w.assign(np.full(w.shape, generation, np.float32))
        self.model.save_weights(self.path)

    def restored_generation(self):
        model = self._model()
        model.load_weights(self.path)
        generations = {float(w.numpy().reshape(-1)[0]) for w in model.weights}
        assert len(generations) == 1 and all(np.all(w.numpy() == w.numpy().reshape(-1)[0]) for w in model.weights)
        return int(generations.pop())


SCENARIOS = {
    "saver_global_step_max_to_keep_1": lambda d: SaverScenario(d, same_prefix=False),
    "saver_same_prefix": lambda d: SaverScenario(d, same_prefix=True),
    "checkpoint_manager_max_to_keep_1": ManagerScenario,
    "keras_save_weights": KerasScenario,
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_crash_after_any_file_step_keeps_the_old_or_the_new_checkpoint(tmp_path, scenario):
    make = SCENARIOS[scenario]
    (tmp_path / "dry").mkdir()
    dry = make(tmp_path / "dry")
    dry.save(1)
    with FileSteps() as dry_run:                       # how many file steps a save over an old one takes
        dry.save(2)
    steps = dry_run.count
    assert steps >= 5                                 # create, write, fsync, rename, fsync the directory
    outcomes = []
    for crash_at in range(steps + 1):
        directory = tmp_path / f"crash{crash_at}"
        directory.mkdir()
        state = make(directory)
        state.save(1)                                  # the old checkpoint, complete
        with FileSteps(crash_at) as steps_taken:
            try:
                state.save(2)                          # the new one, killed at step `crash_at`
            except SimulatedCrash:
                pass
        assert steps_taken.count == crash_at
        outcomes.append(make(directory).restored_generation())
        state.save(3)                                  # the next save after the crash succeeds
        assert state.restored_generation() == 3
    assert outcomes[0] == 1 and outcomes[-1] == 2
    assert outcomes == sorted(outcomes), f"the checkpoint went back to the old one after the new one: {outcomes}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_rename_is_of_a_synced_file_and_is_synced_before_the_next_step(tmp_path, scenario):
    """Power-loss ordering: data reaches the disk before the rename that publishes it, and each
    rename or removal reaches the disk before the next one depends on it."""
    state = SCENARIOS[scenario](tmp_path)
    state.save(1)
    with FileSteps() as steps:
        state.save(2)
    log = steps.log
    renames = [i for i, entry in enumerate(log) if entry[0] == "rename"]
    assert renames
    for i in renames:
        source = log[i][1]
        assert ("fsync", source) in log[:i], f"{source} renamed before it was fsynced"
        directory = os.path.dirname(os.path.abspath(log[i][2]))
        following = log[i + 1:]
        next_change = next((j for j, e in enumerate(following) if e[0] in ("rename", "remove")), len(following))
        assert ("fsync", directory) in following[:next_change], f"rename to {log[i][2]} not made durable"


def test_old_checkpoints_are_deleted_only_after_the_pointer_moved(tmp_path):
    state = SaverScenario(tmp_path, same_prefix=False)
    state.save(1)
    with FileSteps() as steps:
        state.save(2)
    pointer = os.path.join(str(tmp_path), "checkpoint")
    moved = max(i for i, e in enumerate(steps.log) if e[0] == "rename" and e[2] == pointer)
    removed = [i for i, e in enumerate(steps.log) if e[0] == "remove" and "model.ckpt-1." in e[1]]
    assert removed and min(removed) > moved
    assert [e[1] for e in steps.log if e[0] == "remove"][0].endswith("model.ckpt-1.index")   # uncommit first
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "model.ckpt-2.data-00000-of-00001", "model.ckpt-2.index"]


# ---------------------------------------------------------------- SIGKILL at random moments
_KILL_CHILD = textwrap.dedent("""
    import json, os, pathlib, random, signal, sys, time
    sys.path.insert(0, {tests!r})
    import test_checkpoints as t

    scenario, directory, kills = sys.argv[1], sys.argv[2], int(sys.argv[3])
    random.seed(0)
    state = t.SCENARIOS[scenario](pathlib.Path(directory))
    results = []
    for _ in range(kills):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:                     # the saver: save generation after generation, report each one done
            os.close(read_end)
            generation = state.restored_generation()
            while True:
                generation += 1
                state.save(generation)
                os.write(write_end, b"%d\\n" % generation)
        os.close(write_end)
        reports = os.fdopen(read_end)
        done = [int(reports.readline())]     # at least one save completed, then kill at a random moment
        time.sleep(random.uniform(0.0, 0.03))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        done += [int(line) for line in reports.read().split()]
        try:
            restored = state.restored_generation()
        except Exception as error:
            restored = f"{{type(error).__name__}}: {{error}}"
        results.append((done[-1], restored))
    print(json.dumps(results))
""")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_sigkill_at_random_moments_leaves_a_complete_checkpoint(tmp_path, scenario):
    """A child saves in a loop and is killed at random moments: each time, the checkpoint on disk
    restores completely, and is the last save that returned or the one that was in progress."""
    script = tmp_path / "kill_child.py"
    script.write_text(_KILL_CHILD.format(tests=os.path.join(ROOT, "tests")))
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    directory = tmp_path / "ckpt"
    directory.mkdir()
    SCENARIOS[scenario](directory).save(0)            # a complete checkpoint before the first kill
    result = subprocess.run([sys.executable, str(script), scenario, str(directory), "12"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    results = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(results) == 12
    for last_done, restored in results:
        assert isinstance(restored, int), results               # a complete, restorable checkpoint
        assert restored in (last_done, last_done + 1), results          # nothing lost


# ---------------------------------------------------------------- the format
def test_variables_named_x_and_x_npy_do_not_collide(tmp_path):
    x, x_npy = tf.Variable([1.0, 2.0]), tf.Variable([[3.0]])
    saver = tf.compat.v1.train.Saver({"x": x, "x.npy": x_npy})
    path = saver.save(None, str(tmp_path / "ckpt"))
    x.assign([0.0, 0.0])
    x_npy.assign([[0.0]])
    saver.restore(None, path)
    assert x.numpy().tolist() == [1.0, 2.0] and x_npy.numpy().tolist() == [[3.0]]
    index = json.load(open(path + ".index"))
    assert index["format"] == "tracejit-checkpoint-2" and index["data_suffix"] == ".data-00000-of-00001"
    assert [(v["name"], v["key"]) for v in index["variables"]] == [("x", "0"), ("x.npy", "1")]


def test_format_1_checkpoints_still_restore(tmp_path):
    prefix = str(tmp_path / "old")
    arrays = {"a": np.arange(3, dtype=np.float32), "b/c": np.array(7, np.int32)}
    with open(prefix + ".data-00000-of-00001", "wb") as f:
        np.savez(f, **arrays)
    digest = hashlib.sha256(open(prefix + ".data-00000-of-00001", "rb").read()).hexdigest()
    json.dump({"format": "tracejit-checkpoint-1", "data_sha256": digest, "variables": [
        {"name": "a", "shape": [3], "dtype": "float32"}, {"name": "b/c", "shape": [], "dtype": "int32"}]},
        open(prefix + ".index", "w"))
    a, c = tf.Variable(np.zeros(3, np.float32)), tf.Variable(0)
    tf.compat.v1.train.Saver({"a": a, "b/c": c}).restore(None, prefix)
    assert a.numpy().tolist() == [0.0, 1.0, 2.0] and int(c) == 7
    ckpt.write(prefix, {"a": np.ones(3, np.float32)})             # overwriting converts it to format 2
    assert sorted(os.listdir(tmp_path)) == ["old.data-00000-of-00001.1", "old.index"]
    assert ckpt.read(prefix)["a"].tolist() == [1.0, 1.0, 1.0]


def test_overwriting_a_prefix_alternates_between_two_data_files(tmp_path):
    prefix = str(tmp_path / "p")
    for generation, suffix in [(1, ".data-00000-of-00001"), (2, ".data-00000-of-00001.1"),
                               (3, ".data-00000-of-00001")]:
        ckpt.write(prefix, {"v": np.full(2, generation)})
        assert sorted(os.listdir(tmp_path)) == sorted(["p.index", "p" + suffix])
        assert ckpt.read(prefix)["v"].tolist() == [generation] * 2


def _valid_index(tmp_path):
    prefix = str(tmp_path / "ckpt")
    ckpt.write(prefix, {"v": np.zeros(2, np.float32), "w": np.ones((), np.int32)})
    return prefix, json.load(open(prefix + ".index"))


MALFORMED = {
    "not an object": (lambda index: [index], "expected a JSON object, got list"),
    "unknown format": (lambda index: {**index, "format": "tf-v2"}, "unknown format 'tf-v2'"),
    "no variables": (lambda index: {k: v for k, v in index.items() if k != "variables"}, "'variables' must be a list"),
    "entry not an object": (lambda index: {**index, "variables": ["v"]}, r"variables\[0\] must be an object"),
    "entry without shape": (lambda index: {**index, "variables": [{"name": "v", "key": "0", "dtype": "float32"}]},
                            r"variables\[0\] \(v\): 'shape' must be a list of non-negative ints, got None"),
    "bad dtype": (lambda index: {**index, "variables": [{**index["variables"][0], "dtype": "float99"}]},
                  r"variables\[0\] \(v\): unknown dtype 'float99'"),
    "no key": (lambda index: {**index, "variables": [{"name": "v", "shape": [2], "dtype": "float32"}]},
               r"variables\[0\] \(v\) has no string 'key'"),
    "duplicate names": (lambda index: {**index, "variables": [index["variables"][0]] * 2}, "appears twice"),
    "bad hash": (lambda index: {**index, "data_sha256": 42}, "data_sha256 must be 64 hex digits, got 42"),
    "bad data suffix": (lambda index: {**index, "data_suffix": "/etc/passwd"}, "data_suffix '/etc/passwd'"),
    "index disagrees with data": (lambda index: {**index, "variables": [{**index["variables"][0], "shape": [3]}]
                                                 + index["variables"][1:]},
                                  r"v holds float32\[2\] but the index says float32\[3\]"),
    "key not in data": (lambda index: {**index, "variables": [{**index["variables"][0], "key": "9"}]},
                        "cannot be read"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_index_raises_data_loss_error_saying_what_is_wrong(tmp_path, case):
    prefix, index = _valid_index(tmp_path)
    damage, message = MALFORMED[case]
    json.dump(damage(index), open(prefix + ".index", "w"))
    with pytest.raises(DataLossError, match=message):
        ckpt.read(prefix)


def test_unreadable_index_and_missing_data(tmp_path):
    prefix, _ = _valid_index(tmp_path)
    os.remove(prefix + ".data-00000-of-00001")
    with pytest.raises(DataLossError, match="ckpt.data-00000-of-00001 is missing"):
        ckpt.read(prefix)
    open(prefix + ".index", "w").write('{"format": ')
    with pytest.raises(DataLossError, match="ckpt.index is not a valid checkpoint index"):
        ckpt.read(prefix)
    with pytest.raises(NotFoundError, match="Failed to find any matching files"):
        ckpt.read(str(tmp_path / "absent"))


# ---------------------------------------------------------------- the `checkpoint` state file
def test_state_file_as_tf_none_when_unparsable_value_error_when_empty(tmp_path):
    prefix = str(tmp_path / "model.ckpt-1")
    ckpt.write(prefix, {"v": np.zeros(1)})
    ckpt.commit_state(prefix, [prefix])
    assert tf.train.latest_checkpoint(str(tmp_path)) == prefix
    state_file = tmp_path / "checkpoint"
    state_file.write_text('model_checkpoint_path: "model.ckpt-1"\nall_model_checkpoint_paths: "model.ck')
    with pytest.warns(RuntimeWarning, match="cannot parse .*checkpoint state ignored"):
        assert tf.train.latest_checkpoint(str(tmp_path)) is None
    state_file.write_bytes(b"\xff\xfe garbage")
    with pytest.warns(RuntimeWarning, match="checkpoint state ignored"):
        assert tf.train.get_checkpoint_state(str(tmp_path)) is None
    state_file.write_text("")              # TF: a state that names no checkpoint is a ValueError
    with pytest.raises(ValueError, match="Invalid checkpoint state loaded from"):
        tf.train.latest_checkpoint(str(tmp_path))


def test_state_file_round_trips_names_with_quotes(tmp_path):
    prefix = str(tmp_path / 'we"ird\\name-3')
    ckpt.write(prefix, {"v": np.zeros(1)})
    ckpt.commit_state(prefix, [prefix])
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert state.model_checkpoint_path == prefix and state.all_model_checkpoint_paths == [prefix]


def test_checkpoint_save_names_only_itself_as_tf(tmp_path):
    checkpoint = tf.train.Checkpoint(v=tf.Variable(1.0))
    first, second = checkpoint.save(str(tmp_path / "ckpt")), checkpoint.save(str(tmp_path / "ckpt"))
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert os.path.basename(second) == "ckpt-2" and state.all_model_checkpoint_paths == [second]
    assert tf.train.checkpoint_exists(first)          # Checkpoint.save never deletes


def test_manager_counts_every_save_and_keeps_max_to_keep(tmp_path):
    checkpoint = tf.train.Checkpoint(v=tf.Variable(1.0))
    manager = tf.train.CheckpointManager(checkpoint, str(tmp_path), max_to_keep=2)
    paths = [manager.save(), manager.save(checkpoint_number=10), manager.save()]
    assert [os.path.basename(p) for p in paths] == ["ckpt-1", "ckpt-10", "ckpt-3"]
    assert manager.checkpoints == paths[1:] and not glob.glob(paths[0] + ".*")
    reopened = tf.train.CheckpointManager(checkpoint, str(tmp_path), max_to_keep=2)
    assert reopened.checkpoints == paths[1:] and reopened.latest_checkpoint == paths[2]


def test_keras_corrupt_weights_file_raises_data_loss_error(tmp_path):
    scenario = KerasScenario(tmp_path)
    scenario.save(1)
    data = open(scenario.path, "rb").read()
    open(scenario.path, "wb").write(data[: len(data) // 2])
    with pytest.raises(DataLossError, match=r"weights.npz is not a readable weights archive .*BadZipFile"):
        scenario.restored_generation()
    open(scenario.path, "wb").write(b"")
    with pytest.raises(DataLossError, match="EOFError"):
        scenario.restored_generation()
    with pytest.raises(FileNotFoundError):
        scenario.model.load_weights(str(tmp_path / "absent.npz"))


def test_restored_save_counter_continues_the_numbering(tmp_path):
    checkpoint = tf.train.Checkpoint(v=tf.Variable(1.0))
    manager = tf.train.CheckpointManager(checkpoint, str(tmp_path), max_to_keep=5)
    manager.save(), manager.save()
    restored = tf.train.Checkpoint(v=tf.Variable(0.0))
    restored.restore(manager.latest_checkpoint).assert_consumed()
    assert int(restored.save_counter) == 2 and float(restored.v) == 1.0
    again = tf.train.CheckpointManager(restored, str(tmp_path), max_to_keep=5)
    assert again.save().endswith("ckpt-3")          # never overwrites ckpt-1
    assert [os.path.basename(p) for p in again.checkpoints] == ["ckpt-1", "ckpt-2", "ckpt-3"]
