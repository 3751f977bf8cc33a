#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Runs test_telemetry_socket under a --file-prefix of its own and removes that
# prefix's DPDK runtime directory afterwards, whether the test passed, failed
# or crashed.
# usage: run_socket_test.sh <test binary> <python3> <check_telemetry.py> <dpdk-telemetry.py|''> <tern-top>
set -u
test_bin=$1 python=$2 check=$3 client=$4 top=$5
if [ -z "$client" ] || [ ! -x "$client" ]; then
	echo "dpdk-telemetry.py not found (Debian package dpdk-dev): skipping" >&2
	exit 77
fi
prefix="tern_tel_$$_$RANDOM"
# The directory EAL and dpdk-telemetry.py use for that prefix.
if [ -n "${RUNTIME_DIRECTORY:-}" ]; then
	run_dir=$RUNTIME_DIRECTORY
elif [ "$(id -u)" = 0 ]; then
	run_dir=/var/run
else
	run_dir=${XDG_RUNTIME_DIR:-/tmp}
fi
cleanup() {
	rm -rf -- "$run_dir/dpdk/$prefix"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"$test_bin" "$prefix" "$python" "$check" "$client" "$top" </dev/null
