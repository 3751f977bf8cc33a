/* SPDX-License-Identifier: BSD-3-Clause */
/* tern-dataplane's options: command line and config file, good and bad. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane_args.h"

static int
parse(struct dp_args *a, char *err, const char *const *argv, int argc)
{
	memset(a, 0, sizeof(*a));
	return dp_args_parse(argc, (char **)(uintptr_t)argv, a, err, 256);
}

#define PARSE(a, err, ...)                                          \
	parse(a, err, (const char *const[]){ "prog", __VA_ARGS__ }, \
	      (int)(sizeof((const char *const[]){ "prog", __VA_ARGS__ }) / sizeof(char *)))

static void
good_command_line(void **state)
{
	struct dp_args a;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&a, err, "--node", "host-1.a", "--segment", "kv:4G",
			       "--segment=tmp:64K", "--slice-size", "64K", "--deadline-ms", "250",
			       "--max-clients=8", "--futures", "4096", "--log-level", "debug",
			       "--engine", "dp0", "--drain-ms", "100"),
			 0);
	assert_string_equal(a.node, "host-1.a");
	assert_int_equal(a.nb_segments, 2);
	assert_string_equal(a.segments[0].name, "kv");
	assert_int_equal(a.segments[0].size, 4ull << 30);
	assert_int_equal(a.segments[1].size, 64 << 10);
	assert_int_equal(a.slice_bytes, 64 << 10);
	assert_int_equal(a.deadline_ms, 250);
	assert_int_equal(a.max_clients, 8);
	assert_int_equal(a.nb_futures, 4096);
	assert_int_equal(a.log_level, 8);
	assert_string_equal(a.engine, "dp0");
	assert_int_equal(a.drain_ms, 100);
	assert_int_equal(PARSE(&a, err, "--help"), 0);
	assert_true(a.help);
}

static void
bad_command_lines_are_refused_with_a_reason(void **state)
{
	struct dp_args a;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&a, err, "--bogus", "1"), -EINVAL);
	assert_non_null(strstr(err, "unknown option"));
	assert_int_equal(PARSE(&a, err, "--segment"), -EINVAL);
	assert_non_null(strstr(err, "needs a value"));
	assert_int_equal(PARSE(&a, err, "--segment", "kv"), -EINVAL);
	assert_int_equal(PARSE(&a, err, "--segment", ":4G"), -EINVAL);
	assert_int_equal(PARSE(&a, err, "--segment", "kv:0"), -EINVAL);
	assert_int_equal(PARSE(&a, err, "--segment", "kv:4Q"), -EINVAL);
	assert_int_equal(PARSE(&a, err, "--segment", "kv:2T"), -EINVAL);
	assert_int_equal(PARSE(&a, err, "--segment", "k v:4G"), -EINVAL);
	assert_int_equal(PARSE(&a, err, "--segment", "kv:4G", "--segment", "kv:1M"), -EINVAL);
	assert_non_null(strstr(err, "duplicate"));
	assert_int_equal(PARSE(&a, err, "--slice-size", "1K"), -EINVAL);
	assert_int_equal(PARSE(&a, err, "--slice-size", "2G"), -EINVAL);
	assert_int_equal(PARSE(&a, err, "--deadline-ms", "0"), -EINVAL);
	assert_int_equal(PARSE(&a, err, "--deadline-ms", "12abc"), -EINVAL);
	assert_int_equal(PARSE(&a, err, "--max-clients", "5000"), -EINVAL);
	assert_int_equal(PARSE(&a, err, "--futures", "63"), -EINVAL);
	assert_int_equal(PARSE(&a, err, "--futures", "4194305"), -EINVAL);
	assert_int_equal(PARSE(&a, err, "--futures", "1k"), -EINVAL);
	assert_int_equal(PARSE(&a, err, "--log-level", "loud"), -EINVAL);
	assert_int_equal(PARSE(&a, err, "--log-level", "9"), -EINVAL);
	assert_int_equal(PARSE(&a, err, "--node", ""), -EINVAL);
	assert_int_equal(PARSE(&a, err, "--node", "a/b"), -EINVAL);
	assert_int_equal(PARSE(&a, err, "--engine", "has-dash"), -EINVAL);
	assert_int_equal(PARSE(&a, err, "--store-capacity", ""), -EINVAL);
	assert_int_equal(PARSE(&a, err, "--store-capacity", "a b"), -EINVAL);
	assert_int_equal(PARSE(&a, err, "--store-capacity"), -EINVAL);
	assert_int_equal(PARSE(&a, err, "--store-capacity", "kv"), 0);
	assert_string_equal(a.store, "kv");
	assert_int_equal(PARSE(&a, err, "stray"), -EINVAL);
	assert_int_equal(PARSE(&a, err, "--"), -EINVAL);
	assert_int_equal(PARSE(&a, err, "--=x"), -EINVAL);
}

static void
config_file_fills_what_the_command_line_left(void **state)
{
	struct dp_args a;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&a, err, "--deadline-ms", "7", "--config", "/x"), 0);
	assert_int_equal(dp_args_load_config_text("# a comment\n"
						  "\n"
						  "node = from-file\n"
						  "  deadline-ms=99  \n"
						  "segment = a:1M\r\n"
						  "segment = b:2M\n",
						  &a, err, sizeof(err)),
			 0);
	assert_string_equal(a.node, "from-file");
	assert_int_equal(a.deadline_ms, 7); /* the command line wins */
	assert_int_equal(a.nb_segments, 2);

	/* Segments given on the command line replace the file's. */
	assert_int_equal(PARSE(&a, err, "--segment", "c:1M", "--config", "/x"), 0);
	a.set &= ~DP_OPT_CONFIG;
	assert_int_equal(dp_args_load_config_text("segment = a:1M\n", &a, err, sizeof(err)), 0);
	assert_int_equal(a.nb_segments, 1);
	assert_string_equal(a.segments[0].name, "c");
}

