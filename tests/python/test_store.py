# SPDX-License-Identifier: BSD-3-Clause
"""tern.Store from a process attached to a real tern-dataplane (doc/python.md,
"Objects by key"): the dataplane's segment "st" is store capacity it owns
(--store-capacity st), "sx" a range a store allocates itself. Every byte
that comes back is compared with what was put."""
import errno
import gc
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import numpy as np
import pytest

import tern
from conftest import free_port, pattern

MiB = 1 << 20
SIZES = [1, 63, 64, 65, 4095, 4096, 4097, 100000, MiB, 3 * MiB + 7]


@pytest.fixture
def store(client):
    s = tern.Store(client, "st", owned=True)
    yield s
    s.close()


@pytest.fixture
def bufs(client):
    """A source and a destination buffer of 8 MiB each, as numpy views."""
    src, dst = client.alloc(8 * MiB), client.alloc(8 * MiB)
    views = [np.frombuffer(src, dtype=np.uint8), np.frombuffer(dst, dtype=np.uint8)]
    yield views
    views.clear()  # pytest keeps the fixture's value until its teardown ends
    gc.collect()
    for b in (src, dst):
        try:
            b.close()
        except BufferError:
            pass  # a failed test's traceback still holds a view; close() of the client frees it


def test_round_trip_every_byte(store, bufs):
    src, dst = bufs
    off = 0
    for i, n in enumerate(SIZES):
        src[off:off + n] = pattern(100 + i, n)
        store.put("rt/%d" % i, src[off:off + n])
        off += n
    assert off <= src.size
    off = 0
    for i, n in enumerate(SIZES):
        dst[:] = 0
        assert store.get_into("rt/%d" % i, dst) == n
        assert np.array_equal(dst[:n], src[off:off + n]), "key rt/%d differs" % i
        assert not dst[n:].any(), "get wrote past the object"
        off += n
    assert [(k, n, r) for k, n, r in store.list("rt/")] == \
        sorted(("rt/%d" % i, n, 1) for i, n in enumerate(SIZES))
    st = store.stats()
    assert st["objects"] == len(SIZES) and st["bytes"] == sum(SIZES)
    assert st["puts"] == len(SIZES) and st["gets"] == len(SIZES)


def test_owner_dataplane_counts_the_extents(store, bufs, dataplanes):
    src, _ = bufs
    before = tern.telemetry(dataplanes["a"].prefix, "/tern/store_owner")
    store.batch_put_from(["own/%d" % i for i in range(8)],
                         [src[i * MiB:(i + 1) * MiB] for i in range(8)])
    during = tern.telemetry(dataplanes["a"].prefix, "/tern/store_owner")
    assert during["committed"] == before["committed"] + 8
    assert during["used"] >= before["used"] + 8 * MiB
    store.batch_remove(["own/%d" % i for i in range(8)])
    after = tern.telemetry(dataplanes["a"].prefix, "/tern/store_owner")
    assert after["committed"] == before["committed"]
    # The store keeps its arena until it is full, old or the store closes
    # (doc/store.md, *Arenas*): a quarter of st (32 MiB) at most.
    assert before["used"] <= after["used"] <= before["used"] + 8 * MiB
    store.close()
    closed = tern.telemetry(dataplanes["a"].prefix, "/tern/store_owner")
    assert closed["used"] == before["used"] and closed["reserved"] == before["reserved"]


def test_batches_larger_than_one_engine_batch(store, bufs):
    # 300 keys: more than the dataplane's 64 requests per batch and the
    # store's 256 keys per batch; the call cuts and pipelines them.
    src, dst = bufs
    n, size = 300, 4096 + 8
    src[:n * size] = pattern(7, n * size)
    keys = ["b/%03d" % i for i in range(n)]
    store.batch_put_from(keys, [src[i * size:(i + 1) * size] for i in range(n)])
    assert store.batch_exists(keys) == [True] * n
    dst[:] = 0
    sizes = store.batch_get_into(keys[::-1], [dst[i * size:(i + 1) * size] for i in range(n)])
    assert sizes == [size] * n
    for i in range(n):
        j = n - 1 - i
        assert np.array_equal(dst[i * size:(i + 1) * size], src[j * size:(j + 1) * size])
    assert store.batch_remove(keys + ["b/none"]) == [True] * n + [False]
    assert store.batch_exists(keys[:3]) == [False] * 3


