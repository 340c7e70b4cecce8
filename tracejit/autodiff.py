"""GradientTape: records the primitives applied to watched values, then walks them backwards
applying each op's vjp. A tape observes the execution context it was entered in (context.py),
so it sees that context's primitives and variable reads and nothing else. The vjps are written
with tracejit ops, so an eager gradient computes with NumPy and a traced one emits graph nodes
(and an outer tape records an inner gradient)."""
import contextlib

from . import nest
from .context import current_context
from .ops.broadcast import ones_like, zeros_like
from .ops.core import convert_to_tensor
from .tensor import Tensor
from .variables import Variable


class GradientTape:
    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._persistent = persistent
        self._watch_accessed_variables = watch_accessed_variables
        self._reset()

    def _reset(self):
        self._context = None        # the context this tape observes while recording
        self._entries = []          # (primitive, inputs, params, output) in execution order
        self._connected = {}        # id(tensor) -> tensor: watched, or computed from something watched
        self._watched_variables = {}   # id(variable) -> variable
        self._variable_reads = {}   # id(variable) -> tensors produced by reading it
        self._used = False

    # ---- recording ----
    def __enter__(self):
        self._context = current_context()
        self._context.tapes.append(self)
        return self

    def __exit__(self, *exc):
        if self._recording():
            self._context.tapes.remove(self)

    def _recording(self):
        return self._context is not None and self in self._context.tapes

    @contextlib.contextmanager
    def stop_recording(self):
        was_recording = self._recording()
        if was_recording:
            self._context.tapes.remove(self)
        try:
            yield
        finally:
            if was_recording:
                self._context.tapes.append(self)

    def reset(self):
        self._reset()

    def watch(self, tensor):
        for item in nest.flatten(tensor):
            if isinstance(item, Variable):
                self._watched_variables[id(item)] = item
            elif isinstance(item, Tensor):
                self._connected[id(item)] = item
            else:
                raise ValueError(f"GradientTape.watch: expected tensors or variables, got {type(item).__name__}")

    def watched_variables(self):
        return tuple(self._watched_variables.values())

    def _record(self, prim, inputs, params, out):
        if prim.differentiable and any(id(t) in self._connected for t in inputs):
            self._entries.append((prim, inputs, params, out))
            self._connected[id(out)] = out

    def _on_variable_read(self, variable, tensor):
        if id(variable) not in self._watched_variables:
            if not (self._watch_accessed_variables and variable.trainable):
                return
            self._watched_variables[id(variable)] = variable
        self._variable_reads.setdefault(id(variable), []).append(tensor)
        self._connected[id(tensor)] = tensor

    # ---- differentiation ----
    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        if self._used and not self._persistent:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute one set of gradients "
                               "(or jacobians); use GradientTape(persistent=True) to call gradient() again")
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError(f"unconnected_gradients must be 'none' or 'zero', got {unconnected_gradients!r}")
        self._used = True
        flat_targets = nest.flatten(target)
        seeds = [None] * len(flat_targets) if output_gradients is None else nest.flatten(output_gradients)
        # a None target (e.g. a loss that is not a float) contributes no gradient
        seeds = [seed for t, seed in zip(flat_targets, seeds) if t is not None]
        targets = [convert_to_tensor(t) for t in flat_targets if t is not None]
        with self.stop_recording():
            grads = self._backward(targets, seeds)
            results = [self._source_gradient(s, grads, unconnected_gradients) for s in nest.flatten(sources)]
        return nest.pack_sequence_as(sources, results)

    def _backward(self, targets, seeds):
        return backward(self._entries, targets, seeds)

    def _source_gradient(self, source, grads, unconnected):
        if isinstance(source, Variable):
            parts = [grads[id(t)] for t in self._variable_reads.get(id(source), ()) if id(t) in grads]
        elif isinstance(source, Tensor):
            parts = [grads[id(source)]] if id(source) in grads else []
        else:
            raise ValueError(f"gradient sources must be tensors or variables, got {type(source).__name__}")
        if not source.dtype.is_floating:
            return None
        if not parts:
            return zeros_like(source) if unconnected == "zero" else None
        total = parts[0]
        for p in parts[1:]:
            total = total + p
        return total

    def jacobian(self, target, sources, unconnected_gradients="none", experimental_use_pfor=False):
        """d target[i...] / d source[j...], shape target.shape + source.shape (one gradient per element)."""
        from .ops import reshape, stack
        target = convert_to_tensor(target)
        size = target.shape.num_elements()
        if size is None:
            raise NotImplementedError("jacobian needs a target of known shape")
        was_used, flat_sources = self._used, nest.flatten(sources)
        rows = []
        with self.stop_recording():
            for i in range(size):
                seed = Tensor(_one_hot_seed(target, i))
                grads = self._backward([target], [seed])
                rows.append([self._source_gradient(s, grads, "zero") for s in flat_sources])
        self._used = was_used or not self._persistent
        results = []
        for j, s in enumerate(flat_sources):
            column = stack([r[j] for r in rows]) if size else zeros_like(s)
            results.append(reshape(column, tuple(target.shape) + tuple(s.shape)))
        return nest.pack_sequence_as(sources, results)


def backward(entries, targets, seeds):
    """Reverse pass over (primitive, inputs, params, output) entries in execution order:
    id(tensor) -> accumulated gradient. Used by GradientTape and by TF1 graph gradients."""
    grads = {}
    for t, seed in zip(targets, seeds):
        if t.dtype.is_floating:
            _accumulate(grads, t, ones_like(t) if seed is None else convert_to_tensor(seed, dtype=t.dtype))
    for prim, inputs, params, out in reversed(entries):
        g = grads.get(id(out))
        if g is None:
            continue
        for x, gx in zip(inputs, prim.vjp(g, *inputs, out, **params)):
            if gx is not None and x.dtype.is_floating:
                _accumulate(grads, x, gx)
    return grads


def _one_hot_seed(target, index):
    import numpy as np
    seed = np.zeros(target.shape.num_elements(), target.dtype.np)
    seed[index] = 1
    return seed.reshape(tuple(target.shape))


def _accumulate(grads, tensor, g):
    previous = grads.get(id(tensor))
    grads[id(tensor)] = g if previous is None else previous + g
