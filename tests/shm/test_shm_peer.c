/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Two DPDK instances on one host: this process (an engine, initiator only,
 * not serving) imports the segment a shm_target child exports (its own EAL,
 * its own --file-prefix) and reads and writes it one-sidedly; the child
 * checks its memory on request, so data is verified on both sides. Then the
 * child is SIGKILLed while a client is writing to it: that client's futures
 * fail with -ECONNRESET well before their deadline, nothing crashes, and the
 * engine keeps working with another live peer.
 *
 * usage: test_shm_peer <path of shm_target>
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_common.h>
#include <rte_errno.h>

#include <tern_transport_driver.h>
#include <tern_notify.h>
#include <tern_shm.h>

#include "test_common.h"
#include "test_target.h"

#define REMOTE_BYTES (32u << 20)

static const char *target_path;
static char dir[64];
static int serial;

struct peer {
	struct test_target t;
	uint32_t seg;
};

struct fixture {
	struct test_env env;
	struct tern_notify_queue *q; /* this node's: it names the sender */
	uint8_t *src, *dst;
	struct peer peer;
};

static const struct tern_transport_ops *
shm(void)
{
	const struct tern_transport_ops *ops = tern_transport_get(tern_transport_id("shm"));

	assert_non_null(ops);
	return ops;
}

/* Start a target child and register its exported segment as REMOTE @p name. */
static void
peer_start(struct fixture *fx, struct peer *p, const char *name, uint64_t seed)
{
	struct tern_segment_conf conf = { 0 };
	uint8_t blob[TERN_SHM_BLOB_MAX];
	struct tern_segment imported;
	char bytes[32], seeds[32], path[128];
	char *argv[] = { (char *)(uintptr_t)target_path, path, bytes, seeds, NULL };
	size_t n;

	snprintf(path, sizeof(path), "%s/t%d.sock", dir, serial++);
	snprintf(bytes, sizeof(bytes), "%u", REMOTE_BYTES);
	snprintf(seeds, sizeof(seeds), "%" PRIu64, seed);
	n = test_target_start(&p->t, argv, blob, sizeof(blob));
	memset(&imported, 0, sizeof(imported));
	imported.kind = TERN_SEGMENT_REMOTE;
	imported.length = REMOTE_BYTES;
	assert_int_equal(shm()->segment_import(&imported, blob, n), 0);
	conf.name = name;
	conf.length = REMOTE_BYTES;
	conf.kind = TERN_SEGMENT_REMOTE;
	conf.transport = "shm";
	conf.socket_id = SOCKET_ID_ANY;
	conf.priv = imported.priv;
	conf.priv_len = TERN_SEGMENT_PRIV_SIZE;
	assert_int_equal(tern_segment_register(fx->env.segments, &conf, &p->seg), 0);
}

/* Unregister the REMOTE segment and let the transport unmap it. */
static void
unimport(struct fixture *fx, uint32_t h)
{
	struct tern_segment copy = fx->env.segments->slots[tern_segment_handle_slot(h)];

	assert_int_equal(tern_segment_unregister(fx->env.segments, h), 0);
	shm()->segment_release(&copy);
}

static int
setup(void **state)
{
	static int n;
	struct fixture *fx = calloc(1, sizeof(*fx));
	char tag[16];

	snprintf(tag, sizeof(tag), "shmp%d", n++);
	fx->q = tern_notify_queue_create(&(struct tern_notify_queue_conf){
		.name = tag, .node = "initiator", .socket_id = SOCKET_ID_ANY });
	assert_non_null(fx->q);
	test_env_create(&fx->env, tag, &(struct tern_engine_conf){ .notify = fx->q });
	test_segment_local(&fx->env, "src", REMOTE_BYTES, (void **)&fx->src);
	test_segment_local(&fx->env, "dst", REMOTE_BYTES, (void **)&fx->dst);
	peer_start(fx, &fx->peer, "remote", 41);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	struct tern_shm_stats st;

	test_target_stop(&fx->peer.t, false);
	if (fx->peer.seg != TERN_SEGMENT_INVALID)
		unimport(fx, fx->peer.seg);
	test_env_destroy(&fx->env);
	assert_int_equal(tern_notify_queue_free(fx->q), 0);
	tern_shm_stats(&st);
	assert_int_equal(st.peers, 0);
	free(fx->src);
	free(fx->dst);
	free(fx);
	return 0;
}

