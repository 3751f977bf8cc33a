# SPDX-License-Identifier: BSD-3-Clause
"""python3 -m tern.bench: tern-perf's measurement from a Python client.

    python3 -m tern.bench --file-prefix dp [--engine tern] [--segment kv] [--op write]
        [--block-size 4K,1M] [--batch 8] [--inflight 4] [--duration 2] [--warmup 0.2]
        [--cpu 0] [--verify] [--json]

The client attaches to a running tern-dataplane (like tern-perf --target
dataplane --completion wait) and keeps --inflight batches of --batch
requests in flight: it waits for the oldest (Future.wait, the GIL released),
resubmits it (a Batch prepared once per slot, as tern-perf fills its request
arrays once), and records submit -> completion latency per batch. The
columns are tern-perf's; its memcpy and streaming baselines belong to
tern-perf (they are "-" here), "busy" is the dataplane's worker loops'
share of busy polls (from its telemetry), "cpu" this process's CPU time
over wall time.
"""
import argparse
import json
import os
import resource
import sys
import time

import tern

PCT = (50.0, 90.0, 99.0, 99.9)
PCT_KEY = ("p50", "p90", "p99", "p99_9")
UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(s):
    t = s.strip().upper().rstrip("B") or "0"
    unit = UNITS.get(t[-1], None)
    num = t[:-1] if unit else t
    if not num.isdigit() or int(num) == 0:
        raise argparse.ArgumentTypeError("bad size %r (e.g. 4096, 4K, 1M)" % s)
    return int(num) * (unit or 1)


