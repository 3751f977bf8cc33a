/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/peer in one process: a p2p directory served here stands for node "b",
 * whose descriptor carries a tcp blob (imported without connecting), a
 * malformed shm blob and a transport nobody has. Resolving, the strategy,
 * pinning, staleness, retirement and release, names, IPC refusals.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_errno.h>

#include <tern_directory.h>
#include <tern_peer.h>
#include <tern_segment.h>
#include <tern_tcp.h>
#include <tern_transport.h>
#include <tern_transport_driver.h>

#include "test_common.h"

struct fixture {
	struct tern_segment_table *tbl;
	struct tern_directory *server; /* node b's p2p directory */
	struct tern_peers *peers;      /* node a's */
	char uri[64];
	uint32_t local;
	uint8_t mem[4096];
};

/* b's descriptor of segment @name: a tcp blob, optionally more. */
static void
publish_b(struct fixture *fx, const char *name, uint64_t length, uint32_t remote_handle)
{
	uint8_t blob[TERN_TCP_DESC_LEN];
	struct tern_descriptor d;

	assert_int_equal(
		tern_tcp_remote_conf("127.0.0.1", 9, remote_handle, length, blob, sizeof(blob)),
		TERN_TCP_DESC_LEN);
	assert_int_equal(tern_descriptor_init(&d, "b", name, length), 0);
	assert_int_equal(
		tern_descriptor_set_bytes(&d, "tcp", TERN_PEER_DESC_FIELD, blob, sizeof(blob)), 0);
	/* Cheaper than tcp, but a blob its import refuses: the strategy moves on. */
	if (tern_transport_id("shm") >= 0)
		assert_int_equal(
			tern_descriptor_set_bytes(&d, "shm", TERN_PEER_DESC_FIELD, "junk", 4), 0);
	assert_int_equal(tern_descriptor_set_u64(&d, "nosuch", "x", 1), 0);
	assert_int_equal(tern_directory_publish(fx->server, &d), 0);
	tern_descriptor_fini(&d);
}

static int
setup(void **state)
{
	static int n;
	struct fixture *fx = aligned_alloc(64, RTE_ALIGN_CEIL(sizeof(*fx), 64));
	char name[16];

	memset(fx, 0, sizeof(*fx));
	snprintf(name, sizeof(name), "peer%d", n++);
	fx->tbl = tern_segment_table_create(name, 16, SOCKET_ID_ANY);
	assert_non_null(fx->tbl);
	assert_int_equal(tern_segment_register(
				 fx->tbl,
				 &(struct tern_segment_conf){
					 .name = "kv", .addr = fx->mem, .length = sizeof(fx->mem) },
				 &fx->local),
			 0);
	fx->server = tern_directory_open("p2p://127.0.0.1:0", NULL);
	assert_non_null(fx->server);
	assert_int_equal(tern_directory_p2p_serve(fx->server, TERN_DIRECTORY_P2P_THREAD), 0);
	snprintf(fx->uri, sizeof(fx->uri), "p2p://127.0.0.1:%d",
		 tern_directory_p2p_port(fx->server));
	publish_b(fx, "kv", 1 << 20, 0x10001);
	fx->peers = tern_peers_create(&(struct tern_peers_conf){
		.node = "a", .segments = fx->tbl, .check_ms = 20, .retired_ms = 20 });
	assert_non_null(fx->peers);
	assert_int_equal(tern_peers_add(fx->peers, "b", fx->uri), 0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	tern_peers_destroy(fx->peers);
	tern_directory_close(fx->server);
	/* Every import went with the peer set: only the local segment is left. */
	assert_int_equal(tern_segment_next(fx->tbl, 0), fx->local);
	assert_int_equal(tern_segment_next(fx->tbl, tern_segment_handle_slot(fx->local) + 1),
			 TERN_SEGMENT_INVALID);
	assert_int_equal(tern_segment_unregister(fx->tbl, fx->local), 0);
	assert_int_equal(tern_segment_table_free(fx->tbl), 0);
	free(fx);
	return 0;
}

static void
names_split_strictly(void **state)
{
	static const char *const bad[] = {
		"",
		"/",
		"b/",
		"/kv",
		"b",
		"b/kv/x",
		"b//kv",
		"b c/kv",
		"b/k v",
		"b/kv\n",
		"a1234567890123456789012345678901234567890123456789/kv",
		"b/k1234567890123456789012345678901234567890123456789",
	};
	char node[TERN_PEER_NAME_MAX], seg[TERN_SEGMENT_NAME_MAX];
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tern_peers_split_name(bad[i], node, seg), -EINVAL);
	assert_int_equal(tern_peers_split_name(NULL, node, seg), -EINVAL);
	assert_int_equal(tern_peers_split_name("host-1.x:y/kv_0", node, seg), 0);
	assert_string_equal(node, "host-1.x:y");
	assert_string_equal(seg, "kv_0");
}

