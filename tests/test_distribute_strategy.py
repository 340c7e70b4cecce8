"""tf.distribute strategies in this process: the default strategy, MultiWorkerMirroredStrategy as a
job of one worker, and the collective ops and their Keras uses against a simulated job of
identical workers (MirrorWorkers: every worker holds this process's values, so a sum over the
workers is N times the value). Real jobs of several processes: test_distribute_training.py."""
import numpy as np
import pytest

import tracejit as tf
from tracejit import keras
from tracejit.distribute import LocalCommunicator, ReduceOp, Strategy
from tracejit.distribute.input import shard_bounds
from tracejit.ops import collective


class MirrorWorkers(LocalCommunicator):
    """`size` workers that all hold the values this process passes in, seen from worker `rank`.
    Records its collectives; broadcasts deliver `chief_fill` when given (the chief's value)."""

    def __init__(self, size=2, rank=0, chief_fill=None):
        self.size, self.rank, self.chief_fill, self.calls = size, rank, chief_fill, []

    def allreduce_into(self, arrays, out, op="sum"):
        super().allreduce_into(arrays, out, op)
        if op == "sum":
            out *= self.size
        self.calls.append(("allreduce", [a.shape for a in arrays], op))
        return out

    def broadcast(self, array, root=0):
        self.calls.append(("broadcast", array.shape, root))
        if self.chief_fill is not None:
            array[...] = self.chief_fill
        return array


@pytest.fixture
def workers(monkeypatch):
    """A simulated job of two identical workers: the collective ops run against it."""
    job = MirrorWorkers()
    monkeypatch.setattr(collective._Runtime, "communicator", lambda: job)
    return job


def _reductions(job):
    return [call for call in job.calls if call[0] == "allreduce"]


# -- contexts -------------------------------------------------------------------------------------

def test_outside_any_strategy_the_default_strategy_has_one_replica():
    strategy = tf.distribute.get_strategy()
    assert strategy.num_replicas_in_sync == 1 and not tf.distribute.has_strategy()
    context = tf.distribute.get_replica_context()
    assert context.strategy is strategy and context.num_replicas_in_sync == 1
    assert not tf.distribute.in_cross_replica_context()
    assert tf.distribute.get_cross_replica_context() is strategy


def test_multi_worker_strategy_without_a_launcher_is_a_job_of_one_worker():
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    assert strategy.num_replicas_in_sync == 1
    resolver = strategy.cluster_resolver
    assert (resolver.task_type, resolver.task_id, resolver.num_workers) == ("worker", 0, 1)
    assert strategy.extended.should_checkpoint and tf.config.output_enabled()
    assert tf.distribute.experimental.MultiWorkerMirroredStrategy is tf.distribute.MultiWorkerMirroredStrategy


def test_scope_is_the_cross_replica_context_and_run_the_replica_context():
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        assert tf.distribute.get_strategy() is strategy and tf.distribute.has_strategy()
        assert tf.distribute.get_replica_context() is None and tf.distribute.in_cross_replica_context()
        context = strategy.run(tf.distribute.get_replica_context)
        assert strategy.run(tf.distribute.in_cross_replica_context) is False
    assert context.strategy is strategy and int(context.replica_id_in_sync_group) == 0
    assert strategy.run(tf.distribute.get_strategy) is strategy          # run enters the scope itself
    assert not tf.distribute.has_strategy()
    merged = strategy.run(lambda: tf.distribute.get_replica_context().merge_call(
        lambda s, x: (s, tf.distribute.in_cross_replica_context(), x), args=(5,)))
    assert merged == (strategy, True, 5)


def test_scopes_of_two_strategies_do_not_mix():
    first, second = tf.distribute.MultiWorkerMirroredStrategy(), tf.distribute.MultiWorkerMirroredStrategy()
    with first.scope(), first.scope():                                   # re-entering the same one is fine
        with pytest.raises(ValueError, match="Mixing different tf.distribute.Strategy"):
            with second.scope():
                pass


