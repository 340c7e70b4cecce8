from .function import ConcreteFunction, Function, RetraceRecord, function  # noqa: F401
