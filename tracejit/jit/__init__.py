from .function import ConcreteFunction, Function, function  # noqa: F401
from .retrace import RetraceRecord  # noqa: F401
