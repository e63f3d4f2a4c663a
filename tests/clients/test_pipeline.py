"""The read-ahead and write-behind threads of `varde score`: order kept, every error raised in the caller's thread,
no thread left running, memory bounded by the depth."""

import threading
import time

import pytest

from varde.clients._pipeline import BackgroundSink, prefetch


def _threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


def test_prefetch_keeps_order_and_reads_ahead_at_most_depth():
    produced = []

    def items():
        for i in range(10):
            produced.append(i)
            yield i

    it = prefetch(items(), depth=2)
    assert next(it) == 0
    time.sleep(0.3)
    # one handed out, two queued, one read and waiting for room
    assert len(produced) <= 4
    assert list(it) == list(range(1, 10))
    assert not _threads("varde-read")


def test_prefetch_raises_the_readers_error_after_the_items_before_it():
    def items():
        yield 1
        yield 2
        raise OSError("truncated file")

    it = prefetch(items())
    assert next(it) == 1
    assert next(it) == 2
    with pytest.raises(OSError, match="truncated"):
        next(it)
    assert not _threads("varde-read")


def test_closing_prefetch_early_stops_the_reader():
    def endless():
        i = 0
        while True:
            yield i
            i += 1

    it = prefetch(endless())
    assert next(it) == 0
    it.close()
    assert not _threads("varde-read")


class ListSink:
    def __init__(self, fail_at=None, delay=0.0):
        self.written, self.closed, self.fail_at, self.delay = [], False, fail_at, delay

    def write(self, batch):
        time.sleep(self.delay)
        if batch == self.fail_at:
            raise OSError("disk full")
        self.written.append(batch)

    def close(self):
        self.closed = True


def test_background_sink_writes_in_order_and_closes():
    inner = ListSink(delay=0.001)
    sink = BackgroundSink(inner)
    for i in range(50):
        sink.write(i)
    sink.close()
    assert inner.written == list(range(50)) and inner.closed
    assert not _threads("varde-write")


def test_background_sink_raises_a_write_error_on_a_later_write_or_on_close():
    inner = ListSink(fail_at=3)
    sink = BackgroundSink(inner)
    with pytest.raises(OSError, match="disk full"):
        for i in range(1000):
            sink.write(i)
            time.sleep(0.001)
    with pytest.raises(OSError, match="disk full"):
        sink.close()
    assert inner.written == [0, 1, 2] and not inner.closed
    assert not _threads("varde-write")