static void
create_and_add_refuse_bad_arguments(void **state)
{
	struct fixture *fx = *state;

	assert_null(tern_peers_create(NULL));
	assert_int_equal(rte_errno, EINVAL);
	assert_null(tern_peers_create(&(struct tern_peers_conf){ .node = "a" }));
	assert_null(
		tern_peers_create(&(struct tern_peers_conf){ .node = "a b", .segments = fx->tbl }));
	assert_int_equal(tern_peers_add(fx->peers, "a", fx->uri), -EINVAL); /* itself */
	assert_int_equal(tern_peers_add(fx->peers, "c", "p2p://nohost"), -EINVAL);
	assert_int_equal(tern_peers_add(fx->peers, "c", "gopher://127.0.0.1:1/x"), -ENOTSUP);
	assert_int_equal(tern_peers_add(fx->peers, "c d", fx->uri), -EINVAL);
	assert_int_equal(tern_peers_add(NULL, "c", fx->uri), -EINVAL);
	assert_int_equal(tern_peers_resolve(fx->peers, "b", "kv", NULL), -EINVAL);
	assert_int_equal(tern_peers_resolve(fx->peers, "b", "k v", &(uint32_t){ 0 }), -EINVAL);
	assert_int_equal(tern_peers_list(NULL, NULL, 0), -EINVAL);
	assert_int_equal(tern_peers_poll(NULL), -EINVAL);
}

/* Only exported segments are published, and only with a transport that can
 * describe them (here none listens: nothing is published). The published
 * case runs in tests/peer/test_peers.sh with real dataplanes. */
static void
publish_offers_only_exported_segments_a_transport_describes(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(tern_peers_publish(NULL, fx->tbl, "a", 0), -EINVAL);
	assert_int_equal(tern_peers_publish(fx->server, NULL, "a", 0), -EINVAL);
	assert_int_equal(tern_peers_publish(fx->server, fx->tbl, NULL, 0), -EINVAL);
	assert_int_equal(tern_peers_publish(fx->server, fx->tbl, "a", 0), 0); /* not exported */
	assert_int_equal(tern_segment_export(fx->tbl, fx->local), 0);
	/* memcpy describes nothing; tcp has no listener in this process. */
	assert_int_equal(tern_peers_publish(fx->server, fx->tbl, "a",
					    1u << tern_transport_id("memcpy") |
						    1u << tern_transport_id("tcp")),
			 0); /* segments published: none */
}

static void
resolve_imports_with_the_cheapest_working_transport(void **state)
{
	struct fixture *fx = *state;
	struct tern_peer_info info[4];
	struct tern_segment_info si;
	uint32_t h, again, own;

	assert_int_equal(tern_peers_resolve(fx->peers, "b", "kv", &h), 0);
	assert_int_equal(tern_segment_info(fx->tbl, h, &si), 0);
	assert_string_equal(si.name, "b:kv");
	assert_int_equal(si.kind, TERN_SEGMENT_REMOTE);
	assert_int_equal(si.transport, tern_transport_id("tcp"));
	assert_int_equal(si.length, 1 << 20);
	assert_int_equal(si.peer, 1);
	/* Cached: the same handle, no second import. */
	assert_int_equal(tern_peers_resolve(fx->peers, "b", "kv", &again), 0);
	assert_int_equal(again, h);
	/* This node's own segment resolves locally. */
	assert_int_equal(tern_peers_resolve(fx->peers, "a", "kv", &own), 0);
	assert_int_equal(own, fx->local);
	assert_int_equal(tern_peers_resolve(fx->peers, "a", "nosuch", &own), -ENOENT);
	/* Unknown segment of a known peer; a peer no directory knows. */
	assert_int_equal(tern_peers_resolve(fx->peers, "b", "nosuch", &own), -ENOENT);
	assert_int_equal(tern_peers_resolve(fx->peers, "zz", "kv", &own), -EHOSTUNREACH);
	assert_int_equal(tern_peers_list(fx->peers, info, 4), 2);
	assert_string_equal(info[0].node, "b");
	assert_string_equal(info[0].transport, "tcp");
	assert_string_equal(info[0].pinned, "");
	assert_int_equal(info[0].state, TERN_PEER_UP);
	assert_int_equal(info[0].segments, 1);
	assert_int_equal(info[0].resolves, 1);
	assert_int_equal(info[0].errors, 1);
	assert_int_equal(info[0].last_error, -ENOENT);
	assert_string_equal(info[1].node, "zz");
	assert_int_equal(info[1].state, TERN_PEER_UNREACHABLE);
	assert_string_equal(tern_peer_state_name(info[1].state), "unreachable");
	assert_int_equal(tern_peers_list(fx->peers, NULL, 0), 2);
}

