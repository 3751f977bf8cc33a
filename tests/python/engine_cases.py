# SPDX-License-Identifier: BSD-3-Clause
"""The in-process engine, one case per process (test_engine.py runs each
with pytest in a new process: DPDK's EAL starts once per process, and an
attached process cannot also be a primary)."""
import asyncio
import errno
import mmap
import threading

import numpy as np
import pytest

import tern
from conftest import pattern

MiB = 1 << 20


@pytest.fixture
def engine():
    # The main lcore is this thread's; lcore 1 runs the engine; idle lcores
    # yield (the test machine has few CPUs).
    e = tern.Engine(lcores="0-1", segments={"kv": "16M", "cache": 4 * MiB}, idle_yield=True)
    yield e
    e.close()


def test_register_numpy_bytearray_and_mmap(engine):
    c = engine.client()
    a = np.frombuffer(pattern(1, 3 * MiB), dtype=np.uint32).copy()
    ba = bytearray(MiB)
    mm = mmap.mmap(-1, MiB)
    for obj in (a, ba, mm):
        engine.register(obj)
    assert c.write("kv", 0, a).result(timeout=10) == a.nbytes
    assert c.read("kv", 0, ba).result(timeout=10) == MiB
    assert bytes(ba) == a.view(np.uint8)[:MiB].tobytes()
    assert c.read("kv", MiB, mm).result(timeout=10) == MiB
    assert mm[:] == a.view(np.uint8)[MiB:2 * MiB].tobytes()
    # A registered buffer is a target too, by the name register() returned.
    name = engine.register(np.zeros(MiB, dtype=np.uint8), name="dst")
    assert name == "dst"
    assert c.write("dst", 0, ba).result(timeout=10) == MiB
    # Registered objects stay pinned: a bytearray cannot be resized.
    with pytest.raises(BufferError):
        ba.extend(b"x")
    c.close()


def test_segment_buffer_is_zero_copy(engine):
    c = engine.client()
    kv = engine.buffer("kv")
    v = np.frombuffer(kv, dtype=np.uint8)
    assert v.size == 16 * MiB and v.ctypes.data == kv.address
    v[:MiB] = pattern(2, MiB)
    cache = np.frombuffer(engine.buffer("cache"), dtype=np.uint8)
    # Segment to segment: the cache's memory is the local side.
    assert c.read("kv", 0, cache[:MiB]).result(timeout=10) == MiB
    assert np.array_equal(cache[:MiB], v[:MiB])
    with pytest.raises(BufferError, match="views"):
        engine.close()
    del v, cache
    c.close()


def test_100_futures_with_asyncio_gather(engine):
    c = engine.client()
    src = np.frombuffer(pattern(3, 100 * 4096), dtype=np.uint8).copy()
    dst = np.zeros_like(src)
    engine.register(src)
    engine.register(dst)

    async def main():
        await asyncio.gather(*[c.write("kv", i * 4096, src[i * 4096:(i + 1) * 4096])
                               for i in range(100)])
        return await asyncio.gather(*[c.read("kv", i * 4096, dst[i * 4096:(i + 1) * 4096])
                                      for i in range(100)])

    assert asyncio.run(main()) == [4096] * 100
    assert np.array_equal(src, dst)
    c.close()


def test_one_client_per_thread(engine):
    src = np.frombuffer(pattern(4, 4 * MiB), dtype=np.uint8).copy()
    engine.register(src)
    errors = []

    def worker(i):
        try:
            c = engine.client()
            out = np.zeros(MiB, dtype=np.uint8)
            engine.register(out)
            for _ in range(50):
                c.write("kv", i * MiB, src[i * MiB:(i + 1) * MiB]).result(timeout=10)
                c.read("kv", i * MiB, out).result(timeout=10)
                assert np.array_equal(out, src[i * MiB:(i + 1) * MiB])
            c.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def test_bad_input(engine):
    c = engine.client()
    a = np.zeros(4096, dtype=np.uint8)
    with pytest.raises(ValueError, match="register it first"):
        c.write("kv", 0, a)
    with pytest.raises(ValueError, match="read-only"):
        engine.register(b"immutable bytes")
    with pytest.raises(ValueError, match="not contiguous"):
        engine.register(np.zeros((64, 64))[:, 1])
    with pytest.raises(TypeError, match="buffer-protocol"):
        engine.register(42)
    engine.register(a, name="a")
    with pytest.raises(tern.Error) as e:
        engine.register(a, name="again")
    assert e.value.errno == errno.EEXIST and "overlaps" in str(e.value)
    with pytest.raises(ValueError, match="in-process engine has no peers"):
        c.write("b/kv", 0, a)
    with pytest.raises(ValueError, match="Engine.register"):
        c.alloc(4096)
    with pytest.raises(tern.Error, match="no segment nosuch"):
        engine.buffer("nosuch")
    with pytest.raises(KeyError):
        engine.unregister("nosuch")
    with pytest.raises(RuntimeError, match="one EAL per process"):
        tern.attach("some_prefix")
    with pytest.raises(ValueError, match="past the end of segment kv"):
        try:
            c.write("kv", 16 * MiB - 100, a)
        except tern.Error as err:
            raise ValueError(str(err))
    engine.unregister("a")
    with pytest.raises(ValueError, match="register it first"):
        c.write("kv", 0, a)


