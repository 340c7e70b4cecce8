"""f.trace_report(): Python side effects that ran only while tracing, values baked in as
constants, tensors leaked out of the trace and Variables created while tracing, each at its line."""
import inspect
import os
import random

import numpy as np
import pytest

import tracejit as tf

HERE = os.path.basename(__file__)
LOG = []
CALLS = 0
SCALE = 2.0


def line_of(text, function):
    lines, first = inspect.getsourcelines(function)
    return f"{HERE}:{first + next(i for i, line in enumerate(lines) if text in line)}"


def by_location(findings):
    return {(f.kind, f.location) for f in findings}


def make_step(offset):
    def step(x):
        global CALLS
        print("tracing step")                   # print
        LOG.append(x.shape)                     # append to a global list
        CALLS += 1                              # global write
        scratch = []
        scratch.append(1)                       # a list of the trace's own: not reported
        return x * SCALE + offset               # a global and a closure value, baked in
    return step


def test_finds_print_append_global_write_and_baked_values_at_their_lines():
    step = make_step(3.0)
    f = tf.function(step)
    f(tf.ones([2]))
    report = f.trace_report()
    expected = {("print", line_of("# print", step)), ("container_mutation", line_of("# append to", step)),
                ("global_write", line_of("# global write", step)), ("baked_value", line_of("# a global and", step))}
    assert by_location(report) == expected
    assert [f.kind for f in report.side_effects] == ["print", "container_mutation", "global_write"]
    baked = {f.name: f for f in report.baked_values}
    assert set(baked) == {"SCALE", "offset"}
    assert baked["offset"].value == 3.0 and baked["SCALE"].value == 2.0
    assert "closure 'offset' = 3.0 baked into the graph" in baked["offset"].message
    assert report.leaked_tensors == [] and report.variables_created == []
    text = str(report)
    assert text.startswith("trace report for step: 5 finding(s)")
    assert f"{line_of('# print', step)}: print() ran only while tracing" in text


def test_baked_values_that_changed_since_tracing_are_marked():
    global SCALE
    f = tf.function(make_step(3.0))
    f(tf.ones([2]))
    SCALE = 5.0
    try:
        assert float(f(tf.ones([2]))[0]) == 5.0         # the compiled function still uses 2.0
        (scale,) = [b for b in f.trace_report().baked_values if b.name == "SCALE"]
        assert scale.changed == "5.0" and "changed since tracing: now 5.0" in str(scale)
    finally:
        SCALE = 2.0


def test_changed_closure_cell_is_marked():
    k = 1.0

    @tf.function
    def f(x):
        return x * k
    f(tf.ones([2]))
    k = 4.0          # noqa: F841  (rebinding the closure variable the trace baked in)
    (baked,) = f.trace_report().baked_values
    assert baked.name == "k" and baked.changed == "4.0"


def test_findings_of_several_traces_are_merged():
    f = tf.function(make_step(1.0))
    f(tf.ones([2]))
    f(tf.ones([3]))
    report = f.trace_report()
    assert len(report) == 5 and all(finding.traces == [1, 2] for finding in report)


def test_next_random_nonlocal_write_and_container_methods():
    items = iter([10.0, 20.0])
    seen = {}
    count = 0

    def body(x):
        nonlocal count
        count += 1                                      # nonlocal write
        seen.update(n=1)                                # dict.update on a closure dict
        jitter = random.random()                        # python random
        return x + next(items) + jitter                 # next
    f = tf.function(body)
    f(tf.ones([2]))
    kinds = {(f.kind, f.location) for f in f.trace_report()}
    assert kinds == {("nonlocal_write", line_of("# nonlocal write", body)),
                     ("container_mutation", line_of("# dict.update", body)),
                     ("python_random", line_of("# python random", body)), ("next", line_of("# next", body))}


def test_leaked_tensor_is_reported_where_it_was_created():
    kept = []

    def leak(x):
        y = x * 2.0                                     # created here
        kept.append(y)
        return x + 1.0
    f = tf.function(leak)
    f(tf.ones([2]))
    (leaked,) = f.trace_report().leaked_tensors
    assert leaked.location == line_of("# created here", leak) and "float32[2]" in leaked.message


def test_variables_created_while_tracing_and_on_a_retrace():
    created = []

    def lazy(x):
        if len(created) < 2:
            created.append(tf.Variable(tf.zeros([2]), name="lazy"))     # created
        return x + created[0]
    f = tf.function(lazy)
    f(tf.ones([2]))
    with pytest.raises(tf.errors.VariableCreationError):
        f(tf.ones([2, 2]))
    findings = f.trace_report().variables_created
    assert [(v.location, v.traces) for v in findings] == [(line_of("# created", lazy), [1, 2])]
    assert "created while retracing (trace #2)" in findings[0].message


def test_large_arrays_are_reported_as_read_by_reference():
    table = np.ones((600, 600), np.float32)

    def f(x):
        return x + tf.reduce_sum(table)
    g = tf.function(f)
    g(tf.ones([2]))
    (baked,) = g.trace_report().baked_values
    assert baked.name == "table" and "read by reference at every call" in baked.message


def test_instrumentation_steps_aside_for_a_debugger():
    import sys
    f = tf.function(lambda x: x + 1)
    previous = sys.gettrace()
    sys.settrace(lambda *args: None)
    try:
        f(tf.ones([2]))
    finally:
        sys.settrace(previous)
    report = f.trace_report()
    assert len(report) == 0 and "debugger" in report.notes[0]


def test_compiled_calls_are_not_instrumented():
    import sys
    f = tf.function(lambda x: x + 1)
    f(tf.ones([2]))
    assert sys.gettrace() is None and sys.getprofile() is None


def test_debug_level_1_prints_each_traces_findings(capsys):
    f = tf.function(make_step(0.0), debug=1)
    f(tf.ones([2]))
    err = capsys.readouterr().err
    assert "trace report for step (trace #1)" in err and "print() ran only while tracing" in err
