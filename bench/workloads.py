"""The benchmark workloads, each as a tracejit version and a hand-written NumPy baseline that
does the same arithmetic (forward, backward, optimizer update) in float32, with its analytic cost
(flops and compulsory memory traffic of an ideal fused step) next to it.

Steps are fed from a pool of distinct batches (POOL of them, the same sequence for every variant):
with one fixed batch the model memorises it, the softmax underflows into denormals and skews timings."""
import numpy as np

import tracejit as tf

LR, BETA1, BETA2, EPS = 1e-3, 0.9, 0.999, 1e-7


def mlp_params(seed=0, sizes=(784, 128, 10)):
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6 / (fan_in + fan_out))
        params += [rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32), np.zeros(fan_out, np.float32)]
    return params


def mlp_data(batch, seed=1):
    rng = np.random.default_rng(seed)
    return rng.random((batch, 784), dtype=np.float32), rng.integers(0, 10, batch).astype(np.int32)


POOL = 16


def mlp_batches(batch, count=POOL):
    """`count` distinct (x, y) batches; every variant of a case cycles through the same list."""
    return [mlp_data(batch, seed=1 + i) for i in range(count)]


def mlp_cost(optimizer, batch, d=784, h=128, c=10):
    """(flops, bytes) of one MLP training step. Matmuls: forward x@w1, h@w2; backward h.T@dlogits,
    dlogits@w2.T, x.T@dz1 (dz1@w1.T, the input gradient, is not needed): 2*B*(d*h + h*c)*3 - 2*B*d*h.
    Elementwise: ~4 per hidden unit (bias, relu, relu grad, bias grad), ~8 per logit (bias, max,
    shift, exp, sum, normalise, one-hot subtract, bias grad); update 2 (SGD) or 12 (Adam) per parameter.
    Bytes (compulsory, float32): parameters read by the forward pass and read+written by the update
    (3 passes for SGD; 7 for Adam: p, m, v read and written), x read twice (forward, x.T@dz1),
    hidden activations and their gradient written and read once, logits 4 passes."""
    params = d * h + h + h * c + c
    flops = 2 * batch * (d * h + h * c) * 3 - 2 * batch * d * h + 4 * batch * h + 8 * batch * c
    flops += (2 if optimizer == "sgd" else 12) * params
    nbytes = 4 * ((3 if optimizer == "sgd" else 7) * params + 2 * batch * d + 4 * batch * h + 4 * batch * c)
    return flops, nbytes