static void
read_peer_memory_then_write_and_verify_on_both_sides(void **state)
{
	struct fixture *fx = *state;
	struct tern_client *c = tern_client_create(fx->env.engine, NULL);
	struct tern_request r;

	test_target_round_trip(&fx->peer.t, c, fx->peer.seg, REMOTE_BYTES, 41, 42, fx->src,
			       fx->dst);

	/* Small, unaligned, at the very end. */
	test_pattern_fill(fx->src, 3, 9, REMOTE_BYTES - 3);
	r = test_req(TERN_OP_WRITE, fx->peer.seg, REMOTE_BYTES - 3, fx->src, 3);
	assert_int_equal(test_wait_release(tern_submit(c, &r, 1, NULL)), 0);
	assert_true(test_target_check(&fx->peer.t, 9, REMOTE_BYTES - 3, 3));
	assert_int_equal(tern_client_destroy(c), 0);
}

struct writer {
	struct fixture *fx;
	uint32_t seg;
	uint64_t first_error_ns;
	int status;	    /* the first error, or 0 */
	uint64_t rounds_ok; /* before it */
	bool stop;
	bool notify; /* each WRITE carries a notification */
};

/* Writes and reads the peer until a request fails. No cmocka asserts here
 * (another thread): the fields say how it went. */
static void *
writer_thread(void *arg)
{
	struct writer *w = arg;
	struct tern_client *c = tern_client_create(
		w->fx->env.engine, &(struct tern_client_conf){ .flags = TERN_CLIENT_F_NO_CQ });
	struct tern_submit_opts opts = { .deadline_ns = 120ull * 1000 * 1000 * 1000 };
	struct tern_request r[2];
	struct tern_future *f;

	if (c == NULL) {
		w->status = -ENOMEM;
		return NULL;
	}
	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		struct tern_notify n = { .tag = w->rounds_ok };

		r[0] = test_req(TERN_OP_WRITE, w->seg, 0, w->fx->src, 1 << 20);
		r[1] = test_req(TERN_OP_READ, w->seg, 4 << 20, w->fx->dst, 1 << 20);
		opts.notify = w->notify ? &n : NULL;
		f = tern_submit(c, r, w->notify ? 1 : 2, &opts);
		w->status = f == NULL ? -rte_errno : tern_future_wait(f, UINT64_MAX);
		if (f != NULL)
			tern_future_release(f);
		if (w->status != 0) {
			w->first_error_ns = test_now_ns();
			break;
		}
		w->rounds_ok++;
	}
	tern_client_destroy(c);
	return NULL;
}

