"""Data-parallel training in real jobs: the same script runs as `mpiexec -n 2 python train.py`
(MultiWorkerMirroredStrategy: 2 workers, global batch 64 split 32 + 32) and as `python train.py`
(1 worker, batch 64), and the tests compare what they computed; broken jobs must end in
bounded time with a clear error. Small on purpose (512 examples, a 784-32-10 MLP, one epoch):
each launch takes a few seconds.

Tolerance of "same trajectory": two workers sum two half-batch gradients where one process sums
one batch, so the float32 gradients differ in rounding (~1e-7 relative); Adam divides each update
by the gradient's own running magnitude, which turns rounding of near-zero gradients into
update differences up to ~1e-3 of the learning rate (0.01). After the 8 steps of an epoch the
weights (|w| ~ 0.1) agree to atol 3e-5 and on average to 1e-7; losses and metrics to rtol 1e-5.
Across the workers of one job the weights are identical (bitwise) after every step."""
import glob
import os
import re

import numpy as np
import pytest

from tracejit import keras
from mpi_jobs import mpiexec, run_job  # noqa: F401  (mpiexec is a fixture)

# one BLAS thread per worker: two workers on two cores (and the same arithmetic in every run)
JOB_ENVIRONMENT = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
WEIGHT_ATOL, MEAN_WEIGHT_DIFFERENCE, METRIC_RTOL = 3e-5, 1e-7, 1e-5

TRAIN = """
    import os, sys
    import numpy as np
    import tracejit as tf
    from tracejit import keras
    from tracejit.distribute import get_communicator

    out, restore_dir = sys.argv[1], sys.argv[2]
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    comm = get_communicator()
    rng = np.random.default_rng(0)
    x = rng.random((512, 784), dtype=np.float32)
    y = np.argmax(x @ rng.standard_normal((784, 10)).astype(np.float32), axis=1).astype(np.int32)
    results = {"replicas": strategy.num_replicas_in_sync, "compile_mode": tf.config.compile_mode()}


    def difference_between_workers(arrays):
        flat = np.concatenate([np.ravel(a) for a in arrays]).astype(np.float32)
        gathered = comm.allgather(flat)
        return float(np.abs(gathered - gathered[0]).max())


    def mirrored_state(model, optimizer):
        return model.get_weights() + [v.numpy() for v in optimizer.variables]


    def build():              # layer names fixed: checkpoints name variables by layer
        return keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(32, activation="relu", name="hidden"),
                                 keras.layers.Dense(10, name="logits")])


    # ---- Keras fit: global batch 64 --------------------------------------------------------------
    class EveryStep(keras.callbacks.Callback):
        differences = []

        def on_train_batch_end(self, batch, logs=None):
            self.differences.append(difference_between_workers(mirrored_state(self.model, self.model.optimizer)))


    np.random.seed(1)
    tf.random.set_seed(2)
    with strategy.scope():
        model = build()
        model.compile(optimizer=keras.optimizers.Adam(0.01),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(x, y, batch_size=64, epochs=1, verbose=2, validation_data=(x[:128], y[:128]),
                        callbacks=[EveryStep()])
    model.save_weights(os.path.join(out, "weights.npz"))
    tf.train.Checkpoint(model=model).save(os.path.join(out, "ckpt", "ckpt"))
    with tf.summary.create_file_writer(os.path.join(out, "logs")).as_default():
        tf.summary.scalar("loss", history.history["loss"][-1], step=1)
    results["fit_weights"] = np.concatenate([w.ravel() for w in model.get_weights()])
    results["fit_step_differences"] = np.array(EveryStep.differences)
    results.update({"fit_" + k: np.array(v) for k, v in history.history.items()})

    # ---- restore a checkpoint written by two workers ------------------------------------------------
    comm.barrier()                              # the chief has written it
    with strategy.scope():
        restored = build()
    tf.train.Checkpoint(model=restored).restore(tf.train.latest_checkpoint(restore_dir))
    results["restored"] = np.concatenate([w.ravel() for w in restored.get_weights()])
    results["restored_difference"] = difference_between_workers(restored.get_weights())

    # ---- custom loop: distributed dataset, strategy.run, all_reduce in @function ---------------------
    GLOBAL_BATCH = 64
    tf.random.set_seed(4)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(512, seed=3).batch(GLOBAL_BATCH)
    with strategy.scope():
        net = build()
        optimizer = keras.optimizers.Adam(0.01)
        per_example = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")
        accuracy = keras.metrics.SparseCategoricalAccuracy()


    def train_step(inputs):
        features, labels = inputs
        with tf.GradientTape() as tape:
            logits = net(features, training=True)
            loss = tf.nn.compute_average_loss(per_example(labels, logits), global_batch_size=GLOBAL_BATCH)
        gradients = tape.gradient(loss, net.trainable_variables)
        optimizer.apply_gradients(zip(gradients, net.trainable_variables))
        accuracy.update_state(labels, logits)
        examples = tf.cast(tf.shape(labels)[0], tf.float32)
        return loss, tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, examples)


    @tf.function
    def distributed_step(inputs):
        loss, examples = strategy.run(train_step, args=(inputs,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None), examples


    losses, examples, differences = [], [], []
    for batch in strategy.experimental_distribute_dataset(dataset):
        loss, count = distributed_step(batch)
        losses.append(float(loss))
        examples.append(float(count))
        differences.append(difference_between_workers(mirrored_state(net, optimizer)))
    results.update(loop_weights=np.concatenate([w.ravel() for w in net.get_weights()]), loop_losses=np.array(losses),
                   loop_examples=np.array(examples), loop_step_differences=np.array(differences),
                   loop_accuracy=float(accuracy.result()), loop_local_batch=int(batch[0].shape[0]),
                   loop_graph=str(distributed_step.get_concrete_function(batch).optimized_graph))
    np.savez(os.path.join(out, f"rank{comm.rank}.npz"), **results)
"""


