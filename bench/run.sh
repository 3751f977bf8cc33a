#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# tern's benchmark suite: tern-perf sweeps and the peers (glibc memcpy and
# streaming-store baselines inside tern-perf, UCX ucx_perftest over shared
# memory and TCP, iperf3) on this machine, in one run, on stated cores.
# Loopback only (127.0.0.1); every run is bounded in time.
#
#   bench/run.sh [--quick] [--plot] [--out DIR] [--commit REV] [--base REV|none]
#
# Writes DIR (default results/<timestamp>/): raw JSON and text of every run,
# commands.txt (the exact command lines), machine.txt, and results.md (the
# tables, with what each row measures and which cores it used).
# It builds and measures the work tree; --commit REV builds and measures a
# clean snapshot of commit REV instead (git archive, in BUILD/commit-<sha>/),
# untouched by uncommitted edits in the work tree.
# The submission-path table (64 B submit -> wait latency, 4 KiB x 32 slice
# rate; in-process and through 1 and 32 attached clients) measures the base
# commit too, a clean snapshot built the same way, in alternating runs:
# --base REV (default: the previous commit, HEAD~1, or REV~1 with --commit),
# --base none: the work tree alone.
# Environment: BUILD (build dir, default build-bench), DURATION (seconds per
# tern-perf point, default 2), QUIET_WAIT (seconds to wait for idle CPUs
# before the run, default 300; half of it again before the peers and before
# the two dataplanes), SUB_ROUNDS (rounds of the submission-path table, each
# one run of the work tree then one of the base: default 5, 3 with --quick),
# BUILD_JOBS (ninja -j, default ninja's own), PY_ROUNDS (rounds of the Python
# client against tern-perf, default 3, 2 with --quick).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
DURATION=${DURATION:-2}
QUICK=0
PLOT=0
OUT=""
COMMIT=""
BASE=""
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--plot) PLOT=1 ;;
	--out) OUT=${2:?--out needs a directory}; shift ;;
	--commit) COMMIT=${2:?--commit needs a revision}; shift ;;
	--base) BASE=${2:?--base needs a revision or none}; shift ;;
	-h|--help) awk 'NR >= 3 && !/^#/ {exit} NR >= 3' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument '$1' (--quick, --plot, --out DIR, --commit REV, --base REV|none)" >&2; exit 2 ;;
	esac
	shift
done
if [ -n "$COMMIT" ]; then
	SHA=$(git -C "$ROOT" rev-parse --verify --quiet "$COMMIT^{commit}") ||
		{ echo "run.sh: --commit $COMMIT: no such commit" >&2; exit 2; }
fi
# The base of the submission-path table: the commit before the measured one.
BASE_SHA=""
if [ "$BASE" != none ]; then
	want=${BASE:-${COMMIT:-HEAD}~1}
	BASE_SHA=$(git -C "$ROOT" rev-parse --verify --quiet "$want^{commit}") || {
		[ -n "$BASE" ] && { echo "run.sh: --base $BASE: no such commit (or 'none')" >&2; exit 2; }
		echo "run.sh: $want does not exist: the submission-path table measures the work tree alone" >&2
		BASE_SHA=""
	}
fi
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

