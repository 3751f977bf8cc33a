/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The mlx5 transport's notify_post op (doc/mlx5.md, "Initiator side:
 * notify_post"), through the ops table, on the device model stepped by the
 * test: node 0's endpoints handshake with node 1 (served in this process),
 * then each notification is a SEND from node 0's QP that node 1's receive
 * side delivers into a queue and answers; the status completes it through
 * node 0's poll(). Also: a full queue answers -ENOBUFS, the per-QP and
 * per-endpoint limits give -EAGAIN, a SEND that fails completes its
 * notification with the error, cancel() completes what waits with
 * -ECANCELED, a status that comes after its notification timed out (or for
 * no notification at all) is counted and dropped, bad posts are refused.
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
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_memory.h>

#include <tern_notify.h>
#include <tern_segment_driver.h>
#include <tern_transport_driver.h>

#include "mlx5_connect.h"
#include "mlx5_ctl.h"
#include "mlx5_ep.h"
#include "mlx5_fixture.h"
#include "mlx5_model.h"
#include "mlx5_notify.h"
#include "tern_mlx5.h"
#include "tern_mlx5_internal.h"

#define BYTES	(1u << 20)
#define WAIT_MS 10000
#define DEPTH	4

struct fx {
	struct mlx5_fixture fx;
	uint8_t *remote; /* node 1 */
	struct tern_segment rseg;
	struct tern_notify_queue *q; /* node 1's */
	uint8_t gid1[16];
};

static int
setup(void **state)
{
	/* struct tern_segment is cache-aligned. */
	struct fx *f = aligned_alloc(64, RTE_ALIGN_CEIL(sizeof(struct fx), 64));
	char name[32];

	assert_non_null(f);
	memset(f, 0, sizeof(*f));
	mlx5_fixture_open(&f->fx, 1);
	f->remote = aligned_alloc(4096, BYTES);
	assert_non_null(f->remote);
	mlx5_model_gid(1, f->gid1);
	f->rseg.kind = TERN_SEGMENT_REMOTE;
	f->rseg.base = f->remote;
	f->rseg.length = BYTES;
	mlx5_model_import_wired(&f->rseg, 1, f->remote, BYTES,
				mlx5_model_mr_add(f->fx.m, 1, f->remote, BYTES, MODEL_ACCESS_ALL));
	snprintf(name, sizeof(name), "m5np%u", (unsigned int)getpid() % 100000);
	f->q = tern_notify_queue_create(&(struct tern_notify_queue_conf){
		.name = name, .node = "decode-1", .depth = DEPTH, .socket_id = SOCKET_ID_ANY });
	assert_non_null(f->q);
	mlx5_notify_node_set_queue(f->q);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	mlx5_notify_node_set_queue(NULL);
	f->fx.ops->segment_release(&f->rseg);
	mlx5_fixture_close(&f->fx);
	assert_int_equal(tern_notify_queue_free(f->q), 0);
	free(f->remote);
	free(f);
	return 0;
}

/* Node 0 asks node 1 for a QP per endpoint, node 1 answers in this thread. */
static void
handshake(struct fx *f)
{
	uint8_t req[TERN_MLX5_CONNECT_MSG_MAX], rep[TERN_MLX5_CONNECT_MSG_MAX];
	int req_len, rep_len;

	req_len = tern_mlx5_connect_request_build(f->gid1, req, sizeof(req));
	assert_true(req_len > 0);
	mlx5_model_set_node(f->fx.m, 1);
	rep_len = tern_mlx5_connect_serve(req, (size_t)req_len, rep, sizeof(rep));
	mlx5_model_set_node(f->fx.m, 0);
	assert_true(rep_len > 0);
	assert_int_equal(tern_mlx5_connect_complete(rep, (size_t)rep_len), 0);
}

static struct tern_notify_post
post_of(struct fx *f, uint64_t cookie, uint64_t tag, const char *msg)
{
	return (struct tern_notify_post){ .cookie = cookie,
					  .target = &f->rseg,
					  .sender = "prefill-0",
					  .tag = tag,
					  .msg = msg,
					  .msg_len = msg != NULL ? (uint32_t)strlen(msg) : 0 };
}

