#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Turn a bench/run.sh results folder into results.md (and bandwidth.png).

    report.py RESULTS_DIR [--plot]

Reads the tern-perf JSON documents, ucx_perftest CSV output (-f -v), the
iperf3 JSON and the two-dataplane peer runs (peer_tern_*: tern-perf JSON,
/tern/peers and /tern/info telemetry, CPU time of each party, dataplane
logs) and the Python client's runs next to tern-perf (py_*) that run.sh left there. Only measured numbers are printed; a run that
is missing or failed shows as such.
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


def ucx_gbps(d, name):
    u = ucx_csv(os.path.join(d, name))
    return u["overall_bw"] * 1048576 / 1e9 if u else None


def cpu_note(d, name):
    """'; N cores, others M' from run.sh's NAME.cpu.json (own processes, everyone else)."""
    c = load_json(os.path.join(d, name + ".cpu.json"))
    if not c or "own_cores" not in c:
        return ""
    return "; %.2f cores, others %.2f%s%s" % (c["own_cores"], c["others_cores"], steal_note(c),
                                              " (disturbed)" if disturbed(c) else "")


def disturbed(c):
    """Other processes, or the hypervisor (steal), took more than a tenth of a core."""
    return c.get("others_cores", 0) > 0.1 or c.get("steal_cores", 0) > 0.1


def noisy_run(d, name):
    c = load_json(os.path.join(d, name + ".cpu.json"))
    return " (disturbed)" if c and disturbed(c) else ""


def steal_note(c):
    return ", steal %.2f" % c["steal_cores"] if c.get("steal_cores", 0) >= 0.01 else ""


