/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A target node for test_tcp_peer: its own EAL instance (own file prefix)
 * running an engine whose tcp transport listens on 127.0.0.1. It exports one
 * segment filled with a known pattern and prints the descriptor in hex on
 * stdout, then answers checks on stdin (test_target.h) and shuts down cleanly
 * at end of input.
 *
 * usage: tcp_target <segment bytes> <pattern seed> [<auth file>]
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_common.h>
#include <rte_errno.h>

#include <tern_transport_driver.h>
#include <tern_tcp.h>

#include "test_common.h"
#include "test_target.h"

int
main(int argc, char **argv)
{
	struct tern_tcp_conf tc = { .listen_addr = "127.0.0.1" };
	const struct tern_transport_ops *ops;
	uint8_t desc[TERN_TCP_DESC_LEN];
	uint64_t bytes, seed;
	struct test_env env;
	uint8_t *mem;
	uint32_t h;

	if (argc != 3 && argc != 4)
		return 2;
	if (argc == 4)
		tc.auth_file = argv[3];
	bytes = strtoull(argv[1], NULL, 0);
	seed = strtoull(argv[2], NULL, 0);
	test_eal_init("tcp_target", "0@(0-1),1@(0-1)", 256);
	/* Its node takes notifications (doc/notify.md); nobody polls them. */
	tc.notify = tern_notify_queue_create(&(struct tern_notify_queue_conf){
		.name = "q_target", .node = "target", .socket_id = SOCKET_ID_ANY });
	if (tc.notify == NULL || tern_tcp_configure(&tc) != 0)
		return 1;
	test_env_create(&env, "target", &(struct tern_engine_conf){ .notify = tc.notify });
	h = test_segment_local(&env, "exported", bytes, (void **)&mem);
	if (tern_segment_export(env.segments, h) != 0)
		return 1;
	test_pattern_fill(mem, bytes, seed, 0);
	ops = tern_transport_get(tern_transport_id("tcp"));
	if (ops == NULL || ops->segment_export(&env.segments->slots[tern_segment_handle_slot(h)],
					       desc, sizeof(desc)) != TERN_TCP_DESC_LEN)
		return 1;
	test_target_serve(desc, sizeof(desc), mem, bytes);
	test_env_destroy(&env);
	free(mem);
	return 0;
}