static void
bad_config_files_name_the_line(void **state)
{
	struct dp_args a;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&a, err, "--node", "n"), 0);
	assert_int_equal(dp_args_load_config_text("node = x\nbogus = 1\n", &a, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "line 2"));
	assert_int_equal(dp_args_load_config_text("just words\n", &a, err, sizeof(err)), -EINVAL);
	assert_int_equal(dp_args_load_config_text("node =\n", &a, err, sizeof(err)), -EINVAL);
	assert_int_equal(dp_args_load_config_text("= x\n", &a, err, sizeof(err)), -EINVAL);
	assert_int_equal(dp_args_load_config_text("config = /etc/x\n", &a, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(dp_args_load_config_text("segment = kv:0\n", &a, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(dp_args_load_config("/nonexistent/tern.conf", &a, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "No such file"));
}

static void
peer_options_parse_strictly(void **state)
{
	static const char *const bad[][2] = {
		{ "--directory", "" },
		{ "--directory", "http://127.0.0.1:1" },
		{ "--directory", "p2p://" },
		{ "--directory", "etcd://a b:1/x" },
		{ "--peer", "b" },
		{ "--peer", "=p2p://127.0.0.1:1" },
		{ "--peer", "b c=p2p://127.0.0.1:1" },
		{ "--peer", "b=ftp://x" },
		{ "--listen", "127.0.0.1" },
		{ "--listen", "localhost:7000" },
		{ "--listen", "127.0.0.1:70000" },
		{ "--listen", "127.0.0.1:-1" },
		{ "--listen", "::1:7000" },
		{ "--listen", "[::1]7000" },
		{ "--listen", "[zz]:7000" },
		{ "--listen", ":7000" },
		{ "--shm", "yes" },
		{ "--idle", "sleep" },
		{ "--peer-transport", "b" },
		{ "--peer-transport", "b=TCP" },
		{ "--peer-transport", "b=a_very_long_transport_name" },
		{ "--peer-transport", "b/c=tcp" },
		{ "--auth-file", "" },
	};
	struct dp_args a;
	char err[256];
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(PARSE(&a, err, bad[i][0], bad[i][1]), -EINVAL);
		assert_non_null(strstr(err, bad[i][0]));
	}
	assert_int_equal(
		PARSE(&a, err, "--peer", "b=p2p://127.0.0.1:7", "--peer", "b=p2p://127.0.0.1:8"),
		-EINVAL);
	assert_non_null(strstr(err, "twice"));
	assert_int_equal(PARSE(&a, err, "--directory", "etcd://127.0.0.1:2379,127.0.0.1:2380/t",
			       "--peer", "b=p2p://127.0.0.1:7101", "--peer", "c-2=p2p://[::1]:7102",
			       "--listen", "[::1]:0", "--shm", "off", "--peer-transport", "b=tcp",
			       "--idle", "yield"),
			 0);
	assert_string_equal(a.directory, "etcd://127.0.0.1:2379,127.0.0.1:2380/t");
	assert_int_equal(a.nb_peers, 2);
	assert_string_equal(a.peers[1].node, "c-2");
	assert_string_equal(a.peers[1].uri, "p2p://[::1]:7102");
	assert_string_equal(a.listen, "[::1]:0");
	assert_true(a.shm_off);
	assert_true(a.idle_yield);
	assert_int_equal(a.nb_pins, 1);
	assert_string_equal(a.pins[0].transport, "tcp");
	assert_int_equal(PARSE(&a, err, "--listen", "127.0.0.1:7000"), 0);
	assert_string_equal(a.listen, "127.0.0.1:7000");
	assert_string_equal(a.auth_file, "");
	assert_int_equal(PARSE(&a, err, "--auth-file", "/etc/tern/secret"), 0);
	assert_string_equal(a.auth_file, "/etc/tern/secret");
}

/* --rdma-listen ADDR:PORT: the mlx5 handshake listener, parsed as strictly as
 * --listen and kept apart from it. */
static void
rdma_listen_parses_strictly(void **state)
{
	static const char *const bad[] = {
		"",
		"127.0.0.1",
		"127.0.0.1:",
		":7000",
		"localhost:7000",
		"127.0.0.1:65536",
		"127.0.0.1:-1",
		"127.0.0.1:+7",
		"127.0.0.1:7000x",
		"127.0.0.1:7000 ",
		" 127.0.0.1:7000",
		"127.0.0.1::7000",
		"127.0.0.256:7000",
		"1.2.3:7000",
		"::1:7000",
		"[::1]",
		"[::1]:",
		"[::1]7000",
		"[::1]]:7000",
		"[127.0.0.1]:7000",
		"[zz]:7000",
		"[]:7000",
		"[::1:7000",
		"0x7f000001:7000",
		"127.0.0.1:99999999999999999999999",
		"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd:eeee:ffff:0000:1",
	};
	struct dp_args a;
	char err[256];
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (PARSE(&a, err, "--rdma-listen", bad[i]) != -EINVAL)
			fail_msg("--rdma-listen '%s' accepted", bad[i]);
		assert_non_null(strstr(err, "--rdma-listen"));
		assert_string_equal(a.rdma_listen, "");
	}
	assert_int_equal(PARSE(&a, err, "--rdma-listen"), -EINVAL);
	assert_non_null(strstr(err, "needs a value"));
	/* Off unless given. */
	assert_int_equal(PARSE(&a, err, "--listen", "127.0.0.1:7000"), 0);
	assert_string_equal(a.rdma_listen, "");
	/* IPv4, IPv6, an ephemeral port; independent of --listen. */
	assert_int_equal(
		PARSE(&a, err, "--rdma-listen", "10.0.0.1:7300", "--listen", "10.0.0.1:7000"), 0);
	assert_string_equal(a.rdma_listen, "10.0.0.1:7300");
	assert_string_equal(a.listen, "10.0.0.1:7000");
	assert_int_equal(PARSE(&a, err, "--rdma-listen=[fe80::1]:0"), 0);
	assert_string_equal(a.rdma_listen, "[fe80::1]:0");
	assert_int_equal(PARSE(&a, err, "--rdma-listen", "0.0.0.0:65535"), 0);
	assert_string_equal(a.rdma_listen, "0.0.0.0:65535");
	/* The later one wins on the command line; the command line wins over
	 * the file; the file alone sets it, and refuses a bad one by line. */
	assert_int_equal(
		PARSE(&a, err, "--rdma-listen", "10.0.0.1:1", "--rdma-listen", "10.0.0.2:2"), 0);
	assert_string_equal(a.rdma_listen, "10.0.0.2:2");
	assert_int_equal(
		dp_args_load_config_text("rdma-listen = 10.0.0.9:9\n", &a, err, sizeof(err)), 0);
	assert_string_equal(a.rdma_listen, "10.0.0.2:2");
	assert_int_equal(PARSE(&a, err, "--node", "n"), 0);
	assert_int_equal(
		dp_args_load_config_text("rdma-listen = [::1]:7300\n", &a, err, sizeof(err)), 0);
	assert_string_equal(a.rdma_listen, "[::1]:7300");
	assert_int_equal(PARSE(&a, err, "--node", "n"), 0);
	assert_int_equal(dp_args_load_config_text("node = m\nrdma-listen = ::1:7300\n", &a, err,
						  sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "line 2"));
	assert_non_null(strstr(err, "--rdma-listen"));
}

/* --transport NAME[,KEY=VALUE...]: the name is checked here, the keys by
 * the transport; one per transport. */
static void
transport_options_parse(void **state)
{
	static const char *const bad[] = {
		"", "TCP", "tcp x", ",listen=1", "a_name_far_too_long_for_a_transport", "tcp,",
	};
	struct dp_args a;
	char err[256];
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (PARSE(&a, err, "--transport", bad[i]) == 0 && strcmp(bad[i], "tcp,") != 0)
			fail_msg("--transport '%s' accepted", bad[i]);
	}
	assert_int_equal(PARSE(&a, err, "--transport", "tcp,listen=127.0.0.1:0,conns=4",
			       "--transport", "memcpy"),
			 0);
	assert_int_equal(a.nb_transports, 2);
	assert_string_equal(a.transports[0].name, "tcp");
	assert_string_equal(a.transports[0].args, "listen=127.0.0.1:0,conns=4");
	assert_string_equal(a.transports[1].args, "");
	assert_int_equal(PARSE(&a, err, "--transport", "tcp", "--transport", "tcp,conns=2"),
			 -EINVAL);
	assert_non_null(strstr(err, "twice"));
	assert_int_equal(PARSE(&a, err, "--auth-file", "/a,b"), -EINVAL);
}