def read_text(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def peer_of(peers, node="b"):
    """One node's columns of a /tern/peers answer, as a dict."""
    if not peers or node not in peers.get("node", []):
        return None
    i = peers["node"].index(node)
    return {k: v[i] for k, v in peers.items()
            if isinstance(v, list) and not k.startswith("rail") and len(v) > i}


# ---- the submission path: the measured code against the base ----

class FieldError(Exception):
    """A tern-perf JSON document without a field the report needs, or not the run it should be."""


def field(doc, path, name):
    """The value at PATH ("results.0.latency_ns.p50") of NAME's JSON; FieldError when absent."""
    v = doc
    for k in path.split("."):
        if isinstance(v, list) and k.isdigit() and int(k) < len(v):
            v = v[int(k)]
        elif isinstance(v, dict) and k in v:
            v = v[k]
        else:
            raise FieldError("%s: tern-perf's JSON has no field %s" % (name, path))
    return v


# Kinds of run (file name part, label, the configuration its JSON must show).
SUB_KINDS = (("inproc", "in-process", {"target": "loopback", "clients": 1}),
             ("attached1", "attached, 1 client", {"target": "dataplane", "clients": 1}),
             ("attached32", "attached, 32 clients", {"target": "dataplane", "clients": 32}))
# Tests (file name part, block size, configuration).
SUB_TESTS = (("lat64", 64, {"op": "write", "batch": 1, "inflight": 1, "completion": "wait"}),
             ("rate4k", 4096, {"op": "write", "batch": 32}))


def sub_figures(doc, name, kind, test):
    """The figures of one submission-path run (tern-perf --json, perf_report.c).

    lat64: p50_ns, p99_ns (submit -> tern_future_wait() returned, per batch).
    rate4k: slices_per_s: the engine's slice counters in process; attached,
    tern-perf cannot see the dataplane's counters (its JSON says 0 slices), and
    a 4 KiB request is exactly one slice (slices are 4 KiB at least), so the
    completed requests per second. Also process_cores and client_cpus.
    Raises FieldError when a field is missing or the run is not what NAME says.
    """
    want = dict(next(k[2] for k in SUB_KINDS if k[0] == kind))
    block = next(t[1] for t in SUB_TESTS if t[0] == test)
    want.update(next(t[2] for t in SUB_TESTS if t[0] == test))
    for key, val in sorted(want.items()):
        got = field(doc, "config." + key, name)
        if got != val:
            raise FieldError("%s: config.%s is %r, expected %r" % (name, key, got, val))
    results = field(doc, "results", name)
    if not isinstance(results, list) or len(results) != 1:
        raise FieldError("%s: expected one result (one block size), found %s" % (
            name, len(results) if isinstance(results, list) else "no list"))
    if field(doc, "results.0.block_size", name) != block:
        raise FieldError("%s: results.0.block_size is %r, expected %d" % (
            name, field(doc, "results.0.block_size", name), block))
    if field(doc, "results.0.errors", name) != 0:
        raise FieldError("%s: %d failed batches" % (name, field(doc, "results.0.errors", name)))
    fig = {"process_cores": field(doc, "results.0.cpu.process_cores", name),
           "client_cpus": field(doc, "results.0.cpu.client_cpus", name),
           "workers": field(doc, "cores.workers", name)}
    if test == "lat64":
        fig["p50_ns"] = field(doc, "results.0.latency_ns.p50", name)
        fig["p99_ns"] = field(doc, "results.0.latency_ns.p99", name)
        if field(doc, "results.0.latency_ns.count", name) == 0:
            # No batch completed inside the window: longer than the window.
            fig["p50_ns"] = fig["p99_ns"] = float("inf")
        elif not 0 < fig["p50_ns"] <= fig["p99_ns"]:
            raise FieldError("%s: latency p50 %r, p99 %r: not a latency" % (name, fig["p50_ns"], fig["p99_ns"]))
    elif want["target"] == "dataplane":
        fig["slices_per_s"] = field(doc, "results.0.requests_per_s", name)
    else:
        fig["slices_per_s"] = field(doc, "results.0.slices_per_s", name)
    if test == "rate4k" and not fig["slices_per_s"] > 0:
        raise FieldError("%s: no slices counted" % name)
    return fig


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2.0


def sub_verdict(work, base, lower_better):
    """Regression or improvement only when every run of one side beats every run of the other."""
    if not work or not base:
        return "-"
    if len(work) < 2 or len(base) < 2:
        return "one run each: no spread to judge by"
    worse = min(work) > max(base) if lower_better else max(work) < min(base)
    better = max(work) < min(base) if lower_better else min(work) > max(base)
    return "**regression** (no overlap)" if worse else "improvement (no overlap)" if better else "within the spread"


def sub_value(v, unit):
    """A latency in ns as µs, ms or s; a rate in slices/s as M/s; inf: none completed."""
    if v == float("inf"):
        return "none done"
    if unit == "M/s":
        return "%.2f M/s" % (v / 1e6)
    for scale, name in ((1e9, "s"), (1e6, "ms")):
        if v >= scale:
            return "%.2f %s" % (v / scale, name)
    return "%.2f µs" % (v / 1e3)


def sub_spread(vals, unit):
    """lowest-highest, the unit once when both share it."""
    lo, hi = sub_value(min(vals), unit), sub_value(max(vals), unit)
    if lo.split(" ")[-1] == hi.split(" ")[-1] and hi != "none done":
        return "%s-%s" % (lo.rsplit(" ", 1)[0], hi)
    return "%s-%s" % (lo, hi)


# Rows of each kind of run: (test, figure, key, unit, lower is better).
SUB_ROWS = (("lat64", "64 B submit -> wait p50", "p50_ns", "µs", True),
            ("lat64", "64 B submit -> wait p99", "p99_ns", "µs", True),
            ("rate4k", "4 KiB x 32 slices/s", "slices_per_s", "M/s", False))


def sub_load(d, side, kind, test, rounds, errors):
    """Figures and cpu.json of every round of one side; the names of the runs without figures."""
    figs, cpus, gone = [], [], []
    for r in range(1, rounds + 1):
        name = "sub_%s_%s_%s_r%d" % (side, kind, test, r)
        path = os.path.join(d, name + ".json")
        if not os.path.exists(path):
            gone.append(name)
            continue
        doc = load_json(path)
        try:
            if doc is None:
                raise FieldError("%s.json: not a JSON document" % name)
            figs.append(sub_figures(doc, name + ".json", kind, test))
        except FieldError as e:
            errors.append(str(e))
            gone.append(name)
            continue
        cpus.append(load_json(os.path.join(d, name + ".cpu.json")) or {})
    return figs, cpus, gone


def sub_cores(kind, figs, cpus):
    """Cores each party used (medians): tern-perf in process; dataplane + tern-perf attached.

    tern-perf's are its measured window's (JSON); the dataplane's, the whole run's (cpu.json)."""
    if not figs:
        return "-"
    perf = median([f["process_cores"] for f in figs])
    if kind == "inproc":
        return "%.2f" % perf
    dp = [c["dataplane_cores"] for c in cpus if c.get("dataplane_cores") is not None]
    return "%s + %.2f" % ("%.2f" % median(dp) if dp else "?", perf)


def sub_cpus(kind, figs, dataplane_worker):
    """Where the worker and the client(s) ran, from the JSON (and run.sh for the dataplane)."""
    if not figs:
        return "-"
    clients = "client%s CPU %s" % ("s" if kind == "attached32" else "", ",".join(map(str, figs[0]["client_cpus"])))
    if kind == "inproc":
        return "tern-perf worker %s; %s" % (", ".join("lcore %d@CPU %s" % (w["lcore"], ",".join(map(str, w["cpus"])))
                                                      for w in figs[0]["workers"]), clients)
    return "dataplane worker %s; tern-perf %s" % (dataplane_worker, clients)


def sub_section(d, p, targets):
    """The submission-path table: the measured code and the base, same run, alternating.

    Returns the FieldErrors met (the report lists them; main() then fails)."""
    meta = load_json(os.path.join(d, "sub.json"))
    if not meta:
        return []
    errors = []
    rounds, has_base = meta["rounds"], bool(meta.get("base"))
    sides = ("work", "base") if has_base else ("work",)
    p("## Submission path: %s (`sub_*`)\n" % ("the measured code against the base, same run" if has_base
                                               else "the measured code (no base: `--base none`)"))
    p("**work** = %s. **base** = %s.\n" % (meta["work"], ("commit %s (clean snapshot)" % meta["base"])
                                           if has_base else "none"))
    p("%d round(s), each one run of the work then one of the base (alternating, so a drift of the "
      "machine touches both), %g s measured per run after 0.2 s of warm-up. Each figure is the "
      "median of the rounds; *spread* = lowest-highest of them. *work / base* > 1 means the work "
      "is slower for latency and faster for the rate. *verdict*: a regression (or improvement) "
      "only when every run of one side is worse (better) than every run of the other; otherwise "
      "*within the spread*: this run does not show a difference. Rows:\n" % (rounds, meta["duration_s"]))
    p("- **64 B submit -> wait**: one 64-byte WRITE per batch, one batch in flight per client "
      "(`--block-size 64 --batch 1 --inflight 1 --completion wait --no-baseline`): `rte_rdtsc()` "
      "before `tern_submit()` to `tern_future_wait()` returning, p50 and p99 over every batch "
      "(tern-perf's `latency_ns`).")
    p("- **4 KiB x 32**: batches of 32 WRITEs of 4 KiB, 16 batches in flight per client, one "
      "reused block per client (`--block-size 4K --batch 32 --inflight 16 --no-baseline`, "
      "completion reap), slices per second. In process: the engine's slice counters "
      "(`slices_per_s`); attached: requests per second (`requests_per_s`: the dataplane's "
      "counters are not tern-perf's, and a 4 KiB request is one slice).")
    p("- **in-process**: `tern-perf -l 0-1 --no-pci`, the engine inside tern-perf.")
    p("- **attached, 1 / 32 clients**: a tern-dataplane of the same build (`-l 0-1 --no-pci -- "
      "--segment kv:64M`: %s; `--idle poll`, the default: one dataplane runs at a time and its worker "
      "lcore is the only poller) and tern-perf as its DPDK secondary process (`-l 0 "
      "--proc-type=secondary -- --target dataplane --segment kv --clients 1|32`).\n"
      % meta.get("dataplane_lcores", "?"))
    p("*CPUs*: where the worker lcore and the client thread(s) ran. *cores* (medians, work; base): "
      "tern-perf's CPU time / wall time in its measured window (`cpu.process_cores`; in process "
      "that is the worker lcore and the client together); attached, first the dataplane's, over "
      "the whole tern-perf run (start and warm-up included), then tern-perf's. *others*: the most "
      "that other processes on the machine took during one of these runs (*disturbed* above 0.1 "
      "of a core, or steal above 0.1: the figures are not the code's alone). Exact commands: "
      "`commands.txt`.\n")
    p("| run | figure | work | base | work / base | verdict | spread work; base | CPUs | cores work; base | others |")
    p("|---|---|---|---|---|---|---|---|---|---|")
    none_done = False
    for kind, label, _ in SUB_KINDS:
        runs = {(test, side): sub_load(d, side, kind, test, rounds, errors)
                for test, _, _ in SUB_TESTS for side in sides}
        for test, what, key, unit, lower in SUB_ROWS:
            vals = {side: [f[key] for f in runs[test, side][0]] for side in sides}
            med = {side: median(v) if v else None for side, v in vals.items()}
            none_done = none_done or any(float("inf") in v for v in vals.values())
            cells = []
            for side in ("work", "base"):
                if side not in sides:
                    cells.append("-")
                    continue
                gone = runs[test, side][2]
                if med[side] is None:
                    cells.append("**failed** (`%s.err`)" % gone[0])
                else:
                    cells.append(sub_value(med[side], unit) +
                                 (" (%d of %d runs failed)" % (len(gone), rounds) if gone else ""))
            ratio = "-"
            if has_base and med["work"] and med["base"] and float("inf") not in (med["work"], med["base"]):
                ratio = "%.2f" % (med["work"] / med["base"])
            spread = "; ".join(sub_spread(vals[s], unit) if vals.get(s) else "-" for s in sides)
            cpus = [c for s in sides for c in runs[test, s][1]]
            others = max([c.get("others_cores", 0) for c in cpus] or [0])
            steal = max([c.get("steal_cores", 0) for c in cpus] or [0])
            verdict = sub_verdict(vals["work"], vals.get("base"), lower)
            if "no overlap" in verdict and (others > 0.1 or steal > 0.1):
                verdict += ", but disturbed: measure again"
            p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                label, what, cells[0], cells[1], ratio, verdict,
                spread, sub_cpus(kind, runs[test, "work"][0] or runs.get((test, "base"), ([],))[0],
                                 meta.get("dataplane_worker", "?")),
                "; ".join(sub_cores(kind, runs[test, s][0], runs[test, s][1]) for s in sides),
                ("%.2f%s%s" % (others, ", steal %.2f" % steal if steal >= 0.01 else "",
                               " (disturbed)" if others > 0.1 or steal > 0.1 else "")) if cpus else "-"))
            if key == "p50_ns" and med["work"] is not None:
                targets.append(("64 B submit -> wait p50 <= 1 µs, %s" % label, sub_value(med["work"], unit),
                                med["work"] <= 1000))
            if key == "slices_per_s" and has_base and med["work"] is not None and med["base"] is not None:
                v = sub_verdict(vals["work"], vals["base"], False)
                targets.append(("4 KiB x 32 slices/s not below the base, %s" % label,
                                "%s vs %s (%s)" % (sub_value(med["work"], unit), sub_value(med["base"], unit),
                                                   v.replace("*", "")),
                                not v.startswith("**regression")))
    p("")
    if none_done:
        p("*none done*: no batch completed inside the measured window (the latency is longer).\n")
    failed = []
    for name in sorted(os.listdir(d)):
        if name.startswith("sub_") and name.endswith(".err") and \
                not os.path.exists(os.path.join(d, name[:-4] + ".json")):
            why = (read_text(os.path.join(d, name)) or "").splitlines()
            failed.append("- `%s`: %s" % (name[:-4], why[0] if why else "no message"))
    if failed:
        p("**Runs that failed** (tern-perf's first error line; the run exits 1):\n")
        for line in failed:
            p(line)
        p("")
    if errors:
        p("**Results that could not be read** (the run exits 1):\n")
        for e in errors:
            p("- %s" % e)
        p("")
    return errors


