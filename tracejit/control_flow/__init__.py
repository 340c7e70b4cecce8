"""Control flow: tracejit.cond and tracejit.while_loop. Eagerly they are Python branches and loops;
in a trace (and a TF1 graph) they become graph nodes whose bodies are subgraphs (subgraph.py):
a `cond` node (or select, for cheap pure branches) and a `while_loop` node, both differentiable."""
from .cond import COND, cond  # noqa: F401
from .while_loop import WHILE, WHILE_GRAD, while_loop  # noqa: F401
