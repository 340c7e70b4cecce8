"""Retrace advice (call site, closest signature, per-argument fix), suggest_signature, the
max_traces/on_excess policy and tracejit.testing.assert_max_traces."""
import inspect
import os
import warnings

import numpy as np
import pytest

import tracejit as tf
from tracejit.testing import assert_max_traces

HERE = os.path.basename(__file__)


def line_of(text, function):
    """'test_retrace_policy.py:N' of the line of `function`'s source that contains `text`."""
    lines, first = inspect.getsourcelines(function)
    return f"{HERE}:{first + next(i for i, line in enumerate(lines) if text in line)}"


def test_python_int_retrace_advises_passing_a_tensor():
    f = tf.function(lambda x, n: x * n)

    def call(n):
        return f(tf.ones([2]), n)       # the call site
    call(1)
    call(2)
    (record,) = f.retraces
    assert record.changes == [("n", "1", "2")]
    assert record.differences[0].kind == "python value"
    assert "pass n as a tensor: tf.constant(n)" in record.fix
    assert record.call_site == line_of("the call site", call)
    assert record.closest_signature == "<lambda>(x: float32[2], n=1)" and record.closest_cached
    assert record.trace_number == 2
    text = str(record)
    assert text.splitlines()[0] == "<lambda> retraced: n: 1 -> 2" and "fix: pass n as a tensor" in text


def test_closest_signature_is_the_nearest_earlier_trace():
    f = tf.function(lambda x, n: x * n)
    f(tf.ones([2]), 1)
    f(tf.ones([3]), 5)
    f(tf.ones([3]), 1)          # differs from trace 1 in x and from trace 2 in n only
    assert f.retraces[-1].closest_signature == "<lambda>(x: float32[3], n=5)"
    assert f.retraces[-1].changes == [("n", "5", "1")]


def test_shape_changes_suggest_a_pasteable_input_signature():
    f = tf.function(lambda x, y: tf.matmul(x, y))
    w = tf.ones([784, 10])
    f(tf.ones([32, 784]), w)
    f(tf.ones([16, 784]), w)
    (record,) = f.retraces
    assert record.differences[0].kind == "shape"
    assert record.fix == ("tf.function(..., input_signature=[tf.TensorSpec([None, 784], tf.float32), "
                          "tf.TensorSpec([784, 10], tf.float32)]) traces once for all these shapes")
    suggestion = f.suggest_signature()
    assert suggestion == [tf.TensorSpec([None, 784], tf.float32), tf.TensorSpec([784, 10], tf.float32)]
    assert suggestion.complete and suggestion.code == (
        "input_signature=[tf.TensorSpec([None, 784], tf.float32), tf.TensorSpec([784, 10], tf.float32)]")
    # the suggestion really works: one trace for every batch size
    g = tf.function(lambda x, y: tf.matmul(x, y), input_signature=suggestion)
    for rows in (32, 16, 7):
        assert g(tf.ones([rows, 784]), w).shape == (rows, 10)
    assert g.experimental_get_tracing_count() == 1


def test_suggest_signature_turns_python_numbers_into_scalar_specs_and_skips_unchanged_defaults():
    @tf.function
    def f(x, lr, training=False):
        return x * lr
    f(tf.ones([4, 3]), 0.1)
    f(tf.ones([5, 3]), 0.2)
    suggestion = f.suggest_signature()
    assert list(suggestion) == [tf.TensorSpec([None, 3], tf.float32), tf.TensorSpec([], tf.float32)]
    assert suggestion.omitted == ["training"]
    assert suggestion.notes == ["lr was a Python number: call with tf.constant(lr) to match the signature"]
    with pytest.raises(ValueError, match="no calls observed"):
        tf.function(lambda x: x).suggest_signature()


def test_dtype_rank_structure_and_bool_changes_each_get_their_own_advice():
    f = tf.function(lambda x, flag, items: x if flag else x + len(items))
    f(tf.ones([2]), True, [1])
    f(tf.ones([2, 1]), True, [1])
    f(tf.ones([2], tf.float16), True, [1])
    f(tf.ones([2]), False, [1])
    f(tf.ones([2]), True, [1, 2])
    kinds = [r.differences[0].kind for r in f.retraces]
    assert kinds == ["rank", "dtype", "python value", "structure"]
    fixes = [r.fix for r in f.retraces]
    assert "reshape x to one rank" in fixes[0]
    assert "tf.cast(x, tf.float32)" in fixes[1]
    assert "Python bool" in fixes[2] and "tf.cond" in fixes[2]
    assert "tf.stack" in fixes[3] and f.retraces[3].changes == [("items[1]", "(absent)", "2")]


def test_new_function_objects_and_their_changed_closures_are_named():
    @tf.function
    def apply(x, activation):
        return activation(x)

    def make(k):
        return lambda v: v * k
    apply(tf.ones([2]), make(2.0))
    apply(tf.ones([2]), make(3.0))
    (record,) = apply.retraces
    change = record.differences[0]
    assert change.kind == "new function object" and change.path == "activation"
    assert "its closure changed (k: 2.0 -> 3.0)" in change.fix
    assert "create it once outside the loop" in change.fix
    assert f"defined at {line_of('lambda v', make)}" in change.before