/* Step the device and poll the endpoint (which also serves node 1's receive
 * side) until @nb completions came, or @quiet_steps steps brought nothing
 * more (when @nb is 0). Completions land in @cpl. @return how many. */
static unsigned int
collect(struct fx *f, struct tern_completion *cpl, unsigned int nb, unsigned int quiet_steps)
{
	uint64_t until = mlx5_fixture_now_ms() + WAIT_MS;
	unsigned int got = 0, quiet = 0;

	while (nb != 0 ? got < nb : quiet < quiet_steps) {
		uint16_t k;

		mlx5_model_step(f->fx.m);
		k = f->fx.ops->poll(f->fx.ep[0], cpl + got, (uint16_t)(64 - got));
		got += k;
		quiet = k == 0 ? quiet + 1 : 0;
		assert_true(mlx5_fixture_now_ms() < until);
		assert_true(got <= 64);
	}
	return got;
}

static struct tern_mlx5_ep_stats
ep_stats(struct fx *f)
{
	struct tern_mlx5_ep_stats st;

	assert_int_equal(mlx5_ep_stats(f->fx.ep[0], &st), 0);
	return st;
}

/* Ask DPDK's telemetry socket (v2) for @cmd; the reply in @buf. */
static void
telemetry_ask(const char *cmd, char *buf, size_t len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	ssize_t n;

	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/dpdk_telemetry.v2",
		 rte_eal_get_runtime_dir());
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	n = recv(fd, buf, len - 1, 0); /* the greeting */
	assert_true(n > 0);
	assert_int_equal(send(fd, cmd, strlen(cmd), 0), (ssize_t)strlen(cmd));
	n = recv(fd, buf, len - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	close(fd);
}

/* A notification completes with the status node 1's queue gave it: 0 while
 * there is room, -ENOBUFS once it is full; the queue has what was sent. */
static void
status_frames_complete_notifications(void **state)
{
	struct fx *f = *state;
	struct tern_completion cpl[64];
	struct tern_notification got;
	struct tern_notify_post p;
	struct tern_mlx5_ep_stats st;
	char reply[1024];
	unsigned int i;

	handshake(f);
	for (i = 0; i < DEPTH + 1; i++) {
		p = post_of(f, 2 * i + 1, 100 + i, "kv ready");
		assert_int_equal(f->fx.ops->notify_post(f->fx.ep[0], &p), 0);
		assert_int_equal(collect(f, cpl, 1, 0), 1);
		assert_int_equal(cpl[0].cookie, 2 * i + 1);
		assert_int_equal(cpl[0].status, i < DEPTH ? 0 : -ENOBUFS);
		assert_int_equal(cpl[0].length, 0);
	}
	/* The SEND's own CQE never became a completion, and nothing more comes. */
	assert_int_equal(collect(f, cpl, 0, 20), 0);
	assert_int_equal(mlx5_ep(f->fx.ep[0])->nt_out, 0);
	for (i = 0; i < DEPTH; i++) {
		assert_int_equal(tern_notify_queue_poll(f->q, &got, 1), 1);
		assert_string_equal(got.sender, "prefill-0");
		assert_int_equal(got.tag, 100 + i);
		assert_int_equal(got.msg_len, 8);
		assert_memory_equal(got.msg, "kv ready", 8);
	}
	assert_int_equal(tern_notify_queue_poll(f->q, &got, 1), 0);
	/* Room again: the next one is accepted. */
	p = post_of(f, 99, 7, NULL);
	assert_int_equal(f->fx.ops->notify_post(f->fx.ep[0], &p), 0);
	assert_int_equal(collect(f, cpl, 1, 0), 1);
	assert_int_equal(cpl[0].status, 0);
	st = ep_stats(f);
	assert_int_equal(st.notify_posted, DEPTH + 2);
	assert_int_equal(st.notify_answered, DEPTH + 2);
	assert_int_equal(st.notify_failed, 0);
	assert_int_equal(st.notify_unknown, 0);
	/* The operator's view: both sides of this node in /tern/mlx5/notify. */
	telemetry_ask("/tern/mlx5/notify", reply, sizeof(reply));
	if (strstr(reply, "\"target_qps\":1,") == NULL ||
	    strstr(reply, "\"delivered\":5,") == NULL || strstr(reply, "\"full\":1,") == NULL ||
	    strstr(reply, "\"sent_posted\":6,") == NULL ||
	    strstr(reply, "\"sent_answered\":6,") == NULL ||
	    strstr(reply, "\"sent_failed\":0,") == NULL ||
	    strstr(reply, "\"sent_unknown\":0}") == NULL)
		fail_msg("unexpected reply: %s", reply);
}

