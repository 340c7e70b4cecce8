"""concrete.passes (IR before/after each pass, diffs, fused groups), optimize(disabled=...), and
the eager-vs-compiled parity checker with its pass bisection."""
import numpy as np
import pytest

import tracejit as tf
import tracejit.debug
from tracejit.ir.graph import constant_array
from tracejit.passes import PIPELINE, optimize, simplify


def tanh_step():
    v = tf.Variable(np.ones(4, np.float32), name="v")

    def step(x):
        y = tf.tanh(x * 2.0) + 1.0
        v.assign_add(y)
        return tf.reduce_sum(y * x)
    return v, step


X = tf.constant(np.linspace(-1, 1, 4).astype(np.float32))


def test_passes_are_ordered_records_with_ir_before_after_and_diff():
    f = tf.function(lambda x, a: tf.tanh(x * a + 1.0) * 1.0, debug=0)
    concrete = f.get_concrete_function(tf.ones([4, 3]), tf.ones([3]))
    records = concrete.passes
    assert [r.name for r in records] == PIPELINE and concrete.pass_reports is records
    assert records[0].before == str(concrete.graph) and records[-1].after == str(concrete.optimized_graph)
    assert all(a.after == b.before for a, b in zip(records, records[1:]))
    assert all(r.seconds >= 0 for r in records)
    simplify_record = records[1]
    assert simplify_record.changes == ["%7 = multiply replaced by %5"]
    assert "-  %7 = multiply %5, %6 " in simplify_record.diff and "+  return %5" in simplify_record.diff
    assert simplify_record.why.startswith("Algebraic simplification")
    unchanged = [r for r in records if not r.changes]
    assert unchanged and all(r.diff == "" and r.before == r.after for r in unchanged)


def test_fuse_record_shows_the_fused_group():
    f = tf.function(lambda x, a: tf.tanh(x * a + 1.0) * 2.0)
    concrete = f.get_concrete_function(tf.ones([4, 3]), tf.ones([3]))
    (fuse,) = [r for r in concrete.passes if r.name == "fuse"]
    (group,) = fuse.fused_groups
    assert group.members == ["multiply", "add", "tanh", "multiply"] and group.shape == (4, 3)
    assert group.outputs == ["%7"] and group.inputs == ["%0", "%1", "%3", "%6"]
    diff = fuse.diff.splitlines()
    assert diff[:2] == ["--- before fuse", "+++ after fuse"]
    assert [line for line in diff if line.startswith("+ ")] == [
        next(line for line in diff if line.startswith("+  %7 = fused[multiply,add,tanh,multiply] %0, %1, %3, %6"))]
    assert sum(line.startswith("-  ") for line in diff) == 4          # the four member nodes
    assert "fused[multiply,add,tanh,multiply] -> %7" in str(fuse) and "one loop over shape [4, 3]" in str(fuse)


def test_optimize_accepts_disabled_passes():
    g = tf.function(lambda x: tf.exp(x) * 1.0 + 2.0).get_concrete_function(tf.ones([2])).graph
    optimized, records = optimize(g, disabled={"fuse", "simplify"})
    assert [r.name for r in records] == [n for n in PIPELINE if n not in ("fuse", "simplify")]
    assert "multiply" in str(optimized) and "fused" not in str(optimized)
    assert [r.name for r in optimize(g, fusion=False)[1]] == [n for n in PIPELINE if n != "fuse"]
    with pytest.raises(ValueError, match=r"unknown pass name\(s\) \['fusion'\]"):
        optimize(g, disabled={"fusion"})


def test_disabling_inplace_really_leaves_assigns_unmarked():
    v = tf.Variable(np.ones(8, np.float32))
    graph = tf.function(lambda: v.assign(v * 2.0 + 1.0)).get_concrete_function().graph
    marked, _ = optimize(graph)
    unmarked, _ = optimize(graph, disabled={"inplace"})
    assert [n.params.get("in_place") for n in marked.nodes if n.op == "assign"] == [True]
    assert [n.params.get("in_place") for n in unmarked.nodes if n.op == "assign"] == [None]
    assert all("in_place" not in n.params for n in graph.nodes if n.op == "assign")     # the trace is untouched


def test_parity_ok_for_a_correct_pipeline_and_state_is_unchanged():
    v, step = tanh_step()
    report = tracejit.debug.check_parity(step, X)
    assert report.ok and bool(report) and report.mismatches == []
    assert str(report) == "step: compiled results match eager execution"
    assert v.numpy().tolist() == [1.0] * 4