static void
a_name_too_long_for_the_table_is_refused(void **state)
{
	struct fixture *fx = *state;
	char seg[TERN_SEGMENT_NAME_MAX];
	uint32_t h;

	/* 46 characters: valid alone, but "b:" + it does not fit 47. */
	memset(seg, 's', 46);
	seg[46] = '\0';
	publish_b(fx, seg, 4096, 0x10002);
	assert_int_equal(tern_peers_resolve(fx->peers, "b", seg, &h), -EINVAL);
}

/* Names nobody knows cannot use up the peer table: they make room for a real one. */
static void
unknown_nodes_make_room_for_real_ones(void **state)
{
	struct fixture *fx = *state;
	struct tern_peer_info info[TERN_PEER_MAX];
	char node[16];
	uint32_t h;
	unsigned int i;

	for (i = 0; i < TERN_PEER_MAX; i++) {
		snprintf(node, sizeof(node), "ghost%u", i);
		assert_int_equal(tern_peers_resolve(fx->peers, node, "kv", &h), -EHOSTUNREACH);
	}
	assert_int_equal(tern_peers_list(fx->peers, NULL, 0), TERN_PEER_MAX);
	assert_int_equal(tern_peers_resolve(fx->peers, "b", "kv", &h), 0);
	assert_int_equal(tern_peers_list(fx->peers, info, TERN_PEER_MAX), TERN_PEER_MAX);
	/* "b" holds a segment now: more ghosts evict one another, never "b". */
	for (i = 0; i < 2 * TERN_PEER_MAX; i++) {
		snprintf(node, sizeof(node), "late%u", i);
		assert_int_equal(tern_peers_resolve(fx->peers, node, "kv", &h), -EHOSTUNREACH);
	}
	assert_int_equal(tern_peers_resolve(fx->peers, "b", "kv", &h), 0);
	assert_int_equal(tern_peers_list(fx->peers, info, TERN_PEER_MAX), TERN_PEER_MAX);
	for (i = 0; i < TERN_PEER_MAX && strcmp(info[i].node, "b") != 0; i++)
		;
	assert_true(i < TERN_PEER_MAX);
	assert_int_equal(info[i].segments, 1);
	/* Pinned nodes are kept too: with every slot pinned, a new name is refused. */
	for (i = 0; i < 2 * TERN_PEER_MAX; i++) {
		snprintf(node, sizeof(node), "pin%u", i);
		if (tern_peers_set_transport(fx->peers, node, "tcp") != 0)
			break;
	}
	assert_int_equal(i, TERN_PEER_MAX - 1);
	assert_int_equal(tern_peers_resolve(fx->peers, "ghost", "kv", &h), -ENOSPC);
}

