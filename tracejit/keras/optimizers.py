"""Keras optimizers written with tracejit ops: eager they update with NumPy, inside @function
their math joins the graph (fused, and written in place into the variables). Updates use the
values they compute, never a read-back of what they assigned, so the same code is right in TF1
graphs, where reads see the state at the start of Session.run.

An eager step (apply_gradients) holds the optimizer's lock: each step reads and writes slots and
variables as one unit, so steps from several threads are never lost and equal the same steps in
some sequential order."""
import threading

from .. import ops
from ..context import init_scope
from ..variables import Variable


class Optimizer:
    def __init__(self, learning_rate=0.001, name=None):
        self.learning_rate = learning_rate
        self.name = name or type(self).__name__
        self._lock = threading.RLock()
        with init_scope():
            self.iterations = Variable(0, name=f"{self.name}/iter", trainable=False, dtype="int64")
        self._slots = {}

    lr = property(lambda self: self.learning_rate)

    def _slot(self, variable, name, initial=0.0):
        key = (id(variable), name)
        slot = self._slots.get(key)
        if slot is None:
            with init_scope():
                base = variable.name.rsplit(":", 1)[0]
                slot = Variable(ops.fill(variable.shape, ops.cast(initial, variable.dtype)), trainable=False,
                                name=f"{self.name}/{base}/{name}")
            self._slots[key] = (variable, slot)        # keep the variable alive: ids stay unique
            return slot
        return slot[1]

    def variables(self):
        return [self.iterations] + [slot for _, slot in self._slots.values()]

    def apply_gradients(self, grads_and_vars):
        pairs = [(g, v) for g, v in grads_and_vars]
        if not pairs:
            raise ValueError("apply_gradients: no gradients given")
        missing = [v.name for g, v in pairs if g is None]
        if len(missing) == len(pairs):
            raise ValueError(f"No gradients provided for any variable: {missing}")
        with self._lock:
            step = ops.cast(self.iterations + 1, "float32")    # the new count, whether or not reads see the assign
            self.iterations.assign_add(1)
            for g, v in pairs:
                if g is not None:
                    self._update(v, ops.cast(g, v.dtype), step)
        return self.iterations

    def minimize(self, loss, var_list, tape=None):
        from ..autodiff import GradientTape
        if tape is None:
            if not callable(loss):
                raise ValueError("minimize: `loss` must be callable when no tape is given")
            with GradientTape() as tape:
                value = loss()
        else:
            value = loss
        var_list = var_list() if callable(var_list) else list(var_list)
        grads = tape.gradient(value, var_list)
        return self.apply_gradients(zip(grads, var_list))

    def _update(self, variable, gradient, step):
        raise NotImplementedError


class SGD(Optimizer):
    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name=None):
        super().__init__(learning_rate, name)
        self.momentum, self.nesterov = float(momentum), nesterov

    def _update(self, variable, gradient, step):
        if self.momentum == 0:
            variable.assign_sub(self.learning_rate * gradient)
            return
        velocity = self._slot(variable, "momentum")
        new_velocity = self.momentum * velocity - self.learning_rate * gradient
        velocity.assign(new_velocity)
        if self.nesterov:
            variable.assign_add(self.momentum * new_velocity - self.learning_rate * gradient)
        else:
            variable.assign_add(new_velocity)


class Adam(Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name=None):
        super().__init__(learning_rate, name)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _update(self, variable, gradient, step):
        m, v = self._slot(variable, "m"), self._slot(variable, "v")
        lr_t = self.learning_rate * ops.sqrt(1.0 - self.beta_2 ** step) / (1.0 - self.beta_1 ** step)
        new_m = self.beta_1 * m + (1.0 - self.beta_1) * gradient
        new_v = self.beta_2 * v + (1.0 - self.beta_2) * ops.square(gradient)
        m.assign(new_m)
        v.assign(new_v)
        variable.assign_sub(ops.cast(lr_t, variable.dtype) * new_m / (ops.sqrt(new_v) + self.epsilon))


class RMSprop(Optimizer):
    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, name=None):
        super().__init__(learning_rate, name)
        self.rho, self.momentum, self.epsilon = rho, float(momentum), epsilon

    def _update(self, variable, gradient, step):
        ms = self._slot(variable, "rms")
        new_ms = self.rho * ms + (1.0 - self.rho) * ops.square(gradient)
        ms.assign(new_ms)
        delta = self.learning_rate * gradient / (ops.sqrt(new_ms) + self.epsilon)
        if self.momentum:
            mom = self._slot(variable, "momentum")
            delta = self.momentum * mom + delta
            mom.assign(delta)
        variable.assign_sub(delta)


class Adagrad(Optimizer):
    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, name=None):
        super().__init__(learning_rate, name)
        self.initial, self.epsilon = initial_accumulator_value, epsilon

    def _update(self, variable, gradient, step):
        acc = self._slot(variable, "accumulator", self.initial)
        new_acc = acc + ops.square(gradient)
        acc.assign(new_acc)
        variable.assign_sub(self.learning_rate * gradient / (ops.sqrt(new_acc) + self.epsilon))


_BY_NAME = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad}


def get(identifier):
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"Unknown optimizer {identifier!r}; known: {sorted(_BY_NAME)}")