@pytest.fixture(scope="module")
def trained(mpiexec, tmp_path_factory):
    """One job of two workers and one process running TRAIN (the process restores the job's checkpoint)."""
    two = str(tmp_path_factory.mktemp("two_workers"))
    job = run_job(mpiexec, two, TRAIN, env=JOB_ENVIRONMENT, args=(two, os.path.join(two, "ckpt")))
    assert job.returncode == 0, job
    one = str(tmp_path_factory.mktemp("one_process"))
    alone = run_job(None, one, TRAIN, env=JOB_ENVIRONMENT, args=(one, os.path.join(two, "ckpt")))
    assert alone.returncode == 0, alone
    load = lambda directory, rank: dict(np.load(os.path.join(directory, f"rank{rank}.npz")))  # noqa: E731
    return {"workers": [load(two, 0), load(two, 1)], "alone": load(one, 0), "job": job, "directory": two}


def _assert_same_trajectory(got, want):
    np.testing.assert_allclose(got, want, rtol=0, atol=WEIGHT_ATOL)
    assert np.abs(got - want).mean() < MEAN_WEIGHT_DIFFERENCE


def test_two_workers_fit_like_one_process_with_the_same_global_batch(trained):
    workers, alone = trained["workers"], trained["alone"]
    assert [int(w["replicas"]) for w in workers] == [2, 2] and int(alone["replicas"]) == 1
    _assert_same_trajectory(workers[0]["fit_weights"], alone["fit_weights"])
    for metric in ("loss", "accuracy", "val_loss", "val_accuracy"):     # summed over both workers' shards
        for worker in workers:
            np.testing.assert_allclose(worker["fit_" + metric], alone["fit_" + metric], rtol=METRIC_RTOL)
    assert alone["fit_loss"][0] < 2.3                                   # it learned something


def test_fit_keeps_every_workers_weights_and_optimizer_state_identical_after_every_step(trained):
    workers = trained["workers"]
    assert [str(w["compile_mode"]) for w in workers] == ["sync", "sync"]    # every worker runs the same tier
    for worker in workers:
        assert worker["fit_step_differences"].tolist() == [0.0] * 8      # 512 / 64 steps
    np.testing.assert_array_equal(workers[0]["fit_weights"], workers[1]["fit_weights"])


def test_a_custom_loop_on_two_workers_follows_one_process(trained):
    workers, alone = trained["workers"], trained["alone"]
    _assert_same_trajectory(workers[0]["loop_weights"], alone["loop_weights"])
    for worker in workers:
        assert worker["loop_step_differences"].tolist() == [0.0] * 8
        np.testing.assert_allclose(worker["loop_losses"], alone["loop_losses"], rtol=METRIC_RTOL)
        assert worker["loop_examples"].tolist() == [64.0] * 8           # all_reduce inside @function
        assert float(worker["loop_accuracy"]) == pytest.approx(float(alone["loop_accuracy"]))
        assert int(worker["loop_local_batch"]) == 32
    assert int(alone["loop_local_batch"]) == 64
    graph = str(workers[0]["loop_graph"])
    gradients = [line for line in graph.splitlines() if "= all_reduce" in line and "f32[25450]" in line]
    assert len(gradients) == 1, graph                                   # all 4 gradients: one buffer