/* At most MLX5_EP_NT_PER_QP wait for their status on a QP (its RECVs): the
 * next is -EAGAIN until one is answered. */
static void
a_qp_takes_as_many_as_it_has_recvs(void **state)
{
	struct fx *f = *state;
	struct tern_completion cpl[64];
	struct tern_notification got[8];
	struct tern_notify_post p;
	unsigned int i, n;

	handshake(f);
	for (i = 0; i < MLX5_EP_NT_PER_QP; i++) {
		p = post_of(f, 2 * i + 1, i, NULL);
		assert_int_equal(f->fx.ops->notify_post(f->fx.ep[0], &p), 0);
	}
	p = post_of(f, 1001, 50, NULL);
	assert_int_equal(f->fx.ops->notify_post(f->fx.ep[0], &p), -EAGAIN);
	n = collect(f, cpl, MLX5_EP_NT_PER_QP, 0);
	assert_int_equal(n, MLX5_EP_NT_PER_QP);
	for (i = 0; i < n; i++)
		assert_int_equal(cpl[i].status, 0);
	assert_int_equal(tern_notify_queue_poll(f->q, got, 8), MLX5_EP_NT_PER_QP);
	assert_int_equal(f->fx.ops->notify_post(f->fx.ep[0], &p), 0);
	assert_int_equal(collect(f, cpl, 1, 0), 1);
	assert_int_equal(cpl[0].cookie, 1001);
}

/* A SEND the device fails completes its notification with the error (the
 * WQE's syndrome), once; the queue got nothing. */
static void
a_failed_send_fails_its_notification(void **state)
{
	struct fx *f = *state;
	struct tern_completion cpl[64];
	struct tern_notification got;
	struct tern_notify_post p = post_of(f, 5, 1, "x");

	handshake(f);
	/* Node 0's QP is the model's first. */
	mlx5_model_qp_fail(mlx5_model_qp(f->fx.m, 0), 0, MODEL_SYND_REMOTE_ACCESS);
	assert_int_equal(f->fx.ops->notify_post(f->fx.ep[0], &p), 0);
	assert_int_equal(collect(f, cpl, 1, 0), 1);
	assert_int_equal(cpl[0].cookie, 5);
	assert_int_equal(cpl[0].status, -EACCES);
	assert_int_equal(collect(f, cpl, 0, 20), 0);
	assert_int_equal(tern_notify_queue_poll(f->q, &got, 1), 0);
	assert_int_equal(ep_stats(f).notify_failed, 1);
	assert_int_equal(mlx5_ep(f->fx.ep[0])->nt_out, 0);
}

/* cancel(): every notification in flight completes with -ECANCELED, once,
 * by the next poll(); the QP's flushed SENDs add nothing. */
static void
cancel_completes_notifications_in_flight(void **state)
{
	struct fx *f = *state;
	struct tern_completion cpl[64];
	struct tern_notify_post p;
	unsigned int i, n;

	handshake(f);
	for (i = 0; i < 3; i++) {
		p = post_of(f, 2 * i + 1, i, NULL);
		assert_int_equal(f->fx.ops->notify_post(f->fx.ep[0], &p), 0);
	}
	f->fx.ops->cancel(f->fx.ep[0]);
	n = f->fx.ops->poll(f->fx.ep[0], cpl, 64);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++) {
		assert_int_equal(cpl[i].status, -ECANCELED);
		assert_true(cpl[i].cookie == 1 || cpl[i].cookie == 3 || cpl[i].cookie == 5);
	}
	assert_int_equal(collect(f, cpl, 0, 20), 0);
	assert_int_equal(mlx5_ep(f->fx.ep[0])->nt_out, 0);
	assert_int_equal(ep_stats(f).notify_failed, 3);
}

