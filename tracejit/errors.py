"""Error types, named as in TensorFlow so `except tf.errors.InvalidArgumentError` works."""


class OpError(Exception):
    """Base class for errors raised while running an op."""


class InvalidArgumentError(OpError, ValueError):
    """An op received an argument it cannot handle (wrong dtype, incompatible shape, bad value)."""


class TracingError(RuntimeError):
    """Something that needs a concrete value was attempted on a symbolic tensor while tracing."""


class SymbolicValueError(TracingError):
    """bool()/int()/float()/len()/iteration/.numpy() on a symbolic tensor."""


class SymbolicNumpyError(SymbolicValueError, AttributeError):
    """.numpy on a symbolic tensor: an AttributeError as in TF (symbolic tensors have no numpy), so
    `hasattr(t, "numpy")` is False and `except AttributeError` works."""


class VariableCreationError(TracingError, ValueError):
    """A Variable was created on a trace other than the first one of a @function (a ValueError, as in TF)."""


class LeakedTensorError(TracingError):
    """A symbolic tensor was used outside the trace that created it."""


class RetracingWarning(UserWarning):
    """A @function keeps retracing because its arguments keep changing."""


class RetracingError(TracingError):
    """A @function needed more traces than its max_traces allows (on_excess="raise").
    `record` is the RetraceRecord of the refused trace."""

    def __init__(self, message, record=None):
        super().__init__(message)
        self.record = record


class UnknownError(OpError):
    """An op failed for a reason TF has no better name for (e.g. a py_function's Python error)."""


class NotFoundError(OpError, LookupError):
    """Something named does not exist (a checkpoint, or a variable in it)."""


class DataLossError(OpError):
    """A file is corrupt or truncated."""


class FailedPreconditionError(OpError):
    """The system is not in a state where the operation can run."""


class UnavailableError(OpError):
    """The runtime cannot be reached: a worker of a distributed job died or its transport failed."""


class AbortedError(OpError):
    """The operation was aborted: an earlier failure left the distributed job unusable."""


class DeadlineExceededError(OpError):
    """An operation did not complete in time (a collective that another worker never joined)."""
