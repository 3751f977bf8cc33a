# SPDX-License-Identifier: BSD-3-Clause
"""Every bad input is a Python exception that says what is wrong; none
crashes or hangs the client, and the dataplane keeps serving."""
import errno
import threading
import time

import numpy as np
import pytest

import tern
from conftest import SEGMENT_BYTES

MiB = 1 << 20


@pytest.fixture(scope="module")
def buf(client):
    b = client.alloc(MiB)
    yield b
    b.close()


# (description, call(client, buf), exception type, words the message must hold, errno)
CASES = [
    ("target not a str", lambda c, b: c.write(1, 0, b), TypeError, "target must be a str", None),
    ("offset negative", lambda c, b: c.write("kv", -1, b), ValueError, "offset must be 0", None),
    ("offset huge", lambda c, b: c.write("kv", 2 ** 64, b), ValueError, "offset must be 0", None),
    ("offset float", lambda c, b: c.write("kv", 1.5, b), TypeError, "offset must be an int",
     None),
    ("offset bool", lambda c, b: c.write("kv", True, b), TypeError, "offset must be an int",
     None),
    ("offset negative numpy int", lambda c, b: c.write("kv", np.int64(-8), b), ValueError,
     "offset must be 0", None),
    ("offset past the end", lambda c, b: c.write("kv", SEGMENT_BYTES, b), tern.Error,
     "past the end of segment kv", errno.EINVAL),
    ("offset + length overflow", lambda c, b: c.read("kv", 2 ** 64 - 1, b), tern.Error,
     "past the end", errno.EINVAL),
    ("length negative", lambda c, b: c.write("kv", 0, b, -5), ValueError, "length must be 0",
     None),
    ("length larger than buf", lambda c, b: c.write("kv", 0, b, 2 * MiB), ValueError,
     "larger than the buffer", None),
    ("length zero", lambda c, b: c.write("kv", 0, b, 0), ValueError, "at least one byte", None),
    ("unknown segment", lambda c, b: c.write("nosuch", 0, b), tern.Error, "no segment nosuch",
     errno.ENOENT),
    ("unknown node", lambda c, b: c.write("zz/kv", 0, b), tern.Error, "cannot reach zz/kv",
     None),
    ("unknown peer segment", lambda c, b: c.write("b/nosuch", 0, b), tern.Error,
     "cannot reach b/nosuch", errno.ENOENT),
    ("two slashes", lambda c, b: c.write("a/b/c", 0, b), ValueError, "node/segment", None),
    ("empty target", lambda c, b: c.write("", 0, b), ValueError, "segment name", None),
    ("buf not a buffer", lambda c, b: c.write("kv", 0, "text"), TypeError, "buffer protocol",
     None),
    ("buf not reachable", lambda c, b: c.write("kv", 0, bytearray(64)), ValueError,
     "Client.alloc()", None),
    ("numpy array not reachable", lambda c, b: c.write("kv", 0, np.zeros(16)), ValueError,
     "dataplane can reach", None),
    ("read-only buffer for READ", lambda c, b: c.read("kv", 0, memoryview(b).toreadonly()),
     ValueError, "writable", None),
    ("non-contiguous buffer", lambda c, b: c.write("kv", 0, np.frombuffer(b, np.uint8)[::2]),
     ValueError, "contiguous", None),
    ("empty batch", lambda c, b: c.submit([]), ValueError, "1 .. 1024", None),
    ("batch too large", lambda c, b: c.submit([("write", "kv", 0, b)] * 1025), ValueError,
     "1 .. 1024", None),
    ("batch over the engine's max_batch", lambda c, b: c.submit([("write", "kv", 0, b)] * 65),
     tern.Error, "refused", errno.EINVAL),
    ("request not a tuple", lambda c, b: c.submit([["write", "kv", 0, b]]), TypeError,
     "must be a tuple", None),
    ("request too short", lambda c, b: c.submit([("write", "kv", 0)]), TypeError,
     "must be a tuple", None),
    ("bad op", lambda c, b: c.submit([("copy", "kv", 0, b)]), ValueError, "op must be", None),
    ("bad op number", lambda c, b: c.submit([(7, "kv", 0, b)]), ValueError, "op must be", None),
    ("second request bad", lambda c, b: c.submit([("write", "kv", 0, b), ("read", "kv", -1, b)]),
     ValueError, "request 1", None),
    ("requests not a sequence", lambda c, b: c.submit(42), TypeError, "list of", None),
    ("deadline negative", lambda c, b: c.write("kv", 0, b, deadline=-1), ValueError,
     "deadline must be > 0", None),
    ("deadline over an hour", lambda c, b: c.write("kv", 0, b, deadline=7200), ValueError,
     "deadline must be", None),
    ("deadline not a number", lambda c, b: c.write("kv", 0, b, deadline="soon"), TypeError,
     "deadline must be seconds", None),
    ("alloc negative", lambda c, b: c.alloc(-1), ValueError, "nbytes must be 1", None),
    ("alloc zero", lambda c, b: c.alloc(0), ValueError, "nbytes must be 1", None),
    ("alloc huge", lambda c, b: c.alloc(2 ** 62), ValueError, "nbytes must be 1", None),
    ("alloc not an int", lambda c, b: c.alloc("1M"), TypeError, "nbytes must be an int", None),
    ("alloc float", lambda c, b: c.alloc(4096.0), TypeError, "nbytes must be an int", None),
    ("alloc bad name", lambda c, b: c.alloc(4096, name="a b"), ValueError, "bad buffer name",
     None),
    ("wait negative", lambda c, b: c.write("kv", 0, b).wait(-1), ValueError, "timeout", None),
    ("wait not a number", lambda c, b: c.write("kv", 0, b).wait("x"), TypeError, "timeout",
     None),
    ("attach: prefix not a str", lambda c, b: tern.attach(5), TypeError, "file_prefix", None),
    ("attach: another prefix", lambda c, b: tern.attach("some_other_prefix"), RuntimeError,
     "one EAL per process", None),
    ("attach: unknown engine", lambda c, b: tern.attach(tern.eal_args()[1], engine="nosuch"),
     tern.Error, "cannot attach to engine nosuch", None),
    ("attach: bad engine name", lambda c, b: tern.attach(tern.eal_args()[1], engine="no-way"),
     ValueError, "bad engine name", None),
    ("attach: max_inflight 0", lambda c, b: tern.attach(tern.eal_args()[1], max_inflight=0),
     ValueError, "max_inflight", None),
    ("in-process engine in an attached process", lambda c, b: tern.Engine("0-1", {}),
     RuntimeError, "one EAL per process", None),
    ("telemetry: unknown command", lambda c, b: tern.telemetry(tern.eal_args()[1], "/tern/nope"),
     tern.Error, "unknown command", errno.EINVAL),
    ("telemetry: bad parameter", lambda c, b: tern.telemetry(tern.eal_args()[1], "/tern/lcore,x"),
     tern.Error, "telemetry /tern/lcore,x", errno.EINVAL),
    ("telemetry: no such prefix", lambda c, b: tern.telemetry("no_such_prefix_x", "/tern/stats"),
     tern.Error, "no telemetry socket", errno.ENOENT),
    ("telemetry: not a command", lambda c, b: tern.telemetry(tern.eal_args()[1], "stats"),
     ValueError, "command must look like", None),
]