static void
a_pin_limits_the_strategy_and_retires_imports(void **state)
{
	struct fixture *fx = *state;
	struct tern_peer_info info;
	uint32_t h, h2;

	assert_int_equal(tern_peers_resolve(fx->peers, "b", "kv", &h), 0);
	assert_int_equal(tern_peers_set_transport(fx->peers, "b", "nosuch"), -ENOENT);
	assert_int_equal(tern_peers_set_transport(fx->peers, "a", "tcp"), -EINVAL);
	/* memcpy cannot import anything: pinned to it, b is unreachable. */
	assert_int_equal(tern_peers_set_transport(fx->peers, "b", "memcpy"), 0);
	assert_int_equal(tern_segment_is_retired(fx->tbl, h), 1);
	assert_int_equal(tern_peers_resolve(fx->peers, "b", "kv", &h2), -EHOSTUNREACH);
	assert_int_equal(tern_peers_list(fx->peers, &info, 1), 1);
	assert_string_equal(info.pinned, "memcpy");
	assert_int_equal(info.retired, 1);
	assert_int_equal(tern_peers_set_transport(fx->peers, "b", "tcp"), 0);
	assert_int_equal(tern_peers_resolve(fx->peers, "b", "kv", &h2), 0);
	assert_int_not_equal(h2, h);
	assert_int_equal(tern_peers_set_transport(fx->peers, "b", NULL), 0);
}

static void
poll_until(struct tern_peers *peers, int (*done)(struct tern_peers *))
{
	struct timespec t = { 0, 10 * 1000 * 1000 };
	int i;

	for (i = 0; i < 300 && !done(peers); i++) {
		tern_peers_poll(peers);
		nanosleep(&t, NULL);
	}
}

static int
b_is_stale(struct tern_peers *peers)
{
	struct tern_peer_info info;

	return tern_peers_list(peers, &info, 1) == 1 && info.state == TERN_PEER_STALE;
}

static int
b_has_nothing_retired(struct tern_peers *peers)
{
	struct tern_peer_info info;

	return tern_peers_list(peers, &info, 1) == 1 && info.retired == 0;
}

static void
a_withdrawn_descriptor_retires_the_import_then_releases_it(void **state)
{
	struct fixture *fx = *state;
	struct tern_segment *seg;
	struct tern_peer_info info;
	uint32_t h, h2;

	assert_int_equal(tern_peers_resolve(fx->peers, "b", "kv", &h), 0);
	/* Work in flight holds a reference. */
	seg = tern_segment_acquire(fx->tbl, h, 0, 64, 1);
	assert_non_null(seg);
	assert_int_equal(tern_directory_unpublish(fx->server, "b", "kv"), 0);
	poll_until(fx->peers, b_is_stale);
	assert_true(b_is_stale(fx->peers));
	assert_int_equal(tern_segment_is_retired(fx->tbl, h), 1);
	assert_null(tern_segment_acquire(fx->tbl, h, 0, 64, 1));
	/* Referenced: stays, however long we poll. */
	poll_until(fx->peers, b_has_nothing_retired);
	assert_int_equal(tern_peers_list(fx->peers, &info, 1), 1);
	assert_int_equal(info.retired, 1);
	assert_int_equal(info.inflight, 1);
	assert_int_equal(info.stale, 1);
	assert_int_equal(tern_peers_resolve(fx->peers, "b", "kv", &h2), -ENOENT);
	tern_segment_release(seg, 1);
	poll_until(fx->peers, b_has_nothing_retired);
	assert_true(b_has_nothing_retired(fx->peers));
	assert_int_equal(tern_segment_is_retired(fx->tbl, h), 0);
	/* Published again: imported afresh. */
	publish_b(fx, "kv", 1 << 20, 0x20001);
	assert_int_equal(tern_peers_resolve(fx->peers, "b", "kv", &h2), 0);
	assert_int_not_equal(h2, TERN_SEGMENT_INVALID);
}

static void
a_peer_whose_control_port_is_gone_goes_stale(void **state)
{
	struct fixture *fx = *state;
	uint32_t h;

	assert_int_equal(tern_peers_resolve(fx->peers, "b", "kv", &h), 0);
	tern_directory_close(fx->server);
	fx->server = tern_directory_open("p2p://127.0.0.1:0", NULL); /* for teardown */
	poll_until(fx->peers, b_is_stale);
	assert_true(b_is_stale(fx->peers));
	assert_int_equal(tern_segment_is_retired(fx->tbl, h), 1);
}

static void
ipc_is_for_primaries_to_serve_and_secondaries_to_ask(void **state)
{
	struct fixture *fx = *state;
	uint32_t h;

	assert_int_equal(tern_peers_ipc_resolve("b", "kv", 100, &h), -ENOTSUP);
	assert_int_equal(tern_peers_ipc_resolve("b", "k v", 100, &h), -EINVAL);
	assert_int_equal(tern_peers_ipc_resolve("b", "kv", 0, &h), -EINVAL);
	assert_int_equal(tern_peers_ipc_serve(NULL), -EINVAL);
	assert_int_equal(tern_peers_ipc_serve(fx->peers), 0);
	assert_int_equal(tern_peers_ipc_serve(fx->peers), -EALREADY);
	/* Destroyed in teardown: serving stops with it. */
}

