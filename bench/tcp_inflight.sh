#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# One tcp rail between two dataplanes, WRITE at several batch sizes and
# batches in flight, with cost counters next to the rate (issue 15: why 16
# batches of 1 MiB in flight ran slower than 4; doc/performance.md, "tcp:
# batches in flight").
#
#   bench/tcp_inflight.sh ROUNDS NAME=BUILDDIR [NAME=BUILDDIR...]
#
# Builds alternate inside each round. Layout of bench/run.sh's peer pair:
# dataplane a -l 0-1 (worker lcore on CPU 1), dataplane b -l 0-1
# --main-lcore 1 (worker on CPU 0), tern-perf -l 0 attached to a, b pinned
# to tcp, both --idle yield, in a network namespace of their own so that the
# kernel's TCP counters (nstat) are theirs alone. Per point, over 1 s of the
# measurement: perf stat of both dataplanes (syscalls by kind, context
# switches, CPU time; divided by the GB moved in that second) and per
# connection tcp_info deltas (ss -tin: rwnd/sndbuf-limited time, retransmitted
# bytes, reordering), and the netns's TCP counters over the whole point.
# Environment: CFGS (points, BLOCK:INFLIGHT, default "1M:4 1M:16 4M:4
# 256K:16"), DUR (seconds per point, default 3), EXTRA_A (more arguments for
# dataplane a, the sender, e.g. "--transport tcp,sndbuf=1048576"; EXTRA_A_<NAME>: more
# for the runs of NAME only, so that one build can run with two settings), OUT (directory, default a
# new one under /tmp). Needs root (netns, perf); without perf the counters
# are left out. PROFILE=1: also sample both CPUs for that second (perf record
# -a, cpu-clock) and print where each CPU's time went (process, kernel or
# user symbol), the top PROFILE_TOP (12) lines per CPU. Bounded: every
# tern-perf is killed after 60 s.
set -u
rounds=${1:?usage: $0 ROUNDS NAME=BUILDDIR...}
shift
[ $# -ge 1 ] || { echo "usage: $0 ROUNDS NAME=BUILDDIR..." >&2; exit 2; }
OUT=${OUT:-$(mktemp -d /tmp/tcp_inflight.XXXXXX)}
mkdir -p "$OUT" || exit 1
NS=tinf$$
EV=raw_syscalls:sys_enter,syscalls:sys_enter_sendmsg,syscalls:sys_enter_readv,syscalls:sys_enter_recvfrom,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_futex,syscalls:sys_enter_sched_yield,context-switches,task-clock
have_perf=0
command -v perf >/dev/null && have_perf=1
ip netns add $NS || exit 1
trap 'ip netns del $NS 2>/dev/null' EXIT
ip netns exec $NS ip link set lo up
pf() { ip netns exec $NS python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ready() { grep -q ready "$1"; }

for r in $(seq "$rounds"); do
	for spec in "$@"; do
		name=${spec%%=*}
		b=${spec#*=}
		xv=EXTRA_A_$name
		xa=${!xv:-}
		pa=tiA$$
		pb=tiB$$
		qa=$(pf)
		qb=$(pf)
		ip netns exec $NS "$b/apps/dataplane/tern-dataplane" -l 0-1 --no-pci --base-virtaddr 0x200000000000 \
			--file-prefix $pa --log-level lib.eal:warning -- --node a --segment kv:256M --listen 127.0.0.1:0 \
			--directory p2p://127.0.0.1:$qa --peer b=p2p://127.0.0.1:$qb --peer-transport b=tcp --idle yield ${EXTRA_A:-} $xa \
			>"$OUT/a.log" 2>&1 &
		A=$!
		ip netns exec $NS "$b/apps/dataplane/tern-dataplane" -l 0-1 --main-lcore 1 --no-pci \
			--base-virtaddr 0x280000000000 --file-prefix $pb --log-level lib.eal:warning -- --node b \
			--segment kv:256M --listen 127.0.0.1:0 --directory p2p://127.0.0.1:$qb --idle yield \
			>"$OUT/b.log" 2>&1 &
		B=$!
		for i in $(seq 100); do ready "$OUT/a.log" && ready "$OUT/b.log" && break; sleep 0.1; done
		for cfg in ${CFGS:-1M:4 1M:16 4M:4 256K:16}; do
			bs=${cfg%%:*}
			inf=${cfg#*:}
			ip netns exec $NS nstat -n
			"$b/apps/perf/tern-perf" -l 0 --no-pci --proc-type=secondary --file-prefix $pa \
				--log-level 'lib.*:error' -- --target dataplane --segment b/kv --duration "${DUR:-3}" \
				--json --quiet --op write --block-size "$bs" --batch 1 --inflight "$inf" \
				--completion wait >"$OUT/out.json" 2>"$OUT/err" &
			P=$!
			(sleep 60; kill $P 2>/dev/null) >/dev/null 2>&1 &
			W=$!
			sleep 1.3
			ip netns exec $NS ss -tin >"$OUT/ss0.txt"
			: >"$OUT/sa.txt"
			: >"$OUT/sb.txt"
			if [ $have_perf = 1 ]; then
				PR=
				if [ "${PROFILE:-0}" = 1 ]; then
					perf record -q -a -g -e cpu-clock -F 2999 -o "$OUT/perf.data" -- sleep 1 \
						>/dev/null 2>&1 &
					PR=$!
				fi
				perf stat -x, -e $EV -p $A -- sleep 1 2>"$OUT/sa.txt" &
				PS=$!
				perf stat -x, -e $EV -p $B -- sleep 1 2>"$OUT/sb.txt"
				wait $PS $PR
			else
				sleep 1
			fi
			ip netns exec $NS ss -tin >"$OUT/ss1.txt"
			wait $P
			kill $W 2>/dev/null
			ip netns exec $NS nstat >"$OUT/nstat.txt"
			python3 - "$OUT" "$r" "$name" "$bs" "$inf" "$(cut -d' ' -f1 /proc/loadavg)" <<'PY'
import json, re, sys
out, r, name, bs, inf, load = sys.argv[1:]
try:
    p = json.load(open(out + "/out.json"))["results"][0]
except Exception as e:
    print("%s %s %s x %s: no result (%s)" % (r, name, bs, inf, e)); sys.exit(0)
gb = max(p["gbps"], 1e-9)  # GB in the counters' second, taking the point's mean rate
def perf(f):
    o = {}
    for l in open(f):
        x = l.strip().split(",")
        if len(x) > 3 and x[0][:1].isdigit():
            o[x[2].split(":")[-1]] = float(x[0])
    return o
def fmt(o):
    if not o:
        return "-"
    keys = ("sys_enter", "sys_enter_sendmsg", "sys_enter_readv", "sys_enter_recvfrom", "sys_enter_futex",
            "sys_enter_sched_yield", "context-switches", "task-clock")
    return "syscalls %.0f (sendmsg %.0f readv %.0f recv %.0f futex %.0f yield %.0f) cs %.0f cpu %.0f ms" % tuple(
        o.get(k, 0) / gb for k in keys)
def ss(f):
    c = {}
    lines = open(f).read().split("\n")
    for i, l in enumerate(lines):
        if l.startswith("ESTAB") and i + 1 < len(lines):
            info = lines[i + 1]
            d = {}
            for k in ("bytes_sent", "bytes_retrans", "reord_seen", "cwnd"):
                m = re.search(r"\b" + k + r":(\d+)", info)
                d[k] = float(m.group(1)) if m else 0.0
            for k in ("rwnd_limited", "sndbuf_limited", "busy"):
                m = re.search(k + r":(\d+)ms", info)
                d[k] = float(m.group(1)) if m else 0.0
            c[tuple(l.split()[3:5])] = d
    return c
s0, s1 = ss(out + "/ss0.txt"), ss(out + "/ss1.txt")
conns = []
for k, v in s1.items():
    u = s0.get(k)
    if u is None or v["bytes_sent"] - u["bytes_sent"] < 10e6:
        continue
    conns.append("sent %.0f MB, rwnd-limited %.0f ms, sndbuf-limited %.0f ms, retrans %.1f MB, reord %d, cwnd %d" % (
        (v["bytes_sent"] - u["bytes_sent"]) / 1e6, v["rwnd_limited"] - u["rwnd_limited"],
        v["sndbuf_limited"] - u["sndbuf_limited"], (v["bytes_retrans"] - u["bytes_retrans"]) / 1e6,
        v["reord_seen"] - u["reord_seen"], v["cwnd"]))
ns = {}
for l in open(out + "/nstat.txt"):
    x = l.split()
    if len(x) >= 2 and not l.startswith("#"):
        ns[x[0]] = int(x[1])
gbt = max(p["bytes"] / 1e9, 1e-9)
lat = p.get("latency_ns", {})
print("%s %s %s x %s load %s: %.2f GB/s, p50 %.0f us" % (r, name, bs, inf, load, p["gbps"],
      lat.get("p50", 0) / 1000 if isinstance(lat, dict) else 0))
print("   a per GB: " + fmt(perf(out + "/sa.txt")))
print("   b per GB: " + fmt(perf(out + "/sb.txt")))
print("   tcp per GB: retransmitted segments %.0f, SACK recoveries %.0f, out-of-order queued %.0f, loss probes %.0f, DSACKs received %.0f" % tuple(
      ns.get(k, 0) / gbt for k in ("TcpRetransSegs", "TcpExtTCPSackRecovery", "TcpExtTCPOFOQueue",
                                   "TcpExtTCPLossProbes", "TcpExtTCPDSACKRecv")))
for c in conns:
    print("   conn: " + c)
PY
			if [ "${PROFILE:-0}" = 1 ] && [ -s "$OUT/perf.data" ]; then
				perf script -i "$OUT/perf.data" -F comm,cpu,ip,sym 2>/dev/null |
					python3 "$(dirname "$0")/perf_fold.py" "${PROFILE_TOP:-12}" | sed 's/^/   /'
			fi
		done
		kill -TERM $A $B
		wait $A $B 2>/dev/null
		rm -rf /var/run/dpdk/$pa /var/run/dpdk/$pb
	done
done
echo "raw files of the last point: $OUT"
