#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Run a test against a real etcd or Redis started here: free loopback ports,
# a temporary data directory, readiness awaited with a bound, and the server
# stopped afterwards whatever happens.
#   with_server.sh etcd|redis TEST [ARGS...]
# The test finds the server in TERN_TEST_BACKEND and TERN_TEST_ENDPOINT.
set -u
kind=$1
shift
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-directory-$kind.XXXXXX")
pid=

stop() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap stop EXIT
trap 'exit 1' INT TERM

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

need() {
	command -v "$1" >/dev/null || { echo "with_server.sh: $1 not installed (usertools/tern-quickstart.sh deps)"; exit 1; }
}

# wait_ready SECONDS COMMAND...: poll COMMAND until it succeeds.
wait_ready() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		if ! kill -0 "$pid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
			echo "with_server.sh: $kind did not become ready; its log:"
			tail -n 30 "$tmp/server.log"
			exit 1
		fi
		sleep 0.2
	done
}

case "$kind" in
etcd)
	need etcd
	need etcdctl
	cport=$(free_port)
	pport=$(free_port)
	etcd --name tern-test --data-dir "$tmp/data" \
		--listen-client-urls "http://127.0.0.1:$cport" \
		--advertise-client-urls "http://127.0.0.1:$cport" \
		--listen-peer-urls "http://127.0.0.1:$pport" \
		--initial-advertise-peer-urls "http://127.0.0.1:$pport" \
		--initial-cluster "tern-test=http://127.0.0.1:$pport" \
		--logger zap --log-outputs stderr --log-level warn >"$tmp/server.log" 2>&1 &
	pid=$!
	export ETCDCTL_API=3
	wait_ready 30 etcdctl --endpoints "127.0.0.1:$cport" --dial-timeout 1s endpoint health
	export TERN_TEST_ENDPOINT="127.0.0.1:$cport"
	;;
redis)
	need redis-server
	need redis-cli
	port=$(free_port)
	redis-server --bind 127.0.0.1 --port "$port" --dir "$tmp" --save '' --appendonly no \
		--daemonize no >"$tmp/server.log" 2>&1 &
	pid=$!
	wait_ready 30 sh -c "redis-cli -h 127.0.0.1 -p $port ping | grep -q PONG"
	export TERN_TEST_ENDPOINT="127.0.0.1:$port"
	;;
*)
	echo "usage: with_server.sh etcd|redis TEST [ARGS...]"
	exit 2
	;;
esac
export TERN_TEST_BACKEND=$kind
"$@"
rc=$?
exit $rc
