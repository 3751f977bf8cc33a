#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# tern's benchmark suite: tern-perf sweeps and the peers (glibc memcpy and
# streaming-store baselines inside tern-perf, UCX ucx_perftest over shared
# memory and TCP, iperf3) on this machine, in one run, on stated cores.
# Loopback only (127.0.0.1); every run is bounded in time.
#
#   bench/run.sh [--quick] [--plot] [--out DIR]
#
# Writes DIR (default results/<timestamp>/): raw JSON and text of every run,
# commands.txt (the exact command lines), machine.txt, and results.md (the
# tables, with what each row measures and which cores it used).
# Environment: BUILD (build dir, default build-bench), DURATION (seconds per
# tern-perf point, default 2).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
DURATION=${DURATION:-2}
QUICK=0
PLOT=0
OUT=""
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--plot) PLOT=1 ;;
	--out) OUT=${2:?--out needs a directory}; shift ;;
	-h|--help) sed -n '3,16p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument '$1' (--quick, --plot, --out DIR)" >&2; exit 2 ;;
	esac
	shift
done
OUT=${OUT:-$ROOT/results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
CMDS="$OUT/commands.txt"
: >"$CMDS"
log() { echo "bench: $*" >&2; }

# ---- what the suite needs (installed through apt only, and said so) ----
need() { # need <command> <debian package> [optional]
	command -v "$1" >/dev/null 2>&1 && return 0
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		log "installing $2 (provides $1) with apt-get"
		apt-get install -y "$2" >"$OUT/apt-$2.log" 2>&1 ||
			{ apt-get update >/dev/null 2>&1 && apt-get install -y "$2" >>"$OUT/apt-$2.log" 2>&1; } ||
			true
	fi
	command -v "$1" >/dev/null 2>&1 && return 0
	[ "${3:-}" = optional ] && { log "$1 unavailable: skipping what needs it"; return 1; }
	log "$1 is required (Debian package $2)"; exit 1
}
need python3 python3
# Debian's python3 (where apt puts matplotlib) rather than a pyenv shim, when both exist.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
need meson meson
need ninja ninja-build
HAVE_UCX=0; need ucx_perftest ucx-utils optional && HAVE_UCX=1
HAVE_IPERF=0; need iperf3 iperf3 optional && HAVE_IPERF=1
if [ "$PLOT" -eq 1 ] && ! "$PY" -c 'import matplotlib' 2>/dev/null; then
	need_mpl=1
	if [ "$(id -u)" -eq 0 ]; then
		log "installing python3-matplotlib with apt-get (for --plot)"
		apt-get install -y python3-matplotlib >"$OUT/apt-matplotlib.log" 2>&1 && need_mpl=0
	fi
	[ "$need_mpl" -eq 1 ] && { log "matplotlib unavailable: no plot"; PLOT=0; }
fi

# ---- hugepages: the segments live in hugepage memory ----
hp_total=$(awk '/^HugePages_Total/ {print $2}' /proc/meminfo)
if [ "${hp_total:-0}" -eq 0 ]; then
	log "no hugepages reserved: dpdk-hugepages.py -p 2M --setup 2G"
	dpdk-hugepages.py -p 2M --setup 2G
fi
hp_free_mb=$(awk '/^HugePages_Free/ {f=$2} /^Hugepagesize/ {s=$2} END {print int(f*s/1024)}' /proc/meminfo)
# Large working set: two segments (local + target) of WS bytes each must fit.
if [ "$hp_free_mb" -ge 1400 ]; then WS=512M; elif [ "$hp_free_mb" -ge 700 ]; then WS=256M; else WS=64M; fi
log "hugepages free: ${hp_free_mb} MiB; large working set per client: $WS"

# ---- build ----
if [ ! -x "$BUILD/apps/perf/tern-perf" ]; then
	log "building into $BUILD"
	[ -d "$BUILD" ] || meson setup "$BUILD" "$ROOT" -Dtests=false >"$OUT/build.log" 2>&1
	ninja -C "$BUILD" >>"$OUT/build.log" 2>&1
fi
PERF="$BUILD/apps/perf/tern-perf"

# ---- a quiet machine: wait (bounded) until the CPUs are idle ----
cpu_busy_pct() { # busy share of all CPUs over one second
	local a b
	a=($(awk '/^cpu / {print $2+$3+$4+$7+$8, $5+$6}' /proc/stat))
	sleep 1
	b=($(awk '/^cpu / {print $2+$3+$4+$7+$8, $5+$6}' /proc/stat))
	echo $(( 100 * (b[0] - a[0]) / (b[0] - a[0] + b[1] - a[1] + 1) ))
}
QUIET_WAIT=${QUIET_WAIT:-300}
waited=0
busy=$(cpu_busy_pct)
while [ "$busy" -gt 10 ] && [ "$waited" -lt "$QUIET_WAIT" ]; do
	[ "$waited" -eq 0 ] && log "CPUs ${busy}% busy before the run: waiting up to ${QUIET_WAIT}s for quiet"
	sleep 4
	waited=$((waited + 5))
	busy=$(cpu_busy_pct)
done
[ "$busy" -gt 10 ] && log "WARNING: CPUs still ${busy}% busy: figures will be disturbed (see machine.txt)"

# ---- the machine, and who else is using it ----
{
	echo "# machine"; date -u; uname -a; nproc
	lscpu | grep -E 'Model name|^CPU\(s\)|Thread|Core|Socket|NUMA|Flags' | cut -c1-200
	getconf -a | grep -E 'LEVEL[123].*CACHE_SIZE'
	grep -E 'HugePages_|Hugepagesize|MemTotal' /proc/meminfo
	echo "# load before the run"; cat /proc/loadavg; echo "cpu busy before the run: ${busy}%"

	echo "# busiest processes before the run"; top -bn1 | sed -n '7,14p'
	echo "# tern commit"; git -C "$ROOT" log -1 --oneline 2>/dev/null || true
	git -C "$ROOT" status --short 2>/dev/null | head -20 || true
} >"$OUT/machine.txt" 2>&1

# Cores: EAL main lcore 0 on CPU 0 (control thread; the client threads run
# on its CPU), worker lcore 1 on CPU 1. Two workers on this 2-CPU machine:
# lcore 1 on CPU 0 (shared with the client thread, which then sleeps in
# tern_future_wait) and lcore 2 on CPU 1.
EAL1="-l 0-1 --log-level lib.*:error"
EAL2="--lcores 0@0,1@0,2@1 --log-level lib.*:error"
SIZES="4K,64K,1M,4M,16M,64M"
BIG="1M,4M,16M,64M"
[ "$QUICK" -eq 1 ] && { SIZES="4K,1M,64M"; BIG="1M,64M"; DURATION=1; }

perf() { # perf <name> <eal args> -- <tern-perf args>
	local name=$1 eal=$2
	shift 3
	local cmd="$PERF $eal --file-prefix tb_${name}_$$ -- --duration $DURATION --json --quiet $*"
	echo "$name: $cmd" >>"$CMDS"
	log "tern-perf $name"
	# shellcheck disable=SC2086
	if ! $cmd >"$OUT/$name.json" 2>"$OUT/$name.err"; then
		log "tern-perf $name failed (see $OUT/$name.err)"
		rm -f "$OUT/$name.json"
	fi
}

# Bandwidth against block size: 1 worker lcore, reused buffer and large working set.
perf tern_1w_reused "$EAL1" -- --block-size $SIZES --batch 1 --inflight 4
perf tern_1w_large "$EAL1" -- --block-size $SIZES --batch 1 --inflight 4 --working-set $WS
# Two worker lcores, blocks large enough to be shared between them.
perf tern_2w_large "$EAL2" -- --block-size $BIG --batch 1 --inflight 2 --working-set $WS \
	--completion wait
# Rate: 4 KiB requests in batches of 32 through one worker lcore.
perf tern_rate_4k_b32 "$EAL1" -- --block-size 4K --batch 32 --inflight 4 --no-baseline
# Latency: one 64-byte request, submit -> wait (and submit -> reap).
perf tern_lat_64_wait "$EAL1" -- --block-size 8,64 --batch 1 --inflight 1 --completion wait --no-baseline
perf tern_lat_64_reap "$EAL1" -- --block-size 8,64 --batch 1 --inflight 1 --completion reap --no-baseline
# Client scaling: 1, 2, 8, 32 client threads on CPU 0, one worker lcore. The
# total working set is the same for every N (WS split between the clients),
# so N changes the number of submitters, not where the bytes live.
ws_bytes=$(( ${WS%M} << 20 ))
for n in 1 2 8 32; do
	perf "tern_clients_$n" "$EAL1" -- --block-size 1M --batch 1 --inflight 2 --clients "$n" \
		--working-set $(( ws_bytes / n )) --completion wait --no-baseline
done

# ---- UCX: server on CPU 1, client on CPU 0, loopback ----
PORT=$((20000 + $$ % 20000))
ucx() { # ucx <name> <env> <client args...>
	local name=$1 envs=$2
	shift 2
	PORT=$((PORT + 1))
	echo "$name: server: $envs ucx_perftest -p $PORT -c 1; client: $envs ucx_perftest 127.0.0.1 -p $PORT -c 0 $* -f -v" >>"$CMDS"
	log "ucx_perftest $name"
	# shellcheck disable=SC2086
	env $envs timeout 60 ucx_perftest -p "$PORT" -c 1 >"$OUT/$name.server.txt" 2>&1 &
	local spid=$!
	sleep 0.5
	# shellcheck disable=SC2086
	env $envs timeout 60 ucx_perftest 127.0.0.1 -p "$PORT" -c 0 "$@" -f -v \
		>"$OUT/$name.txt" 2>&1 || log "ucx_perftest $name failed (see $OUT/$name.txt)"
	wait "$spid" 2>/dev/null || true
}
iters() { # iterations for about 8 GiB (1 GiB quick) moved, at least 20
	local bytes=$1 budget=$((8 << 30))
	[ "$QUICK" -eq 1 ] && budget=$((1 << 30))
	local n=$((budget / bytes))
	[ "$n" -lt 20 ] && n=20
	echo "$n"
}
if [ "$HAVE_UCX" -eq 1 ]; then
	SHM="UCX_TLS=posix,cma,self"
	for s in 1048576 4194304 16777216 67108864; do
		ucx "ucx_shm_put_bw_$s" "$SHM" -t ucp_put_bw -s "$s" -n "$(iters $s)" -w 10
	done
	ucx ucx_shm_put_lat_8 "$SHM" -t ucp_put_lat -s 8 -n 200000 -w 10000
	for s in 1048576 67108864; do
		ucx "ucx_tcp_put_bw_$s" "" -t put_bw -x tcp -d lo -D zcopy -s "$s" \
			-n "$(( $(iters $s) / 8 + 10 ))" -w 5
	done
fi

# ---- iperf3 over loopback: the TCP ceiling ----
if [ "$HAVE_IPERF" -eq 1 ]; then
	PORT=$((PORT + 1))
	T=5; [ "$QUICK" -eq 1 ] && T=2
	echo "iperf3: server: taskset -c 1 iperf3 -s -1 -B 127.0.0.1 -p $PORT; client: taskset -c 0 iperf3 -c 127.0.0.1 -p $PORT -l 1M -t $T -J" >>"$CMDS"
	log "iperf3"
	taskset -c 1 timeout 60 iperf3 -s -1 -B 127.0.0.1 -p "$PORT" >"$OUT/iperf3.server.txt" 2>&1 &
	spid=$!
	sleep 0.5
	taskset -c 0 timeout 60 iperf3 -c 127.0.0.1 -p "$PORT" -l 1M -t "$T" -J >"$OUT/iperf3.json" 2>&1 ||
		log "iperf3 failed (see $OUT/iperf3.json)"
	wait "$spid" 2>/dev/null || true
fi

{ echo "# load after the run"; cat /proc/loadavg; top -bn1 | sed -n '7,12p'; } >>"$OUT/machine.txt"
"$PY" "$ROOT/bench/report.py" "$OUT" $([ "$PLOT" -eq 1 ] && echo --plot)
log "results in $OUT (results.md)"