def test_batch_with_failures_reports_each_key(store, bufs):
    src, dst = bufs
    src[:3 * 4096] = pattern(8, 3 * 4096)
    store.batch_put_from(["p/0", "p/1"], [src[:4096], src[4096:8192]])
    with pytest.raises(tern.BatchError) as ei:
        store.batch_put_from(["p/2", "p/1"], [src[8192:12288], src[:10]])
    res = ei.value.results
    assert res[0] == 4096 and isinstance(res[1], tern.KeyExistsError)
    assert ei.value.errno == errno.EEXIST
    # p/2 landed although p/1 failed: commits are per key.
    with pytest.raises(tern.BatchError) as ei:
        store.batch_get_into(["p/2", "p/9", "p/0"], [dst[:4096], dst[4096:8192], dst[8192:8200]])
    res = ei.value.results
    assert res[0] == 4096 and np.array_equal(dst[:4096], src[8192:12288])
    assert isinstance(res[1], tern.KeyNotFoundError) and isinstance(res[1], KeyError)
    assert isinstance(res[2], tern.BufferTooSmallError) and res[2].size == 4096
    assert ei.value.errno == errno.ENOENT


def test_replace(store, bufs):
    src, dst = bufs
    src[:2 * MiB] = pattern(9, 2 * MiB)
    store.put("r", src[:MiB])
    with pytest.raises(tern.KeyExistsError) as ei:
        store.put("r", src[MiB:2 * MiB])
    assert isinstance(ei.value, FileExistsError) and isinstance(ei.value, tern.Error)
    assert ei.value.errno == errno.EEXIST and ei.value.key == "r"
    assert store.get_into("r", dst) == MiB and np.array_equal(dst[:MiB], src[:MiB])
    store.put("r", src[MiB:MiB + 5000], replace=True)
    assert store.get_into("r", dst) == 5000
    assert np.array_equal(dst[:5000], src[MiB:MiB + 5000])
    assert store.list("r") == [("r", 5000, 1)]
    store.put("new", src[:100], replace=True)  # replace of an absent key puts it
    assert store.exists("new")


def test_zero_size_objects(store, bufs):
    src, dst = bufs
    store.put("zero", src[:0])
    store.put("zero_np", np.zeros(0, dtype=np.uint8))  # no memory to reach
    assert store.get_into("zero", dst) == 0
    assert store.get_into("zero_np", dst[:0]) == 0
    assert store.get_into("zero", bytearray(0)) == 0
    assert store.list("zero") == [("zero", 0, 0), ("zero_np", 0, 0)]  # no replica to hold
    store.remove("zero")
    assert not store.exists("zero")


def test_buffer_too_small_says_the_size_needed(store, bufs):
    src, dst = bufs
    store.put("big", src[:MiB + 3])
    with pytest.raises(tern.BufferTooSmallError) as ei:
        store.get_into("big", dst[:MiB])
    e = ei.value
    assert e.size == MiB + 3 and e.errno == errno.ENOSPC and isinstance(e, ValueError)
    assert str(MiB + 3) in str(e)
    assert store.get_into("big", dst[:MiB + 3]) == MiB + 3


def test_key_rules(store, bufs):
    src, _ = bufs
    ok = ["k", "x" * 255, "!~", "a/b:c=d", b"bytes_key"]
    for k in ok:
        store.put(k, src[:8])
    assert store.exists("bytes_key") and store.exists("x" * 255)
    for k in ["", "x" * 256, "a b", "tab\t", "nl\n", "nul\0x", "\x7f", "caf\u00e9", b"\xff\x00",
              b"", "\u2603"]:
        with pytest.raises(ValueError, match="printable ASCII"):
            store.put(k, src[:8])
        with pytest.raises(ValueError, match="printable ASCII"):
            store.get_into(k, src[:8])
        with pytest.raises(ValueError, match="printable ASCII"):
            store.exists(k)
        with pytest.raises(ValueError, match="printable ASCII"):
            store.remove(k)
    for k in [1, None, 1.5, ["k"], bytearray(b"k")]:
        with pytest.raises(TypeError, match="key must be a str"):
            store.put(k, src[:8])
    with pytest.raises(tern.KeyNotFoundError):
        store.remove("absent")
    with pytest.raises(ValueError, match="printable ASCII"):
        store.list("a b")


