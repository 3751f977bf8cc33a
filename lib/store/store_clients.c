/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * /tern/client_store_keys in a dataplane: the keys of its client processes'
 * stores, asked over rte_mp (store_private.h: the messages; store.c: the
 * client's side, keys_mp_action()).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_telemetry.h>

#include "store_private.h"

#define CLIENTS_WAIT_MS 500

/* Page texts read here: one telemetry request at a time (the lock). */
static pthread_mutex_t clients_lock = PTHREAD_MUTEX_INITIALIZER;
static char clients_text[STORE_KEYS_TEXT_MAX + 1];

static int
clients_error(struct rte_tel_data *d, const char *msg)
{
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "error", msg);
	return 0;
}

/* Every answer's descriptors closed, the answers freed. */
static void
clients_reply_free(struct rte_mp_reply *rep)
{
	int i, j;

	for (i = 0; i < rep->nb_received; i++)
		for (j = 0; j < rep->msgs[i].num_fds && j < RTE_MP_MAX_FD_NUM; j++)
			if (rep->msgs[i].fds[j] >= 0)
				close(rep->msgs[i].fds[j]);
	free(rep->msgs);
	rep->msgs = NULL;
	rep->nb_received = 0;
}

/* Send @q to every client; 0 with their answers in @rep, or -errno. */
static int
clients_ask(const struct store_keys_req *q, struct rte_mp_reply *rep)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = CLIENTS_WAIT_MS * 1000000L };
	struct rte_mp_msg m = { 0 };
	int n;

	snprintf(m.name, sizeof(m.name), "%s", STORE_KEYS_MP_NAME);
	n = store_keys_req_encode(q, m.param, sizeof(m.param));
	if (n < 0)
		return n;
	m.len_param = n;
	memset(rep, 0, sizeof(*rep));
	if (rte_mp_request_sync(&m, rep, &ts) != 0) {
		clients_reply_free(rep);
		return -(rte_errno != 0 ? rte_errno : EIO);
	}
	return 0;
}

/* A decoded answer of @rep (index @i) with the op and pid wanted, else -EPROTO. */
static int
clients_answer(const struct rte_mp_reply *rep, int i, struct store_keys_rep *r)
{
	const struct rte_mp_msg *m = &rep->msgs[i];

	if (strncmp(m->name, STORE_KEYS_MP_NAME, sizeof(m->name)) != 0 || m->len_param < 0 ||
	    m->num_fds < 0 || m->num_fds > 1)
		return -EPROTO;
	if (store_keys_rep_decode(m->param, (size_t)m->len_param, r) != 0)
		return -EPROTO;
	return (r->text_len > 0) == (m->num_fds == 1) ? 0 : -EPROTO;
}

static int
clients_list(struct rte_tel_data *d)
{
	struct rte_tel_data *pids, *names;
	struct store_keys_req q = { .op = STORE_KEYS_OP_HELLO };
	struct rte_mp_reply rep;
	uint64_t n = 0, bad = 0;
	int i, ret;

	ret = clients_ask(&q, &rep);
	if (ret != 0)
		return clients_error(d, "could not ask the clients (rte_mp)");
	pids = rte_tel_data_alloc();
	names = rte_tel_data_alloc();
	if (pids == NULL || names == NULL) {
		rte_tel_data_free(pids);
		rte_tel_data_free(names);
		clients_reply_free(&rep);
		return -ENOMEM;
	}
	rte_tel_data_start_array(pids, RTE_TEL_U64_VAL);
	rte_tel_data_start_array(names, RTE_TEL_STRING_VAL);
	for (i = 0; i < rep.nb_received; i++) {
		struct store_keys_rep r;

		if (clients_answer(&rep, i, &r) != 0 || r.op != STORE_KEYS_OP_HELLO) {
			bad++;
			continue;
		}
		if (r.status != 0)
			continue; /* a client without a store serving its keys */
		rte_tel_data_add_array_u64(pids, r.pid);
		rte_tel_data_add_array_string(names, r.name);
		n++;
	}
	clients_reply_free(&rep);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "clients", n);
	rte_tel_data_add_dict_container(d, "pid", pids, 0);
	rte_tel_data_add_dict_container(d, "name", names, 0);
	rte_tel_data_add_dict_u64(d, "malformed", bad);
	return 0;
}