# ---- build (incrementally; a failed build stops the run) ----
# snapshot SHA: a clean snapshot of a commit (git archive), extracted once per
# commit; sets SNAP_SRC and SNAP_BDIR.
snapshot() {
	SNAP_SRC="$BUILD/commit-${1:0:12}/src"
	SNAP_BDIR="$BUILD/commit-${1:0:12}/build"
	if [ ! -f "$SNAP_SRC/meson.build" ]; then
		log "snapshot of commit ${1:0:12} into $SNAP_SRC"
		rm -rf "$SNAP_SRC" && mkdir -p "$SNAP_SRC"
		git -C "$ROOT" archive "$1" | tar -x -C "$SNAP_SRC"
	fi
}
# build_tree WHAT SRC BDIR LOG: configure once, then build incrementally.
build_tree() {
	local what=$1 src=$2 bdir=$3 blog=$4 configured f
	: >"$blog"
	log "building $what into $bdir"
	if [ ! -f "$bdir/build.ninja" ]; then
		meson setup "$bdir" "$src" -Dtests=false >>"$blog" 2>&1 ||
			{ tail -n 20 "$blog" >&2; log "meson setup failed (see $blog)"; exit 1; }
	else
		# A transport directory that appeared since the build was configured
		# (drivers/transport/meson.build only looks for them at configure time).
		configured=$(meson introspect --buildsystem-files "$bdir" 2>/dev/null || true)
		for f in "$src"/drivers/transport/*/meson.build; do
			case "$configured" in
			*"\"$f\""*) ;;
			*) log "new $(basename "$(dirname "$f")") driver: reconfiguring $bdir"
			   meson setup --reconfigure "$bdir" "$src" >>"$blog" 2>&1 ||
				{ tail -n 20 "$blog" >&2; log "meson reconfigure failed (see $blog)"; exit 1; }
			   break ;;
			esac
		done
	fi
	# shellcheck disable=SC2046
	ninja -C "$bdir" $([ -n "${BUILD_JOBS:-}" ] && echo "-j$BUILD_JOBS") >>"$blog" 2>&1 ||
		{ tail -n 20 "$blog" >&2; log "build failed (see $blog)"; exit 1; }
}
SRC=$ROOT
BDIR=$BUILD
if [ -n "$COMMIT" ]; then
	snapshot "$SHA"
	SRC=$SNAP_SRC
	BDIR=$SNAP_BDIR
fi
build_tree "$([ -n "$COMMIT" ] && echo "commit ${SHA:0:12}" || echo "the work tree")" "$SRC" "$BDIR" "$OUT/build.log"
if [ -n "$BASE_SHA" ]; then
	snapshot "$BASE_SHA"
	build_tree "the base, commit ${BASE_SHA:0:12}" "$SNAP_SRC" "$SNAP_BDIR" "$OUT/build-base.log"
	BASE_PERF="$SNAP_BDIR/apps/perf/tern-perf"
	BASE_DPLANE="$SNAP_BDIR/apps/dataplane/tern-dataplane"
fi
PERF="$BDIR/apps/perf/tern-perf"
DPLANE="$BDIR/apps/dataplane/tern-dataplane"
# What was measured: a commit, or the work tree (with its uncommitted changes).
if [ -n "$COMMIT" ]; then
	MEASURED="commit $(git -C "$ROOT" log -1 --format='%h %s' "$SHA") (clean snapshot)"
	WORK_LABEL=$MEASURED
	REV=$SHA
else
	MEASURED="work tree at $(git -C "$ROOT" log -1 --format='%h' 2>/dev/null || echo '?') with the uncommitted changes listed below"
	WORK_LABEL="the work tree at $(git -C "$ROOT" log -1 --format='%h' 2>/dev/null || echo '?')"
	if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
		WORK_LABEL+=" with its uncommitted changes (\`git status\` in machine.txt)"
	else
		WORK_LABEL+=" (no uncommitted changes)"
	fi
	REV=HEAD
fi

# ---- everything this run starts goes when it ends, however it ends ----
PREFIXES=() # EAL --file-prefix of every DPDK process started: /var/run/dpdk/<prefix> goes
DP_PIDS=()  # tern-dataplanes still running
cleanup() {
	local p
	for p in "${DP_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${DP_PIDS[@]}"; do
		for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	DP_PIDS=()
	for p in "${PREFIXES[@]}"; do
		rm -rf "/var/run/dpdk/$p"
		rm -f /dev/hugepages/"$p"map_*
	done
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# ---- a quiet machine: wait (bounded) until the CPUs are idle ----
cpu_busy_pct() { # busy share of all CPUs over one second
	local a b
	a=($(awk '/^cpu / {print $2+$3+$4+$7+$8, $5+$6}' /proc/stat))
	sleep 1
	b=($(awk '/^cpu / {print $2+$3+$4+$7+$8, $5+$6}' /proc/stat))
	echo $(( 100 * (b[0] - a[0]) / (b[0] - a[0] + b[1] - a[1] + 1) ))
}
# CPU accounting around one measurement: cpu_mark before it, cpu_record NAME
# after every process of it has been waited for. NAME.cpu.json: the cores its
# processes used (their CPU time / wall time) and the cores every other
# process on the machine used meanwhile ("others": it was disturbed when
# that is more than a small fraction of a core).
TICKS=$(getconf CLK_TCK)
sys_ticks() { awk '/^cpu / {print $2 + $3 + $4}' /proc/stat; } # user + nice + system, all CPUs
steal_ticks() { awk '/^cpu / {print $9}' /proc/stat; } # time the hypervisor gave our vCPUs to others
# CPU seconds of this shell's waited-for children, into CHILD_SECS. The
# builtin runs in this shell (in a $(...) subshell it would count the
# subshell's children only).
child_secs() {
	times >"$OUT/.times"
	CHILD_SECS=$(awk 'NR == 2 {
		n = split($1 " " $2, t, " "); s = 0
		for (i = 1; i <= n; i++) { split(t[i], ms, "m"); sub("s", "", ms[2]); s += ms[1] * 60 + ms[2] }
		print s }' "$OUT/.times")
	rm -f "$OUT/.times"
}
cpu_mark() { MARK_S=$(sys_ticks); MARK_ST=$(steal_ticks); child_secs; MARK_C=$CHILD_SECS; MARK_T=$(date +%s%N); }
cpu_record() {
	child_secs
	"$PY" -c 'import json, sys
s0, s1, st0, st1, t0, t1, hz = map(int, sys.argv[1:8])
c0, c1 = map(float, sys.argv[8:10])
wall, own = (t1 - t0) / 1e9, c1 - c0
print(json.dumps({"wall_s": round(wall, 3), "own_cores": round(own / wall, 3),
                  "others_cores": round(max(0.0, (s1 - s0) / hz - own) / wall, 3),
                  "steal_cores": round((st1 - st0) / hz / wall, 3)}))' \
		"$MARK_S" "$(sys_ticks)" "$MARK_ST" "$(steal_ticks)" "$MARK_T" "$(date +%s%N)" "$TICKS" \
		"$MARK_C" "$CHILD_SECS" >"$OUT/$1.cpu.json" || true
}
# ---- tern-dataplanes: started, waited for, stopped ----
# CPU time (user + system) of a process, in clock ticks.
proc_ticks() {
	local v
	v=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}') || true
	echo "${v:-0}"
}
# dp_start NAME LOG BINARY ARGS...: start a tern-dataplane, wait for "ready"; DP_LAST = its pid.
dp_start() {
	local name=$1 logf=$2 bin=$3 pid rc
	shift 3
	echo "$name: $bin $*" >>"$CMDS"
	"$bin" "$@" >"$logf" 2>&1 &
	pid=$!
	DP_PIDS+=("$pid")
	for _ in $(seq 1 300); do
		grep -q '^tern-dataplane: ready:' "$logf" && { DP_LAST=$pid; return 0; }
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	local how="exited before it was ready"
	kill -0 "$pid" 2>/dev/null && how="not ready within 30 s"
	dp_stop "$pid" "$name" && rc=0 || rc=$?
	log "ERROR: tern-dataplane $name did not start: $how (exit status $rc; $(awk '/^HugePages_Free/ {print $2}' /proc/meminfo) 2M hugepages free). Its log ($logf):"
	sed 's/^/    /' "$logf" | tail -n 15 >&2
	return 1
}
# dp_stop PID NAME: SIGTERM, wait up to 10 s, then SIGKILL. Returns its exit status.
dp_stop() {
	local pid=$1 rc=0 p keep=()
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		log "tern-dataplane $2 did not stop within 10 s of SIGTERM: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || rc=$?
	for p in "${DP_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
	DP_PIDS=("${keep[@]}")
	return $rc
}
QUIET_WAIT=${QUIET_WAIT:-300}
wait_quiet() { # wait_quiet WHAT SECONDS: sets busy
	local waited=0
	busy=$(cpu_busy_pct)
	while [ "$busy" -gt 10 ] && [ "$waited" -lt "$2" ]; do
		[ "$waited" -eq 0 ] && log "CPUs ${busy}% busy before $1: waiting up to ${2}s for quiet"
		sleep 4
		waited=$((waited + 5))
		busy=$(cpu_busy_pct)
	done
	[ "$busy" -le 10 ] || log "WARNING: CPUs still ${busy}% busy: $1 will be disturbed (see machine.txt)"
}
wait_quiet "the run" "$QUIET_WAIT"

# ---- the machine, and who else is using it ----
{
	echo "# machine"; date -u; uname -a; nproc
	lscpu | grep -E 'Model name|^CPU\(s\)|Thread|Core|Socket|NUMA|Flags' | cut -c1-200
	getconf -a | grep -E 'LEVEL[123].*CACHE_SIZE'
	grep -E 'HugePages_|Hugepagesize|MemTotal' /proc/meminfo
	echo "# load before the run"; cat /proc/loadavg; echo "cpu busy before the run: ${busy}%"

	echo "# busiest processes before the run"; top -bn1 | sed -n '7,14p'
	echo "# measured code: $MEASURED"
	echo "# base of the submission-path table: $([ -n "$BASE_SHA" ] && git -C "$ROOT" log -1 --format='%h %s' "$BASE_SHA" || echo none) $([ -n "$BASE_SHA" ] && echo '(clean snapshot)')"
	echo "# last commit of the shm and tcp transports in it"
	for t in shm tcp; do
		echo "$t: $(git -C "$ROOT" log -1 --oneline "$REV" -- "drivers/transport/$t" 2>/dev/null | grep . || echo 'none (not committed)')"
	done
	echo "# work tree status$([ -n "$COMMIT" ] && echo " (not what was measured)")"
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
BIG_BYTES="1048576 4194304 16777216 67108864"
[ "$QUICK" -eq 1 ] && { SIZES="4K,1M,64M"; BIG="1M,64M"; BIG_BYTES="1048576 67108864"; DURATION=1; }

perf() { # perf <name> <eal args> -- <tern-perf args>
	local name=$1 eal=$2
	shift 3
	local cmd="$PERF $eal --file-prefix tb_${name}_$$ -- --duration $DURATION --json --quiet $*"
	PREFIXES+=("tb_${name}_$$")
	echo "$name: $cmd" >>"$CMDS"
	log "tern-perf $name"
	# shellcheck disable=SC2086
	if ! timeout -k 5 600 $cmd >"$OUT/$name.json" 2>"$OUT/$name.err"; then
		log "tern-perf $name failed (see $OUT/$name.err)"
		rm -f "$OUT/$name.json"
	fi
	rm -rf "/var/run/dpdk/tb_${name}_$$"
}

# ---- the submission path: the measured code against the base, alternating ----
# 64 B submit -> tern_future_wait() latency and the 4 KiB x 32 slice rate, in
# process and through clients attached to a tern-dataplane, for the measured
# code (work) and the base commit (base): SUB_ROUNDS rounds of work then base,
# so that a drift of the machine during the run touches both alike.
# In-process (-l 0-1): worker lcore 1 on CPU 1, the client thread(s) on CPU 0.
# Attached: tern-dataplane -l 0-1 (main lcore 0 on CPU 0, its control thread,
# asleep but for a 10 ms tick; worker lcore 1 on CPU 1), tern-perf a DPDK
# secondary on CPU 0 (-l 0), its 1 or 32 client threads there too. One
# dataplane runs at a time (it is stopped before the other side's starts):
# its worker lcore is the only poller, so it polls (--idle poll, the default).
SUB_ROUNDS=${SUB_ROUNDS:-$([ "$QUICK" -eq 1 ] && echo 3 || echo 5)}
SUB_DURATION=$DURATION
SUB_FAILED=0
SUB_LAT=(--block-size 64 --batch 1 --inflight 1 --completion wait --no-baseline)
SUB_RATE=(--block-size 4K --batch 32 --inflight 16 --no-baseline)
# sub_run NAME DATAPLANE_PID|- COMMAND...: NAME.json and NAME.err of one
# tern-perf run, and NAME.cpu.json: the cores tern-perf, the dataplane and
# every other process on the machine used meanwhile (CPU time / wall time).
sub_run() {
	local name=$1 dp=$2 d0=0 d1=0 s0 s1 st0 st1 c0 c1 t0 t1
	shift 2
	echo "$name: $*" >>"$CMDS"
	log "tern-perf $name"
	child_secs; c0=$CHILD_SECS
	[ "$dp" = - ] || d0=$(proc_ticks "$dp")
	s0=$(sys_ticks); st0=$(steal_ticks); t0=$(date +%s%N)
	if ! timeout -k 5 120 "$@" >"$OUT/$name.json" 2>"$OUT/$name.err"; then
		log "tern-perf $name failed (see $OUT/$name.err)"
		rm -f "$OUT/$name.json"
		SUB_FAILED=1
	fi
	child_secs; c1=$CHILD_SECS
	[ "$dp" = - ] || d1=$(proc_ticks "$dp")
	s1=$(sys_ticks); st1=$(steal_ticks); t1=$(date +%s%N)
	"$PY" -c 'import json, sys
d0, d1, s0, s1, st0, st1, t0, t1, hz = map(int, sys.argv[1:10])
c0, c1 = map(float, sys.argv[10:12])
wall, dp = (t1 - t0) / 1e9, sys.argv[12] != "-"
perf, plane = c1 - c0, (d1 - d0) / hz
print(json.dumps({"wall_s": round(wall, 3), "perf_cores": round(perf / wall, 3),
                  "dataplane_cores": round(plane / wall, 3) if dp else None,
                  "others_cores": round(max(0.0, (s1 - s0) / hz - perf - plane) / wall, 3),
                  "steal_cores": round((st1 - st0) / hz / wall, 3)}))' \
		"$d0" "$d1" "$s0" "$s1" "$st0" "$st1" "$t0" "$t1" "$TICKS" "$c0" "$c1" "$dp" \
		>"$OUT/$name.cpu.json" || true
}
# sub_side work|base ROUND: the six runs of one side in one round.
sub_side() {
	local side=$1 r=$2 perf=$PERF dplane=$DPLANE pre="tb_sub_$1_$$" pid n
	[ "$side" = base ] && { perf=$BASE_PERF; dplane=$BASE_DPLANE; }
	local inproc=("$perf" -l 0-1 --no-pci --file-prefix "$pre" --log-level 'lib.*:error' --
		--duration "$SUB_DURATION" --json --quiet)
	local attached=("$perf" -l 0 --no-pci --proc-type=secondary --file-prefix "${pre}_dp"
		--log-level 'lib.*:error' -- --target dataplane --segment kv --duration "$SUB_DURATION"
		--json --quiet)
	sub_run "sub_${side}_inproc_lat64_r$r" - "${inproc[@]}" "${SUB_LAT[@]}"
	sub_run "sub_${side}_inproc_rate4k_r$r" - "${inproc[@]}" "${SUB_RATE[@]}"
	rm -rf "/var/run/dpdk/$pre"
	if ! dp_start "sub_${side}_dataplane_r$r" "$OUT/sub_${side}_dataplane_r$r.log" "$dplane" \
		-l 0-1 --no-pci --file-prefix "${pre}_dp" --log-level lib.eal:warning -- \
		--segment kv:64M --node bench; then
		SUB_FAILED=1
		rm -rf "/var/run/dpdk/${pre}_dp"
		return
	fi
	pid=$DP_LAST
	for n in 1 32; do
		sub_run "sub_${side}_attached${n}_lat64_r$r" "$pid" "${attached[@]}" "${SUB_LAT[@]}" --clients "$n"
		sub_run "sub_${side}_attached${n}_rate4k_r$r" "$pid" "${attached[@]}" "${SUB_RATE[@]}" --clients "$n"
	done
	dp_stop "$pid" "sub_${side}" ||
		{ log "tern-dataplane of the $side side exited with status $? (see sub_${side}_dataplane_r$r.log)"; SUB_FAILED=1; }
	rm -rf "/var/run/dpdk/${pre}_dp"
}
PREFIXES+=("tb_sub_work_$$" "tb_sub_work_$$_dp" "tb_sub_base_$$" "tb_sub_base_$$_dp")
"$PY" -c 'import json, sys
print(json.dumps({"work": sys.argv[1], "base": sys.argv[2] or None, "rounds": int(sys.argv[3]),
                  "duration_s": float(sys.argv[4]),
                  "dataplane_worker": "lcore 1@CPU 1",
                  "dataplane_lcores": "main lcore 0 on CPU 0, its control thread, asleep but for a 10 ms "
                                      "tick; worker lcore 1 on CPU 1"}))' \
	"$WORK_LABEL" \
	"$([ -n "$BASE_SHA" ] && git -C "$ROOT" log -1 --format='%h %s' "$BASE_SHA")" \
	"$SUB_ROUNDS" "$SUB_DURATION" >"$OUT/sub.json"
sub_t0=$(date +%s)
for r in $(seq 1 "$SUB_ROUNDS"); do
	sub_side work "$r"
	[ -z "$BASE_SHA" ] || sub_side base "$r"
done
log "submission path: $SUB_ROUNDS round(s) in $(( $(date +%s) - sub_t0 )) s"

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

# ---- Python: python3 -m tern.bench next to tern-perf (C), same dataplane ----
# One tern-dataplane -l 0-1 (main lcore 0 on CPU 0, asleep but for its tick;
# worker lcore 1 on CPU 1); both clients attach to it on CPU 0 and wait on
# their futures (--completion wait: the Python client has no completion
# queue). PY_ROUNDS rounds (default 3), each one run of tern-perf then one of
# tern.bench per point: 1 MiB x batch 8 (bandwidth) and 4 KiB x batch 32
# (the cost of a batch). Skipped, and said so, when the package was not built
# (no python3-dev) or numpy is missing.
PY_ROUNDS=${PY_ROUNDS:-$([ "$QUICK" -eq 1 ] && echo 2 || echo 3)}
PY_POINTS=("1m_b8:--block-size 1M --batch 8 --inflight 4" "4k_b32:--block-size 4K --batch 32 --inflight 4")
if [ -f "$BDIR/python/tern/__init__.py" ] && "$PY" -c 'import numpy' 2>/dev/null; then
	pre="tb_py_$$"
	PREFIXES+=("$pre")
	if dp_start py_dataplane "$OUT/py_dataplane.log" "$DPLANE" -l 0-1 --no-pci --file-prefix "$pre" \
		--log-level lib.eal:warning -- --segment kv:64M --node bench; then
		pid=$DP_LAST
		echo "ok" >"$OUT/py.status"
		for r in $(seq 1 "$PY_ROUNDS"); do
			for point in "${PY_POINTS[@]}"; do
				name=${point%%:*}
				# shellcheck disable=SC2206
				pargs=(${point#*:})
				ccmd=("$PERF" -l 0 --no-pci --proc-type=secondary --file-prefix "$pre"
					--log-level 'lib.*:error' -- --target dataplane --segment kv --completion wait
					--duration "$DURATION" --json --quiet --no-baseline "${pargs[@]}")
				pcmd=("$PY" -m tern.bench --file-prefix "$pre" --cpu 0 --duration "$DURATION"
					--json "${pargs[@]}")
				[ "$r" -eq 1 ] && echo "py_c_$name: ${ccmd[*]}" >>"$CMDS" &&
					echo "py_py_$name: PYTHONPATH=$BDIR/python ${pcmd[*]}" >>"$CMDS"
				log "tern-perf and tern.bench $name, round $r"
				timeout -k 5 120 "${ccmd[@]}" >"$OUT/py_c_${name}_r$r.json" 2>"$OUT/py_c_${name}_r$r.err" ||
					{ log "tern-perf py_c_$name failed"; rm -f "$OUT/py_c_${name}_r$r.json"; }
				PYTHONPATH="$BDIR/python" timeout -k 5 120 "${pcmd[@]}" >"$OUT/py_py_${name}_r$r.json" \
					2>"$OUT/py_py_${name}_r$r.err" ||
					{ log "tern.bench py_py_$name failed"; rm -f "$OUT/py_py_${name}_r$r.json"; }
			done
		done
		dp_stop "$pid" py || log "the Python runs' dataplane exited with status $? (see py_dataplane.log)"
	else
		echo "failed: the dataplane did not start (py_dataplane.log)" >"$OUT/py.status"
	fi
	rm -rf "/var/run/dpdk/$pre"
else
	log "the Python package is not built (python3-dev) or numpy is missing: no Python rows"
	echo "skipped: the tern package was not built or numpy is missing" >"$OUT/py.status"
fi

# ---- UCX: server on CPU 1, client on CPU 0, loopback ----
# (Other work may have started since: wait for quiet again, for less long.)
wait_quiet "the peers" "$((QUIET_WAIT / 2))"
echo "# cpu busy before UCX and iperf3: ${busy}%" >>"$OUT/machine.txt"
PORT=$((20000 + $$ % 20000))
ucx() { # ucx <name> <env> <client args...>
	local name=$1 envs=$2
	shift 2
	PORT=$((PORT + 1))
	echo "$name: server: $envs ucx_perftest -p $PORT -c 1; client: $envs ucx_perftest 127.0.0.1 -p $PORT -c 0 $* -f -v" >>"$CMDS"
	log "ucx_perftest $name"
	cpu_mark
	# shellcheck disable=SC2086
	env $envs timeout 60 ucx_perftest -p "$PORT" -c 1 >"$OUT/$name.server.txt" 2>&1 &
	local spid=$!
	sleep 0.5
	# shellcheck disable=SC2086
	env $envs timeout 60 ucx_perftest 127.0.0.1 -p "$PORT" -c 0 "$@" -f -v \
		>"$OUT/$name.txt" 2>&1 || log "ucx_perftest $name failed (see $OUT/$name.txt)"
	wait "$spid" 2>/dev/null || true
	cpu_record "$name"
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
	# Gets over shared memory: what tern's shm READ rows are compared with.
	# (UCT tcp has no get zcopy, so READ over tcp has no UCX peer.)
	for s in $BIG_BYTES; do
		ucx "ucx_shm_get_bw_$s" "$SHM" -t ucp_get -s "$s" -n "$(iters $s)" -w 10
	done
	# The same 8 GiB budget over tcp: about 1-2 s per size, like tern's points
	# (loopback TCP here varies by +-15 % from one second to the next).
	for s in $BIG_BYTES; do
		ucx "ucx_tcp_put_bw_$s" "" -t put_bw -x tcp -d lo -D zcopy -s "$s" -n "$(iters $s)" -w 5
	done
fi

# ---- iperf3 over loopback: the TCP ceiling ----
if [ "$HAVE_IPERF" -eq 1 ]; then
	PORT=$((PORT + 1))
	T=5; [ "$QUICK" -eq 1 ] && T=2
	echo "iperf3: server: taskset -c 1 iperf3 -s -1 -B 127.0.0.1 -p $PORT; client: taskset -c 0 iperf3 -c 127.0.0.1 -p $PORT -l 1M -t $T -J" >>"$CMDS"
	log "iperf3"
	cpu_mark
	taskset -c 1 timeout 60 iperf3 -s -1 -B 127.0.0.1 -p "$PORT" >"$OUT/iperf3.server.txt" 2>&1 &
	spid=$!
	sleep 0.5
	taskset -c 0 timeout 60 iperf3 -c 127.0.0.1 -p "$PORT" -l 1M -t "$T" -J >"$OUT/iperf3.json" 2>&1 ||
		log "iperf3 failed (see $OUT/iperf3.json)"
	wait "$spid" 2>/dev/null || true
	cpu_record iperf3
fi

# ---- tern peers: two tern-dataplanes on this host, shm and then tcp ----
# Dataplane a: EAL main lcore 0 on CPU 0 (its control thread, asleep but
# for a 10 ms upkeep tick), worker lcore 1 on CPU 1. Dataplane b: main lcore
# 1 on CPU 1, worker lcore 0 on CPU 0. tern-perf attaches to a as a DPDK
# secondary on CPU 0 and targets b's segment kv ("b/kv"): a's worker lcore
# moves the bytes, through the transport a's peer strategy chose (shm,
# automatically) or the one it was pinned to (--peer-transport b=tcp). The
# client waits on its futures (--completion wait: 20 µs of spinning, then a
# futex) because b's polling worker lcore needs the client's CPU; one
# --completion reap run per transport shows what spinning there costs, and
# one --inflight 16 run what the client's turnaround costs. Both dataplanes
# run with --idle yield: three processes share two CPUs, and an idle polling
# lcore (b's, for shm always) would take CPU 0 from the client; with a CPU
# per polling lcore, yielding costs one syscall per idle loop and nothing else.
# Every dataplane is stopped (SIGTERM, then SIGKILL after 10 s) and its
# runtime directory removed; one that does not say "ready" within 30 s
# fails the run (after everything else has been measured and reported).
PEER_FAILED=0
HAVE_TELEMETRY=0; need dpdk-telemetry.py dpdk optional && HAVE_TELEMETRY=1
free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# telemetry PREFIX COMMAND: the command's JSON value, through DPDK's own client.
telemetry() {
	echo "$2" | timeout 10 dpdk-telemetry.py -f "$1" 2>&1 | "$PY" -c '
import json, sys
text, cmd = sys.stdin.read(), sys.argv[1].split(",")[0]
try:
    start = text.index("{\"" + cmd + "\"")
    print(json.dumps(json.loads(text[start:text.rindex("}") + 1])[cmd]))
except ValueError:
    sys.exit("no answer to %s: %s" % (cmd, text.strip()[:200]))' "$2"
}
# peer_perf NAME PREFIX_A PID_A PID_B TERN-PERF-ARGS...: tern-perf attached to
# dataplane a; writes NAME.json (tern-perf), NAME.peers.json (a's /tern/peers
# afterwards) and NAME.cpu.json (cores each party used while it ran).
peer_perf() {
	local name=$1 pre=$2 pa=$3 pb=$4 a0 b0 a1 b1 s0 s1 st0 st1 c0 c1 t0 t1
	shift 4
	local cmd=("$PERF" -l 0 --no-pci --proc-type=secondary --file-prefix "$pre"
		--log-level 'lib.*:error' -- --target dataplane --segment b/kv --duration "$DURATION"
		--json --quiet "$@")
	echo "$name: ${cmd[*]}" >>"$CMDS"
	log "tern-perf $name"
	telemetry "$pre" /tern/peers >"$OUT/$name.peers_before.json" 2>&1 || true
	child_secs
	a0=$(proc_ticks "$pa"); b0=$(proc_ticks "$pb"); s0=$(sys_ticks); st0=$(steal_ticks); c0=$CHILD_SECS
	t0=$(date +%s%N)
	if ! timeout -k 5 300 "${cmd[@]}" >"$OUT/$name.json" 2>"$OUT/$name.err"; then
		log "tern-perf $name failed (see $OUT/$name.err)"
		rm -f "$OUT/$name.json"
	fi
	child_secs
	a1=$(proc_ticks "$pa"); b1=$(proc_ticks "$pb"); s1=$(sys_ticks); st1=$(steal_ticks); c1=$CHILD_SECS
	t1=$(date +%s%N)
	# Cores = CPU time / wall time of the whole tern-perf run (attach, warm-up,
	# measurement, verify). "others": every other process on the machine.
	"$PY" -c 'import json, sys
a0, a1, b0, b1, s0, s1, st0, st1, t0, t1, hz = map(int, sys.argv[1:12])
c0, c1 = map(float, sys.argv[12:14])
wall = (t1 - t0) / 1e9
a, b, c, s = (a1 - a0) / hz, (b1 - b0) / hz, c1 - c0, (s1 - s0) / hz
print(json.dumps({"wall_s": round(wall, 3), "a_cores": round(a / wall, 3), "b_cores": round(b / wall, 3),
                  "client_cores": round(c / wall, 3), "others_cores": round(max(0.0, s - a - b - c) / wall, 3),
                  "steal_cores": round((st1 - st0) / hz / wall, 3),
                  "a_cpus": "main lcore 0 on cpu 0, worker lcore 1 on cpu 1",
                  "b_cpus": "worker lcore 0 on cpu 0, main lcore 1 on cpu 1",
                  "client_cpus": "cpu 0"}))' "$a0" "$a1" "$b0" "$b1" "$s0" "$s1" "$st0" "$st1" "$t0" "$t1" "$TICKS" \
		"$c0" "$c1" >"$OUT/$name.cpu.json" || true
	telemetry "$pre" /tern/peers >"$OUT/$name.peers.json" 2>&1 || true
}
# peer_pair TRANSPORT: dataplanes a and b, WRITE and READ through TRANSPORT.
peer_pair() {
	local t=$1
	local pre_a="tb_pa_${t}_$$" pre_b="tb_pb_${t}_$$" port_a port_b pid_a pid_b why=""
	local st="$OUT/peer_tern_$t.status" pin=() usable unavail
	PREFIXES+=("$pre_a" "$pre_b")
	# Which code is measured: the transport's last commit, and whether the work tree differs.
	{
		git -C "$ROOT" log -1 --format='%h %s' "$REV" -- "drivers/transport/$t" 2>/dev/null | grep . ||
			echo "no commit"
		[ -n "$COMMIT" ] || [ -z "$(git -C "$ROOT" status --porcelain -- "drivers/transport/$t" 2>/dev/null)" ] ||
			echo "uncommitted changes in drivers/transport/$t (the build measures the work tree)"
	} >"$OUT/peer_tern_$t.source"
	port_a=$(free_port)
	port_b=$(free_port)
	[ "$t" = tcp ] && pin=(--peer-transport b=tcp)
	log "tern peers over $t: two tern-dataplanes"
	if ! dp_start "peer_tern_${t}_dataplane_a" "$OUT/peer_tern_${t}_a.log" "$DPLANE" \
		-l 0-1 --no-pci --base-virtaddr 0x200000000000 --file-prefix "$pre_a" \
		--log-level lib.eal:warning -- --node a --segment kv:256M --listen 127.0.0.1:0 \
		--directory "p2p://127.0.0.1:$port_a" --peer "b=p2p://127.0.0.1:$port_b" "${pin[@]}" \
		--idle yield; then
		echo "failed: dataplane a did not start (peer_tern_${t}_a.log)" >"$st"
		PEER_FAILED=1
		return
	fi
	pid_a=$DP_LAST
	if ! dp_start "peer_tern_${t}_dataplane_b" "$OUT/peer_tern_${t}_b.log" "$DPLANE" \
		-l 0-1 --main-lcore 1 --no-pci --base-virtaddr 0x280000000000 --file-prefix "$pre_b" \
		--log-level lib.eal:warning -- --node b --segment kv:256M --listen 127.0.0.1:0 \
		--directory "p2p://127.0.0.1:$port_b" --idle yield; then
		echo "failed: dataplane b did not start (peer_tern_${t}_b.log)" >"$st"
		PEER_FAILED=1
		dp_stop "$pid_a" a || true
		rm -rf "/var/run/dpdk/$pre_a"
		return
	fi
	pid_b=$DP_LAST
	echo "peer_tern_${t}_info: echo /tern/info | dpdk-telemetry.py -f $pre_a (and -f $pre_b)" >>"$CMDS"
	telemetry "$pre_a" /tern/info >"$OUT/peer_tern_${t}_info_a.json" 2>&1 || true
	telemetry "$pre_b" /tern/info >"$OUT/peer_tern_${t}_info_b.json" 2>&1 || true
	for f in "$OUT/peer_tern_${t}_info_a.json" "$OUT/peer_tern_${t}_info_b.json"; do
		usable=$("$PY" -c 'import json, sys; print(" ".join(json.load(open(sys.argv[1]))["transports_usable"]))' "$f" 2>/dev/null) ||
			{ why="failed: no /tern/info from a dataplane ($(basename "$f"))"; break; }
		unavail=$("$PY" -c 'import json, sys; print(" ".join(json.load(open(sys.argv[1])).get("transports_unavailable", [])))' "$f") || true
		case " $usable " in
		*" $t "*) ;;
		*) case " $unavail " in
		   *" $t "*) why="$t transport unavailable here (see the dataplane logs)" ;;
		   *) why="$t transport not built" ;;
		   esac
		   break ;;
		esac
	done
	if [ -z "$why" ]; then
		echo "ok" >"$st"
		peer_perf "peer_tern_${t}_write" "$pre_a" "$pid_a" "$pid_b" --op write \
			--block-size "$BIG" --batch 1 --inflight 4 --completion wait --verify
		peer_perf "peer_tern_${t}_read" "$pre_a" "$pid_a" "$pid_b" --op read \
			--block-size "$BIG" --batch 1 --inflight 4 --completion wait --verify
		# Two diagnostics, not comparisons: a client spinning on CPU 0 next to
		# b's worker lcore, and a deeper queue that hides the client's wake-ups.
		peer_perf "peer_tern_${t}_write_reap" "$pre_a" "$pid_a" "$pid_b" --op write \
			--block-size 1M,64M --batch 1 --inflight 4 --completion reap
		peer_perf "peer_tern_${t}_write_deep" "$pre_a" "$pid_a" "$pid_b" --op write \
			--block-size 1M,4M --batch 1 --inflight 16 --completion wait
	else
		log "tern peers over $t: $why"
		echo "$why" >"$st"
		case "$why" in failed*) PEER_FAILED=1 ;; esac
	fi
	dp_stop "$pid_a" a || log "dataplane a (over $t) exited with status $? (see its log)"
	dp_stop "$pid_b" b || log "dataplane b (over $t) exited with status $? (see its log)"
	rm -rf "/var/run/dpdk/$pre_a" "/var/run/dpdk/$pre_b"
}
if [ "$HAVE_TELEMETRY" -eq 1 ]; then
	wait_quiet "the two dataplanes" "$((QUIET_WAIT / 2))"
	echo "# cpu busy before the two dataplanes: ${busy}%" >>"$OUT/machine.txt"
	peer_pair shm
	peer_pair tcp
else
	for t in shm tcp; do echo "skipped: dpdk-telemetry.py (Debian package dpdk) missing" >"$OUT/peer_tern_$t.status"; done
fi

{ echo "# load after the run"; cat /proc/loadavg; top -bn1 | sed -n '7,12p'; } >>"$OUT/machine.txt"
if ! "$PY" "$ROOT/bench/report.py" "$OUT" $([ "$PLOT" -eq 1 ] && echo --plot); then
	log "ERROR: report.py could not read every result (see its message above; results.md has what it could)"
	exit 1
fi
status=0
# The object store (bench/store.sh, doc/performance.md "Store"): its tables
# appended to results.md.
if "$ROOT/bench/store.sh" --perf "$PERF" --out "$OUT/store" $([ "$QUICK" -eq 1 ] && echo --quick); then
	{ echo; sed 's/^#/##/' "$OUT/store/store.md"; } >>"$OUT/results.md"
else
	log "ERROR: bench/store.sh failed (see $OUT/store/)"
	status=1
fi
log "results in $OUT (results.md)"
if [ "$SUB_FAILED" -ne 0 ]; then
	log "ERROR: a submission-path run failed: see $OUT/sub_*.err and sub_*_dataplane_*.log"
	status=1
fi
if [ "$PEER_FAILED" -ne 0 ]; then
	log "ERROR: the tern peer measurements failed (a dataplane did not start or answer): see $OUT/peer_tern_*.status and *.log"
	status=1
fi
# The exit status of the run (a final "exit" makes shellcheck take the trap handlers for dead code).
[ "$status" -eq 0 ]
