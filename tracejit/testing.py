"""Test helpers for code that uses tracejit.

    def test_training_does_not_retrace():
        with assert_max_traces(train_step, 1):
            for x, y in batches:
                train_step(x, y)

    @assert_max_traces(train_step, 1)          # as a decorator of the test itself
    def test_something(): ...
"""
import contextlib


class assert_max_traces(contextlib.ContextDecorator):
    """Fail (AssertionError) if `function` (a @function) traces more than `n` times inside the
    block; the message lists each retrace's record (which argument changed and the fix)."""

    def __init__(self, function, n):
        if not hasattr(function, "experimental_get_tracing_count"):
            raise TypeError(f"assert_max_traces needs a tracejit @function, got {function!r}")
        self.function, self.n = function, n

    def __enter__(self):
        self._traces_before = self.function.experimental_get_tracing_count()
        self._retraces_before = len(self.function.retraces)
        return self

    def __exit__(self, exc_type, exc, tb):
        traced = self.function.experimental_get_tracing_count() - self._traces_before
        if exc_type is None and traced > self.n:
            records = "\n".join(str(r) for r in self.function.retraces[self._retraces_before:])
            raise AssertionError(f"{self.function!r} traced {traced} times, at most {self.n} expected"
                                 + (f":\n{records}" if records else ""))
        return False
