"""GradientTape: records the primitives applied to watched values, then walks them backwards
applying each op's vjp. A tape observes the execution context it was entered in (context.py),
so it sees that context's primitives and variable reads and nothing else. The vjps are written
with tracejit ops, so an eager gradient computes with NumPy and a traced one emits graph nodes
(and an outer tape records an inner gradient)."""
import contextlib
import enum

import numpy as np

from . import nest
from .context import current_context
from .ops.broadcast import ones_like, zeros_like
from .ops.shape import broadcast_to
from .ops.core import convert_to_tensor
from .tensor import Tensor
from .variables import Variable


class UnconnectedGradients(enum.Enum):
    """What gradient() returns for a source the target does not depend on (tf.UnconnectedGradients)."""
    NONE = "none"
    ZERO = "zero"


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
            for tensor in out if prim.multiple_results else (out,):
                self._connected[id(tensor)] = tensor

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
        try:
            unconnected = UnconnectedGradients(unconnected_gradients).value
        except ValueError:
            raise ValueError(f"unconnected_gradients must be 'none' or 'zero' (tf.UnconnectedGradients), got "
                             f"{unconnected_gradients!r}") from None
        self._used = True
        flat = nest.flatten(target)
        seeds = [None] * len(flat) if output_gradients is None else nest.flatten(output_gradients)
        kept = [(t, s) for t, s in zip(flat, seeds) if t is not None]         # a None target contributes nothing
        with self.stop_recording():
            targets, target_reads = self._targets([t for t, _ in kept])
            grads = self._backward(targets, [s for _, s in kept])
            results = [self._source_gradient(s, grads, unconnected, target_reads) for s in nest.flatten(sources)]
        return nest.pack_sequence_as(sources, results)

    def _targets(self, flat):
        """Target tensors, and for Variable targets the read standing for the variable itself, so that
        the gradient of a variable with respect to itself is ones (TF differentiates its handle)."""
        targets, reads = [], {}
        for t in flat:
            tensor = convert_to_tensor(t)
            if isinstance(t, Variable):
                reads.setdefault(id(t), []).append(tensor)
            targets.append(tensor)
        return targets, reads

    def _backward(self, targets, seeds):
        return backward(self._entries, targets, seeds)

    def _source_gradient(self, source, grads, unconnected, target_reads=None):
        if isinstance(source, Variable):
            reads = self._variable_reads.get(id(source), []) + (target_reads or {}).get(id(source), [])
            parts = [grads[id(t)] for t in reads if id(t) in grads]
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
        from .ops import reshape
        target = convert_to_tensor(target)
        size = target.shape.num_elements()
        if size is None:
            raise NotImplementedError("jacobian needs a target of known shape")
        flat_sources = nest.flatten(sources)
        columns = self._seeded_gradients(target, flat_sources, [_one_hot_seed(target.shape, target.dtype, i)
                                                                for i in range(size)])
        results = [reshape(c, tuple(target.shape) + tuple(s.shape)) for c, s in zip(columns, flat_sources)]
        return nest.pack_sequence_as(sources, results)

    def batch_jacobian(self, target, source, unconnected_gradients="none", parallel_iterations=None,
                       experimental_use_pfor=False):
        """d target[b, i...] / d source[b, j...] for each batch row b, shape [batch] + target.shape[1:] +
        source.shape[1:]; rows of the batch must not depend on each other (as TF assumes)."""
        from .ops import reshape, transpose
        target, source_tensor = convert_to_tensor(target), convert_to_tensor(source)
        if not target.ndim or not source_tensor.ndim or target.shape[0] != source_tensor.shape[0]:
            raise ValueError(f"batch_jacobian: target {target.shape} and source {source_tensor.shape} need the "
                             "same known first (batch) dimension")
        batch, inner = target.shape[0], target.shape[1:].num_elements()
        if batch is None or inner is None:
            raise NotImplementedError("batch_jacobian needs a target of known shape")
        seeds = []
        for i in range(inner):           # element i of every batch row at once
            seed = np.zeros((batch, inner), target.dtype.np)
            seed[:, i] = 1
            seeds.append(seed.reshape(tuple(target.shape)))
        column, = self._seeded_gradients(target, [source], seeds)      # [inner, batch, source...]
        column = reshape(column, (inner, batch, -1))
        result = transpose(column, (1, 0, 2))
        return reshape(result, (batch,) + tuple(target.shape[1:]) + tuple(source_tensor.shape[1:]))

    def _seeded_gradients(self, target, flat_sources, seeds):
        """For each source, the stack of its gradients under each output seed ([len(seeds)] + source shape);
        unconnected sources give zeros. Uses the tape once (persistent tapes stay usable)."""
        from .ops import stack
        was_used = self._used
        rows = []
        with self.stop_recording():
            for seed in seeds:
                grads = self._backward([target], [Tensor(seed)])
                rows.append([self._source_gradient(s, grads, "zero") for s in flat_sources])
        self._used = was_used or not self._persistent
        return [stack([r[j] for r in rows]) if rows else
                broadcast_to(zeros_like(s), (0,) + tuple(s.shape)) for j, s in enumerate(flat_sources)]


def backward(entries, targets, seeds):
    """Reverse pass over (primitive, inputs, params, output) entries in execution order:
    id(tensor) -> accumulated gradient. Used by GradientTape and by TF1 graph gradients.
    A primitive with multiple_results has a list of outputs; its vjp gets the list of their
    gradients (None for an output nothing depends on) and runs if any is known."""
    grads = {}
    for t, seed in zip(targets, seeds):
        if t.dtype.is_floating:
            _accumulate(grads, t, ones_like(t) if seed is None else convert_to_tensor(seed, dtype=t.dtype))
    for prim, inputs, params, out in reversed(entries):
        if prim.multiple_results:
            g = [grads.get(id(o)) for o in out]
            if all(gi is None for gi in g):
                continue
        else:
            g = grads.get(id(out))
            if g is None:
                continue
        for x, gx in zip(inputs, prim.vjp(g, *inputs, out, **params)):
            if gx is not None and x.dtype.is_floating:
                _accumulate(grads, x, gx)
    return grads


def _one_hot_seed(shape, dtype, index):
    seed = np.zeros(shape.num_elements(), dtype.np)
    seed[index] = 1
    return seed.reshape(tuple(shape))


def _accumulate(grads, tensor, g):
    previous = grads.get(id(tensor))
    grads[id(tensor)] = g if previous is None else previous + g
