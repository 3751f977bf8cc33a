#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The object store's benchmark (doc/store.md, doc/performance.md "Store"),
# one run, stated cores, loopback only, every step bounded in time:
#   1. tern-perf --store at 1 MiB: put/get next to raw tern WRITE/READ of the
#      same bytes between the same segments (embedded metadata): in process,
#      and from a client attached to a tern-dataplane that owns the segment
#      (--store-capacity: reserve and commit over its IPC);
#   2. tern-perf --store at 4 KiB and 64 KiB with embedded, etcd and Redis
#      metadata (objects/s);
#   3. redis-benchmark SET/GET at 4 KiB and 64 KiB on the same machine.
# Cores: tern-perf -l 0-1 (its client thread on CPU 0, worker lcore 1 on
# CPU 1); the dataplane run: tern-dataplane -l 0-1 (worker lcore 1 on CPU
# 1), tern-perf a secondary on CPU 0 (-l 0); etcd and redis-server pinned
# to CPU 0 (taskset), redis-benchmark to CPU 1.
#
#   bench/store.sh [--perf PATH] [--out DIR] [--quick]
#
# Writes DIR (default results/store-<timestamp>/): store.md (the tables),
# commands.txt and the raw output of every run.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PERF=$ROOT/build/apps/perf/tern-perf
OUT=""
QUICK=0
while [ $# -gt 0 ]; do
	case "$1" in
	--perf) PERF=${2:?--perf needs a path}; shift ;;
	--out) OUT=${2:?--out needs a directory}; shift ;;
	--quick) QUICK=1 ;;
	-h|--help) awk 'NR >= 3 && !/^#/ {exit} NR >= 3' "$0"; exit 0 ;;
	*) echo "store.sh: unknown argument '$1' (--perf PATH, --out DIR, --quick)" >&2; exit 2 ;;
	esac
	shift
