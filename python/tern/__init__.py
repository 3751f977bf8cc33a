# SPDX-License-Identifier: BSD-3-Clause
"""tern for Python: move bytes between registered memory through a tern engine.

    c = tern.attach(file_prefix="dp")        # a client of a running tern-dataplane
    buf = c.alloc(1 << 20)                   # memory the dataplane reaches
    a = numpy.frombuffer(buf, dtype=numpy.uint8)
    c.write("kv", 0, buf).result()           # or "node/kv": a peer's segment
    await c.read("kv", 0, buf)               # inside asyncio

Or an engine in this process: ``e = tern.Engine(lcores="0-1", segments={"kv": "64M"})``,
``e.register(array)``, ``c = e.client()``. Objects by key: ``s = tern.Store(c, "kv")``,
``s.put("k", buf)``, ``s.get_into("k", buf)``. See doc/python.md.
"""
import atexit
import weakref

from . import _tern
from ._tern import BATCH_MAX, READ, WRITE, Batch, Buffer, Client, Error, Future
from ._tern import BatchError, BufferTooSmallError, KeyExistsError, KeyNotFoundError
from . import _aio  # noqa: F401  (installs the asyncio hooks)
from .telemetry import telemetry

__all__ = ["attach", "Engine", "Client", "Buffer", "Batch", "Future", "Error", "READ", "WRITE",
           "BATCH_MAX", "telemetry", "eal_args", "Store", "KeyExistsError", "KeyNotFoundError",
           "BufferTooSmallError", "BatchError"]

_EAL_MODES = {0: None, 1: "secondary", 2: "primary", -1: "failed"}
_eal = {"mode": None, "prefix": None}
_live = weakref.WeakSet()


def _check_str(name, value):
    if not isinstance(value, str):
        raise TypeError("%s must be a str, not %s" % (name, type(value).__name__))
    if not value or any(ch.isspace() for ch in value):
        raise ValueError("%s must be a non-empty str without blanks, not %r" % (name, value))


def _eal_init(args, primary, prefix):
    mode = "primary" if primary else "secondary"
    if _tern.eal_mode() == -1:
        raise RuntimeError("DPDK's EAL failed to start earlier in this process and cannot be "
                           "started again: run in a new process")
    if _eal["mode"] is None:
        _tern.eal_init(list(args), primary)
        _eal["mode"], _eal["prefix"] = mode, prefix
        return
    if _eal["mode"] != mode or _eal["prefix"] != prefix:
        raise RuntimeError(
            "this process is already a DPDK %s (file prefix %r): one EAL per process, so it "
            "cannot also be a %s of %r" % (_eal["mode"], _eal["prefix"], mode, prefix))


def eal_args():
    """What the EAL of this process runs as: None, ("secondary", prefix) or ("primary", prefix)."""
    return None if _eal["mode"] is None else (_eal["mode"], _eal["prefix"])


def attach(file_prefix, engine="tern", *, max_inflight=256, lcore=0, eal_args=()):
    """Attach to a running tern-dataplane and return a Client.

    The process becomes a DPDK secondary process of the dataplane started with
    ``--file-prefix file_prefix`` (the first attach starts the EAL; later ones
    reuse it, and must name the same prefix). ``lcore`` is the EAL main lcore
    id of this process (its CPU is not kept pinned: the calling thread gets its
    CPU set back). ``eal_args`` are appended to the EAL arguments.
    """
    _check_str("file_prefix", file_prefix)
    _check_str("engine", engine)
    if not isinstance(max_inflight, int) or isinstance(max_inflight, bool):
        raise TypeError("max_inflight must be an int")
    if not isinstance(lcore, int) or isinstance(lcore, bool) or not 0 <= lcore < 1024:
        raise ValueError("lcore must be an int 0 .. 1023, not %r" % (lcore,))
    if isinstance(eal_args, str):
        raise TypeError("eal_args must be a list of str, not a str")
    args = ["tern-python", "--proc-type=secondary", "--file-prefix=" + file_prefix,
            "-l", str(lcore), "--no-pci", "--no-telemetry", "--log-level=lib.eal:warning"]
    args += [str(a) for a in eal_args]
    _eal_init(args, False, file_prefix)
    c = _tern.attach(engine, max_inflight)
    _live.add(c)
    return c


class Engine(_tern._Engine):
    """An engine in this process: ``Engine(lcores="0-1", segments={"kv": "1G"})``.

    The first lcore of ``lcores`` is the EAL main lcore (this thread's; its CPU
    is not kept pinned), the others run the engine's worker loops. Segments are
    hugepage memory; ``register(obj)`` adds any writable contiguous buffer.
    Clients: ``c = e.client()``, one per thread. ``idle_yield=True`` makes idle
    worker lcores yield their CPU (machines with fewer CPUs than busy threads).
    ``telemetry=True`` (with a ``file_prefix``) opens DPDK's telemetry socket in
    this process (``Store.serve_telemetry()``, tern-top --store).
    """

    def __new__(cls, lcores="0-1", segments=None, *, name="tern", idle_yield=False,
                slice_bytes=0, file_prefix=None, telemetry=False, eal_args=()):
        _check_str("lcores", lcores)
        if segments is None:
            segments = {}
        if not isinstance(segments, dict):
            raise TypeError("segments must be a dict {name: size}, not %s"
                            % type(segments).__name__)
        if isinstance(eal_args, str):
            raise TypeError("eal_args must be a list of str, not a str")
        args = ["tern-python", "-l", lcores, "--no-pci", "--log-level=lib.eal:warning"]
        if not telemetry:
            args.append("--no-telemetry")
        elif file_prefix is None:
            raise ValueError("telemetry=True needs a file_prefix (the socket lives in its "
                             "runtime directory)")
        if file_prefix is None:
            args.append("--in-memory")
        else:
            _check_str("file_prefix", file_prefix)
            args.append("--file-prefix=" + file_prefix)
        args += [str(a) for a in eal_args]
        _eal_init(args, True, file_prefix)
        self = super().__new__(cls, name, segments, bool(idle_yield), int(slice_bytes))
        _live.add(self)
        return self

    def __repr__(self):
        return "<tern.Engine %s%s>" % (self.name, ", closed" if self.closed else "")


class Store(_tern.Store):
    """Objects by key over a client's dataplane or an in-process engine (lib/store).

    ``Store(client_or_engine, nodes, metadata=None, *, name=None, replicas=1,
    owned=False, max_objects=0, max_inflight=16, high_watermark=0, deadline=0,
    lease=0, metadata_timeout=0)``: ``nodes`` are the capacity, segment names
    (``"kv"``, ``"b/kv"``) or ``(segment, offset, length)``; ``owned=True`` when
    the dataplane owns them (``tern-dataplane --store-capacity``). ``metadata``:
    None (embedded), ``"etcd://host:port/prefix"`` or ``"redis://host:port/prefix"``.
    put(), get_into(), batch_put_from(), batch_get_into(), exists(),
    batch_exists(), remove(), batch_remove(), list(), stats(), close().
    Calls wait without the GIL; one call at a time per store. See doc/python.md.
    """

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls, *args, **kwargs)
        _live.add(self)
        return self


@atexit.register
def _close_all():
    # Stores first, then clients (their reaper threads stop), then engines.
    for obj in sorted(list(_live), key=lambda o: 0 if isinstance(o, Store) else
                      2 if isinstance(o, Engine) else 1):
        try:
            obj.close()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
