# SPDX-License-Identifier: BSD-3-Clause
"""A Python client attached to real tern-dataplanes: numpy data into the
dataplane's own segment and into a peer's over shm and over tcp (every byte
checked by another process attached to the peer), asyncio, the GIL released
while waiting, deadlines and cancellation, many processes at once, a client
killed mid-transfer, futures collected by the garbage collector."""
import asyncio
import errno
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import tern
from conftest import HERE, SEGMENT_BYTES, pattern, run_tool, sha

MiB = 1 << 20


def peer(prefix, node):
    """One peer's row of /tern/peers (its rails are rows of their own, in the
    rail_* columns: doc/telemetry.md)."""
    p = tern.telemetry(prefix, "/tern/peers")
    i = p["node"].index(node)
    return {k: v[i] for k, v in p.items() if isinstance(v, list) and not k.startswith("rail_")
            and k != "rail"}


def set_transport(prefix, node, transport):
    r = tern.telemetry(prefix, "/tern/peers/set,%s=%s" % (node, transport))
    assert r["status"] == "ok", r


def test_numpy_roundtrip_in_the_dataplanes_segment(client, dataplanes):
    src = client.alloc(8 * MiB)
    dst = client.alloc(8 * MiB)
    a = np.frombuffer(src, dtype=np.uint8)
    a[:] = pattern(1, 8 * MiB)
    b = np.frombuffer(dst, dtype=np.uint8)
    b[:] = 0
    # Offsets and lengths may be numpy integers.
    assert client.write("kv", np.int64(MiB), src, np.uint64(8 * MiB)).result(timeout=10) == 8 * MiB
    assert client.read("kv", MiB, dst).result(timeout=10) == 8 * MiB
    assert np.array_equal(a, b)
    # Zero-copy: the numpy array is the buffer.
    assert a.ctypes.data == src.address and not a.flags.owndata
    # Another process attached to the same dataplane sees the same bytes.
    out = run_tool(dataplanes["a"].prefix, "sha", "kv", MiB, 8 * MiB)
    assert out.stdout.strip() == sha(a)
    del a, b
    src.close()
    dst.close()


def move_to_peer(client, dataplanes, transport, seed):
    """Write 16 MiB of numpy data into b's segment from a client of a, as 16
    requests in one batch; check it from a process attached to b; read it back;
    then the other way: b's process fills, a's client reads."""
    set_transport(dataplanes["a"].prefix, "b", "auto" if transport == "shm" else transport)
    n = 16 * MiB
    src = client.alloc(n)
    a = np.frombuffer(src, dtype=np.uint8)
    a[:] = pattern(seed, n)
    mv = memoryview(src)
    reqs = [(tern.WRITE, "b/kv", i * MiB, mv[i * MiB:(i + 1) * MiB]) for i in range(16)]
    assert client.submit(reqs, deadline=20).result(timeout=30) == n
    assert peer(dataplanes["a"].prefix, "b")["transport"] == transport
    out = run_tool(dataplanes["b"].prefix, "sha", "kv", 0, n)
    assert out.stdout.strip() == sha(a), "bytes in b's segment differ from what was written"
    dst = client.alloc(n)
    d = np.frombuffer(dst, dtype=np.uint8)
    assert client.read("b/kv", 0, dst).result(timeout=30) == n
    assert np.array_equal(a, d)
    # b's side writes, a's client reads through the transport.
    run_tool(dataplanes["b"].prefix, "fill", "kv", 32 * MiB, n, seed + 1)
    assert client.read("b/kv", 32 * MiB, dst).result(timeout=30) == n
    assert np.array_equal(d, pattern(seed + 1, n))
    del a, d, mv, reqs
    src.close()
    dst.close()


def test_numpy_into_a_peers_segment_over_shm(client, dataplanes):
    move_to_peer(client, dataplanes, "shm", 10)


def test_numpy_into_a_peers_segment_over_tcp(client, dataplanes):
    move_to_peer(client, dataplanes, "tcp", 20)
    set_transport(dataplanes["a"].prefix, "b", "auto")


