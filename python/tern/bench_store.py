# SPDX-License-Identifier: BSD-3-Clause
"""python3 -m tern.bench_store: tern.Store put/get from Python, next to raw
WRITE/READ of the same bytes by the same client in the same run.

    python3 -m tern.bench_store --file-prefix dp --capacity st [--owned]
        [--segment kv] [--size 4K,64K,1M] [--keys 64] [--batch 16]
        [--replicas 1] [--duration 1] [--metadata URI] [--json]

For each object size S: rounds of batch_put_from (N keys, batches of B),
batch_get_into of them (every byte of the first round compared), then
batch_remove, for --duration seconds; then the baseline: the same bytes
written and read as tern batches of B requests of S bytes into --segment
(a segment the store does not use), for --duration seconds. Rates are
objects (or requests) per second and GB/s (10^9 bytes); "x raw" is the
store's rate over the baseline's. The put rate includes the removes that
make room for the next round.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

import tern
from .bench import parse_size, size_str


def store_rates(s, keys, views, batch, duration, check):
    """Put, get, remove rounds for duration seconds: (puts/s, gets/s, verified)."""
    t_put = t_get = 0.0
    rounds = 0
    verified = None
    end = time.perf_counter() + duration
    want = [v.copy() for v in views] if check else None
    while time.perf_counter() < end or rounds == 0:
        t0 = time.perf_counter()
        for i in range(0, len(keys), batch):
            s.batch_put_from(keys[i:i + batch], views[i:i + batch])
        t1 = time.perf_counter()
        if check and rounds == 0:
            for v in views:
                v[:] = 0
        for i in range(0, len(keys), batch):
            s.batch_get_into(keys[i:i + batch], views[i:i + batch])
        t2 = time.perf_counter()
        if check and rounds == 0:
            verified = all(np.array_equal(a, b) for a, b in zip(views, want))
        s.batch_remove(keys)
        t3 = time.perf_counter()
        t_put += (t1 - t0) + (t3 - t2)
        t_get += t2 - t1
        rounds += 1
    n = rounds * len(keys)
    return n / t_put, n / t_get, verified


def raw_rates(c, segment, buf, size, nkeys, batch, duration):
    """The same bytes as WRITE and READ batches of the same shape: (writes/s, reads/s)."""
    mv = memoryview(buf)
    rates = []
    for op in (tern.WRITE, tern.READ):
        batches = [c.prepare([(op, segment, j * size, mv[j * size:(j + 1) * size])
                              for j in range(i, min(i + batch, nkeys))])
                   for i in range(0, nkeys, batch)]
        n, end = 0, time.perf_counter() + duration
        t0 = time.perf_counter()
        while time.perf_counter() < end or n == 0:
            for b in batches:
                b.submit().result(timeout=30)
            n += nkeys
        rates.append(n / (time.perf_counter() - t0))
        del batches
    del mv
    return rates


def main(argv=None):
    p = argparse.ArgumentParser(prog="python3 -m tern.bench_store",
                                description="tern.Store put/get next to raw WRITE/READ")
    p.add_argument("--file-prefix", required=True, help="the dataplane's --file-prefix")
    p.add_argument("--capacity", default="st", help="the store's capacity segment")
    p.add_argument("--owned", action="store_true",
                   help="the dataplane owns it (--store-capacity)")
    p.add_argument("--segment", default="kv", help="the raw baseline's segment")
    p.add_argument("--size", default="4K,64K,1M",
                   type=lambda v: [parse_size(x) for x in v.split(",")])
    p.add_argument("--keys", type=int, default=64)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--replicas", type=int, default=1)
    p.add_argument("--duration", type=float, default=1.0)
    p.add_argument("--metadata", default=None, help="etcd://... or redis://... (default embedded)")
    p.add_argument("--cpu", type=int, default=0, help="pin this process to this CPU (-1: no)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if not 1 <= args.keys <= 65536 or not 1 <= args.batch <= 65536 or not args.duration > 0:
        p.error("--keys and --batch 1..65536, --duration > 0")
    c = tern.attach(args.file_prefix, eal_args=["--log-level=lib.*:error"])
    if args.cpu >= 0:
        os.sched_setaffinity(0, {args.cpu})
    s = tern.Store(c, args.capacity, args.metadata, owned=args.owned, replicas=args.replicas)
    rows = []
    for size in args.size:
        total = size * args.keys
        if c.segment_length(args.segment) < total:
            sys.exit("tern.bench_store: segment %s is smaller than %d x %s"
                     % (args.segment, args.keys, size_str(size)))
        buf = c.alloc(total)
        a = np.frombuffer(buf, dtype=np.uint8)
        a[:] = (np.arange(total, dtype=np.uint64) * 2654435761 >> np.uint64(13)).astype(np.uint8)
        views = [a[i * size:(i + 1) * size] for i in range(args.keys)]
        keys = ["bench/%s/%d" % (size_str(size), i) for i in range(args.keys)]
        put, get, ok = store_rates(s, keys, views, args.batch, args.duration, True)
        w, r = raw_rates(c, args.segment, buf, size, args.keys, args.batch, args.duration)
        rows.append({"size": size, "put_per_s": put, "get_per_s": get, "write_per_s": w,
                     "read_per_s": r, "put_gbps": put * size / 1e9, "get_gbps": get * size / 1e9,
                     "put_x_raw": put / w, "get_x_raw": get / r, "verified": ok})
        del views, a
        buf.close()
    s.close()
    cpus = sorted(os.sched_getaffinity(0))
    if args.json:
        json.dump({"tool": "tern.bench_store", "keys": args.keys, "batch": args.batch,
                   "replicas": args.replicas, "metadata": args.metadata or "embedded",
                   "owned": args.owned, "client_cpus": cpus, "results": rows},
                  sys.stdout, indent=1)
        print()
    else:
        print("tern.bench_store: %d keys, batch %d, replicas %d, metadata %s, capacity %s%s; "
              "raw baseline into %s; client on cpu %s"
              % (args.keys, args.batch, args.replicas, args.metadata or "embedded",
                 args.capacity, " (owned)" if args.owned else "", args.segment,
                 ",".join(map(str, cpus))))
        print("%6s %10s %8s %10s %8s %6s | %10s %8s %10s %8s %6s  %s"
              % ("size", "put/s", "GB/s", "write/s", "GB/s", "x raw", "get/s", "GB/s",
                 "read/s", "GB/s", "x raw", "verified"))
        for r in rows:
            print("%6s %10.0f %8.3f %10.0f %8.3f %6.2f | %10.0f %8.3f %10.0f %8.3f %6.2f  %s"
                  % (size_str(r["size"]), r["put_per_s"], r["put_gbps"], r["write_per_s"],
                     r["write_per_s"] * r["size"] / 1e9, r["put_x_raw"], r["get_per_s"],
                     r["get_gbps"], r["read_per_s"], r["read_per_s"] * r["size"] / 1e9,
                     r["get_x_raw"], "yes" if r["verified"] else "NO"))
    c.close()
    return 0 if all(r["verified"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
