from .graph import Graph, Node, Value, current_graph, building, init_scope  # noqa: F401
from .printer import format_graph  # noqa: F401
from .verify import verify  # noqa: F401