def test_bad_engine_arguments():
    with pytest.raises(TypeError, match="segments must be a dict"):
        tern.Engine("0-1", ["kv"])
    # EAL starts with the first Engine: these fail in the engine itself.
    e = tern.Engine("0-1", {"kv": "1M"}, idle_yield=True)
    e.close()
    for segs, exc, words in [({"kv": "lots"}, ValueError, "bad size"),
                             ({"kv": 0}, ValueError, "size 0"),
                             ({"kv": 1.5}, TypeError, "size must be"),
                             ({"bad name": "1M"}, ValueError, "bad segment name")]:
        with pytest.raises(exc, match=words):
            tern.Engine("0-1", segs)
    with pytest.raises(ValueError, match="bad engine name"):
        tern.Engine("0-1", {}, name="no-dash")
    with pytest.raises(RuntimeError, match="one EAL per process"):
        tern.Engine("0-1", {}, file_prefix="other")


def test_calls_after_close(engine):
    c = engine.client()
    a = np.zeros(4096, dtype=np.uint8)
    engine.register(a)
    f = c.write("kv", 0, a)
    engine.close()
    assert f.done()
    assert c.closed
    with pytest.raises(ValueError, match="closed"):
        c.write("kv", 0, a)
    with pytest.raises(ValueError, match="closed"):
        engine.client()
    with pytest.raises(ValueError, match="closed"):
        engine.register(np.zeros(16, dtype=np.uint8))
    # A second engine in the same process, after the first.
    e2 = tern.Engine("0-1", {"kv": "1M"}, idle_yield=True)
    c2 = e2.client()
    engine_b = e2.buffer("kv")
    assert c2.read("kv", 0, memoryview(engine_b)[:4096]).result(timeout=10) == 4096
    c2.close()
    del engine_b
    e2.close()