/* A notification with no status by its time fails -ETIMEDOUT; the status
 * that comes later (the target did deliver it) is counted and dropped, as
 * is a status for a token never sent. */
static void
late_and_unknown_statuses_are_dropped(void **state)
{
	struct fx *f = *state;
	struct mlx5_endpoint *ep = mlx5_ep(f->fx.ep[0]);
	struct tern_completion cpl[64];
	struct tern_notification got;
	struct tern_notify_post p = post_of(f, 11, 77, NULL);
	struct tern_mlx5_ep_stats st;

	handshake(f);
	ep->nt_timeout_tsc = 0; /* due at once */
	assert_int_equal(f->fx.ops->notify_post(f->fx.ep[0], &p), 0);
	/* Before the device runs: timed out. */
	assert_int_equal(f->fx.ops->poll(f->fx.ep[0], cpl, 64), 1);
	assert_int_equal(cpl[0].cookie, 11);
	assert_int_equal(cpl[0].status, -ETIMEDOUT);
	/* The device runs: delivered and answered. The answer waits on the
	 * receive CQ until the endpoint has a notification out again. */
	assert_int_equal(collect(f, cpl, 0, 20), 0);
	assert_int_equal(tern_notify_queue_poll(f->q, &got, 1), 1);
	assert_int_equal(got.tag, 77);
	assert_int_equal(ep->nt_out, 0);
	ep->nt_timeout_tsc = 60 * rte_get_tsc_hz();
	p = post_of(f, 13, 78, NULL);
	assert_int_equal(f->fx.ops->notify_post(f->fx.ep[0], &p), 0);
	assert_int_equal(collect(f, cpl, 1, 0), 1);
	assert_int_equal(cpl[0].cookie, 13);
	assert_int_equal(cpl[0].status, 0);
	st = ep_stats(f);
	assert_int_equal(st.notify_timeouts, 1);
	assert_int_equal(st.notify_unknown, 1); /* the late one, dropped */
	assert_int_equal(st.notify_answered, 1);
	assert_int_equal(ep->nt_out, 0);
	/* A status for no notification. */
	mlx5_ep_notify_status(ep, ep->qps[1]->qpn, 12345, 0);
	assert_int_equal(ep_stats(f).notify_unknown, 2);
	assert_int_equal(f->fx.ops->poll(f->fx.ep[0], cpl, 64), 0);
	/* The right token from another QP than the one it went out on. */
	p = post_of(f, 15, 79, NULL);
	assert_int_equal(f->fx.ops->notify_post(f->fx.ep[0], &p), 0);
	assert_int_equal(ep->nt_out, 1);
	mlx5_ep_notify_status(ep, ep->qps[1]->qpn + 1, ep->nt[rte_bsf32(~ep->nt_free)].token, 0);
	assert_int_equal(ep_stats(f).notify_unknown, 3);
	assert_int_equal(collect(f, cpl, 1, 0), 1); /* the real answer completes it */
	assert_int_equal(cpl[0].cookie, 15);
	assert_int_equal(cpl[0].status, 0);
	assert_int_equal(ep_stats(f).notify_answered, 2);
}

/* A node without a queue still makes its target QPs with an RQ and answers
 * -ENOTSUP: the initiator's QP stays in RTS, and takes notifications once
 * the node has a queue. */
