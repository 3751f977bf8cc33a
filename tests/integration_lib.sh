# SPDX-License-Identifier: BSD-3-Clause
# Shared by the integration test scripts (sourced, not run): a work
# directory, cleanup of every process and DPDK runtime file on exit, a
# hugepage check, a free loopback port, and run_case's cmocka-style lines.
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

# The last line CI reads, and the exit status.
summary() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
