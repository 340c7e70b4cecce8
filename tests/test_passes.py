"""Each pass on small graphs: what it changed (reports) and the resulting IR text."""
import numpy as np
import pytest

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
    assert [r.name for r in reports] == ["fold", "simplify", "cse", "dce", "fold", "simplify", "cse", "epilogue",
                                         "dce", "fuse", "inplace"]
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


@pytest.mark.parametrize("update", ["sub_scaled", "add_scaled_left", "add_plain", "scaled_right"])
def test_gemm_epilogue_absorbs_a_scaled_update_and_stores_it_in_place(update):
    rng = np.random.default_rng(5)
    x, g = rng.normal(size=(6, 4)).astype(np.float32), rng.normal(size=(6, 3)).astype(np.float32)
    w = tf.Variable(rng.normal(size=(4, 3)).astype(np.float32))
    rules = {"sub_scaled": lambda w, p: w - 0.1 * p, "add_scaled_left": lambda w, p: (p * 0.5) + w,
             "add_plain": lambda w, p: w + p, "scaled_right": lambda w, p: w - p * 2.0}
    alphas = {"sub_scaled": -0.1, "add_scaled_left": 0.5, "add_plain": 1.0, "scaled_right": -2.0}

    def step(x, g):
        w.assign(rules[update](w, tf.matmul(x, g, transpose_a=True)))
    expected = rules[update](w.numpy(), x.T @ g)
    tf.function(step)(x, g)
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-5, atol=1e-6)
    graph = tf.function(step).get_concrete_function(x, g).optimized_graph
    (gemm,) = [n for n in graph.nodes if n.op == "gemm"]
    assert abs(gemm.params["alpha"] - alphas[update]) < 1e-6 and gemm.params["transpose_a"]
    assert not any(n.op in ("matmul", "fused") for n in graph.nodes)
    (assign,) = [n for n in graph.nodes if n.op == "assign"]
    assert assign.params.get("in_place") is True


def test_gemm_epilogue_leaves_products_used_twice_or_broadcast_alone():
    x, w = tf.ones([2, 3]), tf.ones([3, 4])
    reused = tf.function(lambda x, w: (tf.ones([2, 4]) - tf.matmul(x, w), tf.matmul(x, w) * 2.0))
    graph = str(reused.get_concrete_function(x, w).optimized_graph)
    assert "gemm" not in graph
    bias = tf.function(lambda x, w: tf.matmul(x, w) + tf.ones([4]))      # broadcast: not C's shape
    assert "gemm" not in str(bias.get_concrete_function(x, w).optimized_graph)
    np.testing.assert_array_equal(bias(x, w).numpy(), np.full((2, 4), 4.0, np.float32))


def test_gemm_reading_its_own_accumulator_is_not_made_in_place():
    w = tf.Variable(np.eye(3, dtype=np.float32) * 2.0)
    step = tf.function(lambda: w.assign(w - 0.5 * tf.matmul(w, w)))      # A and B are w: needs a copy
    step()
    np.testing.assert_allclose(w.numpy(), np.eye(3) * 2.0 - 0.5 * np.eye(3) * 4.0)
    (assign,) = [n for n in step.get_concrete_function().optimized_graph.nodes if n.op == "assign"]
    assert not assign.params.get("in_place")


def test_a_ten_thousand_op_chain_optimizes_in_linear_time(monkeypatch):
    import time
    from tracejit.backend.interpreter import Interpreter
    from tracejit.backend.native.build import Lowered

    def chain(x):
        for i in range(3400):                       # 3 ops per step: ~10,000 nodes
            x = x * 1.0001 + 0.5 if i % 3 else tf.tanh(x) + x
        return x
    monkeypatch.setattr(tf.config, "backend", lambda: "numpy")     # LLVM is timed elsewhere (bench)
    x = tf.constant(np.linspace(-1, 1, 16, dtype=np.float32))
    start = time.perf_counter()
    concrete = tf.function(chain).get_concrete_function(x)
    assert len(concrete.graph.nodes) >= 9000
    assert sum(r.seconds for r in concrete.passes) < 5.0, [r.summary() for r in concrete.passes]
    groups = [len(n.params["members"]) for n in concrete.optimized_graph.nodes if n.op == "fused"]
    assert max(groups) == fuse.MAX_GROUP and sum(groups) == 6800   # every op in a bounded loop body (LLVM: linear)
    lowered = Lowered(concrete.optimized_graph)                      # memory plan and LLVM IR of every loop
    assert len(lowered.kernels) == len(groups)
    assert time.perf_counter() - start < 60
    np.testing.assert_allclose(Interpreter(concrete.optimized_graph)([x.numpy()])[0], chain(x).numpy(), rtol=1e-5)
