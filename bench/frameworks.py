"""The same workloads in PyTorch (eager, its own optimizers) and JAX (jax.jit of a pure step),
used by run.py only when those packages are installed, each in a subprocess of its own. Same
shapes, init, float32 and the same pool of batches in the same order."""
import itertools
import time

import numpy as np

import workloads as W


def available():
    """Installed frameworks, found without importing them (their thread pools would disturb the
    main process: each one is measured in a subprocess of its own)."""
    import importlib.util
    return [name for name in ("torch", "jax") if importlib.util.find_spec(name) is not None]


def _cycle(batches):
    return itertools.cycle(batches)


# ---------------------------------------------------------------- PyTorch
def torch_mlp(optimizer, batch):
    import torch
    batches = _cycle([(torch.from_numpy(x), torch.from_numpy(y).long()) for x, y in W.mlp_batches(batch)])
    params = [torch.nn.Parameter(torch.from_numpy(p.copy())) for p in W.mlp_params()]
    opt = torch.optim.SGD(params, lr=0.1) if optimizer == "sgd" else torch.optim.Adam(
        params, lr=W.LR, betas=(W.BETA1, W.BETA2), eps=W.EPS)

    def step():
        x, y = next(batches)
        w1, b1, w2, b2 = params
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(torch.relu(x @ w1 + b1) @ w2 + b2, y)
        loss.backward()
        opt.step()
        return loss
    return step


def torch_conv(batch):
    import torch
    batches = _cycle([(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(y).long())
                      for x, y in W.conv_batches(batch)])
    k, bc, w1, b1, w2, b2 = [torch.nn.Parameter(torch.from_numpy(p.copy())) for p in W.conv_params()]
    params = [k, bc, w1, b1, w2, b2]
    opt = torch.optim.Adam(params, lr=W.LR, betas=(W.BETA1, W.BETA2), eps=W.EPS)

    def step():
        x, y = next(batches)
        opt.zero_grad(set_to_none=True)
        features = torch.relu(torch.nn.functional.conv2d(x, k.permute(3, 2, 0, 1), bc))     # NCHW, OIHW
        hidden = torch.relu(features.permute(0, 2, 3, 1).reshape(batch, -1) @ w1 + b1)
        loss = torch.nn.functional.cross_entropy(hidden @ w2 + b2, y)
        loss.backward()
        opt.step()
        return loss
    return step


def torch_chain(n):
    import torch
    x, a, b, c = (torch.from_numpy(np.asarray(v)) for v in W.chain_data(n))
    return lambda: torch.tanh(x * a + b) * c + x * x


# ---------------------------------------------------------------- JAX
def _jax_adam():
    import jax.numpy as jnp

    def update(params, grads, m, v, t):
        t = t + 1.0
        lr_t = W.LR * jnp.sqrt(1.0 - W.BETA2 ** t) / (1.0 - W.BETA1 ** t)
        m = [W.BETA1 * m_ + (1 - W.BETA1) * g for m_, g in zip(m, grads)]
        v = [W.BETA2 * v_ + (1 - W.BETA2) * g * g for v_, g in zip(v, grads)]
        params = [p - lr_t * m_ / (jnp.sqrt(v_) + W.EPS) for p, m_, v_ in zip(params, m, v)]
        return params, m, v, t
    return update


def _jax_step(loss_fn, optimizer):
    """The jitted step: (params, x, y) -> (params, loss) for SGD, (params, m, v, t, x, y) ->
    (params, m, v, t, loss) for Adam."""
    import jax
    adam = _jax_adam()
    if optimizer == "sgd":
        def sgd_step(params, x, y):
            loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
            return [p - 0.1 * g for p, g in zip(params, grads)], loss
        return jax.jit(sgd_step)

    def adam_step(params, m, v, t, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        return (*adam(params, grads, m, v, t), loss)
    return jax.jit(adam_step)


def _jax_state(params):
    import jax.numpy as jnp
    state = {"params": [jnp.asarray(p) for p in params]}
    state["m"] = [jnp.zeros_like(p) for p in state["params"]]
    state["v"] = [jnp.zeros_like(p) for p in state["params"]]
    state["t"] = jnp.float32(0.0)
    return state


def _jax_run(jitted, optimizer, state, x, y):
    if optimizer == "sgd":
        state["params"], loss = jitted(state["params"], x, y)
    else:
        state["params"], state["m"], state["v"], state["t"], loss = jitted(
            state["params"], state["m"], state["v"], state["t"], x, y)
    return loss.block_until_ready()


def _jax_trainer(loss_fn, params, optimizer, batches):
    import jax.numpy as jnp
    jitted, state = _jax_step(loss_fn, optimizer), _jax_state(params)
    batches = _cycle([(jnp.asarray(x), jnp.asarray(y)) for x, y in batches])
    return lambda: _jax_run(jitted, optimizer, state, *next(batches))


def _jax_xent(logits, y):
    import jax
    import jax.numpy as jnp
    return jnp.mean(jax.nn.logsumexp(logits, axis=1) - jnp.take_along_axis(logits, y[:, None], axis=1)[:, 0])


def _jax_mlp_loss(params, x, y):
    import jax.numpy as jnp
    w1, b1, w2, b2 = params
    return _jax_xent(jnp.maximum(x @ w1 + b1, 0) @ w2 + b2, y)


def jax_mlp(optimizer, batch):
    return _jax_trainer(_jax_mlp_loss, W.mlp_params(), optimizer, W.mlp_batches(batch))


def jax_first_call():
    """{"first": seconds} of jax.jit decorate + first call of the MLP Adam step at batch 32, after
    import and model/data build (arrays already on the device), in this (fresh) process."""
    import jax.numpy as jnp
    state = _jax_state(W.mlp_params())
    x, y = (jnp.asarray(a) for a in W.mlp_data(32))
    start = time.perf_counter()
    _jax_run(_jax_step(_jax_mlp_loss, "adam"), "adam", state, x, y)
    return {"first": time.perf_counter() - start}


def jax_conv(batch):
    import jax
    import jax.numpy as jnp

    def loss_fn(params, x, y):
        k, bc, w1, b1, w2, b2 = params
        features = jax.lax.conv_general_dilated(x, k, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        hidden = jnp.maximum(jnp.maximum(features + bc, 0).reshape(x.shape[0], -1) @ w1 + b1, 0)
        return _jax_xent(hidden @ w2 + b2, y)
    return _jax_trainer(loss_fn, W.conv_params(), "adam", W.conv_batches(batch))


def jax_chain(n):
    import jax
    import jax.numpy as jnp
    x, a, b, c = (jnp.asarray(v) for v in W.chain_data(n))
    chain = jax.jit(lambda x, a, b, c: jnp.tanh(x * a + b) * c + x * x)
    return lambda: chain(x, a, b, c).block_until_ready()


def jax_call_overheads():
    """{label: no-argument callable} for jax.jit's x + 1.0 and identity on a float32 scalar."""
    import jax
    import jax.numpy as jnp
    x = jnp.float32(1.0)
    plus_one, identity = jax.jit(lambda x: x + 1.0), jax.jit(lambda x: x)
    return {"x + 1.0": lambda: plus_one(x), "identity": lambda: identity(x)}


BUILDERS = {
    "mlp": {"torch": torch_mlp, "jax": jax_mlp},
    "conv": {"torch": torch_conv, "jax": jax_conv},
    "chain": {"torch": torch_chain, "jax": jax_chain},
}
