"""Eager updates from several threads are never lost: Variable.assign_add/assign_sub, Keras metrics
and optimizer steps give exactly what the same updates give one after another."""
import sys
import threading

import numpy as np
import pytest

import tracejit as tf

THREADS, UPDATES = 8, 150


@pytest.fixture(autouse=True)
def _switch_threads_often():
    """Make the interpreter switch threads every few bytecodes, so races show up every run."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def _run_threads(work, count=THREADS):
    start = threading.Barrier(count)
    errors = []

    def body(i):
        start.wait()
        try:
            work(i)
        except BaseException as error:       # a failing thread must fail the test
            errors.append(error)
    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


@pytest.mark.parametrize("dtype", ["float64", "int32"])
def test_concurrent_assign_add_and_assign_sub_lose_nothing(dtype):
    up, down = tf.Variable(tf.zeros([3], dtype)), tf.Variable(tf.zeros([], dtype))

    def work(_):
        for _ in range(UPDATES):
            up.assign_add(tf.ones([3], dtype))
            down.assign_sub(tf.ones([], dtype))
    _run_threads(work)
    assert up.numpy().tolist() == [THREADS * UPDATES] * 3
    assert down.numpy() == -THREADS * UPDATES


def test_metric_updates_from_threads_are_counted_and_results_stay_consistent():
    mean = tf.keras.metrics.Mean()
    inconsistent = []
    done = threading.Event()

    def watch():
        while not done.is_set():             # every value is 1: a consistent (total, count) gives 1, or 0 when empty
            value = float(mean.result())
            if value not in (0.0, 1.0):
                inconsistent.append(value)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        _run_threads(lambda _: [mean.update_state(1.0) for _ in range(UPDATES)])
    finally:
        done.set()
        watcher.join()
    assert float(mean.count.numpy()) == THREADS * UPDATES and float(mean.total.numpy()) == THREADS * UPDATES
    assert not inconsistent, inconsistent[:5]


def _sequential_result(make_optimizer, steps):
    variable = tf.Variable([1.0, -2.0, 3.0])
    optimizer = make_optimizer()
    gradient = tf.constant([0.5, -0.25, 1.0])
    for _ in range(steps):
        optimizer.apply_gradients([(gradient, variable)])
    return variable.numpy(), int(optimizer.iterations), len(optimizer.variables)


@pytest.mark.parametrize("make_optimizer", [
    lambda: tf.keras.optimizers.SGD(0.01), lambda: tf.keras.optimizers.SGD(0.01, momentum=0.9),
    lambda: tf.keras.optimizers.Adam(0.01), lambda: tf.keras.optimizers.RMSprop(0.01),
    lambda: tf.keras.optimizers.Adagrad(0.01)], ids=["sgd", "momentum", "adam", "rmsprop", "adagrad"])
def test_optimizer_steps_from_threads_equal_the_same_steps_in_sequence(make_optimizer):
    """With one constant gradient every order of steps gives the same result, so concurrent steps
    must reproduce the sequential one bit for bit unless an update (slot or variable) was lost."""
    variable = tf.Variable([1.0, -2.0, 3.0])
    optimizer = make_optimizer()
    gradient = tf.constant([0.5, -0.25, 1.0])
    _run_threads(lambda _: [optimizer.apply_gradients([(gradient, variable)]) for _ in range(UPDATES // 5)])
    expected, iterations, slots = _sequential_result(make_optimizer, THREADS * (UPDATES // 5))
    assert int(optimizer.iterations) == iterations == THREADS * (UPDATES // 5)
    np.testing.assert_array_equal(variable.numpy(), expected)
    assert len(optimizer.variables) == slots              # each slot created once
