# SPDX-License-Identifier: BSD-3-Clause
"""Real tern-dataplanes for the Python tests: a, b and c on this host, peered
through p2p directories (a knows b and c), each with a 64 MiB segment "kv",
shm and tcp usable; a also has "st" (32 MiB, store capacity it owns:
--store-capacity) and "sx" (16 MiB, for a store that allocates itself). The
pytest process attaches to a. $TERN_DATAPLANE names the binary
(tests/python/run_pytest.py sets it)."""
import gc
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = "tern_py_%d_" % os.getpid()
BASE = {"a": "0x200000000000", "b": "0x280000000000", "c": "0x300000000000"}
SEGMENT_BYTES = 64 << 20


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pattern(seed, nbytes):
    """Deterministic bytes, different for every seed and offset."""
    import numpy as np
    i = np.arange(nbytes // 8 + 1, dtype=np.uint64)
    x = (i + np.uint64(seed)) * np.uint64(0x9E3779B97F4A7C15)
    x ^= x >> np.uint64(29)
    return x.view(np.uint8)[:nbytes].copy()


def sha(data):
    return hashlib.sha256(memoryview(data).cast("B")).hexdigest()


class Dataplane:
    def __init__(self, node, work):
        self.node = node
        self.prefix = PREFIX + node
        self.log_path = os.path.join(work, "dp%s.log" % node)
        self.proc = None

    def start(self, *args):
        binary = os.environ["TERN_DATAPLANE"]
        eal = ["-l", "0-1", "--no-pci", "--base-virtaddr", BASE[self.node], "--file-prefix",
               self.prefix, "--log-level", "lib.eal:warning"]
        if self.node == "b":
            eal += ["--main-lcore", "1"]
        cmd = [binary] + eal + ["--", "--node", self.node, "--segment", "kv:64M", "--idle",
                                "yield", "--listen", "127.0.0.1:0"] + list(args)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            if "ready:" in self.text():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("dataplane %s did not start:\n%s" % (self.node, self.text()))

    def text(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        os.kill(self.proc.pid, signal.SIGCONT)
        self.proc.terminate()
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            return None

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        shutil.rmtree("/var/run/dpdk/" + self.prefix, ignore_errors=True)
        for f in os.listdir("/dev/hugepages") if os.path.isdir("/dev/hugepages") else []:
            if f.startswith(self.prefix):
                try:
                    os.unlink(os.path.join("/dev/hugepages", f))
                except OSError:
                    pass


def free_hugepages():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("HugePages_Free:"):
                return int(line.split()[1])
    return 0


@pytest.fixture(scope="session")
def dataplanes():
    # Three 64 MiB segments, a's store segments (48 MiB), the dataplanes'
    # pools, the clients' buffers.
    if free_hugepages() < 408:
        pytest.fail("needs at least 816 MiB of free 2M hugepages (usertools/tern-quickstart.sh "
                    "hugepages); %d free" % free_hugepages())
    # run_pytest.py names a directory it keeps until it has reported (the
    # dataplanes' logs are part of a failure's report).
    keep = os.environ.get("TERN_PY_WORK")
    work = tempfile.mkdtemp(prefix="tern_py_", dir=keep)
    dps = {n: Dataplane(n, work) for n in "abc"}
    port = {n: free_port() for n in "abc"}
    try:
        dps["b"].start("--directory", "p2p://127.0.0.1:%d" % port["b"])
        dps["c"].start("--directory", "p2p://127.0.0.1:%d" % port["c"])
        dps["a"].start("--directory", "p2p://127.0.0.1:%d" % port["a"],
                       "--peer", "b=p2p://127.0.0.1:%d" % port["b"],
                       "--peer", "c=p2p://127.0.0.1:%d" % port["c"],
                       "--segment", "st:32M", "--store-capacity", "st", "--segment", "sx:16M")
        yield dps
        # Every dataplane outlived what the tests did to it and exits cleanly.
        for n in "abc":
            rc = dps[n].stop()
            assert rc == 0, "dataplane %s exit status %s:\n%s" % (n, rc, dps[n].text()[-3000:])
    finally:
        for d in dps.values():
            d.cleanup()
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def client(dataplanes):
    """The pytest process, attached to dataplane a."""
    import tern
    c = tern.attach(file_prefix=dataplanes["a"].prefix)
    yield c
    gc.collect()
    try:
        c.close()
    except BufferError:
        pass  # a failed test's traceback still holds a view; the process exit detaches


def run_tool(prefix, *args, timeout=60, check=True):
    """tests/python/tool.py in a new process attached to a dataplane."""
    p = subprocess.run([sys.executable, os.path.join(HERE, "tool.py"), prefix] +
                       [str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("tool.py %s failed (%d):\n%s\n%s" % (args, p.returncode, p.stdout,
                                                                 p.stderr))
    return p
