#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Query every /tern/ command of a running test engine through Debian's
dpdk-telemetry.py, check the JSON replies, change settings, and run tern-top.
Started by test_telemetry_socket; exits non-zero on the first failed check."""

import argparse
import json
import subprocess
import sys

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL: " + what, file=sys.stderr)


def query(args, cmds):
    """Feed @cmds to dpdk-telemetry.py on stdin; return one reply per command."""
    proc = subprocess.run([sys.executable, args.client, "-f", args.prefix],
                          input="\n".join(cmds) + "\n", capture_output=True, text=True,
                          timeout=60, check=False)
    if proc.returncode != 0:
        sys.exit("dpdk-telemetry.py exited %d: %s" % (proc.returncode, proc.stderr))
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if len(lines) != len(cmds):
        sys.exit("expected %d replies, got %d:\n%s" % (len(cmds), len(lines), proc.stdout))
    replies = []
    for cmd, line in zip(cmds, lines):
        reply = json.loads(line)
        name = cmd.split(",")[0]
        if name not in reply:
            sys.exit("reply to %s has no key %s: %s" % (cmd, name, line))
        replies.append(reply[name])
    return replies


def ok(reply):
    return isinstance(reply, dict) and "error" not in reply


def is_error(reply):
    return isinstance(reply, dict) and isinstance(reply.get("error"), str) and reply["error"]


def tern_top(args, *extra):
    return subprocess.run([sys.executable, args.top, "-f", args.prefix, *extra],
                          capture_output=True, text=True, timeout=60, check=False)


def check_attached(args):
    nsegs = int(args.segments)
    info, stats, latency, config, clients = query(
        args, ["/tern/info", "/tern/stats", "/tern/latency", "/tern/config", "/tern/clients"])

    check(ok(info), "info: %s" % info)
    check(info.get("node") == args.node, "info.node %r" % info.get("node"))
    check(bool(info.get("version")), "info.version empty")
    check(info.get("pid") == int(args.pid), "info.pid %r" % info.get("pid"))
    check(info.get("engine") == "e_tel", "info.engine %r" % info.get("engine"))
    lcores = info.get("lcores", [])
    check(lcores == [1, 2], "info.lcores %r" % lcores)
    check(info.get("nb_lcores") == len(lcores), "info.nb_lcores")
    check(info.get("uptime_ns", 0) > 0, "info.uptime_ns")
    check("memcpy" in info.get("transports_usable", []), "info.transports_usable %r" %
          info.get("transports_usable"))
    check(isinstance(info.get("transports_unavailable"), list), "info.transports_unavailable")

    check(ok(stats), "stats: %s" % stats)
    check(stats.get("batches", 0) >= 4, "stats.batches %r" % stats.get("batches"))
    check(stats.get("bytes", 0) >= 4 * (8 << 20), "stats.bytes %r" % stats.get("bytes"))
    check(stats.get("slices", 0) > 0, "stats.slices")
    check(stats.get("errors") == 0, "stats.errors %r" % stats.get("errors"))
    check(0 < stats.get("pool_total", 0), "stats.pool_total")
    check(stats.get("pool_in_use", -1) + stats.get("pool_available", -1) ==
          stats.get("pool_total"), "stats pool in_use + available != total")
    check(0.0 <= float(stats.get("busy_ratio", "-1")) <= 1.0, "stats.busy_ratio")

    check(ok(latency), "latency: %s" % latency)
    buckets = latency.get("buckets", [])
    check(len(buckets) == 48, "latency has %d buckets" % len(buckets))
    check(latency.get("count") == sum(buckets) and latency.get("count", 0) >= 4,
          "latency.count %r" % latency.get("count"))
    p50, p90, p99, mx = (latency.get(k, -1) for k in ("p50_ns", "p90_ns", "p99_ns", "max_ns"))
    check(0 < p50 <= p90 <= p99 <= mx, "latency percentiles %r" % [p50, p90, p99, mx])

    check(ok(config), "config: %s" % config)
    check(config.get("slice_size") == 256 << 10, "config.slice_size %r" %
          config.get("slice_size"))
    check(config.get("deadline_ms") == 5000, "config.deadline_ms %r" % config.get("deadline_ms"))
    check(config.get("log_level") == "info", "config.log_level %r" % config.get("log_level"))
    check(sorted(config.get("settable", [])) == ["deadline_ms", "log_level", "slice_size"],
          "config.settable")

    check(ok(clients), "clients: %s" % clients)
    check(clients.get("total", 0) >= 1, "clients.total %r" % clients.get("total"))
    check(int(args.pid) in clients.get("pid", []), "clients.pid %r" % clients.get("pid"))
    check(set(clients.get("state", [])) <= {"active"}, "clients.state")
    check(len(clients.get("slot", [])) == clients.get("count"), "clients columns")
    check(clients.get("next") == -1, "clients.next")

    # Every worker lcore, and lcores that are not.
    replies = query(args, ["/tern/lcore,%d" % lc for lc in lcores] +
                    ["/tern/lcore", "/tern/lcore,0", "/tern/lcore,99", "/tern/lcore,abc",
                     "/tern/lcore,1x", "/tern/lcore,-1", "/tern/lcore,99999999999999999999"])
    total_batches = 0
    for lc, rep in zip(lcores, replies):
        check(ok(rep) and rep.get("lcore") == lc, "lcore,%d: %s" % (lc, rep))
        for key in ("batches", "slices", "bytes", "busy_polls", "idle_polls", "sq_depth",
                    "xq_depth", "owned_inflight", "posted", "time_ns"):
            check(isinstance(rep.get(key), int), "lcore,%d.%s" % (lc, key))
        check(0.0 <= float(rep.get("busy_ratio", "-1")) <= 1.0, "lcore,%d.busy_ratio" % lc)
        total_batches += rep.get("batches", 0)
    check(total_batches >= 4, "sum of lcore batches %d" % total_batches)
    for rep in replies[len(lcores):]:
        check(is_error(rep), "bad lcore parameter accepted: %s" % rep)

    # Segments: follow the pages.
    names, start, pages = [], 0, 0
    while start != -1 and pages < 10:
        (seg,) = query(args, ["/tern/segments,%d" % start])
        check(ok(seg), "segments,%d: %s" % (start, seg))
        if not ok(seg):
            break
        cols = [seg.get(k, []) for k in ("slot", "handle", "name", "kind", "length",
                                          "transport", "socket", "refs")]
        check(all(len(col) == seg["count"] for col in cols), "segments columns differ")
        check(seg["total"] == nsegs, "segments.total %r" % seg["total"])
        check(set(seg["kind"]) <= {"local"}, "segments.kind")
        check(set(seg["transport"]) <= {"memcpy"}, "segments.transport")
        names += seg["name"]
        if pages == 0:
            check(seg["count"] == 64 and seg["next"] > 0, "first page %r/%r" %
                  (seg["count"], seg["next"]))
            lengths = dict(zip(seg["name"], seg["length"]))
            check(lengths.get("src") == 8 << 20, "segment src length")
        start = seg["next"]
        pages += 1
    check(len(names) == nsegs and len(set(names)) == nsegs, "listed %d segments" % len(names))
    check({"src", "dst"} <= set(names), "src and dst listed")
    (plain,) = query(args, ["/tern/segments"])
    check(ok(plain) and plain.get("start") == 0, "segments without a start slot")
    for rep in query(args, ["/tern/segments,abc", "/tern/segments,256", "/tern/segments,-1",
                            "/tern/clients,x", "/tern/clients,64", "/tern/info,1",
                            "/tern/stats,x", "/tern/latency,0", "/tern/config,x"]):
        check(is_error(rep), "bad parameter accepted: %s" % rep)

    # Settings: good ones apply, bad ones are refused and change nothing.
    good = ["/tern/config/set,slice_size=1M", "/tern/config/set,deadline_ms=250",
            "/tern/config/set,log_level=debug", "/tern/config",
            "/tern/config/set,log_level=notice"]
    bad = ["/tern/config/set", "/tern/config/set,", "/tern/config/set,slice_size",
           "/tern/config/set,slice_size=", "/tern/config/set,=4K", "/tern/config/set,bogus=1",
           "/tern/config/set,slice_size=4K,deadline_ms=5", "/tern/config/set,slice_size=4Kx",
           "/tern/config/set,slice_size=4X", "/tern/config/set,slice_size=0",
           "/tern/config/set,slice_size=99999999999999999999",
           "/tern/config/set,slice_size=2G", "/tern/config/set,slice_size=1K",
           "/tern/config/set,deadline_ms=0", "/tern/config/set,deadline_ms=-5",
           "/tern/config/set,deadline_ms=3600001", "/tern/config/set,deadline_ms=5ms",
           "/tern/config/set,log_level=loud", "/tern/config/set,log_level=9",
           "/tern/config/set,slice_size=1M=2", "/tern/config/set,slice_size=\"4K\""]
    replies = query(args, good + bad + ["/tern/config"])
    for cmd, rep in zip(good, replies):
        check(ok(rep), "%s: %s" % (cmd, rep))
    check(replies[0].get("status") == "ok" and replies[0].get("value") == 1 << 20,
          "set slice_size reply %r" % replies[0])
    mid = replies[3]
    check(mid.get("slice_size") == 1 << 20, "slice_size not applied: %r" % mid.get("slice_size"))
    check(mid.get("deadline_ms") == 250, "deadline_ms not applied: %r" % mid.get("deadline_ms"))
    check(mid.get("log_level") == "debug", "log_level not applied: %r" % mid.get("log_level"))
    for cmd, rep in zip(bad, replies[len(good):]):
        check(is_error(rep), "%s accepted: %s" % (cmd, rep))
    last = replies[-1]
    check((last.get("slice_size"), last.get("deadline_ms"), last.get("log_level")) ==
          (1 << 20, 250, "notice"), "settings after refused changes: %r" % last)

    # Notifications: the traffic thread notifies this node with every batch and polls them.
    (ntf,) = query(args, ["/tern/notify"])
    check(ok(ntf), "notify: %s" % ntf)
    check(ntf.get("node") == "e_tel", "notify.node %r" % ntf.get("node"))
    check(ntf.get("depth") == 1024, "notify.depth %r" % ntf.get("depth"))
    check(ntf.get("delivered", 0) > 0 and ntf.get("sent_delivered", 0) > 0,
          "notify counters %r" % ntf)
    check(ntf.get("sender") == ["e_tel"] and ntf.get("sender_delivered", [0])[0] > 0,
          "notify senders %r" % ntf)
    check(ntf.get("malformed") == 0 and ntf.get("sent_failed") == 0, "notify errors %r" % ntf)
    (bad_ntf,) = query(args, ["/tern/notify,1"])
    check(is_error(bad_ntf), "/tern/notify,1 accepted: %s" % bad_ntf)

    # tern-top against the same socket, without a terminal.
    top = tern_top(args, "--once", "-i", "0.5")
    check(top.returncode == 0, "tern-top --once exited %d: %s" % (top.returncode, top.stderr))
    rows = {}
    for line in top.stdout.splitlines():
        cols = line.split()
        if cols and (cols[0].isdigit() or cols[0] == "all"):
            rows[cols[0]] = cols
    check({"1", "2", "all"} <= set(rows), "tern-top rows %r\n%s" % (sorted(rows), top.stdout))
    check("GB/s" in top.stdout and "BUSY%" in top.stdout, "tern-top header")
    check("NOTIFY e_tel" in top.stdout and "SENDER" in top.stdout, "tern-top notify view:\n" +
          top.stdout)
    if "all" in rows:
        # The traffic thread copies all along: something moved in the interval.
        check(float(rows["all"][3]) > 0.0, "tern-top shows no GB/s:\n" + top.stdout)
    top = tern_top(args, "-n", "2", "-i", "0.2")
    check(top.returncode == 0 and top.stdout.count("LCORE") == 2,
          "tern-top -n 2: rc %d\n%s%s" % (top.returncode, top.stdout, top.stderr))
    top = subprocess.run([sys.executable, args.top, "-f", args.prefix + "_missing", "--once"],
                         capture_output=True, text=True, timeout=60, check=False)
    check(top.returncode == 1 and "no DPDK telemetry socket" in top.stderr,
          "tern-top on a missing socket: rc %d %s" % (top.returncode, top.stderr))


def check_detached(args):
    cmds = ["/tern/info", "/tern/stats", "/tern/lcore,1", "/tern/segments", "/tern/clients",
            "/tern/latency", "/tern/config", "/tern/config/set,slice_size=1M"]
    for cmd, rep in zip(cmds, query(args, cmds)):
        check(is_error(rep) and "not attached" in rep["error"], "%s: %s" % (cmd, rep))
    top = tern_top(args, "--once", "-i", "0.1")
    check(top.returncode == 1 and "not attached" in top.stderr,
          "tern-top when detached: rc %d %s" % (top.returncode, top.stderr))


def main():
    parser = argparse.ArgumentParser()
    for opt in ("--mode", "--prefix", "--client", "--top", "--pid", "--node", "--segments"):
        parser.add_argument(opt, required=True)
    args = parser.parse_args()
    if args.mode == "attached":
        check_attached(args)
    else:
        check_detached(args)
    print("check_telemetry %s: %d failure(s)" % (args.mode, len(FAILURES)))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