/* What the dataplane configures: --transport with the older options folded
 * in, shm by default. */
static void
transports_fold_the_older_options(void **state)
{
	struct dp_transport_opt t[DP_MAX_TRANSPORTS];
	struct dp_args a;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&a, err, "--node", "n"), 0);
	assert_int_equal(dp_args_transports(&a, t, DP_MAX_TRANSPORTS), 1);
	assert_string_equal(t[0].name, "shm");
	assert_string_equal(t[0].args, "");
	assert_int_equal(PARSE(&a, err, "--shm", "off"), 0);
	assert_int_equal(dp_args_transports(&a, t, DP_MAX_TRANSPORTS), 0);
	assert_int_equal(PARSE(&a, err, "--listen", "[::1]:0", "--auth-file", "/s", "--rdma-listen",
			       "10.0.0.1:7300", "--transport", "tcp,conns=4", "--transport",
			       "shm,request_timeout_ms=500"),
			 0);
	assert_int_equal(dp_args_transports(&a, t, DP_MAX_TRANSPORTS), 3);
	assert_string_equal(t[0].name, "tcp");
	assert_string_equal(t[0].args, "listen=[::1]:0,auth_file=/s,conns=4");
	assert_string_equal(t[1].name, "mlx5");
	assert_string_equal(t[1].args, "listen=10.0.0.1:7300");
	assert_string_equal(t[2].name, "shm");
	assert_string_equal(t[2].args, "request_timeout_ms=500");
	assert_int_equal(dp_args_transports(&a, t, 2), -E2BIG);
	/* Config files take it too. */
	assert_int_equal(PARSE(&a, err, "--node", "n"), 0);
	assert_int_equal(dp_args_load_config_text("transport = tcp,listen=127.0.0.1:0\n", &a, err,
						  sizeof(err)),
			 0);
	assert_int_equal(a.nb_transports, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_command_line),
		cmocka_unit_test(bad_command_lines_are_refused_with_a_reason),
		cmocka_unit_test(config_file_fills_what_the_command_line_left),
		cmocka_unit_test(bad_config_files_name_the_line),
		cmocka_unit_test(peer_options_parse_strictly),
		cmocka_unit_test(rdma_listen_parses_strictly),
		cmocka_unit_test(transport_options_parse),
		cmocka_unit_test(transports_fold_the_older_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
