"""tracejit.summary: the TF2 API — create_file_writer(logdir).as_default(), scalar, histogram."""
import contextlib

import numpy as np

from . import events
from .writer import EventFileWriter

_default_writers = []


class SummaryWriter:
    """Events wait in a queue of `max_queue` and reach the file when the queue overflows, every
    `flush_millis`, on flush()/close(), on leaving as_default() and at exit (writer.py)."""

    def __init__(self, logdir, max_queue=10, flush_millis=120000, filename_suffix=""):
        self._writer = EventFileWriter(logdir, filename_suffix, max_queue=max_queue,
                                       flush_secs=flush_millis / 1000.0)
        self.logdir = logdir

    @contextlib.contextmanager
    def as_default(self, step=None):
        _default_writers.append(self)
        try:
            yield self
        finally:
            _default_writers.remove(self)
            self.flush()

    def write_values(self, values, step):
        self._writer.write(events.event(step=step, summary_bytes=events.summary(values)))

    def flush(self):
        self._writer.flush()

    def close(self):
        self._writer.close()


def create_file_writer(logdir, max_queue=None, flush_millis=None, filename_suffix=None, name=None):
    """TF's defaults: max_queue 10, flush_millis 120000 (two minutes)."""
    return SummaryWriter(logdir, 10 if max_queue is None else max_queue,
                         120000 if flush_millis is None else flush_millis, filename_suffix or "")


def _concrete(data, what):
    if getattr(data, "is_symbolic", False):
        raise NotImplementedError(f"summary.{what} inside @function is not supported yet: return the value and "
                                  "write the summary outside the compiled function")
    return np.asarray(data)


def _write(value_bytes, step):
    if not _default_writers:
        return False                      # TF returns False when no default writer is set
    if step is None:
        raise ValueError("summary: step must be given (there is no default step)")
    _default_writers[-1].write_values([value_bytes], int(step))
    return True


def scalar(name, data, step=None, description=None):
    return _write(events.scalar_value(name, float(_concrete(data, "scalar"))), step)


def histogram(name, data, step=None, buckets=None, description=None):
    return _write(events.histogram_value(name, _concrete(data, "histogram"), buckets or 30), step)