def test_max_traces_raise_names_the_changing_argument():
    f = tf.function(lambda x, n: x * n, max_traces=2, on_excess="raise")
    f(tf.ones([2]), 1)
    f(tf.ones([2]), 2)
    with pytest.raises(tf.errors.RetracingError) as info:
        f(tf.ones([2]), 3)
    message = str(info.value)
    assert "needs trace #3 but max_traces=2" in message and "n: 2 -> 3" in message
    assert "tf.constant(n)" in message
    assert info.value.record.arguments == ["n"]
    assert f.experimental_get_tracing_count() == 2
    assert float(f(tf.ones([2]), 2)[0]) == 2.0          # cached signatures still run


def test_max_traces_warn_traces_anyway():
    f = tf.function(lambda x, n: x * n, max_traces=1, on_excess="warn")
    f(tf.ones([2]), 1)
    with pytest.warns(tf.errors.RetracingWarning, match="max_traces=1.*n: 1 -> 2"):
        assert float(f(tf.ones([2]), 2)[0]) == 2.0
    assert f.experimental_get_tracing_count() == 2


def test_max_traces_relax_retraces_with_unknown_dims():
    f = tf.function(lambda x: x * 2.0, max_traces=2, on_excess="relax")
    f(tf.ones([2, 3]))
    f(tf.ones([4, 3]))
    f(tf.ones([5, 3]))               # the 3rd trace is relaxed: [None, 3]
    for rows in (6, 7, 8):
        assert f(tf.ones([rows, 3])).numpy().tolist() == [[2.0] * 3] * rows
    assert f.experimental_get_tracing_count() == 3
    assert "shape=(None, 3)" in f.pretty_printed_concrete_signatures()


def test_max_traces_relax_cannot_relax_python_values_and_says_so():
    f = tf.function(lambda x, n: x * n, max_traces=1, on_excess="relax")
    f(tf.ones([2]), 1)
    with pytest.warns(tf.errors.RetracingWarning, match="only tensor dims can be relaxed"):
        f(tf.ones([2]), 2)


def test_max_traces_eager_runs_python_from_then_on():
    traced = []

    @tf.function(max_traces=1, on_excess="eager")
    def f(x, n):
        traced.append(tf.executing_eagerly())
        return x * n
    f(tf.ones([2]), 1)
    with pytest.warns(tf.errors.RetracingWarning, match="runs its Python function eagerly from now on"):
        assert f(tf.ones([2]), 2).numpy().tolist() == [2.0, 2.0]
    assert f(tf.ones([2]), 1).numpy().tolist() == [1.0, 1.0]     # also a cached signature: eager now
    assert traced == [False, True, True]
    assert f.experimental_get_tracing_count() == 1 and f.cache_info().eager_fallback


def test_on_excess_is_validated():
    with pytest.raises(ValueError, match="on_excess"):
        tf.function(lambda x: x, max_traces=1, on_excess="ignore")


def test_bound_methods_keep_the_policy():
    class Model:
        @tf.function(max_traces=1)
        def __call__(self, x):
            return x + 1
    model = Model()
    model(tf.ones([2]))
    with pytest.raises(tf.errors.RetracingError):
        model(tf.ones([3]))


def test_assert_max_traces_context_manager_and_decorator():
    f = tf.function(lambda x: x + 1)
    with assert_max_traces(f, 1):
        f(tf.ones([2]))
        f(tf.ones([2]))
    with pytest.raises(AssertionError, match=r"traced 2 times, at most 1 expected:\n<lambda> retraced: x: "
                                             r"float32\[2\] -> float32\[3\]"):
        with assert_max_traces(f, 1):
            f(tf.ones([3]))
            f(tf.ones([4]))

    @assert_max_traces(f, 0)
    def uses_cached_signatures():
        f(tf.ones([2]))
    uses_cached_signatures()

    @assert_max_traces(f, 0)
    def traces_again():
        f(tf.ones([5]))
    with pytest.raises(AssertionError, match="traced 1 times, at most 0"):
        traces_again()
    with pytest.raises(TypeError, match="needs a tracejit @function"):
        assert_max_traces(lambda x: x, 1)


def test_retrace_warning_carries_the_fix():
    f = tf.function(lambda x, n: x * n)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for n in range(7):
            f(tf.constant(1.0), n)
    (warning,) = [w for w in caught if issubclass(w.category, tf.errors.RetracingWarning)]
    assert "Fix: pass n as a tensor: tf.constant(n)" in str(warning.message)
    assert warning.filename == __file__          # attributed to the user's call, not to tracejit


def test_debug_level_1_prints_the_full_record(capsys):
    f = tf.function(lambda x, n: x * n, debug=1)
    f(tf.ones([2]), 1)
    f(tf.ones([2]), 2)
    err = capsys.readouterr().err
    assert "<lambda> retraced: n: 1 -> 2" in err and "closest earlier trace: <lambda>(x: float32[2], n=1)" in err
    assert "fix: pass n as a tensor: tf.constant(n)" in err


def test_input_signature_tensors_from_numpy_do_not_retrace():
    f = tf.function(lambda x: x * 2, input_signature=[tf.TensorSpec([None], tf.float32)])
    for n in (1, 2, 3):
        f(np.ones(n, np.float32))
    assert f.experimental_get_tracing_count() == 1 and f.retraces == []