def test_bad_buffers(store, client, bufs):
    src, dst = bufs
    store.put("bb", src[:4096])
    with pytest.raises(TypeError, match="buffer protocol"):
        store.put("x", "text")
    with pytest.raises(TypeError, match="buffer protocol"):
        store.get_into("bb", 12)
    with pytest.raises(ValueError, match="C-contiguous"):
        store.put("x", src[:8192][::2])
    with pytest.raises(ValueError, match="C-contiguous"):
        store.get_into("bb", dst[:8192][::2])
    with pytest.raises(ValueError, match="dataplane can reach"):
        store.put("x", np.ones(4096, dtype=np.uint8))
    with pytest.raises(ValueError, match="dataplane can reach"):
        store.get_into("bb", bytearray(4096))
    with pytest.raises(ValueError, match="read-only"):
        store.get_into("bb", memoryview(dst).toreadonly())
    assert not store.exists("x")
    # Batches: every argument checked before anything moves.
    with pytest.raises(ValueError, match="2 keys but 1 buffers"):
        store.batch_put_from(["x1", "x2"], [src[:8]])
    with pytest.raises(ValueError, match="appears twice"):
        store.batch_put_from(["x1", "x1"], [src[:8], src[8:16]])
    with pytest.raises(ValueError, match="buffer 1: .*C-contiguous"):
        store.batch_put_from(["x1", "x2"], [src[:8], src[:64][::2]])
    with pytest.raises(ValueError, match="1 .. 65536 keys"):
        store.batch_get_into([], [])
    with pytest.raises(TypeError, match="list of keys"):
        store.batch_exists("abc")
    with pytest.raises(TypeError):
        store.batch_put_from(["x1"], 5)
    assert store.batch_exists(["x1", "x2"]) == [False, False]
    # A closed tern.Buffer is refused with its own message.
    b = client.alloc(4096)
    b.close()
    with pytest.raises(ValueError, match="closed"):
        store.put("x", b)


def test_bad_store_arguments(client):
    with pytest.raises(TypeError, match="tern.Client or a tern.Engine"):
        tern.Store("kv", "st")
    with pytest.raises(tern.Error) as ei:
        tern.Store(client, "nosuch")
    assert ei.value.errno == errno.ENOENT
    with pytest.raises(ValueError, match="1 .. 8 nodes"):
        tern.Store(client, [])
    with pytest.raises(ValueError, match="length >= 4096"):
        tern.Store(client, ("sx", 0, 100))
    with pytest.raises(ValueError, match="must lie in segment"):
        tern.Store(client, ("sx", 16 * MiB - 4096, 8192))
    with pytest.raises(TypeError, match="a node is"):
        tern.Store(client, [("sx", 0)])
    with pytest.raises(ValueError, match="replicas must be 1 .. 4"):
        tern.Store(client, "sx", replicas=0)
    with pytest.raises(ValueError, match="refused its configuration"):
        tern.Store(client, "sx", replicas=2)  # one node
    with pytest.raises(ValueError, match="refused its configuration"):
        tern.Store(client, [("sx", 0, 8 * MiB), ("sx", 4 * MiB, 8 * MiB)])  # overlap
    with pytest.raises(ValueError, match="bad store name"):
        tern.Store(client, "sx", name="a-b")
    with pytest.raises(ValueError, match="refused its configuration"):
        tern.Store(client, "sx", metadata="redis://nohost")
    with pytest.raises(tern.Error) as ei:
        tern.Store(client, "sx", metadata="zk://127.0.0.1:1/x")
    assert ei.value.errno == errno.ENOTSUP
    with pytest.raises(ValueError, match="must be >= 0 seconds"):
        tern.Store(client, "sx", deadline=-1)
    s = tern.Store(client, "sx")
    with pytest.raises(ValueError, match="replicas must be 1 .. 4"):
        s.put("k", np.zeros(0, np.uint8), replicas=5)
    with pytest.raises(ValueError, match="refused by the store"):
        s.put("k", np.zeros(0, np.uint8), replicas=2)
    with pytest.raises(TypeError, match="replicas must be an int"):
        s.put("k", np.zeros(0, np.uint8), replicas=True)
    s.close()
    s.close()  # twice is fine
    assert s.closed
    for call in (lambda: s.put("k", np.zeros(0, np.uint8)), lambda: s.exists("k"),
                 lambda: s.list(), s.stats):
        with pytest.raises(ValueError, match="closed"):
            call()