@pytest.mark.parametrize("call,exc,words,err", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_a_clear_exception(client, buf, call, exc, words, err):
    with pytest.raises(exc) as e:
        call(client, buf)
    assert words in str(e.value), str(e.value)
    if err is not None:
        assert e.value.errno == err, e.value
    # The client and the dataplane still work.
    assert client.write("kv", 0, buf, 4096).result(timeout=10) == 4096


def test_calls_after_close(client):
    c = tern.attach(tern.eal_args()[1])
    b = c.alloc(4096)
    view = np.frombuffer(b, dtype=np.uint8)
    pending = c.write("kv", 0, b)
    with pytest.raises(BufferError, match="live views"):
        c.close()  # a numpy array still views one of its buffers
    with pytest.raises(BufferError, match="live view"):
        b.close()
    del view
    c.close()
    c.close()  # twice is fine
    assert c.closed
    assert pending.done()
    assert pending.errno in (0, errno.ECANCELED)
    for call, words in [(lambda: c.write("kv", 0, b), "closed"),
                        (lambda: c.read("kv", 0, b), "closed"),
                        (lambda: c.submit([("write", "kv", 0, b)]), "closed"),
                        (lambda: c.alloc(4096), "closed"),
                        (lambda: c.prepare([("write", "kv", 0, b)]), "closed"),
                        (lambda: memoryview(b), "closed"),
                        (lambda: np.frombuffer(b, dtype=np.uint8), "closed")]:
        with pytest.raises(ValueError, match=words):
            call()
    # A closed client's buffer is not usable by another client either.
    with pytest.raises(ValueError):
        client.write("kv", 0, b)


def test_a_batch_of_a_closed_client(client):
    c = tern.attach(tern.eal_args()[1])
    b = c.alloc(4096)
    batch = c.prepare([("write", "kv", 0, b)])
    assert batch.submit().result(timeout=10) == 4096
    c.close()
    with pytest.raises(ValueError, match="closed"):
        batch.submit()
    with pytest.raises(ValueError, match="another client"):
        client.submit(batch)


def test_a_prepared_batch_keeps_its_buffer(client):
    """A prepared Batch holds its buffers: close() is refused while the Batch
    lives, so submit() never moves bytes to or from freed (or reused) memory."""
    b = client.alloc(4096)
    mv = memoryview(b)
    batch = client.prepare([("write", "kv", 0, b), ("read", "kv", 0, mv[:512])])
    del mv  # the batch holds the buffer itself, not this view
    with pytest.raises(BufferError, match="prepared tern.Batch"):
        b.close()
    memoryview(b).release()  # still open
    assert batch.submit().result(timeout=10) == 4096 + 512
    del batch
    b.close()
    with pytest.raises(ValueError, match="closed"):
        memoryview(b)


def test_threads_allocating_past_the_limit(client):
    """alloc() drops the GIL in the middle: threads of several clients racing
    at the process's limit of buffers (64) get ENOSPC, never more buffers
    than the limit (nor a crash)."""
    clients = [tern.attach(tern.eal_args()[1]) for _ in range(6)]
    got, refused, lock = [], [], threading.Lock()
    start = threading.Barrier(12)

    def worker(c):
        start.wait(timeout=30)
        for _ in range(8):
            try:
                b = c.alloc(4096)
            except tern.Error as e:
                with lock:
                    refused.append((e.errno, str(e)))
            else:
                with lock:
                    got.append((c, b))

    threads = [threading.Thread(target=worker, args=(c,)) for c in clients for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive()
    assert len(got) + len(refused) == 96
    assert 0 < len(got) <= 64
    assert all(err == errno.ENOSPC for err, _ in refused), refused
    # Every buffer handed out is usable and distinct.
    assert len({b.address for _, b in got}) == len(got)
    for c, b in got:
        assert c.write("kv", 0, b).result(timeout=10) == 4096
        b.close()
    for c in clients:
        c.close()


def test_close_while_another_thread_submits_and_waits(client):
    """close() drops the GIL; a thread submitting and waiting on the same
    client meanwhile gets exceptions (closed / cancelled), never a crash."""
    c = tern.attach(tern.eal_args()[1])
    b = c.alloc(64 * 1024)
    seen, stop = [], threading.Event()

    def worker():
        deadline = time.monotonic() + 20
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                c.write("kv", 0, b).wait(timeout=5)
            except (ValueError, tern.Error) as e:
                seen.append(e)
                if "closed" in str(e):
                    return

    t = threading.Thread(target=worker)
    t.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    c.close()
    # New waits are refused once close() began: it does not run into its
    # 10 s bound (after which it would free futures threads still wait in).
    assert time.monotonic() - t0 < 5
    t.join(timeout=30)
    stop.set()
    assert not t.is_alive()
    assert c.closed
    assert seen and "closed" in str(seen[-1])


def test_a_forked_child_cannot_use_the_parents_client(client):
    """After fork() the client belongs to the parent: the child's calls raise
    RuntimeError and its exit does not destroy the parent's client."""
    import os
    b = client.alloc(4096)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            client.write("kv", 0, b)
        except RuntimeError as e:
            code = 0 if "parent" in str(e) or "belongs to process" in str(e) else 2
        except BaseException:
            code = 3
        os._exit(code)
    for _ in range(300):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung")
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    assert client.write("kv", 0, b).result(timeout=10) == 4096  # the parent's still works
    b.close()
