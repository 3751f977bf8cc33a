/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A target node for test_shm_peer: its own EAL instance (own file prefix)
 * that allocates one file segment, fills it with a known pattern, serves it
 * with the shm transport on the given socket (notifications go to a queue
 * of depth 64 that nobody polls) and prints the export blob in
 * hex on stdout. It needs no engine: the control thread serves. Then it
 * answers checks on stdin (test_target.h) and shuts down cleanly at end of
 * input.
 *
 * usage: shm_target <socket path> <segment bytes> <pattern seed>
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
#include <rte_eal.h>
#include <rte_errno.h>

#include <tern_notify.h>
#include <tern_shm.h>
#include <tern_transport_driver.h>

#include "test_common.h"
#include "test_target.h"

int
main(int argc, char **argv)
{
	const struct tern_transport_ops *ops;
	struct tern_notify_queue *q;
	struct tern_segment_table *tbl;
	uint8_t blob[TERN_SHM_BLOB_MAX];
	uint64_t bytes, seed;
	uint8_t *mem;
	uint32_t h;
	int n;

	if (argc != 4)
		return 2;
	bytes = strtoull(argv[2], NULL, 0);
	seed = strtoull(argv[3], NULL, 0);
	test_eal_init("shm_target", "0", 64);
	tbl = tern_segment_table_create("target", 8, SOCKET_ID_ANY);
	if (tbl == NULL ||
	    tern_segment_alloc_file(tbl, "exported", bytes, SOCKET_ID_ANY, &h) != 0 ||
	    tern_segment_export(tbl, h) != 0)
		return 1;
	mem = tbl->slots[tern_segment_handle_slot(h)].base;
	test_pattern_fill(mem, bytes, seed, 0);
	q = tern_notify_queue_create(&(struct tern_notify_queue_conf){
		.name = "target", .node = "target", .depth = 64, .socket_id = SOCKET_ID_ANY });
	if (q == NULL || tern_shm_configure(&(struct tern_shm_conf){
				 .socket_path = argv[1], .segments = tbl, .notify = q }) != 0)
		return 1;
	ops = tern_transport_get(tern_transport_id("shm"));
	if (ops == NULL)
		return 1;
	n = ops->segment_export(&tbl->slots[tern_segment_handle_slot(h)], blob, sizeof(blob));
	if (n <= 0)
		return 1;
	test_target_serve(blob, (size_t)n, mem, bytes);
	tern_shm_configure(NULL);
	if (tern_segment_unregister(tbl, h) != 0 || tern_segment_table_free(tbl) != 0 ||
	    tern_notify_queue_free(q) != 0)
		return 1;
	rte_eal_cleanup();
	return 0;
}