done
OUT=${OUT:-$ROOT/results/store-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
CMDS=$OUT/commands.txt
: >"$CMDS"
log() { echo "bench/store: $*" >&2; }
DPLANE=$(dirname "$PERF")/../dataplane/tern-dataplane
for c in etcd redis-server redis-benchmark redis-cli taskset; do
	command -v "$c" >/dev/null || { log "$c missing (usertools/tern-quickstart.sh deps)"; exit 1; }
done
[ -x "$PERF" ] || { log "$PERF missing: build first (ninja -C build)"; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tern-bench-store.XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$TMP" /var/run/dpdk/tbs_*_$$ /dev/hugepages/tbs_dp_$$*
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_ready() { # wait_ready SECONDS COMMAND...
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || { log "server not ready: $*"; exit 1; }
		sleep 0.2
	done
}

ECP=$(free_port)
EPP=$(free_port)
taskset -c 0 etcd --name bench --data-dir "$TMP/etcd" \
	--listen-client-urls "http://127.0.0.1:$ECP" --advertise-client-urls "http://127.0.0.1:$ECP" \
	--listen-peer-urls "http://127.0.0.1:$EPP" --initial-advertise-peer-urls "http://127.0.0.1:$EPP" \
	--initial-cluster "bench=http://127.0.0.1:$EPP" --log-level error >"$OUT/etcd.log" 2>&1 &
PIDS+=($!)
RP=$(free_port)
taskset -c 0 redis-server --bind 127.0.0.1 --port "$RP" --save '' --appendonly no --dir "$TMP" \
	>"$OUT/redis.log" 2>&1 &
PIDS+=($!)
wait_ready 30 etcdctl --endpoints "127.0.0.1:$ECP" --dial-timeout 1s endpoint health
wait_ready 30 sh -c "redis-cli -p $RP ping | grep -q PONG"
echo "etcd: taskset -c 0 etcd ... (127.0.0.1:$ECP), $(etcd --version | head -1)" >>"$CMDS"
echo "redis: taskset -c 0 redis-server --port $RP --save '' --appendonly no, $(redis-server --version)" >>"$CMDS"

ROUNDS=50 # 1 MiB runs: 64 keys x 50 rounds, about 0.3 s per figure
KEYS_SMALL=2048
KEYS_ETCD=512
[ "$QUICK" -eq 1 ] && { ROUNDS=3; KEYS_SMALL=512; KEYS_ETCD=128; }

store_run() { # store_run NAME -- tern-perf args
	local name=$1
	shift 2
	local cmd="$PERF -l 0-1 --file-prefix tbs_${name}_$$ --log-level lib.*:error -- --quiet $*"
	echo "$name: $cmd" >>"$CMDS"
	log "tern-perf $name"
	# shellcheck disable=SC2086
	timeout -k 5 900 $cmd >"$OUT/$name.txt" 2>"$OUT/$name.err" ||
		{ log "$name failed (see $OUT/$name.err)"; return 1; }
	rm -rf "/var/run/dpdk/tbs_${name}_$$"
}
rows() { grep -E '^ +[0-9]+ +(put|get) ' "$1"; }

store_run big -- --store 64 --block-size 1M --batch 8 --iterations "$ROUNDS"
# The same 1 MiB objects through a dataplane that owns the segment.
DP_PREFIX=tbs_dp_$$
"$DPLANE" -l 0-1 --no-pci --file-prefix "$DP_PREFIX" --log-level lib.eal:warning -- \
	--segment kv:256M --store-capacity kv --node bench >"$OUT/dataplane.log" 2>&1 &
DP_PID=$!
PIDS+=("$DP_PID")
for _ in $(seq 1 100); do grep -q "ready:" "$OUT/dataplane.log" && break; sleep 0.1; done
cmd="$PERF --proc-type=secondary -l 0 --no-pci --file-prefix $DP_PREFIX --log-level lib.*:error -- --quiet --target dataplane --segment kv --store 64 --block-size 1M --batch 8 --iterations $ROUNDS"
echo "dataplane: $DPLANE -l 0-1 --file-prefix $DP_PREFIX -- --segment kv:256M --store-capacity kv" >>"$CMDS"
echo "big_dataplane: $cmd" >>"$CMDS"
log "tern-perf big_dataplane"
# shellcheck disable=SC2086
timeout -k 5 300 $cmd >"$OUT/big_dataplane.txt" 2>"$OUT/big_dataplane.err" ||
	log "big_dataplane failed (see $OUT/big_dataplane.err)"
kill -TERM "$DP_PID"
wait "$DP_PID" || log "the dataplane exited with status $?"
rm -rf "/var/run/dpdk/$DP_PREFIX"

store_run small_embedded -- --store "$KEYS_SMALL" --block-size 4K,64K --batch 16 --iterations 3
store_run small_redis -- --store "$KEYS_SMALL" --block-size 4K,64K --batch 16 --iterations 3 \
	--store-metadata "redis://127.0.0.1:$RP/bench"
store_run small_etcd -- --store "$KEYS_ETCD" --block-size 4K,64K --batch 16 --iterations 3 \
	--store-metadata "etcd://127.0.0.1:$ECP/bench"

for d in 4096 65536; do
	for p in 1 16; do
		cmd="taskset -c 1 redis-benchmark -p $RP -t set,get -d $d -n 20000 -c 1 -P $p -q --csv"
		echo "redis_${d}_P$p: $cmd" >>"$CMDS"
		log "redis-benchmark -d $d -P $p"
		# shellcheck disable=SC2086
		timeout -k 5 300 $cmd >"$OUT/redis_${d}_P$p.csv" 2>&1
	done
done

{
	echo "# Store benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
	echo
	echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load before: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "Cores: tern-perf -l 0-1 (client thread CPU 0, worker lcore 1 CPU 1); the dataplane run: tern-dataplane -l 0-1 (worker lcore 1 on CPU 1), tern-perf a secondary on CPU 0; etcd, redis-server on CPU 0; redis-benchmark on CPU 1."
	echo
	echo "## 1 MiB objects: store put/get vs raw tern WRITE/READ of the same bytes (embedded metadata, 64 keys, batch 8, $ROUNDS rounds)"
	echo
	echo '```'
	sed -n '1,2p' "$OUT/big.txt"
	rows "$OUT/big.txt"
	echo '```'
	echo
	echo "## 1 MiB objects through a tern-dataplane that owns the segment (attached client, embedded metadata, 64 keys, batch 8, $ROUNDS rounds)"
	echo
	echo '```'
	sed -n '1,2p' "$OUT/big_dataplane.txt"
	rows "$OUT/big_dataplane.txt"
	echo '```'
	echo
	echo "## Objects/s at 4 KiB and 64 KiB by metadata (batch 16, 3 rounds; ratio: store vs raw WRITE/READ of the same bytes)"
	echo
	for m in embedded redis etcd; do
		echo "### $m"
		echo '```'
		sed -n '1,2p' "$OUT/small_$m.txt"
		rows "$OUT/small_$m.txt"
		echo '```'
	done
	echo
	echo "## redis-benchmark SET/GET, one connection (-c 1), no pipelining (-P 1) and 16 deep (-P 16), requests/s"
	echo
	echo "| value | P | SET/s | GET/s |"
	echo "|---|---|---|---|"
	for d in 4096 65536; do
		for p in 1 16; do
			f=$OUT/redis_${d}_P$p.csv
			set_rps=$(awk -F'","' '/^"SET"/ {print $2}' "$f" | tr -d '"')
			get_rps=$(awk -F'","' '/^"GET"/ {print $2}' "$f" | tr -d '"')
			echo "| $d | $p | ${set_rps:-?} | ${get_rps:-?} |"
		done
	done
	echo
	echo "Commands: commands.txt."
} >"$OUT/store.md"
log "results in $OUT/store.md"