def test_notifications_to_this_node_and_to_a_peer_over_shm(client, dataplanes):
    """notify= on writes and batches, notify_send, notify_poll/notify_wait
    (doc/notify.md, doc/python.md); the peer's receiver checks the bytes."""
    buf = client.alloc(MiB)
    a = np.frombuffer(buf, dtype=np.uint8)
    # To this node (memcpy): the tuple comes back as written.
    assert client.notify_poll() == []
    assert client.write("kv", 0, buf, 4096, notify=(5, b"here")).result(timeout=10) == 4096
    assert client.notify_wait(10) == [("a", 5, b"here")]
    assert client.notify_send("kv", 6).result(timeout=10) == 0
    assert client.notify_wait(10, max=4) == [("a", 6, b"")]
    assert client.notify_wait(0.05) == []
    # To b over shm: rounds 1..3, each with a fresh pattern in its own range.
    set_transport(dataplanes["a"].prefix, "b", "auto")
    for tag in (1, 2, 3):
        a[:] = pattern(tag, MiB)
        reqs = [(tern.WRITE, "b/kv", tag * MiB, memoryview(buf))]
        if tag == 2:
            assert client.prepare(reqs).submit(notify=(tag, b"kv")).result(timeout=30) == MiB
        else:
            assert client.submit(reqs, notify=(tag, b"kv")).result(timeout=30) == MiB
    assert peer(dataplanes["a"].prefix, "b")["transport"] == "shm"
    assert client.notify_send("b/kv", 0, bytearray(b"done")).result(timeout=10) == 0
    out = run_tool(dataplanes["b"].prefix, "notified", "kv", 0, MiB, 4)
    assert out.stdout.split("\n")[:4] == ["a 1 kv ok", "a 2 kv ok", "a 3 kv ok", "a 0 done ok"]
    # Bad input: clear exceptions, nothing sent.
    with pytest.raises(TypeError, match="notify"):
        client.write("kv", 0, buf, 64, notify="x")
    with pytest.raises(ValueError, match="256"):
        client.write("kv", 0, buf, 64, notify=(1, bytes(257)))
    with pytest.raises((ValueError, OverflowError)):
        client.notify_send("kv", -1)
    with pytest.raises(TypeError, match="bytes-like"):
        client.notify_send("kv", 1, "text")
    with pytest.raises(ValueError, match="max"):
        client.notify_poll(max=0)
    with pytest.raises(ValueError, match="timeout"):
        client.notify_wait(-1)
    assert client.notify_poll() == []
    del a, reqs
    buf.close()


def test_100_futures_with_asyncio_gather(client):
    buf = client.alloc(100 * 4096)
    a = np.frombuffer(buf, dtype=np.uint8)
    a[:] = pattern(30, a.size)
    mv = memoryview(buf)

    async def main():
        writes = [client.write("kv", 40 * MiB + i * 4096, mv[i * 4096:(i + 1) * 4096])
                  for i in range(100)]
        assert await asyncio.gather(*writes) == [4096] * 100
        a[:] = 0
        # Half of them awaited while the loop does other work.
        ticks = 0
        reads = [client.read("kv", 40 * MiB + i * 4096, mv[i * 4096:(i + 1) * 4096])
                 for i in range(100)]
        task = asyncio.gather(*reads)
        while not task.done():
            ticks += 1
            await asyncio.sleep(0)
        assert task.result() == [4096] * 100
        return ticks

    asyncio.run(main())
    assert np.array_equal(a, pattern(30, a.size))
    del a, mv
    buf.close()


def test_await_a_failed_future_raises_tern_error(client):
    buf = client.alloc(4096)

    async def main():
        f = client.write("kv", 0, buf, deadline=5)
        f.cancel()
        with pytest.raises(tern.Error) as e:
            await f
        return e.value

    err = asyncio.run(main())
    assert err.errno == errno.ECANCELED and isinstance(err, OSError)
    buf.close()


def stop_process(pid):
    """SIGSTOP, then wait until every thread of it is stopped (kill() returns
    before a thread running elsewhere has stopped)."""
    os.kill(pid, signal.SIGSTOP)
    end = time.monotonic() + 10
    while True:
        states = []
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                    states.append(f.read().rsplit(")", 1)[1].split()[0])
            except OSError:
                pass
        if states and all(st in "Tt" for st in states):
            return
        assert time.monotonic() < end, "process %d did not stop: %s" % (pid, states)
        time.sleep(0.01)