/* The previous peer set was destroyed: the next one may serve. */
static void
ipc_serving_passes_to_the_next_peer_set(void **state)
{
	ipc_is_for_primaries_to_serve_and_secondaries_to_ask(state);
}

/* ---- a transport whose rails can all be out of service (as mlx5's) ---- */

static bool rf_up = true;	 /* its one rail's state, and rail_live's answer */
static unsigned int rf_released; /* segment_release() calls */

static struct tern_endpoint *
rf_open(const struct tern_endpoint_conf *conf)
{
	(void)conf;
	return NULL;
}

static uint16_t
rf_post(struct tern_endpoint *ep, const struct tern_slice *s, uint16_t nb)
{
	(void)ep;
	(void)s;
	(void)nb;
	return 0;
}

static uint16_t
rf_poll(struct tern_endpoint *ep, struct tern_completion *c, uint16_t max)
{
	(void)ep;
	(void)c;
	(void)max;
	return 0;
}

static void
rf_ep(struct tern_endpoint *ep)
{
	(void)ep;
}

static int
rf_import(struct tern_segment *seg, const void *desc, size_t len)
{
	(void)seg;
	return len == 2 && memcmp(desc, "ok", 2) == 0 ? 0 : -EINVAL;
}

static void
rf_release(struct tern_segment *seg)
{
	(void)seg;
	rf_released++;
}

static bool
rf_live(struct tern_endpoint *ep, const struct tern_segment *seg)
{
	(void)ep;
	(void)seg;
	return rf_up;
}

static int
rf_rails(const void *desc, size_t len, struct tern_transport_rail *out, unsigned int max)
{
	(void)desc;
	(void)len;
	if (max > 0) {
		memset(out, 0, sizeof(*out));
		snprintf(out->name, sizeof(out->name), "port 1");
		out->state = rf_up ? TERN_TRANSPORT_RAIL_UP : TERN_TRANSPORT_RAIL_PAUSED;
	}
	return 1;
}

static struct tern_transport_ops railfake_ops = {
	.name = "railfake",
	.rank = 8, /* before tcp (30) */
	.segment_import = rf_import,
	.segment_release = rf_release,
	.endpoint_open = rf_open,
	.post_burst = rf_post,
	.poll = rf_poll,
	.cancel = rf_ep,
	.endpoint_close = rf_ep,
	.rails = rf_rails,
	.rail_live = rf_live,
};

TERN_TRANSPORT_REGISTER(railfake_ops);

/* b's segment @p name with a railfake blob (@p blob) beside tcp's. */
static void
publish_b_railfake(struct fixture *fx, const char *name, const char *blob)
{
	uint8_t tcp[TERN_TCP_DESC_LEN];
	struct tern_descriptor d;

	assert_int_equal(tern_tcp_remote_conf("127.0.0.1", 9, 0x10001, 1 << 20, tcp, sizeof(tcp)),
			 TERN_TCP_DESC_LEN);
	assert_int_equal(tern_descriptor_init(&d, "b", name, 1 << 20), 0);
	assert_int_equal(
		tern_descriptor_set_bytes(&d, "tcp", TERN_PEER_DESC_FIELD, tcp, sizeof(tcp)), 0);
	assert_int_equal(
		tern_descriptor_set_bytes(&d, "railfake", TERN_PEER_DESC_FIELD, blob, strlen(blob)),
		0);
	assert_int_equal(tern_directory_publish(fx->server, &d), 0);
	tern_descriptor_fini(&d);
}

/* A transport with rail_live gets the next one as its last resort: two
 * REMOTE segments, the engine's link between them, /tern/peers' path. */