# Dataplane log lines every run prints; anything else is shown in the report.
USUAL_LOG = ("TELEMETRY: No legacy callbacks", "tern.tcp: listening on", "tern.shm: serving the file",
             "tern.shm: stopped serving", "tern_mlx5: no usable mlx5 device", "tern_engine: engine tern",
             "tern_directory: p2p: serving", "tern-dataplane: ", "tern_peer: b: transport")


def peer_section(d, p, out, targets):
    """Two tern-dataplanes on this host: shm and tcp against UCX and iperf3."""
    ip = load_json(os.path.join(d, "iperf3.json"))
    iperf = ip["end"]["sum_received"]["bits_per_second"] / 8e9 if ip and "end" in ip else None
    status = {t: read_text(os.path.join(d, "peer_tern_%s.status" % t)) for t in ("shm", "tcp")}
    if not any(status.values()):
        return
    p("## Peers: shm and tcp between two dataplanes\n")
    p("Two tern-dataplanes on this host: **a** (EAL main lcore 0 on CPU 0, its control thread; "
      "worker lcore 1 on CPU 1) and **b** (worker lcore 0 on CPU 0; main lcore 1 on CPU 1), each "
      "exporting a 256 MiB segment `kv`, finding each other over p2p directories on loopback. "
      "tern-perf is a DPDK secondary of a on CPU 0 and reads or writes b's segment (`--segment b/kv`): "
      "a's worker lcore moves every byte, through shm (b's segment mapped into a, chosen by a's "
      "strategy) or tcp (a pinned to it with `--peer-transport b=tcp`; both listen on 127.0.0.1). "
      "Batch 1, inflight 4, one reused block (like ucx_perftest and iperf3 -l 1M), "
      "completion *wait* (b's polling worker lcore shares CPU 0 with the client; the *reap* rows show "
      "what a spinning client costs there, the *inflight 16* rows what the client's turnaround costs; "
      "neither is used for a comparison), every block size of the WRITE and READ rows verified in an "
      "untimed pass. "
      "Cores: a and b = CPU time of each dataplane during the whole tern-perf run / its wall time "
      "(they poll, so about one core each whatever they move, less when they lose their CPU); client = "
      "tern-perf in its measured window; others = every other process on the machine during the run, "
      "and steal = time the hypervisor ran something else on our vCPUs (*disturbed* when either is above "
      "0.1). UCX and iperf3: one process per CPU (client CPU 0, server CPU 1).\n")
    rows_done = False
    for t in ("shm", "tcp"):
        st = status[t]
        src = read_text(os.path.join(d, "peer_tern_%s.source" % t))
        if st is None:
            p("**tern %s**: not run.\n" % t)
            continue
        if t == "shm":
            p("| tern shm | block | tern GB/s | batch p50 µs | p99 µs | UCX shm (posix,cma,self) GB/s "
              "| tern/UCX | cores a / b / client / others | verified |")
            p("|---|---|---|---|---|---|---|---|---|")
        else:
            p("| tern tcp | block | tern GB/s | batch p50 µs | p99 µs | iperf3 -l 1M GB/s | tern/iperf3 "
              "| UCX tcp put_bw zcopy GB/s | tern/UCX | cores a / b / client / others | verified |")
            p("|---|---|---|---|---|---|---|---|---|---|---|")
        for op, suffix, label in (("write", "", "WRITE"), ("read", "", "READ"),
                                  ("write", "_reap", "WRITE, reap (diagnostic)"),
                                  ("write", "_deep", "WRITE, inflight 16 (diagnostic)")):
            name = "peer_tern_%s_%s%s" % (t, op, suffix)
            doc = load_json(os.path.join(d, name + ".json"))
            peers = peer_of(load_json(os.path.join(d, name + ".peers.json")))
            before = peer_of(load_json(os.path.join(d, name + ".peers_before.json")))
            cpu = load_json(os.path.join(d, name + ".cpu.json"))
            seen = peers["transport"] if peers else None
            failed = (peers["failed_requests"] - (before["failed_requests"] if before else 0)) if peers else 0
            sizes = [r["block_size"] for r in doc["results"]] if doc else [1 << 20, 4 << 20, 16 << 20, 64 << 20]
            if suffix and not doc:
                continue
            for size in sizes:
                r = next((x for x in doc["results"] if x["block_size"] == size), None) if doc else None
                if t == "shm":
                    them = ucx_gbps(d, "ucx_shm_%s_bw_%d.txt" % ("put" if op == "write" else "get", size))
                    them_s = ("%.2f (%s)" % (them, "ucp_put_bw" if op == "write" else "ucp_get")) if them else "-"
                else:
                    them = ucx_gbps(d, "ucx_tcp_put_bw_%d.txt" % size)
                    them_s = ("%.2f%s" % (them, "" if op == "write" else " (a put: UCT tcp has no get)")) \
                        if them else "-"
                if st != "ok" or r is None:
                    why = st if st != "ok" else ("failed (see %s.err)" % name)
                    if t == "shm":
                        p("| %s | %s | %s | - | - | %s | - | - | - |" % (label, size_str(size), why, them_s))
                    else:
                        p("| %s | %s | %s | - | - | %s | - | %s | - | - | - |" % (
                            label, size_str(size), why, "%.2f" % iperf if iperf else "-", them_s))
                    continue
                if seen != t:
                    p("| %s | %s | **measured over %s, not %s**: not compared | - | - | - | - | - | - |" % (
                        label, size_str(size), seen, t))
                    continue
                g = r["gbps"]
                lat = r["latency_ns"]
                cores = "%.2f / %.2f / %.2f" % (cpu["a_cores"], cpu["b_cores"], r["cpu"]["process_cores"]) \
                    if cpu else "- / - / %.2f" % r["cpu"]["process_cores"]
                if cpu and "others_cores" in cpu:
                    cores += " / %.2f%s%s" % (cpu["others_cores"], steal_note(cpu),
                                              " (disturbed)" if disturbed(cpu) else "")
                ver = {True: "yes", False: "**no**"}.get(r.get("verified"), "-")
                if failed:
                    ver += "; %d failed requests" % failed
                # A target measured while something else ran says so.
                mine = " (disturbed)" if cpu and disturbed(cpu) else ""
                if t == "shm":
                    p("| %s | %s | %.2f | %s | %s | %s | %s | %s | %s |" % (
                        label, size_str(size), g, us(lat["p50"]), us(lat["p99"]), them_s,
                        "%.0f%%" % (100 * g / them) if them else "-", cores, ver))
                    if op == "write" and not suffix and them:
                        theirs = noisy_run(d, "ucx_shm_put_bw_%d" % size)
                        targets.append(("tern shm WRITE %s faster than UCX shm ucp_put_bw" % size_str(size),
                                        "%.2f vs %.2f GB/s (%.0f%%)%s" % (g, them, 100 * g / them, mine or theirs),
                                        g > them))
                else:
                    p("| %s | %s | %.2f | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                        label, size_str(size), g, us(lat["p50"]), us(lat["p99"]),
                        "%.2f" % iperf if iperf else "-", "%.0f%%" % (100 * g / iperf) if iperf else "-",
                        them_s, "%.0f%%" % (100 * g / them) if them else "-", cores, ver))
                    if op == "write" and not suffix:
                        if iperf:
                            targets.append(("tern tcp WRITE %s >= 90%% of iperf3 -l 1M (same run)" % size_str(size),
                                            "%.2f vs %.2f GB/s (%.0f%%)%s" % (g, iperf, 100 * g / iperf,
                                                                             mine or noisy_run(d, "iperf3")),
                                            g >= 0.9 * iperf))
                        if them:
                            targets.append(("tern tcp WRITE %s faster than UCX tcp put_bw zcopy" % size_str(size),
                                            "%.2f vs %.2f GB/s (%.0f%%)%s" % (
                                                g, them, 100 * g / them,
                                                mine or noisy_run(d, "ucx_tcp_put_bw_%d" % size)),
                                            g > them))
                rows_done = True
        p("")
        if src:
            p("Code of the %s transport in this build: %s.\n" % (t, src.replace("\n", "; ")))
    noisy = []
    for name in sorted(os.listdir(d)):
        if name.endswith(".cpu.json") and name.startswith(("ucx_shm_put_bw", "ucx_shm_get_bw", "ucx_tcp_put_bw",
                                                            "iperf3", "peer_tern_")):
            c = load_json(os.path.join(d, name))
            if c and disturbed(c):
                noisy.append("`%s` (%.2f cores%s)" % (name[:-9], c["others_cores"], steal_note(c)))
    if noisy:
        p("Runs during which other processes (or the hypervisor: steal) took more than 0.1 of a core "
          "(disturbed): %s.\n" % ", ".join(noisy))
    # What the dataplanes said that they do not always say.
    odd = []
    for t in ("shm", "tcp"):
        for node in ("a", "b"):
            text = read_text(os.path.join(d, "peer_tern_%s_%s.log" % (t, node)))
            if text is None:
                continue
            lines = [l for l in text.splitlines() if l.strip() and not l.startswith(USUAL_LOG)]
            for l in lines[:10]:
                odd.append("| %s | %s | `%s` |" % (t, node, l.replace("|", "\\|")[:200]))
            if len(lines) > 10:
                odd.append("| %s | %s | ... %d more lines |" % (t, node, len(lines) - 10))
    if odd:
        p("Dataplane log lines beyond the usual start and stop messages (`peer_tern_*_a.log`, `*_b.log`):\n")
        p("| pair | dataplane | line |")
        p("|---|---|---|")
        out.extend(odd)
        p("")
    elif rows_done:
        p("The dataplanes logged nothing beyond their usual start and stop messages.\n")