def test_store_allocating_itself_two_nodes_two_replicas(client, bufs):
    # Two ranges of sx as two nodes: replicas land on both.
    src, dst = bufs
    s = tern.Store(client, [("sx", 0, 8 * MiB), ("sx", 8 * MiB, 8 * MiB)], replicas=2,
                   name="py_two_nodes")
    try:
        assert s.name == "py_two_nodes" and s.metadata == "embedded"
        src[:4 * MiB] = pattern(11, 4 * MiB)
        s.batch_put_from(["t/%d" % i for i in range(4)],
                         [src[i * MiB:(i + 1) * MiB] for i in range(4)])
        assert s.list("t/") == [("t/%d" % i, MiB, 2) for i in range(4)]
        assert s.stats()["used"] >= 8 * MiB
        dst[:] = 0
        assert s.batch_get_into(["t/%d" % i for i in range(4)],
                                [dst[i * MiB:(i + 1) * MiB] for i in range(4)]) == [MiB] * 4
        assert np.array_equal(dst[:4 * MiB], src[:4 * MiB])
    finally:
        s.close()


def test_eviction_keeps_puts_succeeding(client, bufs):
    # 48 MiB of puts into an 8 MiB range: the oldest are evicted.
    src, dst = bufs
    s = tern.Store(client, ("sx", 0, 8 * MiB))
    try:
        src[:MiB] = pattern(12, MiB)
        for i in range(48):
            src[0] = i
            s.put("e/%02d" % i, src[:MiB])
        st = s.stats()
        assert st["evictions"] >= 40 and st["put_errors"] == 0 and st["puts"] == 48
        assert st["objects"] + st["evictions"] == 48
        assert s.exists("e/47") and not s.exists("e/00")
        assert s.get_into("e/47", dst) == MiB and dst[0] == 47
        assert np.array_equal(dst[1:MiB], src[1:MiB])
    finally:
        s.close()


def test_two_stores_share_the_owned_capacity(client, bufs):
    src, dst = bufs
    a = tern.Store(client, "st", owned=True, name="py_a")
    b = tern.Store(client, "st", owned=True, name="py_b")
    try:
        src[:2 * MiB] = pattern(14, 2 * MiB)
        a.put("same", src[:MiB])
        b.put("same", src[MiB:2 * MiB])  # embedded metadata: one per store
        assert a.get_into("same", dst) == MiB and np.array_equal(dst[:MiB], src[:MiB])
        assert b.get_into("same", dst) == MiB and np.array_equal(dst[:MiB], src[MiB:2 * MiB])
    finally:
        a.close()
        b.close()


# ---- etcd and Redis metadata: a real server started here, stopped in teardown ----