def test_a_checkpoint_written_by_two_workers_restores_on_one_and_on_two(trained):
    workers, alone = trained["workers"], trained["alone"]
    for restored in (workers[0], workers[1], alone):
        np.testing.assert_array_equal(restored["restored"], workers[0]["fit_weights"])
    assert float(workers[1]["restored_difference"]) == 0.0
    model = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10)])
    model.load_weights(os.path.join(trained["directory"], "weights.npz"))           # and in this process
    np.testing.assert_array_equal(np.concatenate([w.ravel() for w in model.get_weights()]), workers[0]["fit_weights"])


def test_only_the_chief_prints_progress_and_writes_files(trained):
    job, directory = trained["job"], trained["directory"]
    assert job.stdout.count("8/8 - ") == 1 and "val_accuracy" in job.stdout, job
    assert len(glob.glob(os.path.join(directory, "logs", "events.out.tfevents.*"))) == 1
    assert sorted(os.listdir(os.path.join(directory, "ckpt"))) == ["checkpoint", "ckpt-1.data-00000-of-00001",
                                                                 "ckpt-1.index"]
    assert os.path.exists(os.path.join(directory, "weights.npz"))


# -- broken jobs end in bounded time, saying what broke ---------------------------------------------

BROKEN_FIT = """
    import sys, time
    import numpy as np
    import tracejit as tf
    from tracejit import keras
    from tracejit.distribute import get_communicator

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    comm = get_communicator()
    rng = np.random.default_rng(0)
    x, y = rng.random((128, 20), dtype=np.float32), rng.integers(0, 3, 128).astype(np.int32)
    with strategy.scope():
        model = keras.Sequential([keras.Input(shape=(20,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
        model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)          # compiled and warm on both workers
    comm.timeout = 2.0                                            # from now on a missing worker is an error after 2 s


    class Breaks(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if comm.rank == 1 and batch == 1:
                BREAK


    model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[Breaks()])
    print(f"rank {comm.rank} finished", flush=True)
"""


def test_a_worker_that_raises_during_fit_ends_the_job_naming_it(mpiexec, tmp_path):
    job = run_job(mpiexec, str(tmp_path), BROKEN_FIT.replace("BREAK", "raise RuntimeError('bad batch on purpose')"),
                  env=JOB_ENVIRONMENT)
    assert job.returncode != 0, job
    assert "rank 1 of 2: uncaught RuntimeError: bad batch on purpose; aborting all 2 workers" in job.stderr, job
    assert "finished" not in job.stdout, job
    assert job.seconds < 20, job                      # MPI_Abort ends the waiting worker at once


def test_a_worker_that_hangs_during_fit_ends_the_job_after_the_collective_timeout(mpiexec, tmp_path):
    job = run_job(mpiexec, str(tmp_path), BROKEN_FIT.replace("BREAK", "time.sleep(120)"), env=JOB_ENVIRONMENT)
    assert job.returncode != 0, job
    # worker 0 waits in the next step's gradient all_reduce (a node of the compiled step)
    assert re.search(r"DeadlineExceededError: rank 0 of 2: allreduce of 4 arrays into float32\[195\] \(op=sum\) "
                     r"\[collective #\d+\] did not complete within 2 s", job.stderr), job
    assert "rank 0 of 2: uncaught DeadlineExceededError" in job.stderr, job
    assert "finished" not in job.stdout, job
    assert job.seconds < 25, job


# -- the examples run (on a little of MNIST) ---------------------------------------------------------

RUN_EXAMPLE = """
    import runpy, sys
    sys.argv = [{path!r}] + {arguments!r}
    runpy.run_path({path!r}, run_name="__main__")
"""


@pytest.mark.parametrize("example, arguments, expected, files", [
    ("mnist_distributed.py", ["--samples", "512", "--per-worker-batch", "32", "--checkpoint-dir", "ckpt"],
     r"2 worker\(s\), global batch 64 .*\n.*fit: .* test accuracy 0\.\d+", ["1.weights.h5"]),
    ("custom_loop_distributed.py", ["--samples", "512", "--per-worker-batch", "32", "--checkpoint-dir", "ckpt"],
     r"2 worker\(s\), global batch 64\nepoch 1: loss \d\.\d+, accuracy 0\.\d+",
     ["checkpoint", "ckpt-1.data-00000-of-00001", "ckpt-1.index"]),
], ids=["mnist_distributed", "custom_loop_distributed"])
def test_the_distributed_examples_run_on_two_workers(mpiexec, tmp_path, example, arguments, expected, files):
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", example)
    job = run_job(mpiexec, str(tmp_path), RUN_EXAMPLE.format(path=path, arguments=arguments), env=JOB_ENVIRONMENT)
    assert job.returncode == 0, job
    assert re.search(expected, job.stdout, re.S), job
    assert job.stdout.count("worker(s)") == 1, job                # the chief prints, the other worker does not
    assert sorted(os.listdir(tmp_path / "ckpt")) == files          # written once, by the chief