def test_reduce_ops_by_enum_or_name():
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    assert ReduceOp.SUM.value == "SUM" and ReduceOp("MEAN") is ReduceOp.MEAN
    value = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    assert strategy.reduce("sum", value, axis=0).numpy().tolist() == [4.0, 6.0]
    assert strategy.reduce(ReduceOp.MEAN, {"v": value}, axis=0)["v"].numpy().tolist() == [2.0, 3.0]
    assert strategy.reduce(ReduceOp.MEAN, value, axis=None).numpy().tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert strategy.experimental_local_results(value) == (value,)
    with pytest.raises(ValueError, match="unknown reduce op 'prod'"):
        strategy.reduce("prod", value)


def test_unsupported_options_say_what_to_do_instead():
    with pytest.raises(NotImplementedError, match="mpiexec -hosts a,b -n 8"):
        tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=object())
    with pytest.raises(NotImplementedError, match="all_gather"):
        tf.distribute.MultiWorkerMirroredStrategy().gather(tf.constant([1.0]), axis=0)


# -- the collective ops ---------------------------------------------------------------------------

def _reduce_all(a, b, c):
    return collective.all_reduce_tensors([a, b, c * 2.0])        # float32, int32, float32 (computed)


def test_all_reduce_packs_tensors_into_one_node_and_buffer_per_dtype(workers):
    a, b, c = tf.constant(np.ones((2, 3), np.float32)), tf.constant([1, 2]), tf.constant([5.0, 6.0])
    reduce_all = tf.function(_reduce_all)
    ra, rb, rc = reduce_all(a, b, c)
    np.testing.assert_array_equal(ra.numpy(), np.full((2, 3), 2.0))
    np.testing.assert_array_equal(rb.numpy(), [2, 4])
    np.testing.assert_array_equal(rc.numpy(), [20.0, 24.0])
    assert sorted(_reductions(workers)) == [("allreduce", [(2,)], "sum"), ("allreduce", [(2, 3), (2,)], "sum")]
    graph = str(reduce_all.get_concrete_function(a, b, c).optimized_graph)
    assert graph.count("all_reduce") == 2 and "all_reduce %0, %" in graph and ": f32[8]" in graph
    mean = collective.all_reduce_tensors([a], "mean")[0]                # the mean of identical workers
    np.testing.assert_array_equal(mean.numpy(), a.numpy())


@pytest.mark.parametrize("backend", ["numpy", "native"])
def test_a_compiled_step_runs_its_collectives_in_program_order(workers, backend, monkeypatch):
    monkeypatch.setattr(tf.config, "backend", lambda: backend)
    args = tf.constant(np.ones((2, 3), np.float32)), tf.constant([1, 2]), tf.constant([5.0, 6.0])
    tf.function(_reduce_all)(*args)
    assert _reductions(workers) == [("allreduce", [(2, 3), (2,)], "sum"), ("allreduce", [(2,)], "sum")]


def test_collectives_are_effects_the_passes_keep_in_order(workers):
    x = tf.constant([1.0, 2.0])

    @tf.function
    def unused_results(x):
        collective.all_reduce(x, reduction="max")       # result unused: DCE must keep it
        collective.all_reduce(x, reduction="sum")
        collective.all_reduce(x, reduction="sum")       # identical: CSE must not merge them
        return x + 1.0
    unused_results(x)
    assert [op for _, _, op in _reductions(workers)] == ["max", "sum", "sum"]
    nodes = [n for n in unused_results.get_concrete_function(x).optimized_graph.nodes if n.op == "all_reduce"]
    assert [n.params["reduction"] for n in nodes] == ["max", "sum", "sum"]


def test_the_gradient_of_all_reduce_is_the_all_reduce_of_the_gradient(workers):
    x = tf.constant([1.0, -2.0, 3.0])
    weights = tf.constant([0.5, 1.0, 2.0])

    def gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(collective.all_reduce(x * 3.0) * weights)   # two workers: 2 * 3x
        return tape.gradient(loss, x)
    np.testing.assert_array_equal(gradient(x).numpy(), 2 * 3 * weights.numpy())
    np.testing.assert_array_equal(tf.function(gradient)(x).numpy(), 2 * 3 * weights.numpy())
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(collective.all_reduce(x, reduction="max"))
    with pytest.raises(NotImplementedError, match="reduction='max' has no gradient"):
        tape.gradient(loss, x)