def _wait(cond, what, proc, log, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if cond():
                return
        except OSError:
            pass
        time.sleep(0.2)
    with open(log) as f:
        raise RuntimeError("%s did not become ready:\n%s" % (what, f.read()[-2000:]))


def _redis_ping(port):
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")


@pytest.fixture(params=["redis", "etcd"])
def metadata(request):
    kind = request.param
    binary = shutil.which("redis-server" if kind == "redis" else "etcd")
    if binary is None:
        pytest.fail("%s is not installed (usertools/tern-quickstart.sh deps)" % kind)
    tmp = tempfile.mkdtemp(prefix="tern_py_%s_" % kind)
    log = os.path.join(tmp, "server.log")
    port = free_port()
    if kind == "redis":
        cmd = [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", tmp, "--save", "",
               "--appendonly", "no", "--daemonize", "no"]
    else:
        peer = free_port()
        cmd = [binary, "--name", "tern-py", "--data-dir", os.path.join(tmp, "data"),
               "--listen-client-urls", "http://127.0.0.1:%d" % port,
               "--advertise-client-urls", "http://127.0.0.1:%d" % port,
               "--listen-peer-urls", "http://127.0.0.1:%d" % peer,
               "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer,
               "--initial-cluster", "tern-py=http://127.0.0.1:%d" % peer,
               "--logger", "zap", "--log-outputs", "stderr", "--log-level", "warn"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        if kind == "redis":
            _wait(lambda: _redis_ping(port), kind, proc, log)
        else:
            import urllib.request
            _wait(lambda: b"true" in urllib.request.urlopen(
                "http://127.0.0.1:%d/health" % port, timeout=1).read(), kind, proc, log)
        yield "%s://127.0.0.1:%d/tern_py%d" % (kind, port, os.getpid()), proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        shutil.rmtree(tmp, ignore_errors=True)


def test_external_metadata(client, bufs, metadata):
    metadata, _ = metadata
    src, dst = bufs
    a = tern.Store(client, "st", metadata, owned=True, name="py_ext_a", metadata_timeout=2)
    b = tern.Store(client, ("sx", 0, 8 * MiB), metadata, name="py_ext_b", metadata_timeout=2)
    try:
        assert a.metadata == metadata
        src[:3 * MiB] = pattern(15, 3 * MiB)
        a.batch_put_from(["m/%d" % i for i in range(3)],
                         [src[i * MiB:(i + 1) * MiB] for i in range(3)])
        dst[:] = 0
        assert a.batch_get_into(["m/%d" % i for i in range(3)],
                                [dst[i * MiB:(i + 1) * MiB] for i in range(3)]) == [MiB] * 3
        assert np.array_equal(dst[:3 * MiB], src[:3 * MiB])
        # The other store sees the records (the metadata is shared): the key
        # exists for it, its put of it fails, its get says whose it is.
        assert b.exists("m/0") and b.batch_exists(["m/1", "m/9"]) == [True, False]
        with pytest.raises(tern.KeyExistsError):
            b.put("m/0", src[:10])
        with pytest.raises(tern.Error) as ei:
            b.get_into("m/0", dst)
        assert ei.value.errno == errno.EREMOTE
        assert [k for k, _, _ in b.list("m/")] == ["m/0", "m/1", "m/2"]
        a.remove("m/1")
        assert not b.exists("m/1")
        with pytest.raises(tern.KeyNotFoundError):
            a.get_into("m/1", dst)
    finally:
        a.close()
        b.close()


def test_metadata_down_waits_without_the_gil_and_holds_the_buffer(client, metadata):
    # The metadata server is stopped (SIGSTOP): a put's commit waits for its
    # metadata_timeout (1 s) in another thread. Meanwhile this thread runs
    # (the wait let the GIL go) and cannot close the buffer the put uses
    # (the call holds it). The put then fails with a clear error, in time.
    metadata, server = metadata
    s = tern.Store(client, "st", metadata, owned=True, name="py_down", metadata_timeout=1)
    src = client.alloc(MiB)
    box = {}

    def put():
        t0 = time.monotonic()
        try:
            s.put("stall", src)
        except tern.Error as e:
            box["err"] = e
        box["secs"] = time.monotonic() - t0

    try:
        os.kill(server.pid, signal.SIGSTOP)
        t = threading.Thread(target=put)
        t.start()
        time.sleep(0.3)
        assert t.is_alive()
        with pytest.raises(BufferError):
            src.close()
        t.join(30)
        assert not t.is_alive()
    finally:
        os.kill(server.pid, signal.SIGCONT)
    assert box["err"].errno in (errno.ETIMEDOUT, errno.ECONNRESET, errno.EIO), box["err"]
    assert box["secs"] < 5, box
    assert s.stats()["put_errors"] == 1
    src.close()
    # The server is back: the same store works again.
    b = client.alloc(4096)
    np.frombuffer(b, dtype=np.uint8)[:] = 7
    for _ in range(50):
        try:
            s.put("after", b)
            break
        except tern.Error:
            time.sleep(0.1)
    assert s.exists("after")
    s.close()
    b.close()


def test_bench_store_runs_and_verifies(dataplanes):
    # python3 -m tern.bench_store in its own process (attached to a): every
    # size verified, rates positive, next to the raw baseline of the same run.
    import json
    import sys
    p = subprocess.run([sys.executable, "-m", "tern.bench_store", "--file-prefix",
                        dataplanes["a"].prefix, "--capacity", "st", "--owned", "--segment", "kv",
                        "--size", "4K,64K", "--keys", "8", "--batch", "4", "--duration", "0.2",
                        "--cpu", "-1", "--json"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    out = json.loads(p.stdout)
    assert [r["size"] for r in out["results"]] == [4096, 65536]
    for r in out["results"]:
        assert r["verified"] is True
        assert r["put_per_s"] > 0 and r["get_per_s"] > 0 and r["write_per_s"] > 0
        assert r["put_x_raw"] == pytest.approx(r["put_per_s"] / r["write_per_s"])