def broken_simplify(real_run):
    """simplify, plus a bug: x * 2 becomes x * 3."""
    def run(graph):
        changes = real_run(graph)
        for node in list(graph.nodes):
            two = constant_array(node.inputs[1]) if node.op == "multiply" else None
            if two is not None and two.size == 1 and two.item() == 2:
                three = graph.constant(np.array(3, two.dtype))
                graph.nodes.remove(three.node)
                graph.nodes.insert(graph.nodes.index(node), three.node)
                node.inputs = [node.inputs[0], three]
                changes.append(f"{node.outputs[0]!r} = multiply by 2 rewritten as multiply by 3")
        return changes
    return run


def test_bisection_names_a_broken_pass(monkeypatch):
    v, step = tanh_step()
    monkeypatch.setattr(simplify, "run", broken_simplify(simplify.run))
    report = tracejit.debug.check_parity(step, X)
    assert not report.ok
    assert [m.what for m in report.mismatches] == ["output 0", "variable 'v:0'"]
    assert report.culprit == "pass 'simplify'" and report.culprit_passes == ["simplify"]
    assert [r.changes for r in report.culprit_records] == [["%2 = multiply by 2 rewritten as multiply by 3"]]
    assert ("with pass 'simplify' disabled", True) in report.steps
    assert ("with pass 'fuse' disabled", False) in report.steps
    assert "culprit: pass 'simplify'" in str(report)
    assert v.numpy().tolist() == [1.0] * 4


def test_bisection_names_the_fused_group_whose_kernel_is_wrong(monkeypatch):
    if tf.config.backend() != "native":
        pytest.skip("needs the compiled backend's loops")
    from tracejit.backend.native.lowering import LOWERINGS, Elementwise
    from tracejit.ops import REGISTRY
    monkeypatch.setitem(LOWERINGS._rules, REGISTRY["negative"], Elementwise(lambda ops, node, x: x))   # a bug: -x is x
    f = tf.function(lambda x, y: (tf.sqrt(y * y + 1.0), tf.exp(-x) + 1.0))
    report = tracejit.debug.check_parity(f, tf.ones([8]), tf.ones([16]))
    assert report.culprit.startswith("backend")               # every elementwise op compiles, fused or not
    assert report.culprit_group.name == "fused[negative,exp,add]"
    assert any("on NumPy" in what and ok for what, ok in report.steps)


def test_debug_check_raises_on_the_first_call_of_a_bad_trace(monkeypatch):
    v, step = tanh_step()
    monkeypatch.setattr(simplify, "run", broken_simplify(simplify.run))
    f = tf.function(step, debug="check")
    with pytest.raises(tracejit.debug.ParityError, match="culprit: pass 'simplify'") as info:
        f(X)
    assert info.value.report.culprit_passes == ["simplify"]
    assert v.numpy().tolist() == [1.0] * 4                   # the failed call changed nothing


def test_debug_check_passes_through_a_correct_function():
    v, step = tanh_step()
    f = tf.function(step, debug="check")
    expected_y = np.tanh(X.numpy() * 2.0) + 1.0
    out = f(X)
    np.testing.assert_allclose(out.numpy(), np.sum(expected_y * X.numpy()), rtol=1e-5)
    np.testing.assert_allclose(v.numpy(), 1.0 + expected_y, rtol=1e-6)          # updated exactly once
    f(X)
    np.testing.assert_allclose(v.numpy(), 1.0 + 2 * expected_y, rtol=1e-6)


def test_parity_tolerances_are_per_dtype():
    assert tracejit.debug.TOLERANCES == {"float16": (1e-2, 1e-3), "float32": (1e-5, 1e-6), "float64": (1e-12, 1e-14)}
    f = tf.function(lambda x: x * 3.0)
    report = tracejit.debug.check_parity(f, tf.ones([3]), tolerances={"float32": (0.0, 0.0)})
    assert report.ok


def test_parity_compares_integer_and_nested_outputs_exactly():
    f = tf.function(lambda x: {"count": tf.reduce_sum(tf.cast(x > 0.5, tf.int32)), "pair": (x * 2.0, None), "n": 3})
    report = tracejit.debug.check_parity(f, tf.constant([0.1, 0.7, 0.9]))
    assert report.ok


def test_parity_refuses_random_functions():
    with pytest.raises(ValueError, match="draws random numbers"):
        tracejit.debug.check_parity(lambda x: x + tf.random.uniform([2]), tf.ones([2]))