def py_section(d, p, targets):
    """Python client (python3 -m tern.bench) against tern-perf (C), same dataplane, same run."""
    try:
        status = open(os.path.join(d, "py.status")).read().strip()
    except OSError:
        return
    p("## Python client against C (`py_*`): the same dataplane, alternating runs\n")
    if status != "ok":
        p("Not measured: %s.\n" % status)
        return
    p("tern-perf (C) and `python3 -m tern.bench` attached to one tern-dataplane (worker lcore 1 "
      "on CPU 1), each client on CPU 0, `--completion wait`, inflight 4, one run of each per "
      "round, back to back. Medians over the rounds (lowest-highest). µs/batch = wall time / "
      "batches. Python / C and Python's extra µs/batch are the medians of the per-round ratios "
      "and differences (each round's two runs ran seconds apart, so they share the machine's "
      "load). Submit call = mean time of one `tern_submit()` (C) or `Batch.submit()` (Python).\n")
    p("| point | C GB/s | Python GB/s | Python / C | C µs/batch | Python µs/batch | "
      "Python extra µs/batch | submit call C / Python µs | rounds |")
    p("|---|---|---|---|---|---|---|---|---|")
    for name, label in (("1m_b8", "1 MiB x 8"), ("4k_b32", "4 KiB x 32")):
        rounds = []
        r = 1
        while os.path.exists(os.path.join(d, "py_c_%s_r%d.err" % (name, r))):
            pair = []
            for side in ("c", "py"):
                doc = load_json(os.path.join(d, "py_%s_%s_r%d.json" % (side, name, r)))
                res = doc["results"][0] if doc and doc.get("results") else None
                pair.append(None if res is None else
                            (res["gbps"], 1e6 / res["batches_per_s"],
                             res.get("submit_call_ns", {}).get("mean", 0.0) / 1e3))
            if None not in pair:
                rounds.append(pair)
            r += 1
        if not rounds:
            p("| %s | - | - | - | - | - | - | - | none complete of %d |" % (label, r - 1))
            continue

        def col(side, k):
            return [x[side][k] for x in rounds]

        def cell(v):
            return "%.2f (%.2f-%.2f)" % (median(v), min(v), max(v))

        ratio = median([x[1][0] / x[0][0] for x in rounds])
        extra = median([x[1][1] - x[0][1] for x in rounds])
        p("| %s | %s | %s | %.2f | %s | %s | %+.2f | %.2f / %.2f | %d of %d |"
          % (label, cell(col(0, 0)), cell(col(1, 0)), ratio, cell(col(0, 1)), cell(col(1, 1)),
             extra, median(col(0, 2)), median(col(1, 2)), len(rounds), r - 1))
        if name == "1m_b8":
            targets.append(("Python >= 0.9x C bandwidth at 1 MiB x batch 8", "%.2fx" % ratio, ratio >= 0.9))
        else:
            targets.append(("Python cost per batch at 4 KiB x 32 <= 2 µs above C", "%+.2f µs" % extra,
                            extra <= 2.0))
    p("")


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

    # -- the submission path, work tree against base: first, where a regression shows --
    sub_targets = []
    sub_errors = sub_section(d, p, sub_targets)

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
                        "| client cpu 0, server cpu 1%s |" % (size_str(s), u["overall_bw"] * 1048576 / 1e9,
                                                             cpu_note(d, "ucx_shm_put_bw_%d" % s)))
    for s in (1 << 20, 4 << 20, 16 << 20, 64 << 20):
        u = ucx_csv(os.path.join(d, "ucx_shm_get_bw_%d.txt" % s))
        if u:
            peer.append("| UCX ucp_get, shared memory (posix,cma,self) | %s | %.2f | one-sided get from one "
                        "reused remote buffer | client cpu 0, server cpu 1%s |" % (
                            size_str(s), u["overall_bw"] * 1048576 / 1e9, cpu_note(d, "ucx_shm_get_bw_%d" % s)))
    for s in (1 << 20, 4 << 20, 16 << 20, 64 << 20):
        u = ucx_csv(os.path.join(d, "ucx_tcp_put_bw_%d.txt" % s))
        if u:
            peer.append("| UCX put_bw, tcp over lo, zcopy (UCT level) | %s | %.2f | one-sided put over a TCP "
                        "socket on loopback | client cpu 0, server cpu 1%s |" % (
                            size_str(s), u["overall_bw"] * 1048576 / 1e9, cpu_note(d, "ucx_tcp_put_bw_%d" % s)))
    ip = load_json(os.path.join(d, "iperf3.json"))
    if ip and "end" in ip:
        bps = ip["end"]["sum_received"]["bits_per_second"]
        cu = ip["end"].get("cpu_utilization_percent", {})
        peer.append("| iperf3 TCP over 127.0.0.1, -l 1M | 1M writes | %.2f | bytes received per second by the "
                    "server: the loopback TCP ceiling (one stream) | client cpu 0 (%.2f cores), server cpu 1 "
                    "(%.2f cores)%s |" % (bps / 8e9, cu.get("host_total", 0) / 100, cu.get("remote_total", 0) / 100,
                                          cpu_note(d, "iperf3")))
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

    peer_targets = []
    peer_section(d, p, out, peer_targets)
    py_targets = []
    py_section(d, p, py_targets)

    for title, rows in (("Targets of the submission path", sub_targets), ("Targets of issue 6", targets),
                        ("Targets of the peer transports", peer_targets),
                        ("Targets of the Python client", py_targets)):
        if not rows:
            continue
        p("## %s\n" % title)
        p("| target | measured | met |")
        p("|---|---|---|")
        for what, val, ok in rows:
            p("| %s | %s | %s |" % (what, val, "yes" if ok else "**no**"))
        p("")

    with open(os.path.join(d, "results.md"), "w") as f:
        f.write("\n".join(out) + "\n")

    if plot:
        plot_bandwidth(d, runs)
    if sub_errors:
        for e in sub_errors:
            print("report.py: %s" % e, file=sys.stderr)
        sys.exit("report.py: %d submission-path result(s) unreadable (listed in results.md)" % len(sub_errors))


def plot_bandwidth(d, runs):
    """bandwidth.png: tern and its baselines against block size."""
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
    for t, style in (("shm", "-"), ("tcp", "-.")):
        doc = load_json(os.path.join(d, "peer_tern_%s_write.json" % t))
        if doc and read_text(os.path.join(d, "peer_tern_%s.status" % t)) == "ok":
            ax.plot([r["block_size"] for r in doc["results"]], [r["gbps"] for r in doc["results"]],
                    ls=style, marker="^", label="tern %s WRITE between two dataplanes" % t)
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