static void
a_node_without_a_queue_answers_enotsup(void **state)
{
	struct fx *f = *state;
	struct tern_completion cpl[64];
	struct tern_notification got;
	struct tern_notify_post p = post_of(f, 21, 5, NULL);

	mlx5_notify_node_set_queue(NULL);
	handshake(f);
	assert_int_equal(f->fx.ops->notify_post(f->fx.ep[0], &p), 0);
	assert_int_equal(collect(f, cpl, 1, 0), 1);
	assert_int_equal(cpl[0].cookie, 21);
	assert_int_equal(cpl[0].status, -ENOTSUP);
	assert_int_equal(mlx5_ep(f->fx.ep[0])->qps[1]->error, 0);
	mlx5_notify_node_set_queue(f->q);
	p = post_of(f, 23, 6, NULL);
	assert_int_equal(f->fx.ops->notify_post(f->fx.ep[0], &p), 0);
	assert_int_equal(collect(f, cpl, 1, 0), 1);
	assert_int_equal(cpl[0].status, 0);
	assert_int_equal(tern_notify_queue_poll(f->q, &got, 1), 1);
	assert_int_equal(got.tag, 6);
}

/* Refused at once, nothing posted: bad posts (-EINVAL), no QP to the node
 * yet (-ENOTCONN), this node itself (-ENOTSUP: loopback QPs take no
 * status). */
static void
bad_posts_are_refused(void **state)
{
	struct fx *f = *state;
	struct tern_segment self = f->rseg, local = { .kind = TERN_SEGMENT_LOCAL };
	struct tern_notify_post p = post_of(f, 1, 1, NULL);
	struct tern_mlx5_desc d;
	char big[300];

	assert_int_equal(f->fx.ops->notify_post(f->fx.ep[0], NULL), -EINVAL);
	assert_int_equal(f->fx.ops->notify_post(f->fx.ep[0], &p), -ENOTCONN); /* no handshake */
	handshake(f);
	p.target = &local;
	assert_int_equal(f->fx.ops->notify_post(f->fx.ep[0], &p), -EINVAL);
	p = post_of(f, 1, 1, NULL);
	memset(big, 'a', sizeof(big));
	p.msg = big;
	p.msg_len = TERN_NOTIFY_MSG_MAX + 1;
	assert_int_equal(f->fx.ops->notify_post(f->fx.ep[0], &p), -EINVAL);
	p.msg = NULL;
	p.msg_len = 1;
	assert_int_equal(f->fx.ops->notify_post(f->fx.ep[0], &p), -EINVAL);
	p = post_of(f, 1, 1, NULL);
	p.sender = "not a name";
	assert_int_equal(f->fx.ops->notify_post(f->fx.ep[0], &p), -EINVAL);
	p.sender = NULL;
	assert_int_equal(f->fx.ops->notify_post(f->fx.ep[0], &p), -EINVAL);
	memcpy(&d, self.priv, sizeof(d));
	d.peer = TERN_MLX5_PEER_SELF;
	memcpy(self.priv, &d, sizeof(d));
	p = post_of(f, 1, 1, NULL);
	p.target = &self;
	assert_int_equal(f->fx.ops->notify_post(f->fx.ep[0], &p), -ENOTSUP);
	d.magic = 0;
	memcpy(self.priv, &d, sizeof(d));
	assert_int_equal(f->fx.ops->notify_post(f->fx.ep[0], &p), -EINVAL);
	assert_int_equal(ep_stats(f).notify_posted, 0);
	assert_int_equal(mlx5_ep(f->fx.ep[0])->nt_out, 0);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(status_frames_complete_notifications, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_qp_takes_as_many_as_it_has_recvs, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_failed_send_fails_its_notification, setup,
						teardown),
		cmocka_unit_test_setup_teardown(cancel_completes_notifications_in_flight, setup,
						teardown),
		cmocka_unit_test_setup_teardown(late_and_unknown_statuses_are_dropped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_node_without_a_queue_answers_enotsup, setup,
						teardown),
		cmocka_unit_test_setup_teardown(bad_posts_are_refused, setup, teardown),
	};
	char prefix[64];

	(void)argc;
	char *eal[] = { argv[0],	 "--no-huge", "-m",	     "64",	     "--no-pci",
			"--file-prefix", prefix,      "--log-level", "lib.eal:error" };

	snprintf(prefix, sizeof(prefix), "tern_mlx5_np_%d", (int)getpid());
	/* As mlx5_fixture_eal_init(), with telemetry (/tern/mlx5/notify). */
	if (rte_eal_init((int)RTE_DIM(eal), eal) < 0) {
		fprintf(stderr, "rte_eal_init failed\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
