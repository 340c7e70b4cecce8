"""tf.compat.v1.summary: scalar/histogram ops fetched through Session.run as serialized Summary
bytes, merge_all, and FileWriter(logdir, graph).add_summary(bytes, global_step)."""
import numpy as np

from ...summary import events
from ...summary.writer import EventFileWriter
from ...tensor import Tensor
from .graph_mode import get_default_graph


class SummaryOp:
    """A summary Session.run can fetch: it evaluates its tensors and serializes them."""

    def __init__(self, parts):
        self.parts = parts        # [(kind, tag, Tensor)]

    def serialize(self, arrays):
        values = [events.scalar_value(tag, float(np.asarray(a))) if kind == "scalar" else
                  events.histogram_value(tag, a) for (kind, tag, _), a in zip(self.parts, arrays)]
        return events.summary(values)


def _add(kind, name, tensor):
    graph = get_default_graph()
    op = SummaryOp([(kind, name, tensor if isinstance(tensor, Tensor) else tensor.read_value())])
    graph.summaries.append(op)
    return op


def scalar(name, tensor, collections=None, family=None):
    return _add("scalar", name, tensor)


def histogram(name, values, collections=None, family=None):
    return _add("histogram", name, values)


def merge(inputs, collections=None, name=None):
    return SummaryOp([part for op in inputs for part in op.parts])


def merge_all(key=None, scope=None, name=None):
    found = get_default_graph().summaries
    return merge(found) if found else None


class FileWriter:
    """Events reach the file when more than `max_queue` wait, every `flush_secs`, on flush()/close()
    and at exit (summary/writer.py): a killed process loses at most the queued events."""

    def __init__(self, logdir, graph=None, max_queue=10, flush_secs=120, filename_suffix=None):
        self._writer = EventFileWriter(logdir, filename_suffix or "", max_queue=max_queue, flush_secs=flush_secs)
        self.logdir = logdir
        if graph is not None:
            self.add_graph(graph)

    def add_graph(self, graph, global_step=None):
        self._writer.write(events.event(step=global_step or 0, graph_def=graph.as_graph_def()))

    def add_summary(self, summary, global_step=None):
        if summary is None:
            raise ValueError("add_summary: got None (did merge_all() find no summaries?)")
        self._writer.write(events.event(step=int(global_step or 0), summary_bytes=summary))

    def flush(self):
        self._writer.flush()

    def close(self):
        self._writer.close()

    def get_logdir(self):
        return self.logdir