static void
sigkilled_peer_fails_its_futures_fast_and_another_peer_works(void **state)
{
	struct fixture *fx = *state;
	struct tern_client *c = tern_client_create(fx->env.engine, NULL);
	struct tern_submit_opts opts = { .deadline_ns = 120ull * 1000 * 1000 * 1000 };
	struct writer w = { .fx = fx, .seg = fx->peer.seg };
	struct tern_shm_stats before, st;
	struct peer second = { 0 };
	struct tern_future *f[8];
	struct tern_request r;
	uint64_t kill_ns;
	pthread_t t;
	unsigned int i;

	peer_start(fx, &second, "second", 43);
	tern_shm_stats(&before);
	assert_int_equal(before.peers, 2);
	assert_int_equal(pthread_create(&t, NULL, writer_thread, &w), 0);
	usleep(200 * 1000);
	assert_int_equal(w.status, 0); /* writing away */
	kill_ns = test_now_ns();
	test_target_stop(&fx->peer.t, true);
	assert_int_equal(pthread_join(t, NULL), 0);
	print_message("%" PRIu64 " rounds before the kill; failed %" PRIu64 " us after it: %s\n",
		      w.rounds_ok, (w.first_error_ns - kill_ns) / 1000, strerror(-w.status));
	assert_true(w.rounds_ok > 0);
	assert_int_equal(w.status, -ECONNRESET);
	assert_true(w.first_error_ns - kill_ns < 1000000000ull); /* deadline: 120 s */
	tern_shm_stats(&st);
	assert_int_equal(st.peers_lost, before.peers_lost + 1);
	assert_true(st.failed_slices > before.failed_slices);

	/* Everything submitted to it now fails at once, copying nothing. */
	memset(fx->dst, 0x5a, 1 << 20);
	for (i = 0; i < RTE_DIM(f); i++) {
		r = test_req(i % 2 ? TERN_OP_READ : TERN_OP_WRITE, fx->peer.seg, i << 20, fx->dst,
			     1 << 20);
		f[i] = tern_submit(c, &r, 1, &opts);
		assert_non_null(f[i]);
	}
	for (i = 0; i < RTE_DIM(f); i++)
		assert_int_equal(test_wait_release(f[i]), -ECONNRESET);
	assert_int_equal(fx->dst[0], 0x5a);

	/* The other peer is untouched. */
	r = test_req(TERN_OP_READ, second.seg, 0, fx->dst, REMOTE_BYTES);
	assert_int_equal(test_wait_release(tern_submit(c, &r, 1, &opts)), 0);
	assert_int_equal(test_pattern_check(fx->dst, REMOTE_BYTES, 43, 0), SIZE_MAX);
	test_pattern_fill(fx->src, 5 << 20, 44, 1 << 20);
	r = test_req(TERN_OP_WRITE, second.seg, 1 << 20, fx->src, 5 << 20);
	assert_int_equal(test_wait_release(tern_submit(c, &r, 1, &opts)), 0);
	assert_true(test_target_check(&second.t, 44, 1 << 20, 5 << 20));

	/* The dead peer's import goes (its mapping with it); the live one stays. */
	unimport(fx, fx->peer.seg);
	fx->peer.seg = TERN_SEGMENT_INVALID;
	tern_shm_stats(&st);
	assert_int_equal(st.peers, 1);
	r = test_req(TERN_OP_READ, second.seg, 1 << 20, fx->dst, 5 << 20);
	assert_int_equal(test_wait_release(tern_submit(c, &r, 1, &opts)), 0);
	assert_int_equal(test_pattern_check(fx->dst, 5 << 20, 44, 1 << 20), SIZE_MAX);
	assert_int_equal(tern_client_destroy(c), 0);
	/* A clean stop of the second peer is a lost peer too. */
	test_target_stop(&second.t, false);
	for (i = 0; i < 200; i++) {
		tern_shm_stats(&st);
		if (st.peers_lost == before.peers_lost + 2)
			break;
		usleep(10 * 1000);
	}
	assert_int_equal(st.peers_lost, before.peers_lost + 2);
	unimport(fx, second.seg);
}

/* Notified WRITEs stream to a peer whose queue (depth 64) nobody polls: the
 * 65th waits on -ENOBUFS (deadline 120 s) until the peer is SIGKILLed; then
 * it fails in far less than its deadline. */
static void
notified_writes_to_a_sigkilled_peer_fail_before_their_deadline(void **state)
{
	struct fixture *fx = *state;
	struct writer w = { .fx = fx, .seg = fx->peer.seg, .notify = true };
	struct tern_shm_stats st;
	uint64_t kill_ns;
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, writer_thread, &w), 0);
	TEST_WAIT_UNTIL(__atomic_load_n(&w.rounds_ok, __ATOMIC_RELAXED) >= 64 || w.status != 0,
			20000);
	usleep(300 * 1000);
	assert_int_equal(w.status, 0);
	assert_int_equal(w.rounds_ok, 64); /* the queue's depth: then -ENOBUFS, retried */
	kill_ns = test_now_ns();
	test_target_stop(&fx->peer.t, true);
	assert_int_equal(pthread_join(t, NULL), 0);
	print_message("%" PRIu64 " notified rounds before the kill; the next failed %" PRIu64
		      " us after it: %s\n",
		      w.rounds_ok, (w.first_error_ns - kill_ns) / 1000, strerror(-w.status));
	assert_true(w.status < 0);
	assert_true(w.first_error_ns - kill_ns < 2000000000ull); /* deadline: 120 s */
	tern_shm_stats(&st);
	assert_true(st.peers_lost >= 1);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			read_peer_memory_then_write_and_verify_on_both_sides, setup, teardown),
		cmocka_unit_test_setup_teardown(
			sigkilled_peer_fails_its_futures_fast_and_another_peer_works, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			notified_writes_to_a_sigkilled_peer_fail_before_their_deadline, setup,
			teardown),
	};
	int ret;

	if (argc != 2) {
		fprintf(stderr, "usage: %s <shm_target>\n", argv[0]);
		return 2;
	}
	target_path = argv[1];
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/tern_shm_peer_XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	test_eal_init("test_shm_peer", "0@(0-1),1@0,2@1", 256);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(dir);
	return ret;
}
