"""The benchmark workloads, each as a tracejit version and a hand-written NumPy baseline that
does the same arithmetic (forward, backward, optimizer update) in float32."""
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


# ---------------------------------------------------------------- tracejit
class TracejitMLP:
    def __init__(self, optimizer):
        self.params = [tf.Variable(p) for p in mlp_params()]
        self.optimizer = optimizer
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
                p.assign_sub(0.1 * g)
            return loss
        self.t.assign_add(1.0)
        lr_t = LR * tf.sqrt(1.0 - BETA2 ** self.t) / (1.0 - BETA1 ** self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m.assign(BETA1 * m + (1.0 - BETA1) * g)
            v.assign(BETA2 * v + (1.0 - BETA2) * tf.square(g))
            p.assign_sub(lr_t * m / (tf.sqrt(v) + EPS))
        return loss


# ---------------------------------------------------------------- NumPy by hand
class NumpyMLP:
    def __init__(self, optimizer):
        self.params = mlp_params()
        self.optimizer = optimizer
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def step(self, x, y):
        w1, b1, w2, b2 = self.params
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
        dw2, db2 = h.T @ dlogits, dlogits.sum(axis=0)
        dz1 = (dlogits @ w2.T) * (z1 > 0)
        dw1, db1 = x.T @ dz1, dz1.sum(axis=0)
        grads = [dw1, db1, dw2, db2]
        if self.optimizer == "sgd":
            for p, g in zip(self.params, grads):
                p -= np.float32(0.1) * g
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
