"""`import tracejit.compat.v1 as tf`: TF1 graphs and sessions over the same op registry."""
import numpy as np


from ...dtypes import (  # noqa: F401
    bool_ as bool, complex64, complex128, float16, float32, float64, int8, int16, int32, int64, string, uint8)
from ...ops import *  # noqa: F401,F403
from ...ops import range, where  # noqa: F401
from ...control_flow import cond, while_loop  # noqa: F401
from ...logging_ops import print_v2 as print  # noqa: F401
from ...script_ops import numpy_function, py_function  # noqa: F401
from ...script_ops import numpy_function as py_func  # noqa: F401
from ...ops import constant as _constant
from ...variables import Variable  # noqa: F401
from ... import errors, math, linalg, strings, io, sparse  # noqa: F401
from ...sparse import SparseTensor  # noqa: F401
from . import nn, summary, train  # noqa: F401
from ... import context as _context
from ...tensor import Tensor
from .graph_mode import GraphContext
from ...context import control_dependencies  # noqa: F401
from .graph_mode import (Graph, Operation, disable_eager_execution, disable_v2_behavior,  # noqa: F401
                         enable_v2_behavior, get_default_graph, global_variables, global_variables_initializer,
                         gradients, group, initialize_all_variables, name_scope, no_op, placeholder,
                         reset_default_graph, trainable_variables, variables_initializer)
from .session import InteractiveSession, Session  # noqa: F401
from ...ops.random import normal as random_normal, uniform as random_uniform  # noqa: F401
from ...ops.random import truncated_normal, set_seed as set_random_seed  # noqa: F401



def constant(value, dtype=None, shape=None, name="Const"):
    """A constant node of the default graph (TF1 prints it as Tensor("Const:0", ...))."""
    eager = _constant(value, dtype=dtype, shape=shape)
    current = _context.current_context()
    if not isinstance(current, GraphContext):
        return eager
    symbol = current.graph.constant(np.array(eager._value))
    current.graph.record_control_inputs(symbol.node)
    if name != "Const":
        symbol.name = current.graph.unique_name(name)
    return Tensor(symbol=symbol)
