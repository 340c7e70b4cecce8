"""Keras 3 optimizers written with tracejit ops: eager they update with NumPy, inside @function
their math joins the graph (fused, and written in place into the variables). Updates use the
values they compute, never a read-back of what they assigned, so the same code is right in TF1
graphs, where reads see the state at the start of Session.run.

State is Keras 3's, in Keras 3's order (what .keras files store): `iterations` (int64),
`learning_rate` (a float32 Variable), then the slots, created for all trainable variables on the
first step (`build`): per variable "momentum" (SGD), "momentum","velocity" interleaved (Adam),
all "velocity" then all "momentum" (RMSprop), "accumulator" (Adagrad).

An eager step (apply_gradients) holds the optimizer's lock: each step reads and writes slots and
variables as one unit, so steps from several threads are never lost and equal the same steps in
some sequential order.

Under a tf.distribute strategy with several replicas, apply_gradients first sums the gradients
over the replicas (one packed all_reduce in the step, as Keras does with
get_replica_context().all_reduce), so every worker applies the same update to its mirror."""
import threading

from .. import distribute, ops
from ..context import init_scope
from ..variables import Variable
from .serialization import deserialize_keras_object, register_builtins, serialize_keras_object


class Optimizer:
    _keras_module = "keras.optimizers"
    _slot_groups = ()                      # tuples of slot names; a group's slots interleave per variable
    _unsupported_defaults = {"weight_decay": None, "clipnorm": None, "clipvalue": None, "global_clipnorm": None,
                             "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                             "loss_scale_factor": None, "gradient_accumulation_steps": None}

    def __init__(self, learning_rate=0.001, name=None, **options):
        unknown = sorted(set(options) - set(self._unsupported_defaults))
        if unknown:
            raise ValueError(f"Argument(s) not recognized: {dict((k, options[k]) for k in unknown)}")
        changed = sorted(k for k, v in options.items() if v != self._unsupported_defaults[k])
        if changed:
            raise NotImplementedError(f"{type(self).__name__}: {', '.join(changed)} not supported yet")
        self.name = name or type(self).__name__.lower()
        self._lock = threading.RLock()
        with init_scope():
            self.iterations = Variable(0, name="iteration", trainable=False, dtype="int64")
            self._learning_rate = Variable(float(learning_rate), name="learning_rate", trainable=False,
                                           dtype="float32")
        self._slots = {}                   # (id(variable), slot name) -> slot
        self._built_for = []               # the variables the slots were built for, in order

    @property
    def learning_rate(self):
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self._learning_rate.assign(float(value))

    lr = learning_rate

    def build(self, var_list):
        """Creates the slots of every variable, in Keras' order."""
        for variable in var_list:
            if not any(variable is v for v in self._built_for):
                self._built_for.append(variable)
        for group in self._slot_groups:
            for variable in self._built_for:
                for name in group:
                    self._slot(variable, name)

    def _obj_type(self):
        return "Optimizer"

    @property
    def built(self):
        return bool(self._built_for)

    def _slot(self, variable, name):
        key = (id(variable), name)
        if key not in self._slots:
            with init_scope():
                base = getattr(variable, "path", None) or variable.name.rsplit(":", 1)[0]
                self._slots[key] = (variable, Variable(ops.fill(variable.shape, ops.cast(self._slot_initial(name),
                                                                                         variable.dtype)),
                                                       trainable=False, name=f"{self.name}/{base}/{name}"))
        return self._slots[key][1]

    def _slot_initial(self, name):
        return 0.0

    @property
    def variables(self):
        slots = [self._slots[(id(v), name)][1] for group in self._slot_groups for v in self._built_for
                 for name in group if (id(v), name) in self._slots]
        return [self.iterations, self._learning_rate] + slots

    def apply_gradients(self, grads_and_vars):
        pairs = [(g, v) for g, v in grads_and_vars]
        if not pairs:
            raise ValueError("apply_gradients: no gradients given")
        missing = [v.name for g, v in pairs if g is None]
        if len(missing) == len(pairs):
            raise ValueError(f"No gradients provided for any variable: {missing}")
        pairs = _all_reduce_sum_gradients(pairs)
        with self._lock:
            self.build([v for _, v in pairs])
            step = ops.cast(self.iterations + 1, "float32")    # the new count, whether or not reads see the assign
            self.iterations.assign_add(1)
            lr = self._learning_rate.read_value()
            for g, v in pairs:
                if g is not None:
                    self._update(v, ops.cast(g, v.dtype), step, ops.cast(lr, v.dtype))
        return self.iterations

    def apply(self, grads, trainable_variables=None):
        """Keras 3: apply(grads, trainable_variables)."""
        if trainable_variables is None:
            trainable_variables = self._built_for
        return self.apply_gradients(zip(grads, trainable_variables))

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

    def _update(self, variable, gradient, step, lr):
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name, "learning_rate": float(self._learning_rate.numpy()),
                **self._unsupported_defaults}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            raise NotImplementedError("learning-rate schedules are not supported yet")
        return cls(**config)


