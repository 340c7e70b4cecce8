"""concrete.profile(n_calls): measured time per kernel of the native code, a roofline table."""
import numpy as np
import pytest

import tracejit as tf


def _mlp_step(batch=64):
    rng = np.random.default_rng(0)
    w1 = tf.Variable(rng.normal(0, 0.05, (784, 128)).astype(np.float32))
    b1 = tf.Variable(np.zeros(128, np.float32))
    w2 = tf.Variable(rng.normal(0, 0.05, (128, 10)).astype(np.float32))

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            logits = tf.matmul(tf.nn.relu(tf.matmul(x, w1) + b1), w2)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        for v, g in zip([w1, b1, w2], tape.gradient(loss, [w1, b1, w2])):
            v.assign_sub(0.1 * g)
        return loss
    x = rng.random((batch, 784), dtype=np.float32)
    y = rng.integers(0, 10, batch).astype(np.int32)
    return step, x, y, [w1, b1, w2]


def test_profile_rows_sum_to_the_call_time_and_leave_variables_alone():
    step, x, y, variables = _mlp_step()
    concrete = step.get_concrete_function(x, y)
    before = [v.numpy().copy() for v in variables]
    profile = concrete.profile(30, args=(x, y))
    for v, value in zip(variables, before):
        np.testing.assert_array_equal(v.numpy(), value)
    assert profile.calls == 30 and profile.call_seconds > 0
    assert abs(profile.kernel_seconds - profile.call_seconds) <= 0.2 * profile.call_seconds, str(profile)
    names = [r.name for r in profile.rows]
    # forward x2, the hidden layer's input gradient, and the weight gradients as SGD gemm updates
    assert names.count("matmul") == 3 and names.count("gemm") == 2
    assert any(n.startswith("fused[") for n in names)
    assert profile.rows == sorted(profile.rows, key=lambda r: -r.seconds)
    slowest = profile.rows[0]
    assert slowest.members[0] in ("matmul", "gemm") and slowest.flops == 2 * 64 * 784 * 128
    assert slowest.gflops > 0 and profile.roofline_fraction(slowest) > 0
    assert profile.peaks["gflops"] > 1 and profile.peaks["gbytes"] > 1
    text = str(profile)
    assert "GFLOP/s" in text and "roof" in text and "matmul float32[64, 128]" in text


def test_profile_synthesizes_arguments_and_times_host_steps():
    f = tf.function(lambda x: tf.strings.length(tf.strings.as_string(x * 2.0)) + 1)
    x = tf.constant(np.arange(6, dtype=np.float32))
    f(x)
    profile = f.get_concrete_function(x).profile(5)
    hosts = [r for r in profile.rows if r.host]
    assert {r.members[0] for r in hosts} >= {"as_string", "string_length"}
    assert all(r.seconds > 0 for r in hosts) and profile.roofline_fraction(hosts[0]) is None


def test_profile_needs_the_native_backend(monkeypatch):
    f = tf.function(lambda x: x * 2.0)
    x = tf.constant([1.0])
    concrete = f.get_concrete_function(x)
    monkeypatch.setattr(tf.config, "backend", lambda: "numpy")
    with pytest.raises(NotImplementedError, match="native backend"):
        concrete.profile(3)
    monkeypatch.undo()
    with pytest.raises(TypeError, match="takes 1 tensor arguments, got 2"):
        concrete.profile(3, args=(x, x))


def test_fusion_report_names_each_kernel_and_why_its_inputs_were_not_fused():
    step, x, y, _ = _mlp_step(32)
    report = step.get_concrete_function(x, y).fusion_report()
    by_name = {}
    for kernel in report.kernels:
        by_name.setdefault(kernel.name, []).append(kernel)
    forward = by_name["matmul"][0]
    assert forward.flops == 2 * 32 * 784 * 128 and forward.bytes == (32 * 784 + 784 * 128 + 32 * 128) * 4
    hidden = by_name["fused[add,relu,greater]"][0]
    assert [(p, r) for _, p, r in hidden.boundaries] == [("matmul", "matmul boundary")]
    reasons = [r for k in report.kernels for _, _, r in k.boundaries]
    assert any(r.startswith("2 consumers") for r in reasons)
    column = tf.function(lambda x, b: tf.exp(b * 2.0) * x).get_concrete_function(tf.ones([4, 5]), tf.ones([4, 1]))
    (kernel,) = [k for k in column.fusion_report().kernels if k.name == "multiply"]
    assert [r for _, _, r in kernel.boundaries] == ["shape mismatch [4, 1] vs [4, 5]"]
    assert not any(k.node.prim.view for k in report.kernels)
    text = str(report)
    assert "not fused: matmul boundary" in text and "flop/B" in text
