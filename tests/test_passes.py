"""Each pass on small graphs: what it changed (reports) and the resulting IR text."""
import numpy as np

import tracejit as tf
from tracejit.passes import cse, dce, fold, fuse, optimize, simplify


def traced(fn, *args):
    return tf.function(fn).get_concrete_function(*args).graph.clone()


def ops(graph):
    return [n.op for n in graph.nodes]


X = tf.zeros([2, 3])


def test_constant_folding_evaluates_constant_subgraphs_and_shape_only_ops():
    g = traced(lambda x: x * (tf.constant(2.0) + 3.0) + tf.reduce_sum(tf.ones_like(x)), X)
    changes = fold.run(g)
    assert changes[0] == "folded %3 = 5.0"
    assert any("fill_like" not in c and "= 6.0" in c for c in changes)       # reduce_sum(ones_like(x)) = 6
    assert "fill_like" not in ops(g) and "reduce_sum" not in ops(g)


def test_random_ops_are_never_folded():
    g = traced(lambda: tf.random.uniform([2]) * 2.0)
    assert fold.run(g) == [] and "random_uniform" in ops(g)


def test_simplification_rules():
    g = traced(lambda x: tf.transpose(tf.transpose(x)) * 1.0 + 0.0, X)
    changes = simplify.run(g)
    dce.run(g)
    assert len(changes) == 3 and ops(g) == [] and str(g).splitlines()[-2] == "  return %0"
    g = traced(lambda x: x ** 2 + tf.reshape(tf.reshape(x, [3, 2]), [2, 3]) - tf.cast(x, tf.float32), X)
    simplify.run(g)
    dce.run(g)
    assert ops(g).count("square") == 1 and "pow" not in ops(g) and ops(g).count("reshape") == 0
    assert "cast" not in ops(g)


def test_broadcasting_identities_are_kept():
    g = traced(lambda x: tf.ones([4, 2, 3]) * x, X)       # x * 1 broadcasts: not an identity
    assert simplify.run(g) == []


def test_cse_merges_duplicates():
    g = traced(lambda x: tf.exp(x) + tf.exp(x) * 2.0, X)
    changes = cse.run(g)
    assert changes == ["%2 = exp is a duplicate of %1"]
    assert ops(g).count("exp") == 1


def test_dce_keeps_assigns_and_removes_unused():
    v = tf.Variable([1.0, 2.0])

    def f(x):
        unused = tf.exp(x) * 3.0  # noqa: F841  (dead code for DCE to remove)
        v.assign(x)
        return x + 1.0
    g = traced(f, tf.zeros([2]))
    changes = dce.run(g)
    assert changes == ["removed exp -> %1", "removed const -> %2", "removed multiply -> %3"]
    assert "assign" in ops(g)


def test_fusion_groups_elementwise_chains_with_broadcasting():
    a, b, c = tf.zeros([3]), tf.zeros([3]), tf.zeros([3])
    g = traced(lambda x, a, b, c: tf.tanh(x * a + b) * c + x * x, tf.zeros([4, 3]), a, b, c)
    changes = fuse.run(g)
    assert changes == ["fused[multiply,add,tanh,multiply,multiply,add] -> %9"]
    assert str(g).splitlines()[1].startswith("  %9 = fused[multiply,add,tanh,multiply,multiply,add] %0, %1, %2, %3 "
                                             ": f32[4,3]")


def test_fusion_exports_values_used_outside_and_stops_at_reductions():
    g = traced(lambda x: tf.reduce_sum(tf.exp(x) * 2.0) + tf.exp(x), X)
    cse.run(g)
    fuse.run(g)
    fused = [n for n in g.nodes if n.op == "fused"]
    assert len(fused) == 1 and [m.op for m in fused[0].params["members"]] == ["exp", "multiply"]
    assert len(fused[0].outputs) == 2                    # exp(x) is also used by the final add
    assert "reduce_sum" in ops(g)


def test_fusion_never_creates_cycles():
    # y = exp(x); s = reduce_sum(y); z = y * s  -- z cannot join exp's group (s depends on it)
    g = traced(lambda x: tf.exp(x) * tf.reduce_sum(tf.exp(x)), X)
    cse.run(g)
    assert fuse.run(g) == []


def test_pipeline_reports_and_result_matches_eager():
    def f(x, w):
        h = tf.nn.relu(tf.matmul(x, w) + 1.0)
        return tf.reduce_mean(tf.square(h * 1.0 - 0.5))
    x, w = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32), tf.ones([3, 2])
    concrete = tf.function(f).get_concrete_function(x, w)
    optimized, reports = optimize(concrete.graph)
    assert [r.name for r in reports] == ["fold", "simplify", "cse", "dce", "fold", "simplify", "cse", "dce", "fuse",
                                         "inplace"]
    by_name = {r.name: r for r in reports if r.changes}
    assert "simplify" in by_name and "fuse" in by_name
    assert concrete.optimized_graph is not concrete.graph
    np.testing.assert_allclose(tf.function(f)(x, w).numpy(), f(x, w).numpy(), rtol=1e-6)


def test_debug_level_2_prints_each_pass(capsys):
    tf.function(lambda x: tf.exp(x) * 1.0 + 2.0, debug=2)(X)
    err = capsys.readouterr().err
    assert "IR after tracing:" in err and "after simplify (1 change(s)" in err and "after fuse" in err
    # each pass is shown as a unified diff of the IR, not as a whole graph
    assert "--- before fuse\n+++ after fuse" in err and "+  %5 = fused[exp,add] %0, %4" in err
    assert "-  %3 = multiply %1, %2" in err and err.count("graph <lambda>(") <= 2