static void
a_transport_with_rails_gets_a_last_resort(void **state)
{
	struct fixture *fx = *state;
	struct tern_segment_info si;
	struct tern_peer_info info[2];
	uint32_t h, fb;
	unsigned int released = rf_released;

	publish_b_railfake(fx, "rkv", "ok");
	assert_int_equal(tern_peers_resolve(fx->peers, "b", "rkv", &h), 0);
	assert_int_equal(tern_segment_info(fx->tbl, h, &si), 0);
	assert_int_equal(si.transport, tern_transport_id("railfake"));
	assert_int_equal(tern_segment_find(fx->tbl, "b:rkv:lr", &fb), 0);
	assert_int_equal(tern_segment_info(fx->tbl, fb, &si), 0);
	assert_int_equal(si.transport, tern_transport_id("tcp"));
	assert_int_equal(si.kind, TERN_SEGMENT_REMOTE);
	assert_int_equal(si.peer, 1);
	/* Linked: the fallback cannot go while the import holds it. */
	assert_int_equal(fx->tbl->slots[tern_segment_handle_slot(h)].fallback,
			 tern_segment_handle_slot(fb) + 1);
	assert_int_equal(tern_segment_unregister(fx->tbl, fb), -EBUSY);
	rf_up = true;
	assert_int_equal(tern_peers_list(fx->peers, info, 2), 1);
	assert_string_equal(info[0].transport, "railfake");
	assert_string_equal(info[0].last_resort, "tcp");
	assert_string_equal(info[0].path, "railfake");
	rf_up = false; /* every rail paused: new slices take tcp */
	assert_int_equal(tern_peers_list(fx->peers, info, 2), 1);
	assert_string_equal(info[0].path, "tcp");
	rf_up = true;
	/* Withdrawn: both retire, then both go (teardown checks the table). */
	assert_int_equal(tern_directory_unpublish(fx->server, "b", "rkv"), 0);
	poll_until(fx->peers, b_is_stale);
	assert_int_equal(tern_segment_is_retired(fx->tbl, h), 1);
	assert_int_equal(tern_segment_is_retired(fx->tbl, fb), 1);
	poll_until(fx->peers, b_has_nothing_retired);
	assert_int_equal(tern_segment_is_retired(fx->tbl, fb), 0);
	assert_int_equal(tern_segment_find(fx->tbl, "b:rkv:lr", &fb), -ENOENT);
	assert_int_equal(tern_segment_find(fx->tbl, "b:rkv", &h), -ENOENT);
	assert_int_equal(rf_released, released + 1);
}

/* A pinned peer, or a last resort that cannot import: one import only. */
static void
no_last_resort_when_pinned_or_unimportable(void **state)
{
	struct fixture *fx = *state;
	struct tern_peer_info info[2];
	uint32_t h, fb;

	assert_int_equal(tern_peers_set_transport(fx->peers, "b", "railfake"), 0);
	publish_b_railfake(fx, "rkv", "ok");
	assert_int_equal(tern_peers_resolve(fx->peers, "b", "rkv", &h), 0);
	assert_int_equal(tern_segment_find(fx->tbl, "b:rkv:lr", &fb), -ENOENT);
	assert_int_equal(fx->tbl->slots[tern_segment_handle_slot(h)].fallback, 0);
	assert_int_equal(tern_peers_list(fx->peers, info, 2), 1);
	assert_string_equal(info[0].last_resort, "");
	assert_string_equal(info[0].path, "railfake");
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_split_strictly),
		cmocka_unit_test_setup_teardown(
			publish_offers_only_exported_segments_a_transport_describes, setup,
			teardown),
		cmocka_unit_test_setup_teardown(create_and_add_refuse_bad_arguments, setup,
						teardown),
		cmocka_unit_test_setup_teardown(resolve_imports_with_the_cheapest_working_transport,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_name_too_long_for_the_table_is_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(unknown_nodes_make_room_for_real_ones, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_pin_limits_the_strategy_and_retires_imports,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			a_withdrawn_descriptor_retires_the_import_then_releases_it, setup,
			teardown),
		cmocka_unit_test_setup_teardown(a_peer_whose_control_port_is_gone_goes_stale, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			ipc_is_for_primaries_to_serve_and_secondaries_to_ask, setup, teardown),
		cmocka_unit_test_setup_teardown(a_transport_with_rails_gets_a_last_resort, setup,
						teardown),
		cmocka_unit_test_setup_teardown(no_last_resort_when_pinned_or_unimportable, setup,
						teardown),
		cmocka_unit_test_setup_teardown(ipc_serving_passes_to_the_next_peer_set, setup,
						teardown),
	};

	(void)argc;
	(void)argv;
	test_eal_init("test_peer", "0@(0-1)", 128);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