@pytest.mark.parametrize("rank, expected", [(0, [2.0, 2.0]), (1, [0.0, 0.0])])
def test_the_gradient_of_broadcast_goes_to_the_root(workers, rank, expected):
    workers.rank = rank
    x = tf.constant([3.0, 4.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(collective.broadcast(x))
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), expected)


def test_collectives_reject_what_they_cannot_reduce(workers):
    with pytest.raises(tf.errors.InvalidArgumentError, match="all_reduce supports numeric tensors, got bool"):
        collective.all_reduce(tf.constant([True]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a float32 tensor"):
        collective.all_reduce(tf.constant([1.0]), tf.constant([1.0], tf.float64))
    with pytest.raises(tf.errors.InvalidArgumentError, match="unknown reduction 'prod'"):
        collective.all_reduce(tf.constant([1.0]), reduction="prod")


def test_replica_context_all_reduce_combines_nested_values_inside_function(workers):
    strategy = Strategy(workers)
    x = tf.constant([1.0, 2.0])

    @tf.function
    def step(x):
        def replica_fn(x):
            context = tf.distribute.get_replica_context()
            return (context.all_reduce(ReduceOp.SUM, {"a": x, "b": [x * 2.0, None]}),
                    context.all_reduce("MEAN", x * 3.0))
        return strategy.run(replica_fn, args=(x,))
    summed, mean = step(x)
    np.testing.assert_array_equal(summed["a"].numpy(), [2.0, 4.0])
    np.testing.assert_array_equal(summed["b"][0].numpy(), [4.0, 8.0])
    assert summed["b"][1] is None
    np.testing.assert_array_equal(mean.numpy(), [3.0, 6.0])
    assert [shapes for _, shapes, _ in _reductions(workers)] == [[(2,), (2,)], [(2,)]]   # a and b: one buffer


def test_strategy_reduce_with_an_axis_weighs_every_example(workers):
    strategy = Strategy(workers)
    value = tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    np.testing.assert_array_equal(strategy.reduce(ReduceOp.SUM, value, axis=0).numpy(), [18.0, 24.0])
    np.testing.assert_array_equal(strategy.reduce(ReduceOp.MEAN, value, axis=0).numpy(), [3.0, 4.0])
    assert _reductions(workers)[-1] == ("allreduce", [(2,), ()], "sum")        # sums and counts together


# -- Keras under a strategy of two (simulated) workers --------------------------------------------

def _model(seed=0):
    tf.random.set_seed(seed)
    return keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(2)])


def _data(n=8):
    rng = np.random.default_rng(1)
    return rng.random((n, 3), dtype=np.float32), rng.integers(0, 2, n).astype(np.int32)


def test_variables_created_in_scope_take_the_chiefs_values(workers):
    workers.chief_fill = 7
    strategy = Strategy(workers)
    with strategy.scope():
        mirrored = tf.Variable([1.0, 2.0])
        flag = tf.Variable(True)
    local = tf.Variable([1.0, 2.0])
    assert mirrored.numpy().tolist() == [7.0, 7.0] and local.numpy().tolist() == [1.0, 2.0]
    assert flag.dtype == tf.bool and bool(flag.numpy())                 # travelled as uint8
    assert strategy.extended.variable_created_in_scope(mirrored)
    assert not strategy.extended.variable_created_in_scope(local)
    assert [c[:2] for c in workers.calls] == [("broadcast", (2,)), ("broadcast", ())]


