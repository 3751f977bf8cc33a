#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Turn a bench/run.sh results folder into results.md (and bandwidth.png).

    report.py RESULTS_DIR [--plot]

Reads the tern-perf JSON documents, ucx_perftest CSV output (-f -v) and the
iperf3 JSON that run.sh left there. Only measured numbers are printed; a run
that is missing or failed shows as such.
"""
import json
import os
import sys


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def size_str(v):
    for shift, suffix in ((30, "G"), (20, "M"), (10, "K")):
        if v >= 1 << shift and v % (1 << shift) == 0:
            return "%d%s" % (v >> shift, suffix)
    return str(v)


def cores_str(doc):
    c = doc["cores"]
    workers = ", ".join("lcore %d@cpu %s" % (w["lcore"], ",".join(map(str, w["cpus"])))
                        for w in c["workers"])
    return "main lcore %d@cpu %s; workers %s" % (
        c["main_lcore"], ",".join(map(str, c["main_cpus"])), workers)


def client_cpus(r):
    return ",".join(map(str, r["cpu"]["client_cpus"])) or "?"


def preempted(r):
    """Involuntary context switches in the window; a polling lcore should have almost none."""
    n = r["cpu"].get("preemptions", 0)
    return "%d%s" % (n, " (disturbed)" if n > 10 * r["seconds"] + 10 else "")


def us(ns):
    return "%.2f" % (ns / 1000.0)


def ucx_csv(path):
    """The last CSV line of ucx_perftest -f -v, as a dict."""
    try:
        lines = [l.strip() for l in open(path) if l.strip()]
    except OSError:
        return None
    for i, line in enumerate(lines):
        if line.startswith("iterations,") and i + 1 < len(lines):
            keys = line.split(",")
            vals = lines[i + 1].split(",")
            try:
                return dict(zip(keys, (float(v) for v in vals)))
            except ValueError:
                return None
    return None


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: report.py RESULTS_DIR [--plot]")
    d = sys.argv[1]
    plot = "--plot" in sys.argv[2:]
    out = []
    p = out.append
    runs = {name[:-5]: load_json(os.path.join(d, name))
            for name in sorted(os.listdir(d)) if name.startswith("tern_") and name.endswith(".json")}
    runs = {k: v for k, v in runs.items() if v is not None}
    targets = []

    p("# tern benchmark results\n")
    try:
        p("```\n" + open(os.path.join(d, "machine.txt")).read().strip() + "\n```\n")
    except OSError:
        pass
    p("Exact command lines: `commands.txt`. Raw output: the `*.json` and `*.txt` files here.\n")

    # -- bandwidth against block size --
    for key, title in (("tern_1w_reused", "1 worker lcore, one reused block per client"),
                       ("tern_1w_large", "1 worker lcore, large working set"),
                       ("tern_2w_large", "2 worker lcores, large working set")):
        doc = runs.get(key)
        if doc is None:
            p("## %s: not run or failed\n" % title)
            continue
        cfg = doc["config"]
        ws = size_str(cfg["working_set_bytes"]) if cfg["working_set_bytes"] else "one block"
        p("## Bandwidth, %s (`%s`)\n" % (title, key))
        p("%s, batch %d, inflight %d, %d client(s), working set per client %s, completion %s. "
          "Cores: %s. tern GB/s = bytes of completed requests / wall time; memcpy and stream "
          "= every worker lcore copying its stripe of the same working set in a loop, same "
          "cores, measured in the same run. Latency = submit to completion seen by the "
          "client, per batch.\n" % (cfg["op"], cfg["batch"], cfg["inflight"], cfg["clients"], ws,
                                    cfg["completion"], cores_str(doc)))
        p("| block | tern GB/s | memcpy GB/s | tern/memcpy | stream GB/s | tern/stream "
          "| p50 µs | p99 µs | max µs | client CPU | process cores | preempted |")
        p("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in doc["results"]:
            b = r["baseline"]
            mc, st = b.get("memcpy"), b.get("stream")
            p("| %s | %.2f | %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %s |" % (
                size_str(r["block_size"]), r["gbps"],
                "%.2f" % mc["gbps"] if mc else "-", "%.0f%%" % (100 * mc["ratio"]) if mc else "-",
                "%.2f" % st["gbps"] if st else "-", "%.0f%%" % (100 * st["ratio"]) if st else "-",
                us(r["latency_ns"]["p50"]), us(r["latency_ns"]["p99"]), us(r["latency_ns"]["max"]),
                client_cpus(r), r["cpu"]["process_cores"], preempted(r)))
            if key.startswith("tern_1w") and (1 << 20) <= r["block_size"] <= (64 << 20) and mc:
                targets.append(("%s %s: tern >= 100%% of glibc memcpy" % (key, size_str(r["block_size"])),
                                "%.0f%%" % (100 * mc["ratio"]), mc["ratio"] >= 1.0))
            if key.endswith("large") and r["block_size"] >= (64 << 20) and st:
                targets.append(("%s %s: tern >= 90%% of streaming copy" % (key, size_str(r["block_size"])),
                                "%.0f%%" % (100 * st["ratio"]), st["ratio"] >= 0.9))
        p("")

    # -- rate --
    doc = runs.get("tern_rate_4k_b32")
    if doc:
        r = doc["results"][0]
        p("## Rate: 4 KiB requests, batches of 32, one worker lcore (`tern_rate_4k_b32`)\n")
        p("Cores: %s; client on CPU %s.\n" % (cores_str(doc), client_cpus(r)))
        p("| slices/s | requests/s | batches/s | GB/s | batch p50 µs | batch p99 µs | worker busy | preempted |")
        p("|---|---|---|---|---|---|---|---|")
        p("| %.2fM | %.2fM | %.0fK | %.2f | %s | %s | %.0f%% | %s |\n" % (
            r["slices_per_s"] / 1e6, r["requests_per_s"] / 1e6, r["batches_per_s"] / 1e3, r["gbps"],
            us(r["latency_ns"]["p50"]), us(r["latency_ns"]["p99"]), 100 * r["cpu"]["worker_busy"],
            preempted(r)))
        targets.append(("4 KiB x 32: >= 5M slices/s on one lcore", "%.2fM" % (r["slices_per_s"] / 1e6),
                        r["slices_per_s"] >= 5e6))

    # -- latency --
    lat_rows = []
    for key, how in (("tern_lat_64_wait", "tern_future_wait"), ("tern_lat_64_reap", "tern_client_reap")):
        doc = runs.get(key)
        if not doc:
            continue
        for r in doc["results"]:
            l = r["latency_ns"]
            lat_rows.append("| tern %s B, submit -> %s | %s | %s | %s | %s | %s | %s; preempted %s |" % (
                r["block_size"], how, us(l["p50"]), us(l["p90"]), us(l["p99"]), us(l["p99_9"]),
                us(l["max"]), cores_str(doc) + "; client cpu " + client_cpus(r), preempted(r)))
            if key == "tern_lat_64_wait" and r["block_size"] == 64:
                targets.append(("64 B submit -> wait p50 <= 1 µs", us(l["p50"]) + " µs", l["p50"] <= 1000))
                targets.append(("64 B submit -> wait p99 <= 5 µs", us(l["p99"]) + " µs", l["p99"] <= 5000))
    u = ucx_csv(os.path.join(d, "ucx_shm_put_lat_8.txt"))
    if u:
        lat_rows.append("| UCX ucp_put_lat 8 B, shared memory (posix,cma,self): half a ping-pong round trip "
                        "| %.2f | - | - | - | - | client cpu 0, server cpu 1 |" % u["50.0_percentile_lat"])
    if lat_rows:
        p("## Latency (µs)\n")
        p("| what | p50 | p90 | p99 | p99.9 | max | cores |")
        p("|---|---|---|---|---|---|---|")
        out.extend(lat_rows)
        p("")

    # -- clients --
    rows, base = [], None
    for n in (1, 2, 8, 32):
        doc = runs.get("tern_clients_%d" % n)
        if not doc:
            continue
        r = doc["results"][0]
        if n == 1:
            base = r["gbps"]
        rows.append((n, r, doc))
    if rows:
        p("## Client scaling: 1 MiB writes, inflight 2 per client, one worker lcore\n")
        p("All client threads share CPU 0 (the main lcore's CPU) and sleep in tern_future_wait; "
          "the worker lcore is on CPU 1. Total working set: %s, split between the clients "
          "(the same bytes for every N).\n" % size_str(rows[0][2]["config"]["working_set_bytes"] * rows[0][0]))
        p("| clients | aggregate GB/s | vs 1 client | batch p50 µs | batch p99 µs | client CPUs | preempted |")
        p("|---|---|---|---|---|---|---|")
        for n, r, doc in rows:
            ratio = r["gbps"] / base if base else 0
            p("| %d | %.2f | %.0f%% | %s | %s | %s | %s |" % (n, r["gbps"], 100 * ratio, us(r["latency_ns"]["p50"]),
                                                           us(r["latency_ns"]["p99"]), client_cpus(r), preempted(r)))
            if n > 1 and base:
                targets.append(("%d clients: aggregate >= 90%% of 1 client" % n, "%.0f%%" % (100 * ratio),
                                ratio >= 0.9))
        p("")

    # -- peers --
    peer = []
    for s in (1 << 20, 4 << 20, 16 << 20, 64 << 20):
        u = ucx_csv(os.path.join(d, "ucx_shm_put_bw_%d.txt" % s))
        if u:
            peer.append("| UCX ucp_put_bw, shared memory (posix,cma,self) | %s | %.2f | one-sided put into one "
                        "reused remote buffer, completion = local put completion (cache-resident for small sizes) "
                        "| client cpu 0, server cpu 1 |" % (size_str(s), u["overall_bw"] * 1048576 / 1e9))
    for s in (1 << 20, 64 << 20):
        u = ucx_csv(os.path.join(d, "ucx_tcp_put_bw_%d.txt" % s))
        if u:
            peer.append("| UCX put_bw, tcp over lo, zcopy (UCT level) | %s | %.2f | one-sided put over a TCP "
                        "socket on loopback | client cpu 0, server cpu 1 |" % (size_str(s), u["overall_bw"] * 1048576 / 1e9))
    ip = load_json(os.path.join(d, "iperf3.json"))
    if ip and "end" in ip:
        bps = ip["end"]["sum_received"]["bits_per_second"]
        peer.append("| iperf3 TCP over 127.0.0.1, -l 1M | 1M writes | %.2f | bytes received per second by the "
                    "server: the loopback TCP ceiling (one stream) | client cpu 0, server cpu 1 |" % (bps / 8e9))
    if peer:
        p("## Peers on the same machine\n")
        p("ucx_perftest prints MB/s with MB = 2^20 bytes; converted here to GB/s (10^9 bytes/s). "
          "A UCX put completes when the initiator may reuse its buffer; a tern batch completes "
          "when every byte is in the target: not the same event. ucx_perftest reuses one buffer, so "
          "compare it with the tern reused-buffer rows.\n")
        p("| what | size | GB/s | measures | cores |")
        p("|---|---|---|---|---|")
        out.extend(peer)
        p("")

    if targets:
        p("## Targets of issue 6\n")
        p("| target | measured | met |")
        p("|---|---|---|")
        for what, val, ok in targets:
            p("| %s | %s | %s |" % (what, val, "yes" if ok else "**no**"))
        p("")

    with open(os.path.join(d, "results.md"), "w") as f:
        f.write("\n".join(out) + "\n")

    if plot:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("report.py: matplotlib missing, no plot", file=sys.stderr)
            return
        fig, ax = plt.subplots(figsize=(8, 5))
        for key, label in (("tern_1w_reused", "reused buffer"), ("tern_1w_large", "large working set"),
                           ("tern_2w_large", "2 lcores, large working set")):
            doc = runs.get(key)
            if not doc:
                continue
            xs = [r["block_size"] for r in doc["results"]]
            ax.plot(xs, [r["gbps"] for r in doc["results"]], marker="o", label="tern, " + label)
            if all(r["baseline"].get("memcpy") for r in doc["results"]):
                ax.plot(xs, [r["baseline"]["memcpy"]["gbps"] for r in doc["results"]], ls="--",
                        label="glibc memcpy, " + label)
                ax.plot(xs, [r["baseline"]["stream"]["gbps"] for r in doc["results"]], ls=":",
                        label="streaming copy, " + label)
        xs, ys = [], []
        for s in (1 << 20, 4 << 20, 16 << 20, 64 << 20):
            u = ucx_csv(os.path.join(d, "ucx_shm_put_bw_%d.txt" % s))
            if u:
                xs.append(s)
                ys.append(u["overall_bw"] * 1048576 / 1e9)
        if xs:
            ax.plot(xs, ys, marker="s", label="UCX ucp_put_bw shm (reused buffer)")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("block size (bytes)")
        ax.set_ylabel("GB/s")
        ax.set_title("tern-perf on this machine (2 CPUs)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(d, "bandwidth.png"), dpi=110)


if __name__ == "__main__":
    main()
