"""tf.compat.v1.train: optimizers with minimize(loss, global_step) returning a train Operation
(the Keras optimizers' math on graph gradients), checkpoints (Saver) and their index files."""
from ...ir.graph import ASSIGN
from ...keras import optimizers as keras_optimizers
from .graph_mode import Operation, gradients, group, trainable_variables
from .checkpoints import (CheckpointState, Saver, checkpoint_exists, get_checkpoint_state,  # noqa: F401
                          latest_checkpoint)


class Optimizer:
    def __init__(self, inner):
        self._inner = inner

    def compute_gradients(self, loss, var_list=None):
        var_list = list(var_list) if var_list is not None else trainable_variables()
        return list(zip(gradients(loss, var_list), var_list))

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        before = _graph_nodes()
        self._inner.apply_gradients(grads_and_vars)
        effects = [n for n in _graph_nodes()[len(before):] if n.prim is ASSIGN]
        ops = [Operation(effects, name=name or type(self).__name__)]
        if global_step is not None:
            ops.append(global_step.assign_add(1))
        return group(*ops, name=name or type(self).__name__)

    def minimize(self, loss, global_step=None, var_list=None, name=None):
        pairs = [(g, v) for g, v in self.compute_gradients(loss, var_list) if g is not None]
        if not pairs:
            raise ValueError("No gradients provided for any variable; check that the loss depends on them")
        return self.apply_gradients(pairs, global_step, name)


def _graph_nodes():
    from .graph_mode import get_default_graph
    return list(get_default_graph().nodes)


class GradientDescentOptimizer(Optimizer):
    def __init__(self, learning_rate, use_locking=False, name="GradientDescent"):
        super().__init__(keras_optimizers.SGD(learning_rate, name=name))


class MomentumOptimizer(Optimizer):
    def __init__(self, learning_rate, momentum, use_locking=False, name="Momentum", use_nesterov=False):
        super().__init__(keras_optimizers.SGD(learning_rate, momentum=momentum, nesterov=use_nesterov, name=name))


class AdamOptimizer(Optimizer):
    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-08, use_locking=False, name="Adam"):
        super().__init__(keras_optimizers.Adam(learning_rate, beta1, beta2, epsilon, name=name))


class RMSPropOptimizer(Optimizer):
    def __init__(self, learning_rate, decay=0.9, momentum=0.0, epsilon=1e-10, use_locking=False, name="RMSProp"):
        super().__init__(keras_optimizers.RMSprop(learning_rate, decay, momentum, epsilon, name=name))


def get_or_create_global_step():
    from ...variables import Variable
    return Variable(0, name="global_step", trainable=False, dtype="int64")