def test_close_while_other_threads_use_the_engine(engine):
    """Engine.close() drops the GIL; threads submitting, waiting and asking
    for new clients meanwhile get ValueError (closed), never a crash."""
    import time
    c = engine.client()
    a = np.zeros(64 * 1024, dtype=np.uint8)
    engine.register(a)
    seen = []

    def submitter():
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                c.write("kv", 0, a).wait(timeout=5)
            except (ValueError, tern.Error) as e:
                seen.append(e)
                if "closed" in str(e):
                    return

    def client_maker():
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                engine.client().close()
            except (ValueError, tern.Error) as e:
                seen.append(e)
                if "closed" in str(e):
                    return

    threads = [threading.Thread(target=submitter), threading.Thread(target=client_maker)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    engine.close()
    assert time.monotonic() - t0 < 5
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive()
    assert c.closed
    assert sum("closed" in str(e) for e in seen) == 2


def test_store_in_process(engine):
    """tern.Store over the engine's own segment: numpy arrays registered with
    the engine, every byte compared, Engine.close() closes the store too."""
    s = tern.Store(engine, ("kv", 0, 8 * MiB), replicas=1)
    src = np.frombuffer(pattern(21, 4 * MiB), dtype=np.uint8).copy()
    dst = np.zeros_like(src)
    engine.register(src)
    engine.register(dst)
    with pytest.raises(ValueError, match="engine can reach"):
        s.put("k", np.ones(16, dtype=np.uint8))
    keys = ["e/%d" % i for i in range(64)]
    chunk = src.size // 64
    s.batch_put_from(keys, [src[i * chunk:(i + 1) * chunk] for i in range(64)])
    assert s.batch_get_into(keys, [dst[i * chunk:(i + 1) * chunk] for i in range(64)]) == \
        [chunk] * 64
    assert np.array_equal(src, dst)
    # A float32 array and a uint8 view of it: the bytes are what matter.
    f = np.arange(1024, dtype=np.float32)
    engine.register(f)
    s.put("f32", f)
    assert s.get_into("f32", dst[:4096]) == 4096
    assert np.array_equal(dst[:4096].view(np.float32), f)
    s.put("k", src[:100])
    with pytest.raises(tern.KeyExistsError):
        s.put("k", src[:100])
    with pytest.raises(tern.BufferTooSmallError) as ei:
        s.get_into("k", dst[:99])
    assert ei.value.size == 100
    # 12 MiB more into the 8 MiB range: the oldest are evicted, no put fails.
    for i in range(12):
        s.put("big/%d" % i, src[:MiB])
    st = s.stats()
    assert st["evictions"] > 0 and st["put_errors"] == 1  # the EEXIST above
    assert s.get_into("big/11", dst[:MiB]) == MiB and np.array_equal(dst[:MiB], src[:MiB])
    engine.close()
    assert s.closed
    with pytest.raises(ValueError, match="closed"):
        s.exists("k")


def test_store_keys_telemetry_and_tern_top():
    """/tern/store_keys on this process's telemetry socket: pages by cursor,
    a prefix, malformed parameters refused; tern-top --store lists the keys."""
    import os
    import shutil
    import subprocess
    import sys
    prefix = "tern_py_keys_%d" % os.getpid()
    e = tern.Engine(lcores="0-1", segments={"kv": "8M"}, idle_yield=True, file_prefix=prefix,
                    telemetry=True)
    try:
        s = tern.Store(e, "kv", name="keys_test")
        src = np.frombuffer(pattern(22, 1 << 16), dtype=np.uint8).copy()
        e.register(src)
        keys = ["k/%03d" % i for i in range(70)] + ["other", "k,comma/1", "L" * 200]
        s.batch_put_from(keys, [src[:100 + i] for i in range(len(keys))])
        with pytest.raises(tern.Error, match="unknown command"):
            tern.telemetry(prefix, "/tern/store_keys")  # not registered yet
        s.serve_telemetry()
        assert tern.telemetry(prefix, "/tern/store")["objects"] == len(keys)
        seen, cursor, pages = {}, 0, 0
        while True:
            page = tern.telemetry(prefix, "/tern/store_keys,%d,16,k/" % cursor)
            assert page["name"] == "keys_test" and page["nodes"] == ["kv"]
            assert page["count"] == len(page["key"]) <= 16
            for k, n, v, r in zip(page["key"], page["size"], page["version"],
                                  page["replicas"]):
                assert k not in seen and v >= 1
                seen[k] = n
                assert r.startswith("0:") and len(r.split()) == 1
            pages += 1
            if page["next"] == -1:
                break
            cursor = page["next"]
        assert pages == 5
        assert seen == {k: 100 + i for i, k in enumerate(keys) if k.startswith("k/")}
        page = tern.telemetry(prefix, "/tern/store_keys,0,64,k,")
        assert page["key"] == ["k,comma/1"]
        page = tern.telemetry(prefix, "/tern/store_keys,0,64,L")
        assert page["truncated"] == 1 and page["key"][0].endswith("...")
        assert len(page["key"][0]) == 127
        for bad, why in (("x", "bad cursor"), ("0,0", "bad count"), ("0,65", "bad count"),
                         ("-1", "bad cursor"), ("1,2,", "bad prefix"),
                         ("999999", "past this store's end")):
            with pytest.raises(tern.Error, match=why):
                tern.telemetry(prefix, "/tern/store_keys," + bad)
        # Bytes tern.telemetry() refuses to send, straight on the socket.
        import json
        import socket
        for raw in (b"/tern/store_keys,0,5,a b", b"/tern/store_keys,0,5,\x01",
                    b"/tern/store_keys,0,5,\xc3\xa9"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as sock:
                sock.settimeout(5)
                sock.connect("/var/run/dpdk/%s/dpdk_telemetry.v2" % prefix)
                sock.recv(1024)
                sock.send(raw)
                reply = sock.recv(16384)
            assert "bad prefix" in json.loads(reply)["/tern/store_keys"]["error"], reply
        top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "usertools",
                           "tern-top")
        p = subprocess.run([sys.executable, top, "-f", prefix, "--store", "--prefix", "k/",
                            "--keys", "5", "--once", "-i", "0.1"], capture_output=True,
                           text=True, timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "store keys_test" in p.stdout and "k/000" in p.stdout, p.stdout
        assert "other" not in p.stdout and "5 keys shown" in p.stdout, p.stdout
        assert "73 objects" in p.stdout, p.stdout
        s.close()
        with pytest.raises(tern.Error, match="no store serves"):
            tern.telemetry(prefix, "/tern/store_keys")
    finally:
        e.close()
        shutil.rmtree("/var/run/dpdk/" + prefix, ignore_errors=True)