def test_fit_under_two_replicas_sums_gradients_in_one_packed_all_reduce(workers):
    """Each worker's shard of the global batch 8 is 4 examples; with identical workers the summed
    gradient is the mean gradient of this worker's 4 examples: one SGD step on them alone."""
    x, y = _data()
    strategy = Strategy(workers)
    with strategy.scope():
        model = _model()
        model.compile(optimizer=keras.optimizers.SGD(0.5),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        model.build((None, 3))
    reference = _model()
    reference.build((None, 3))
    reference.set_weights(model.get_weights())
    reference.compile(optimizer=keras.optimizers.SGD(0.5),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    expected = reference.fit(x[:4], y[:4], batch_size=4, epochs=1, shuffle=False, verbose=0)
    for got, want in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert history.history["loss"] == pytest.approx(expected.history["loss"], rel=1e-6)
    assert history.history["accuracy"] == expected.history["accuracy"]
    gradient_reductions = [c for c in _reductions(workers) if len(c[1]) == 4]
    assert gradient_reductions == [("allreduce", [(3, 4), (4,), (4, 2), (2,)], "sum")]
    graph = str(model.train_function.get_concrete_function(x[:4], y[:4]).optimized_graph)
    assert graph.count("all_reduce") == 3            # the gradients, the loss's and the accuracy's states


def test_fit_refuses_a_model_built_outside_the_scope(workers):
    strategy = Strategy(workers)
    model = _model()
    model.build((None, 3))
    with strategy.scope():
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="created outside the scope"):
        model.fit(*_data(), verbose=0)


def test_apply_gradients_across_replicas_needs_the_replica_context(workers):
    strategy = Strategy(workers)
    with strategy.scope():
        variable = tf.Variable([1.0])
        optimizer = keras.optimizers.SGD(0.1)
        with pytest.raises(RuntimeError, match="cross-replica context .* strategy.run"):
            optimizer.apply_gradients([(tf.constant([1.0]), variable)])
    strategy.run(lambda: optimizer.apply_gradients([(tf.constant([1.0]), variable)]))
    np.testing.assert_allclose(variable.numpy(), [1.0 - 0.1 * 2])         # the sum of both workers' gradients


def test_metrics_created_under_a_strategy_sum_their_state_over_replicas(workers):
    with Strategy(workers).scope():
        mean = keras.metrics.Mean()
    local = keras.metrics.Mean()
    for metric in (mean, local):
        metric.update_state([1.0, 2.0, 6.0])
    assert float(mean.result()) == 3.0 and float(local.result()) == 3.0
    assert _reductions(workers) == [("allreduce", [(), ()], "sum")]        # only the strategy's metric


def test_losses_under_replicas_are_scaled_for_the_gradient_sum(workers):
    labels, logits = tf.constant([0, 1, 1, 0]), tf.constant(np.random.default_rng(0).random((4, 2), np.float32))
    mean = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits))
    per_example = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")(labels, logits)
    with Strategy(workers).scope():
        scaled = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits))
        assert keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")(
            labels, logits).numpy().tolist() == per_example.numpy().tolist()
        average = float(tf.nn.compute_average_loss(per_example))
        given = float(tf.nn.compute_average_loss(per_example, global_batch_size=10))
        regularization = float(tf.nn.scale_regularization_loss(tf.constant(3.0)))
    assert scaled == pytest.approx(mean / 2) and average == pytest.approx(mean / 2)
    assert given == pytest.approx(float(tf.reduce_sum(per_example)) / 10) and regularization == 1.5
    assert float(tf.nn.compute_average_loss(per_example)) == pytest.approx(mean)    # no strategy: the mean
    empty = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(np.zeros(0, np.int32), tf.zeros((0, 2)))
    assert float(empty) == 0.0                       # an empty shard adds nothing (no NaN)


# -- input ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("batch, size, shards", [
    (64, 2, [(0, 32), (32, 64)]), (33, 2, [(0, 17), (17, 33)]), (7, 3, [(0, 3), (3, 5), (5, 7)]),
    (1, 3, [(0, 1), (1, 1), (1, 1)])])
def test_a_global_batch_splits_into_contiguous_shards_differing_by_at_most_one(batch, size, shards):
    assert [shard_bounds(batch, rank, size) for rank in range(size)] == shards


