"""The event file writer behind tf.summary.create_file_writer and compat.v1.summary.FileWriter,
with TF's flushing policy: events wait in a queue of at most `max_queue`; the queue is written
and flushed when one more arrives (TF's SummaryFileWriter: `queue.size() > max_queue`), when the
oldest waiting event is `flush_secs` old (one timer thread serves every writer, so an idle writer
flushes too), on flush()/close(), when the writer is garbage-collected, and at interpreter exit.
A killed process loses at most the queued events.

A process whose output is off (config.output_enabled(): the workers other than 0 of a multi-worker
job) opens no file: its writers drop every event."""
import atexit
import os
import socket
import threading
import time
import weakref

from .. import config
from . import events

_open_writers = weakref.WeakSet()
_timer_wakeup = threading.Condition()     # notified when a writer's queue starts waiting
_timer_started = [False]


class EventFileWriter:
    def __init__(self, logdir, filename_suffix="", max_queue=10, flush_secs=120.0):
        if max_queue is None or int(max_queue) != max_queue or max_queue < 0:
            raise ValueError(f"max_queue must be a non-negative integer, got {max_queue!r}")
        if flush_secs is None or not flush_secs > 0:
            raise ValueError(f"the flush interval must be positive, got {flush_secs!r} seconds")
        self._closed = False
        if not config.output_enabled():
            self.path = self._file = None
            return
        os.makedirs(logdir, exist_ok=True)
        self.path = os.path.join(logdir, f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}"
                                         f".{os.getpid()}.{id(self) % 100000}{filename_suffix}")
        self.max_queue, self.flush_secs = int(max_queue), float(flush_secs)
        self._lock = threading.Lock()
        self._queue = []                    # serialized records not yet in the file
        self._due = None                    # monotonic time when the queue must be flushed
        self._file = open(self.path, "wb")
        self._file.write(events.record(events.event(file_version="brain.Event:2")))
        self._file.flush()                  # a valid (empty) event file from the start
        _open_writers.add(self)
        _start_timer()

    def write(self, event_bytes):
        if self._file is None:
            return
        record = events.record(event_bytes)
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the summary writer of {self.path} is closed; nothing can be written to it")
            self._queue.append(record)
            if len(self._queue) > self.max_queue:
                self._write_queue()
                return
            starts_waiting = self._due is None
            if starts_waiting:
                self._due = time.monotonic() + self.flush_secs
        if starts_waiting:
            with _timer_wakeup:
                _timer_wakeup.notify()

    def flush(self):
        if self._file is None:
            return
        with self._lock:
            if not self._closed:
                self._write_queue()

    def close(self):
        if self._file is None:
            self._closed = True
            return
        with self._lock:
            if self._closed:
                return
            self._write_queue()
            os.fsync(self._file.fileno())
            self._file.close()
            self._closed = True
        _open_writers.discard(self)

    def __del__(self):
        try:
            self.close()
        except Exception:               # interpreter shutdown or a failing disk: nothing left to report to
            pass

    def _flush_if_due(self, now):
        with self._lock:
            if not self._closed and self._due is not None and self._due <= now:
                self._write_queue()

    def _write_queue(self):
        """Queue -> file -> OS (the caller holds the lock): from here a killed process loses nothing."""
        if self._queue:
            self._file.write(b"".join(self._queue))
            self._queue.clear()
        self._file.flush()
        self._due = None


def _start_timer():
    with _timer_wakeup:
        if not _timer_started[0]:
            _timer_started[0] = True
            threading.Thread(target=_flush_when_due, name="tracejit summary flush", daemon=True).start()


def _flush_when_due():
    """The timer thread: sleeps until the earliest writer's queue is due, then flushes the due ones."""
    while True:
        with _timer_wakeup:
            deadlines = [w._due for w in list(_open_writers) if w._due is not None]
            wait = min(deadlines) - time.monotonic() if deadlines else None
            if wait is None or wait > 0:
                _timer_wakeup.wait(wait)
                continue
        now = time.monotonic()
        for writer in list(_open_writers):
            writer._flush_if_due(now)


def _restart_timer_in_child():
    """A forked child has no timer thread (threads do not survive fork): start its own when needed."""
    global _timer_wakeup
    _timer_wakeup = threading.Condition()
    _timer_started[0] = False
    if len(_open_writers):
        _start_timer()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_restart_timer_in_child)


@atexit.register
def _flush_open_writers():
    """Interpreter exit writes what is still queued."""
    for writer in list(_open_writers):
        writer.flush()