/* The page text of answer @r from descriptor @fd into clients_text. */
static int
clients_read_text(int fd, const struct store_keys_rep *r)
{
	struct stat st;
	size_t got = 0;

	if (fstat(fd, &st) != 0 || st.st_size != (off_t)r->text_len)
		return -EPROTO;
	while (got < r->text_len) {
		ssize_t n = pread(fd, clients_text + got, r->text_len - got, (off_t)got);

		if (n <= 0)
			return -EPROTO;
		got += (size_t)n;
	}
	clients_text[got] = '\0';
	return 0;
}

static const char *
clients_refusal(int status)
{
	switch (status) {
	case -ENOENT:
		return "that client has no store serving its keys "
		       "(tern_store_telemetry_keys_register())";
	case -EINVAL:
		return "bad parameters: expected PID[,CURSOR[,COUNT[,PREFIX]]]";
	case -ERANGE:
		return "the cursor is past that store's end";
	case -EBUSY:
		return "the store is busy (a call holds it): try again";
	case -EMSGSIZE:
		return "the page does not fit: ask fewer keys";
	default:
		return "the client could not answer";
	}
}

static int
clients_page(struct rte_tel_data *d, uint32_t pid, const char *params)
{
	struct rte_tel_data *key, *size, *version, *replicas;
	struct store_keys_req q = { .op = STORE_KEYS_OP_PAGE, .pid = pid };
	struct store_keys_rep r = { 0 };
	struct store_keys_row row;
	struct rte_mp_reply rep;
	uint64_t truncated = 0;
	size_t off = 0;
	int i, ret, found = -1;
	uint32_t rows = 0;

	snprintf(q.params, sizeof(q.params), "%s", params);
	ret = clients_ask(&q, &rep);
	if (ret != 0)
		return clients_error(d, "could not ask the clients (rte_mp)");
	for (i = 0; i < rep.nb_received && found < 0; i++) {
		struct store_keys_rep a;

		if (clients_answer(&rep, i, &a) == 0 && a.op == STORE_KEYS_OP_PAGE &&
		    a.pid == pid) {
			found = i;
			r = a;
		}
	}
	if (found < 0) {
		clients_reply_free(&rep);
		return clients_error(d, "no client process with that pid answered (not attached "
					"to this dataplane, or its answer was malformed)");
	}
	if (r.status != 0) {
		clients_reply_free(&rep);
		return clients_error(d, clients_refusal(r.status));
	}
	ret = r.text_len > 0 ? clients_read_text(rep.msgs[found].fds[0], &r) : 0;
	clients_reply_free(&rep);
	if (ret != 0)
		return clients_error(d, "the client's page is malformed");
	key = rte_tel_data_alloc();
	size = rte_tel_data_alloc();
	version = rte_tel_data_alloc();
	replicas = rte_tel_data_alloc();
	if (key == NULL || size == NULL || version == NULL || replicas == NULL) {
		rte_tel_data_free(key);
		rte_tel_data_free(size);
		rte_tel_data_free(version);
		rte_tel_data_free(replicas);
		return -ENOMEM;
	}
	rte_tel_data_start_array(key, RTE_TEL_STRING_VAL);
	rte_tel_data_start_array(size, RTE_TEL_U64_VAL);
	rte_tel_data_start_array(version, RTE_TEL_U64_VAL);
	rte_tel_data_start_array(replicas, RTE_TEL_STRING_VAL);
	while ((ret = store_keys_row_parse(clients_text, r.text_len, &off, &row)) == 0 &&
	       rows < r.count) {
		char shown[RTE_TEL_MAX_STRING_LEN];
		size_t len = strlen(row.key);

		if (len < sizeof(shown)) {
			memcpy(shown, row.key, len + 1);
		} else {
			memcpy(shown, row.key, sizeof(shown) - 4);
			memcpy(shown + sizeof(shown) - 4, "...", 4);
			truncated++;
		}
		rte_tel_data_add_array_string(key, shown);
		rte_tel_data_add_array_u64(size, row.size);
		rte_tel_data_add_array_u64(version, row.version);
		rte_tel_data_add_array_string(replicas, row.replicas);
		rows++;
	}
	if (ret != 1 || rows != r.count) {
		rte_tel_data_free(key);
		rte_tel_data_free(size);
		rte_tel_data_free(version);
		rte_tel_data_free(replicas);
		return clients_error(d, "the client's page is malformed");
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "name", r.name);
	rte_tel_data_add_dict_u64(d, "pid", r.pid);
	rte_tel_data_add_dict_u64(d, "count", rows);
	rte_tel_data_add_dict_int(d, "next", r.next);
	rte_tel_data_add_dict_u64(d, "truncated", truncated);
	rte_tel_data_add_dict_container(d, "key", key, 0);
	rte_tel_data_add_dict_container(d, "size", size, 0);
	rte_tel_data_add_dict_container(d, "version", version, 0);
	rte_tel_data_add_dict_container(d, "replicas", replicas, 0);
	return 0;
}

