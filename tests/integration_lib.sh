# SPDX-License-Identifier: BSD-3-Clause
# Shared by the integration test scripts (sourced, not run): a work
# directory, cleanup of every process and DPDK runtime file on exit, a
# hugepage check, a free loopback port, waiting for a dataplane's "ready:",
# and run_case's cmocka-style lines.
#   source integration_lib.sh PREFIX MIN_FREE_HUGEPAGES
# The script appends the pids it starts to "pids"; run_case calls the
# script's after_case function, if it defines one, after every case.
prefix=$1
work=$(mktemp -d)
pids=()
passed=0
failed=0

integration_cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "/var/run/dpdk/${prefix}"* "$work"
	rm -f /dev/hugepages/"${prefix}"*
}
trap integration_cleanup EXIT

if [ "$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)" -lt "$2" ]; then
	echo "$(basename "$0"): needs at least $(($2 * 2)) MiB of free 2M hugepages (usertools/tern-quickstart.sh hugepages)"
	echo "0 passed, 1 failed"
	exit 1
fi

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# run_case NAME COMMAND...: "[ OK ]" or "[ FAILED ]" and the command's output.
run_case() {
	local name=$1
	shift
	if "$@" >"$work/case.log" 2>&1; then
		echo "[       OK ] $name"
		passed=$((passed + 1))
	else
		echo "[  FAILED  ] $name"
		sed 's/^/    /' "$work/case.log"
		failed=$((failed + 1))
	fi
	if declare -F after_case >/dev/null; then after_case; fi
}

# wait_ready PID LOG: waits up to 10 s for the dataplane PID to log
# "ready:"; when it exits or stays silent, prints LOG and fails.
wait_ready() {
	for _ in $(seq 1 100); do
		grep -q "ready:" "$2" && return 0
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	echo "dataplane (pid $1) did not start:"
	cat "$2"
	return 1
}

# The last line CI reads, and the exit status.
summary() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
