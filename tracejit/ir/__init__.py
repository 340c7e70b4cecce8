from .graph import ASSIGN, CONST, FUSED, Graph, Node, Value, constant_array  # noqa: F401
from .printer import format_graph  # noqa: F401
from .verify import verify  # noqa: F401