def test_a_distributed_dataset_yields_this_workers_shard_of_every_global_batch():
    x, y = np.arange(10, dtype=np.float32).reshape(10, 1), np.arange(10)
    strategy = Strategy(MirrorWorkers(size=3, rank=1))
    dataset = tf.data.Dataset.from_tensor_slices((x, {"label": y})).batch(7)
    shards = [(xs.numpy().ravel().tolist(), ys["label"].numpy().tolist())
              for xs, ys in strategy.experimental_distribute_dataset(dataset)]
    assert shards == [([3.0, 4.0], [3, 4]), ([8.0], [8])]                    # batches of 7 and 3
    with pytest.raises(ValueError, match="needs batched elements"):
        list(strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(y)))
    seen = []

    def dataset_fn(context):
        seen.append((context.num_input_pipelines, context.input_pipeline_id, context.get_per_replica_batch_size(9)))
        return tf.data.Dataset.from_tensor_slices(y).batch(4)
    per_worker = [b.numpy().tolist() for b in strategy.distribute_datasets_from_function(dataset_fn)]
    assert seen == [(3, 1, 3)] and per_worker == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_one_worker_strategy_trains_exactly_like_no_strategy():
    x, y = _data(40)
    histories, weights = [], []
    for strategy in (None, tf.distribute.MultiWorkerMirroredStrategy()):
        np.random.seed(3)
        with strategy.scope() if strategy else tf.distribute.get_strategy().scope():
            model = _model()
            model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy",
                          metrics=["accuracy"])
        histories.append(model.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_data=(x, y)).history)
        weights.append(model.get_weights())
    assert histories[0] == histories[1]
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


# -- only the chief writes ------------------------------------------------------------------------

def test_a_process_whose_output_is_off_writes_and_prints_nothing(tmp_path, capsys):
    model = _model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.build((None, 3))
    checkpoint = tf.train.Checkpoint(model=model)
    tf.config.set_output_enabled(False)
    try:
        model.fit(*_data(), epochs=1, verbose=2)
        model.save_weights(str(tmp_path / "weights.npz"))
        path = tf.train.CheckpointManager(checkpoint, str(tmp_path / "ckpt"), max_to_keep=1).save()
        with tf.summary.create_file_writer(str(tmp_path / "logs")).as_default():
            tf.summary.scalar("loss", 1.0, step=1)
    finally:
        tf.config.set_output_enabled(True)
    assert capsys.readouterr().out == "" and path.endswith("ckpt-1")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []          # (directories may be made)
    model.save_weights(str(tmp_path / "weights.npz"))                    # output back on: written
    assert (tmp_path / "weights.npz").exists()


def test_variable_creator_scopes_nest_innermost_first():
    calls = []

    def outer(next_creator, **arguments):
        calls.append(("outer", arguments["name"]))
        return next_creator(**arguments)

    def inner(next_creator, **arguments):
        calls.append(("inner", arguments["name"]))
        variable = next_creator(**dict(arguments, name="renamed", trainable=False))
        variable.assign(variable * 10.0)
        return variable
    with tf.variable_creator_scope(outer), tf.variable_creator_scope(inner):
        variable = tf.Variable([1.0, 2.0], name="v")
    plain = tf.Variable(1.0)
    assert calls == [("inner", "v"), ("outer", "renamed")]
    assert variable.name == "renamed:0" and not variable.trainable and variable.numpy().tolist() == [10.0, 20.0]
    assert plain.trainable and calls == [("inner", "v"), ("outer", "renamed")]


def test_variable_creator_scopes_see_subclass_constructor_arguments_as_keywords():
    seen = []

    def record(next_creator, **arguments):
        seen.append(sorted(arguments))
        return next_creator(**arguments)
    with tf.variable_creator_scope(record):
        variable = keras.Variable("ones", shape=(2,), name="kernel")     # keras.Variable subclasses tf.Variable
        extra = tf.Variable(1.0, caching_device=None)                     # TF's extra keywords pass through
    assert seen == [["initializer", "name", "shape"], ["caching_device", "initial_value"]]
    assert variable.numpy().tolist() == [1.0, 1.0] and float(extra.numpy()) == 1.0