# ---------------------------------------------------------------- tracejit
class TracejitMLP:
    def __init__(self, optimizer, sgd_lr=0.1):
        self.params = [tf.Variable(p) for p in mlp_params()]
        self.optimizer, self.sgd_lr = optimizer, sgd_lr
        if optimizer == "adam":
            self.m = [tf.Variable(np.zeros_like(p.numpy())) for p in self.params]
            self.v = [tf.Variable(np.zeros_like(p.numpy())) for p in self.params]
            self.t = tf.Variable(0.0)
        self.step = tf.function(self._step)

    def loss(self, x, y):
        w1, b1, w2, b2 = self.params
        hidden = tf.nn.relu(tf.matmul(x, w1) + b1)
        logits = tf.matmul(hidden, w2) + b2
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))

    def _step(self, x, y):
        with tf.GradientTape() as tape:
            loss = self.loss(x, y)
        grads = tape.gradient(loss, self.params)
        if self.optimizer == "sgd":
            for p, g in zip(self.params, grads):
                p.assign_sub(self.sgd_lr * g)
            return loss
        self.t.assign_add(1.0)
        lr_t = LR * tf.sqrt(1.0 - BETA2 ** self.t) / (1.0 - BETA1 ** self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m.assign(BETA1 * m + (1.0 - BETA1) * g)
            v.assign(BETA2 * v + (1.0 - BETA2) * tf.square(g))
            p.assign_sub(lr_t * m / (tf.sqrt(v) + EPS))
        return loss


# ---------------------------------------------------------------- NumPy by hand
def dense_head_numpy(x, y, w1, b1, w2, b2, need_input_grad=False):
    """relu(x w1 + b1) w2 + b2 -> mean sparse softmax cross-entropy: (loss, [dw1, db1, dw2, db2], dx)."""
    z1 = x @ w1 + b1
    h = np.maximum(z1, 0)
    logits = h @ w2 + b2
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    batch = x.shape[0]
    loss = np.mean(np.log(s[:, 0]) - shifted[np.arange(batch), y])
    dlogits = e / s
    dlogits[np.arange(batch), y] -= 1
    dlogits /= batch
    dz1 = (dlogits @ w2.T) * (z1 > 0)
    grads = [x.T @ dz1, dz1.sum(axis=0), h.T @ dlogits, dlogits.sum(axis=0)]
    return loss, grads, (dz1 @ w1.T if need_input_grad else None)

class NumpyMLP:
    def __init__(self, optimizer, sgd_lr=0.1):
        self.params = mlp_params()
        self.optimizer, self.sgd_lr = optimizer, np.float32(sgd_lr)
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def step(self, x, y):
        loss, grads, _ = dense_head_numpy(x, y, *self.params)
        if self.optimizer == "sgd":
            for p, g in zip(self.params, grads):
                p -= self.sgd_lr * g
            return loss
        self.t += 1
        lr_t = np.float32(LR * np.sqrt(1 - BETA2 ** self.t) / (1 - BETA1 ** self.t))
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= np.float32(BETA1)
            m += np.float32(1 - BETA1) * g
            v *= np.float32(BETA2)
            v += np.float32(1 - BETA2) * g * g
            p -= lr_t * m / (np.sqrt(v) + np.float32(EPS))
        return loss


# ---------------------------------------------------------------- elementwise chain
def chain_tracejit():
    return tf.function(lambda x, a, b, c: tf.tanh(x * a + b) * c + x * x)


def chain_numpy(x, a, b, c):
    return np.tanh(x * a + b) * c + x * x


def chain_data(n):
    x = np.random.default_rng(0).random(n, dtype=np.float32)
    return x, np.float32(0.5), np.float32(0.1), np.float32(2.0)


def chain_cost(n):
    """(flops, bytes): 6 flops per element (tanh counted as one), x read once and y written once."""
    return 6 * n, 8 * n


# ---------------------------------------------------------------- conv model
def conv_params(seed=0):
    rng = np.random.default_rng(seed)

    def glorot(fan_in, fan_out, shape):
        limit = np.sqrt(6 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, shape).astype(np.float32)
    return [glorot(9, 288, (3, 3, 1, 32)), np.zeros(32, np.float32), glorot(21632, 128, (21632, 128)),
            np.zeros(128, np.float32), glorot(128, 10, (128, 10)), np.zeros(10, np.float32)]


def conv_data(batch, seed=1):
    rng = np.random.default_rng(seed)
    return rng.random((batch, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, batch).astype(np.int32)


def conv_batches(batch, count=POOL):
    return [conv_data(batch, seed=1 + i) for i in range(count)]


def conv_cost(batch, taps=9, filters=32, pixels=26 * 26, h=128, c=10):
    """(flops, bytes) of one conv-model Adam step. Conv forward and kernel gradient 2*B*676*9*32 each
    (no input gradient); Dense(21632->128) forward, weight gradient and input gradient (needed by the
    conv backward) 2*B*21632*128 each; Dense(128->10) 3 matmuls; elementwise ~4 per feature and hidden
    unit, ~8 per logit, 12 per parameter (Adam). Bytes: Adam 7 passes over the parameters, x read twice,
    features and their gradient written and read once, hidden 4 passes, logits 4 passes."""
    features = pixels * filters
    params = taps * filters + filters + features * h + h + h * c + c
    flops = 2 * 2 * batch * pixels * taps * filters + 3 * 2 * batch * features * h + 3 * 2 * batch * h * c
    flops += 4 * batch * (features + h) + 8 * batch * c + 12 * params
    nbytes = 4 * (7 * params + 2 * batch * 784 + 4 * batch * features + 4 * batch * h + 4 * batch * c)
    return flops, nbytes


def _adam_tracejit(params, grads, m, v, t):
    t.assign_add(1.0)
    lr_t = LR * tf.sqrt(1.0 - BETA2 ** t) / (1.0 - BETA1 ** t)
    for p, g, m_, v_ in zip(params, grads, m, v):
        m_.assign(BETA1 * m_ + (1.0 - BETA1) * g)
        v_.assign(BETA2 * v_ + (1.0 - BETA2) * tf.square(g))
        p.assign_sub(lr_t * m_ / (tf.sqrt(v_) + EPS))


def _adam_numpy(params, grads, m, v, t):
    lr_t = np.float32(LR * np.sqrt(1 - BETA2 ** t) / (1 - BETA1 ** t))
    for p, g, m_, v_ in zip(params, grads, m, v):
        m_ *= np.float32(BETA1)
        m_ += np.float32(1 - BETA1) * g
        v_ *= np.float32(BETA2)
        v_ += np.float32(1 - BETA2) * g * g
        p -= lr_t * m_ / (np.sqrt(v_) + np.float32(EPS))


class TracejitConvNet:
    """Conv2D(32, 3) - Flatten - Dense(128, relu) - Dense(10), Adam."""

    def __init__(self):
        self.params = [tf.Variable(p) for p in conv_params()]
        self.m = [tf.Variable(np.zeros_like(p.numpy())) for p in self.params]
        self.v = [tf.Variable(np.zeros_like(p.numpy())) for p in self.params]
        self.t = tf.Variable(0.0)
        self.step = tf.function(self._step)

    def _step(self, x, y):
        k, bc, w1, b1, w2, b2 = self.params
        with tf.GradientTape() as tape:
            features = tf.nn.relu(tf.nn.conv2d(x, k, 1, "VALID") + bc)
            hidden = tf.nn.relu(tf.matmul(tf.reshape(features, [x.shape[0], -1]), w1) + b1)
            logits = tf.matmul(hidden, w2) + b2
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        _adam_tracejit(self.params, tape.gradient(loss, self.params), self.m, self.v, self.t)
        return loss


class NumpyConvNet:
    def __init__(self):
        self.params = conv_params()
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def step(self, x, y):
        k, bc, w1, b1, w2, b2 = self.params
        batch = x.shape[0]
        windows = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))    # N, 26, 26, 1, 3, 3
        cols = windows.transpose(0, 1, 2, 4, 5, 3).reshape(batch * 676, 9)
        z0 = cols @ k.reshape(9, 32) + bc
        a0 = np.maximum(z0, 0)
        loss, (dw1, db1, dw2, db2), dflat = dense_head_numpy(a0.reshape(batch, 21632), y, w1, b1, w2, b2, True)
        dz0 = dflat.reshape(batch * 676, 32) * (z0 > 0)
        dk, dbc = (cols.T @ dz0).reshape(3, 3, 1, 32), dz0.sum(axis=0)
        self.t += 1
        _adam_numpy(self.params, [dk, dbc, dw1, db1, dw2, db2], self.m, self.v, self.t)
        return loss