def _all_reduce_sum_gradients(pairs):
    """The gradients summed over the replicas of the current strategy (unchanged with one)."""
    if distribute.get_strategy().num_replicas_in_sync == 1:
        return pairs
    context = distribute.get_replica_context()
    if context is None:
        raise RuntimeError("apply_gradients() was called in the cross-replica context of a strategy with "
                           f"{distribute.get_strategy().num_replicas_in_sync} replicas (inside strategy.scope(), "
                           "outside strategy.run): run the training step with strategy.run(step, args=...)")
    gradients = context.all_reduce(distribute.ReduceOp.SUM, [g for g, _ in pairs])
    return [(g, v) for g, (_, v) in zip(gradients, pairs)]


class SGD(Optimizer):
    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD", **options):
        super().__init__(learning_rate, name, **options)
        self.momentum, self.nesterov = float(momentum), nesterov
        self._slot_groups = (("momentum",),) if self.momentum else ()

    def _update(self, variable, gradient, step, lr):
        if self.momentum == 0:
            variable.assign_sub(lr * gradient)
            return
        velocity = self._slot(variable, "momentum")
        new_velocity = self.momentum * velocity - lr * gradient
        velocity.assign(new_velocity)
        if self.nesterov:
            variable.assign_add(self.momentum * new_velocity - lr * gradient)
        else:
            variable.assign_add(new_velocity)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    _slot_groups = (("momentum", "velocity"),)

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, name="adam",
                 **options):
        if amsgrad:
            raise NotImplementedError("Adam(amsgrad=True) is not supported yet")
        super().__init__(learning_rate, name, **options)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _update(self, variable, gradient, step, lr):
        m, v = self._slot(variable, "momentum"), self._slot(variable, "velocity")
        lr_t = lr * ops.cast(ops.sqrt(1.0 - self.beta_2 ** step) / (1.0 - self.beta_1 ** step), lr.dtype)
        new_m = self.beta_1 * m + (1.0 - self.beta_1) * gradient
        new_v = self.beta_2 * v + (1.0 - self.beta_2) * ops.square(gradient)
        m.assign(new_m)
        v.assign(new_v)
        variable.assign_sub(lr_t * new_m / (ops.sqrt(new_v) + self.epsilon))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": False}


class RMSprop(Optimizer):
    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, name="rmsprop",
                 **options):
        if centered:
            raise NotImplementedError("RMSprop(centered=True) is not supported yet")
        super().__init__(learning_rate, name, **options)
        self.rho, self.momentum, self.epsilon = rho, float(momentum), epsilon
        self._slot_groups = (("velocity",), ("momentum",)) if self.momentum else (("velocity",),)

    def _update(self, variable, gradient, step, lr):
        ms = self._slot(variable, "velocity")
        new_ms = self.rho * ms + (1.0 - self.rho) * ops.square(gradient)
        ms.assign(new_ms)
        delta = lr * gradient / ops.sqrt(new_ms + self.epsilon)
        if self.momentum:
            mom = self._slot(variable, "momentum")
            delta = self.momentum * mom + delta
            mom.assign(delta)
        variable.assign_sub(delta)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": False}


class Adagrad(Optimizer):
    _slot_groups = (("accumulator",),)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, name="adagrad", **options):
        super().__init__(learning_rate, name, **options)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def _slot_initial(self, name):
        return self.initial_accumulator_value

    def _update(self, variable, gradient, step, lr):
        acc = self._slot(variable, "accumulator")
        new_acc = acc + ops.square(gradient)
        acc.assign(new_acc)
        variable.assign_sub(lr * gradient / ops.sqrt(new_acc + self.epsilon))

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


_BY_NAME = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad}


def get(identifier):
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize_keras_object(identifier)
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r} (known: {sorted(_BY_NAME)})")


def serialize(optimizer):
    return serialize_keras_object(optimizer)


register_builtins(globals())