def test_wait_releases_the_gil_and_a_deadline_times_out(client, dataplanes):
    """c is stopped (SIGSTOP) with a's traffic to it pinned to tcp: a write
    stays pending until its 1 s deadline; another thread runs meanwhile."""
    c_prefix, a_prefix = dataplanes["c"].prefix, dataplanes["a"].prefix
    set_transport(a_prefix, "c", "tcp")
    buf = client.alloc(MiB)
    client.write("c/kv", 0, buf).result(timeout=10)  # resolved and connected
    assert peer(a_prefix, "c")["transport"] == "tcp", tern.telemetry(a_prefix, "/tern/peers")
    counter = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            counter[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    stop_process(dataplanes["c"].proc.pid)
    try:
        f = client.write("c/kv", 0, buf, deadline=1.0)
        assert not f.done()
        before = counter[0]
        t0 = time.monotonic()
        # Still pending after 200 ms (c cannot answer).
        assert f.wait(timeout=0.2) is False, (f, tern.telemetry(a_prefix, "/tern/peers"))
        assert f.wait() is True
        waited = time.monotonic() - t0
        during = counter[0] - before
        with pytest.raises(tern.Error) as e:
            f.result()
        assert e.value.errno == errno.ETIMEDOUT
        assert "deadline" in str(e.value)
        assert 0.5 < waited < 10
        # The other thread ran while this one waited (it would be ~0 with the GIL held).
        assert during > 1000, during
        # cancel(): resolves at once with ECANCELED.
        f = client.write("c/kv", 0, buf, deadline=5)
        assert f.cancel() is True
        assert f.cancel() is False
        with pytest.raises(tern.Error) as e:
            f.result(timeout=1)
        assert e.value.errno == errno.ECANCELED
        assert f.errno == errno.ECANCELED
        # asyncio.wait_for() giving up cancels the awaiting task, and the task
        # cancels the tern future.
        f = client.write("c/kv", 0, buf, deadline=5)

        async def give_up():
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(f, 0.2)

        asyncio.run(give_up())
        assert f.wait(timeout=1) and f.errno == errno.ECANCELED
    finally:
        os.kill(dataplanes["c"].proc.pid, signal.SIGCONT)
        stop.set()
        t.join()
    # c serves again (the tcp connections are set up anew).
    end = time.monotonic() + 20
    while True:
        try:
            client.write("c/kv", 0, buf, deadline=2).result(timeout=5)
            break
        except tern.Error:
            if time.monotonic() > end:
                raise
            time.sleep(0.2)
    buf.close()


def test_many_processes_attach_at_once(client, dataplanes):
    # Rounds of four processes attaching, writing and exiting together while
    # this process allocates a new buffer each round and reads their bytes
    # into it: each round maps pages while processes come and go, the case
    # in which DPDK's memory-map broadcasts miss processes (lib/engine/pages.c).
    prefix = dataplanes["a"].prefix
    for rnd in range(3):
        seeds = [100 + 10 * rnd + i for i in range(4)]
        procs = [subprocess.Popen([sys.executable, os.path.join(HERE, "tool.py"), prefix, "fill",
                                   "kv", str(48 * MiB + i * MiB), str(MiB), str(seeds[i])],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for i in range(4)]
        for p in procs:
            out, _ = p.communicate(timeout=60)
            assert p.returncode == 0 and "filled" in out, out
        buf = client.alloc(4 * MiB)
        client.read("kv", 48 * MiB, buf).result(timeout=10)
        a = np.frombuffer(buf, dtype=np.uint8)
        for i in range(4):
            assert np.array_equal(a[i * MiB:(i + 1) * MiB], pattern(seeds[i], MiB)), (rnd, i)
        del a
        buf.close()


def test_freed_buffers_keep_their_hugepages_mapped(client, dataplanes):
    """The dataplane never unmaps a hugepage while it runs (lib/engine/pages.c):
    DPDK's broadcast of an unmap can miss a client, which then keeps the old
    page and, once the address is mapped again, reads and writes the wrong
    memory. A freed buffer's pages stay in the heap and serve the next
    allocation, which does not grow it."""
    prefix = dataplanes["a"].prefix

    def heap():
        return tern.telemetry(prefix, "/eal/heap_info,0")

    before = heap()
    # More than the heap has free: it must grow by new pages.
    size = (before["Free_size"] + 8 * MiB + MiB - 1) // MiB * MiB
    buf = client.alloc(size)
    grown = heap()
    assert grown["Heap_size"] > before["Heap_size"], (before, grown)
    buf.close()
    after = heap()
    assert after["Heap_size"] == grown["Heap_size"], ("pages were unmapped", grown, after)
    assert after["Free_size"] >= size, after
    buf = client.alloc(size)
    assert heap()["Heap_size"] == grown["Heap_size"], "the kept pages did not serve it"
    buf.close()


def test_a_stopped_client_fails_a_page_allocation_and_keeps_a_true_view(client, dataplanes):
    """A client stopped (SIGSTOP, as in a debugger) cannot answer DPDK's
    broadcast of a new page: the allocation that needed the page fails
    cleanly after DPDK's 5 s per try, the rolled-back pages stay mapped
    (lib/engine/pages.c logs them), and once the client runs again its
    mapping is the dataplane's: it reads what the engine wrote."""
    prefix = dataplanes["a"].prefix
    seed = 77
    fill = client.alloc(MiB)
    np.frombuffer(fill, dtype=np.uint8)[:] = pattern(seed, MiB)
    holder = subprocess.Popen([sys.executable, os.path.join(HERE, "tool.py"), prefix, "hold",
                               "kv", str(44 * MiB), str(MiB), str(seed)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        line = holder.stdout.readline()
        assert "held" in line, line + holder.stdout.read()
        stop_process(holder.pid)
        free = tern.telemetry(prefix, "/eal/heap_info,0")["Free_size"]
        t0 = time.monotonic()
        with pytest.raises(tern.Error) as e:
            client.alloc(free + 8 * MiB)  # needs new pages: a broadcast the holder misses
        took = time.monotonic() - t0
        assert e.value.errno == errno.ENOMEM, e.value
        assert 4 < took < 60, took
        assert "a page allocation was rolled back" in dataplanes["a"].text()
        assert client.write("kv", 44 * MiB, fill).result(timeout=10) == MiB
    finally:
        os.kill(holder.pid, signal.SIGCONT)
    out, _ = holder.communicate("check\n", timeout=60)
    assert holder.returncode == 0 and out.strip() == "ok", out
    # The broadcasts reach everyone again: the same allocation succeeds.
    buf = client.alloc(free + 8 * MiB)
    buf.close()
    fill.close()


def test_sigkill_mid_transfer_leaves_the_dataplane_serving(client, dataplanes):
    prefix = dataplanes["a"].prefix
    before = tern.telemetry(prefix, "/tern/stats")
    clients_before = tern.telemetry(prefix, "/tern/info")["nb_clients"]
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "tool.py"), prefix, "forever",
                          "kv"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = p.stdout.readline()
        assert "transferring" in line, line + p.stdout.read()
        time.sleep(0.5)
        mid = tern.telemetry(prefix, "/tern/stats")
        assert mid["pool_in_use"] > before["pool_in_use"]
        p.send_signal(signal.SIGKILL)
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    end = time.monotonic() + 15
    while True:
        s = tern.telemetry(prefix, "/tern/stats")
        n = tern.telemetry(prefix, "/tern/info")["nb_clients"]
        if (s["pool_available"] == before["pool_available"] and s["pool_engine_held"] == 0 and
                n == clients_before):
            break
        assert time.monotonic() < end, (before, s, n)
        time.sleep(0.1)
    assert s["pool_in_use"] == before["pool_in_use"]
    # Still serving: this client's transfers work.
    buf = client.alloc(MiB)
    assert client.write("kv", 0, buf).result(timeout=10) == MiB
    buf.close()


def test_futures_collected_by_gc_never_leak_a_slot(dataplanes):
    prefix = dataplanes["a"].prefix
    c = tern.attach(file_prefix=prefix, max_inflight=8)
    buf = c.alloc(64 * 1024)
    # 2000 batches, 250 times the client's max_inflight, none kept: each
    # future is dropped at once (pending, most of them). EAGAIN is the
    # client's backpressure while dropped futures finish in the engine; a
    # leaked slot would make it permanent.
    end = time.monotonic() + 30

    def write():
        while True:
            try:
                return c.write("kv", 0, buf)
            except tern.Error as e:
                assert e.errno == errno.EAGAIN, e
                assert time.monotonic() < end, "slots leaked"
                time.sleep(0.001)

    for _ in range(2000):
        write()
    assert c.inflight <= 8
    # Resolved futures nobody looked at give their slots back on demand.
    kept = [write() for _ in range(8)]
    time.sleep(0.5)  # they resolve; nobody looks
    more = [c.write("kv", 0, buf) for _ in range(8)]
    assert all(f.result(timeout=10) == 64 * 1024 for f in kept + more)
    del kept, more
    buf.close()
    c.close()
    end = time.monotonic() + 10
    while tern.telemetry(prefix, "/tern/stats")["pool_engine_held"] != 0:
        assert time.monotonic() < end
        time.sleep(0.05)


def test_prepared_batch_and_future_api(client):
    buf = client.alloc(32 * 4096)
    mv = memoryview(buf)
    batch = client.prepare([("write", "kv", i * 4096, mv[i * 4096:(i + 1) * 4096])
                            for i in range(32)])
    assert len(batch) == 32
    futs = [batch.submit(deadline=5) for _ in range(16)]
    futs.append(client.submit(batch))
    for f in futs:
        assert f.wait(timeout=10) is True
        assert f.done() and f.errno == 0 and f.nbytes == 32 * 4096
        assert f.result() == 32 * 4096
        assert "done" in repr(f)
    del batch, mv
    buf.close()


def test_buffers_from_two_clients_of_one_process(client, dataplanes):
    other = tern.attach(file_prefix=dataplanes["a"].prefix)
    b = other.alloc(4096)
    np.frombuffer(b, dtype=np.uint8)[:] = 7
    # client uses other's buffer: both are the dataplane's memory.
    assert client.write("kv", 0, b).result(timeout=10) == 4096
    b.close()
    other.close()