def size_str(v):
    for suffix, unit in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if v >= unit and v % unit == 0:
            return "%d%s" % (v // unit, suffix)
    return str(v)


def percentile(sorted_ns, p):
    if not sorted_ns:
        return 0.0
    k = min(len(sorted_ns) - 1, max(0, int(round(p / 100.0 * len(sorted_ns) + 0.5)) - 1))
    return float(sorted_ns[k])


def busy_polls(prefix):
    try:
        s = tern.telemetry(prefix, "/tern/stats")
        return s["busy_polls"], s["idle_polls"]
    except (tern.Error, KeyError):
        return None


def measure(c, args, block, local, region):
    """One block size: warm-up, then --duration seconds measured."""
    nblocks = max(1, region // block)
    op = tern.READ if args.op == "read" else tern.WRITE
    mv = memoryview(local)
    batches, cursor = [], 0
    for _ in range(args.inflight):
        reqs = []
        for _ in range(args.batch):
            off = (cursor % nblocks) * block
            cursor += 1
            reqs.append((op, args.segment, off, mv[off:off + block]))
        batches.append(c.prepare(reqs))
    del reqs
    clock = time.perf_counter_ns
    lat, sub = [], []
    results = {}
    for phase, seconds in (("warmup", args.warmup), ("measure", args.duration)):
        futs = [None] * args.inflight
        t_sub = [0] * args.inflight
        for i in range(args.inflight):
            t_sub[i] = clock()
            futs[i] = batches[i].submit()
        done = errors = 0
        bp0 = busy_polls(args.file_prefix) if phase == "measure" else None
        cpu0 = time.process_time()
        t0 = clock()
        end = t0 + int(seconds * 1e9)
        i = 0
        record = phase == "measure"
        while True:
            f = futs[i]
            f.wait()
            now = clock()
            if f.errno:
                errors += 1
            if record:
                lat.append(now - t_sub[i])
            done += 1
            if now >= end:
                break
            t_sub[i] = clock()
            futs[i] = batches[i].submit()
            if record:
                sub.append(clock() - t_sub[i])
            i = (i + 1) % args.inflight
        t1 = clock()
        cpu1 = time.process_time()
        for f in futs:
            f.wait()
        if record:
            bp1 = busy_polls(args.file_prefix)
            secs = (t1 - t0) / 1e9
            requests = done * args.batch
            busy = None
            if bp0 and bp1 and (bp1[0] - bp0[0]) + (bp1[1] - bp0[1]) > 0:
                busy = (bp1[0] - bp0[0]) / ((bp1[0] - bp0[0]) + (bp1[1] - bp0[1]))
            results = {
                "block_size": block, "blocks_per_client": nblocks, "seconds": round(secs, 6),
                "requests": requests, "batches": done, "bytes": requests * block,
                "errors": errors, "gbps": requests * block / secs / 1e9,
                "requests_per_s": requests / secs, "batches_per_s": done / secs,
                "cpu": {"process_cpu_s": cpu1 - cpu0, "process_cores": (cpu1 - cpu0) / secs,
                        "worker_busy": busy},
            }
    lat.sort()
    results["latency_ns"] = {k: percentile(lat, p) for k, p in zip(PCT_KEY, PCT)}
    results["latency_ns"].update({"min": float(lat[0]) if lat else 0.0,
                                  "max": float(lat[-1]) if lat else 0.0,
                                  "mean": sum(lat) / len(lat) if lat else 0.0,
                                  "count": len(lat)})
    sub.sort()
    results["submit_call_ns"] = {"p50": percentile(sub, 50.0), "p99": percentile(sub, 99.0),
                                 "mean": sum(sub) / len(sub) if sub else 0.0}
    del mv
    return results


def verify(c, args, local, region):
    """Untimed: a pattern through the dataplane and back, every byte compared."""
    import numpy as np
    n = min(region, 64 << 20)
    a = np.frombuffer(local, dtype=np.uint8, count=n)
    a[:] = (np.arange(n, dtype=np.uint64) * 131 + os.getpid()).astype(np.uint8)
    want = a.copy()
    c.write(args.segment, 0, local, n).result(timeout=30)
    a[:] = 0
    c.read(args.segment, 0, local, n).result(timeout=30)
    ok = bool(np.array_equal(a, want))
    del a
    return ok


def main(argv=None):
    p = argparse.ArgumentParser(prog="python3 -m tern.bench",
                                description="tern-perf's columns, measured from Python")
    p.add_argument("--file-prefix", required=True, help="the dataplane's --file-prefix")
    p.add_argument("--engine", default="tern")
    p.add_argument("--segment", default="kv", help="its segment, or NODE/NAME (a peer's)")
    p.add_argument("--op", choices=("read", "write"), default="write")
    p.add_argument("--block-size", default="4K,64K,1M",
                   type=lambda s: [parse_size(x) for x in s.split(",")])
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--inflight", type=int, default=4)
    p.add_argument("--duration", type=float, default=2.0)
    p.add_argument("--warmup", type=float, default=0.2)
    p.add_argument("--cpu", type=int, default=0, help="pin this process to this CPU (-1: no)")
    p.add_argument("--lcore", type=int, default=0, help="EAL main lcore id of this process")
    p.add_argument("--verify", action="store_true")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if not 1 <= args.batch <= tern.BATCH_MAX or not 1 <= args.inflight <= 1024:
        p.error("--batch 1..%d, --inflight 1..1024" % tern.BATCH_MAX)
    if not args.duration > 0 or args.warmup < 0:
        p.error("--duration > 0, --warmup >= 0")
    c = tern.attach(args.file_prefix, args.engine, lcore=args.lcore,
                    max_inflight=max(args.inflight, 1), eal_args=["--log-level=lib.*:error"])
    if args.cpu >= 0:
        os.sched_setaffinity(0, {args.cpu})
    region = max(args.block_size)
    region = (region + 4095) // 4096 * 4096
    if c.segment_length(args.segment) < region:
        sys.exit("tern.bench: segment %s is smaller than the largest block" % args.segment)
    local = c.alloc(region)
    memoryview(local)[:] = b"\x11" * region
    rows = []
    for block in args.block_size:
        if not args.json and sys.stderr.isatty():
            print("tern.bench: %s %s x %d ..." % (args.op, size_str(block), args.batch),
                  file=sys.stderr, end="\r", flush=True)
        r = measure(c, args, block, local, region)
        r["verified"] = verify(c, args, local, region) if args.verify else None
        rows.append(r)
    cpus = sorted(os.sched_getaffinity(0))
    if args.json:
        json.dump({"tool": "tern.bench", "python": sys.version.split()[0],
                   "config": {"op": args.op, "batch": args.batch, "inflight": args.inflight,
                              "clients": 1, "duration_s": args.duration,
                              "warmup_s": args.warmup, "target": "dataplane",
                              "segment": args.segment, "completion": "wait",
                              "verify": args.verify},
                   "cores": {"main_lcore": args.lcore, "client_cpus": cpus},
                   "latency_unit": "ns",
                   "latency_of": "submit to completion seen by the client, per batch",
                   "results": rows}, sys.stdout, indent=1)
        print()
    else:
        if sys.stderr.isatty():
            print(" " * 60, file=sys.stderr, end="\r")
        print("tern.bench (Python %s): %s, batch %d, inflight %d, 1 client thread, target "
              "dataplane (%s, segment %s), completion wait"
              % (sys.version.split()[0], args.op, args.batch, args.inflight, args.engine,
                 args.segment))
        print("cores: client on cpu %s; the dataplane's worker lcores: see its /tern/info"
              % ",".join(map(str, cpus)))
        print("latency: submit -> completion seen by the client, per batch, microseconds")
        print("baselines: tern-perf's (not measured here)\n")
        print("%6s %8s %9s %9s %8s %8s %8s %8s %8s | %8s %6s | %8s %6s | %5s %5s %s"
              % ("block", "GB/s", "Mreq/s", "Mslice/s", "p50", "p90", "p99", "p99.9", "max",
                 "memcpy", "x", "stream", "x", "cpu", "busy", "clients@cpu"))
        for r in rows:
            lat = r["latency_ns"]
            busy = r["cpu"]["worker_busy"]
            print("%6s %8.2f %9.3f %9s %8.2f %8.2f %8.2f %8.2f %8.2f | %8s %6s | %8s %6s | "
                  "%5.2f %4s %s%s"
                  % (size_str(r["block_size"]), r["gbps"], r["requests_per_s"] / 1e6, "-",
                     lat["p50"] / 1e3, lat["p90"] / 1e3, lat["p99"] / 1e3, lat["p99_9"] / 1e3,
                     lat["max"] / 1e3, "-", "-", "-", "-", r["cpu"]["process_cores"],
                     "-" if busy is None else "%.0f%%" % (100 * busy),
                     ",".join(map(str, cpus)),
                     "" if r["verified"] is None else
                     "  verified" if r["verified"] else "  VERIFY FAILED"))
        print("\ncpu = process CPU time / wall time; busy = share of the dataplane's worker "
              "loop iterations that found work")
    del local
    c.close()
    return 0 if all(r["verified"] is not False and r["errors"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