static int
clients_cb(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	struct store_keys_query kq;
	const char *rest = "";
	char err[160];
	uint64_t pid = 0;
	size_t n, i;
	int ret;

	if (params == NULL || params[0] == '\0') {
		pthread_mutex_lock(&clients_lock);
		ret = clients_list(d);
		pthread_mutex_unlock(&clients_lock);
		return ret;
	}
	/* PID: decimal, no sign, no leading zero, 1..2^31-1. */
	n = strcspn(params, ",");
	for (i = 0; i < n && i < 11; i++) {
		if (params[i] < '0' || params[i] > '9')
			break;
		pid = pid * 10 + (uint64_t)(params[i] - '0');
	}
	if (n == 0 || i != n || params[0] == '0' || pid > INT32_MAX)
		return clients_error(d, "bad pid: expected PID[,CURSOR[,COUNT[,PREFIX]]] "
					"(the pids: /tern/client_store_keys alone)");
	if (params[n] == ',')
		rest = params + n + 1;
	if (params[n] == ',' && rest[0] == '\0')
		return clients_error(d, "bad parameters: nothing after the comma");
	if (store_keys_parse(rest, &kq, err, sizeof(err)) != 0)
		return clients_error(d, err);
	if (strlen(rest) > STORE_KEYS_PARAMS_MAX)
		return clients_error(d, "prefix too long for a client's listing (at most 239 "
					"characters of CURSOR,COUNT,PREFIX)");
	pthread_mutex_lock(&clients_lock);
	ret = clients_page(d, (uint32_t)pid, rest);
	pthread_mutex_unlock(&clients_lock);
	return ret;
}

int
tern_store_clients_telemetry_register(void)
{
	static bool registered;
	int ret = 0;

	if (rte_eal_process_type() != RTE_PROC_PRIMARY)
		return -ENOTSUP;
	pthread_mutex_lock(&clients_lock);
	if (!registered) {
		if (rte_telemetry_register_cmd("/tern/client_store_keys", clients_cb,
					       "Keys of the clients' stores: no parameters -> "
					       "pid, name; PID[,CURSOR[,COUNT[,PREFIX]]] -> key, "
					       "size, version, replicas; next") != 0)
			ret = -ENOTSUP;
		else
			registered = true;
	}
	pthread_mutex_unlock(&clients_lock);
	return ret;
}
