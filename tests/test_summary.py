"""TensorBoard writers follow TF's flushing policy: at most `max_queue` events wait in memory, a
timer flushes waiting events, exit and garbage collection flush, so a SIGKILL loses at most the
queued events (it used to lose everything not yet flushed)."""
import gc
import glob
import os
import struct
import subprocess
import sys
import textwrap
import time

import pytest

import tracejit as tf
from tracejit.summary import events

event_pb2 = pytest.importorskip("tensorboard.compat.proto.event_pb2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _summary_steps(logdir):
    """Steps of the summary events on disk, reading the TFRecords as TensorBoard does (CRCs checked;
    a torn last record, as a kill can leave, ends the file)."""
    steps = []
    for path in sorted(glob.glob(os.path.join(str(logdir), "events.out.tfevents.*"))):
        data, position = open(path, "rb").read(), 0
        while position + 12 <= len(data):
            header = data[position: position + 8]
            (length,) = struct.unpack("<Q", header)
            assert struct.unpack("<I", data[position + 8: position + 12])[0] == events.masked_crc(header)
            end = position + 12 + length
            if end + 4 > len(data):
                break
            payload = data[position + 12: end]
            assert struct.unpack("<I", data[end: end + 4])[0] == events.masked_crc(payload)
            event = event_pb2.Event.FromString(payload)
            if event.HasField("summary"):
                steps.append(event.step)
            position = end + 4
    return steps


def test_at_most_max_queue_events_wait_in_memory(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path), max_queue=10)
    with writer.as_default():
        for step in range(35):
            tf.summary.scalar("loss", 1.0, step=step)
            on_disk = _summary_steps(tmp_path)
            assert step + 1 - 10 <= len(on_disk) <= step + 1
            assert on_disk == list(range(len(on_disk)))          # in order, none skipped
    assert _summary_steps(tmp_path) == list(range(35))             # leaving as_default flushed


def test_tf1_file_writer_queue_is_bounded_too(tmp_path):
    writer = tf.compat.v1.summary.FileWriter(str(tmp_path), max_queue=3)
    summary = events.summary([events.scalar_value("x", 1.0)])
    for step in range(10):
        writer.add_summary(summary, step)
        assert len(_summary_steps(tmp_path)) >= step + 1 - 3
    writer.close()
    assert _summary_steps(tmp_path) == list(range(10))
    with pytest.raises(RuntimeError, match="is closed; nothing can be written"):
        writer.add_summary(summary, 10)
    writer.close()                                                  # closing twice is fine


def test_the_timer_flushes_an_idle_writer(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path), max_queue=100, flush_millis=300)
    started = time.monotonic()
    with writer.as_default():
        pass
    writer._writer.write(events.event(step=7, summary_bytes=events.summary([events.scalar_value("x", 1.0)])))
    if time.monotonic() - started < 0.3:
        assert _summary_steps(tmp_path) == []                      # waiting in the queue...
    deadline = time.monotonic() + 5.0
    while _summary_steps(tmp_path) != [7] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _summary_steps(tmp_path) == [7]                          # ...until the timer wrote it


def test_a_collected_writer_flushes(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path), max_queue=50)
    for step in range(3):
        writer._writer.write(events.event(step=step, summary_bytes=events.summary([events.scalar_value("x", 0.0)])))
    del writer
    gc.collect()
    assert _summary_steps(tmp_path) == [0, 1, 2]


def test_bad_queue_settings_are_refused(tmp_path):
    with pytest.raises(ValueError, match="max_queue must be a non-negative integer, got -1"):
        tf.summary.create_file_writer(str(tmp_path), max_queue=-1)
    with pytest.raises(ValueError, match="flush interval must be positive"):
        tf.compat.v1.summary.FileWriter(str(tmp_path), flush_secs=0)


_CHILD = textwrap.dedent("""
    import os, sys, time
    import tracejit as tf
    from tracejit.summary import events
    api, logdir, count, then = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    if api == "tf2":
        writer = tf.summary.create_file_writer(logdir, max_queue=10)
        context = writer.as_default()
        context.__enter__()
        write = lambda step: tf.summary.scalar("loss", 1.0 / (step + 1), step=step)
    else:
        writer = tf.compat.v1.summary.FileWriter(logdir, max_queue=10, flush_secs=120)
        summary = events.summary([events.scalar_value("loss", 1.0)])
        write = lambda step: writer.add_summary(summary, step)
    for step in range(count):
        write(step)
    print("written", flush=True)
    if then == "wait":
        time.sleep(60)          # killed here
""")


def _run_child(tmp_path, api, count, then):
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    logdir = tmp_path / "logs"
    child = subprocess.Popen([sys.executable, str(script), api, str(logdir), str(count), then], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return child, logdir


@pytest.mark.parametrize("api", ["tf2", "tf1"])
def test_sigkill_loses_at_most_the_queued_events(tmp_path, api):
    count = 37                      # less than a stdio buffer: unflushed buffering would lose them all
    child, logdir = _run_child(tmp_path, api, count, "wait")
    try:
        assert child.stdout.readline().strip() == "written", child.stderr.read()
        child.kill()
    finally:
        child.wait(timeout=30)
    steps = _summary_steps(logdir)
    assert count - 10 <= len(steps) <= count and steps == list(range(len(steps)))


@pytest.mark.parametrize("api", ["tf2", "tf1"])
def test_exit_without_close_flushes_everything(tmp_path, api):
    child, logdir = _run_child(tmp_path, api, 5, "exit")
    output, errors = child.communicate(timeout=60)
    assert child.returncode == 0, errors
    assert _summary_steps(logdir) == [0, 1, 2, 3, 4]
