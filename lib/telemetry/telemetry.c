/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The /tern/ telemetry commands. Each runs on a DPDK telemetry thread (one
 * per connected client, so several may run at once) and reads the engine
 * only through its thread-safe observation API. A read-write lock keeps
 * tern_telemetry_unregister() from returning while a command still uses the
 * engine or the segment table.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_string_fns.h>
#include <rte_telemetry.h>

#include <tern_build_config.h>

#include "tern_telemetry.h"
#include "telemetry_parse.h"
#include <tern_peer.h>

/* Rows per reply of the paginated listings: far below 16 KiB of JSON. */
#define SEGMENTS_PER_PAGE 64
#define CLIENTS_PER_PAGE  64
/* Longest node or version string. */
#define LABEL_MAX 64

static struct {
	pthread_rwlock_t lock;	      /* read: a command runs; write: (un)register, config/set */
	uint32_t commands_registered; /* bit i: commands[i] is known to DPDK */
	bool active;
	struct tern_engine *engine;
	struct tern_segment_table *segments;
	struct tern_peers *peers;
	int log_type; /* tern.engine's: the level /tern/config shows */
	char node[LABEL_MAX];
	char version[LABEL_MAX];
} tel = {
	.lock = PTHREAD_RWLOCK_INITIALIZER,
};

static int reply_error(struct rte_tel_data *d, const char *fmt, ...) __rte_format_printf(2, 3);

static int
reply_error(struct rte_tel_data *d, const char *fmt, ...)
{
	char msg[RTE_TEL_MAX_STRING_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "error", msg);
	return 0;
}

static int
reply_engine_error(struct rte_tel_data *d, const char *what, int ret)
{
	return reply_error(d, "%s: %s", what, strerror(-ret));
}

static int
no_params(const char *params, struct rte_tel_data *d)
{
	if (params != NULL && params[0] != '\0') {
		reply_error(d, "this command takes no parameter");
		return -EINVAL;
	}
	return 0;
}

/* Add @p arr to dict @p d under @p name; @p arr is freed either way. */
static int
add_container(struct rte_tel_data *d, const char *name, struct rte_tel_data *arr)
{
	int ret = rte_tel_data_add_dict_container(d, name, arr, 0);

	if (ret != 0)
		rte_tel_data_free(arr);
	return ret;
}

static struct rte_tel_data *
new_array(enum rte_tel_value_type type)
{
	struct rte_tel_data *arr = rte_tel_data_alloc();

	if (arr != NULL && rte_tel_data_start_array(arr, type) != 0) {
		rte_tel_data_free(arr);
		arr = NULL;
	}
	return arr;
}

static void
free_arrays(struct rte_tel_data **arr, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		rte_tel_data_free(arr[i]);
		arr[i] = NULL;
	}
}

/* Allocate @p n arrays of @p types; all or none. */
static int
new_arrays(struct rte_tel_data **arr, const enum rte_tel_value_type *types, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		arr[i] = new_array(types[i]);
		if (arr[i] == NULL) {
			free_arrays(arr, i);
			return -ENOMEM;
		}
	}
	return 0;
}

/* Busy ratio as a string: 22.11's telemetry has no floating-point type. */
static void
add_busy(struct rte_tel_data *d, uint64_t busy, uint64_t idle)
{
	char ratio[16];
	double r = busy + idle == 0 ? 0.0 : (double)busy / (double)(busy + idle);

	snprintf(ratio, sizeof(ratio), "%.4f", r);
	rte_tel_data_add_dict_string(d, "busy_ratio", ratio);
	rte_tel_data_add_dict_u64(d, "busy_ppm", (uint64_t)(r * 1e6 + 0.5));
}

static int
answer_info(const char *params, struct rte_tel_data *d)
{
	unsigned int lcores[TERN_ENGINE_MAX_LCORES];
	struct rte_tel_data *arr[3];
	static const enum rte_tel_value_type types[3] = { RTE_TEL_INT_VAL, RTE_TEL_STRING_VAL,
							  RTE_TEL_STRING_VAL };
	struct tern_engine_info info;
	int i, n, ret;

	if (no_params(params, d) != 0)
		return 0;
	ret = tern_engine_info(tel.engine, &info);
	if (ret != 0)
		return reply_engine_error(d, "engine", ret);
	n = tern_engine_lcores(tel.engine, lcores, RTE_DIM(lcores));
	if (n < 0)
		return reply_engine_error(d, "engine", n);
	if (new_arrays(arr, types, RTE_DIM(arr)) != 0)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		rte_tel_data_add_array_int(arr[0], (int)lcores[i]);
	for (i = 0; i < tern_transport_count(); i++) {
		const char *name = tern_transport_name(i);

		if (name == NULL)
			continue;
		rte_tel_data_add_array_string(arr[(info.transports_usable >> i) & 1 ? 1 : 2], name);
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "version", tel.version);
	rte_tel_data_add_dict_string(d, "node", tel.node);
	rte_tel_data_add_dict_string(d, "engine", info.name);
	rte_tel_data_add_dict_int(d, "pid", (int)getpid());
	rte_tel_data_add_dict_int(d, "main_lcore", (int)rte_get_main_lcore());
	rte_tel_data_add_dict_u64(d, "nb_lcores", info.nb_lcores);
	add_container(d, "lcores", arr[0]);
	rte_tel_data_add_dict_u64(d, "uptime_ns", info.uptime_ns);
	rte_tel_data_add_dict_u64(d, "uptime_s", info.uptime_ns / 1000000000u);
	rte_tel_data_add_dict_u64(d, "max_clients", info.max_clients);
	rte_tel_data_add_dict_u64(d, "nb_clients", info.nb_clients);
	rte_tel_data_add_dict_u64(d, "max_batch", info.max_batch);
	add_container(d, "transports_usable", arr[1]);
	add_container(d, "transports_unavailable", arr[2]);
	return 0;
}

static int
answer_stats(const char *params, struct rte_tel_data *d)
{
	unsigned int lcores[TERN_ENGINE_MAX_LCORES];
	struct tern_lcore_stats sum = { 0 }, st;
	struct tern_lcore_load load;
	struct tern_pool_stats pool;
	uint64_t inflight = 0, posted = 0, queued = 0;
	int i, n, ret;

	if (no_params(params, d) != 0)
		return 0;
	n = tern_engine_lcores(tel.engine, lcores, RTE_DIM(lcores));
	if (n < 0)
		return reply_engine_error(d, "engine", n);
	for (i = 0; i < n; i++) {
		ret = tern_engine_lcore_stats(tel.engine, lcores[i], &st);
		if (ret == 0)
			ret = tern_engine_lcore_load(tel.engine, lcores[i], &load);
		if (ret != 0)
			return reply_engine_error(d, "engine", ret);
		sum.batches += st.batches;
		sum.slices += st.slices;
		sum.bytes += st.bytes;
		sum.errors += st.errors;
		sum.timeouts += st.timeouts;
		sum.cancels += st.cancels;
		sum.busy_polls += st.busy_polls;
		sum.idle_polls += st.idle_polls;
		queued += load.sq_depth;
		inflight += load.owned_inflight;
		posted += load.posted;
	}
	ret = tern_engine_pool_stats(tel.engine, &pool);
	if (ret != 0)
		return reply_engine_error(d, "engine", ret);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "nb_lcores", (uint64_t)n);
	rte_tel_data_add_dict_u64(d, "batches", sum.batches);
	rte_tel_data_add_dict_u64(d, "slices", sum.slices);
	rte_tel_data_add_dict_u64(d, "bytes", sum.bytes);
	rte_tel_data_add_dict_u64(d, "errors", sum.errors);
	rte_tel_data_add_dict_u64(d, "timeouts", sum.timeouts);
	rte_tel_data_add_dict_u64(d, "cancels", sum.cancels);
	rte_tel_data_add_dict_u64(d, "busy_polls", sum.busy_polls);
	rte_tel_data_add_dict_u64(d, "idle_polls", sum.idle_polls);
	add_busy(d, sum.busy_polls, sum.idle_polls);
	rte_tel_data_add_dict_u64(d, "sq_depth", queued);
	rte_tel_data_add_dict_u64(d, "owned_inflight", inflight);
	rte_tel_data_add_dict_u64(d, "posted", posted);
	rte_tel_data_add_dict_u64(d, "pool_total", pool.total);
	rte_tel_data_add_dict_u64(d, "pool_available", pool.available);
	rte_tel_data_add_dict_u64(d, "pool_in_use",
				  pool.total - RTE_MIN(pool.available, pool.total));
	rte_tel_data_add_dict_u64(d, "pool_engine_held", pool.engine_held);
	return 0;
}

static int
answer_lcore(const char *params, struct rte_tel_data *d)
{
	struct tern_engine_info info;
	struct tern_lcore_stats st;
	struct tern_lcore_load load;
	char shown[24];
	uint64_t id;
	int ret;

	tern_tel_sanitize(params, shown, sizeof(shown));
	if (params == NULL || params[0] == '\0')
		return reply_error(d, "usage: /tern/lcore,<lcore id> (see /tern/info for the ids)");
	if (tern_tel_parse_u64(params, 0, RTE_MAX_LCORE - 1, &id) != 0)
		return reply_error(d, "'%s': lcore id must be a number below %u", shown,
				   RTE_MAX_LCORE);
	ret = tern_engine_lcore_stats(tel.engine, (unsigned int)id, &st);
	if (ret == 0)
		ret = tern_engine_lcore_load(tel.engine, (unsigned int)id, &load);
	if (ret == 0)
		ret = tern_engine_info(tel.engine, &info);
	if (ret == -ENOENT)
		return reply_error(d,
				   "lcore %u is not a worker lcore of the engine (see /tern/info)",
				   (unsigned int)id);
	if (ret != 0)
		return reply_engine_error(d, "engine", ret);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "lcore", id);
	rte_tel_data_add_dict_u64(d, "time_ns", info.uptime_ns);
	rte_tel_data_add_dict_u64(d, "batches", st.batches);
	rte_tel_data_add_dict_u64(d, "slices", st.slices);
	rte_tel_data_add_dict_u64(d, "bytes", st.bytes);
	rte_tel_data_add_dict_u64(d, "errors", st.errors);
	rte_tel_data_add_dict_u64(d, "timeouts", st.timeouts);
	rte_tel_data_add_dict_u64(d, "cancels", st.cancels);
	rte_tel_data_add_dict_u64(d, "busy_polls", st.busy_polls);
	rte_tel_data_add_dict_u64(d, "idle_polls", st.idle_polls);
	add_busy(d, st.busy_polls, st.idle_polls);
	rte_tel_data_add_dict_u64(d, "sq_depth", load.sq_depth);
	rte_tel_data_add_dict_u64(d, "xq_depth", load.xq_depth);
	rte_tel_data_add_dict_u64(d, "owned_inflight", load.owned_inflight);
	rte_tel_data_add_dict_u64(d, "posted", load.posted);
	return 0;
}

/* Parse the optional start slot of a paginated listing. */
static int
parse_start(const char *params, uint64_t max, uint64_t *start, struct rte_tel_data *d)
{
	char shown[24];

	*start = 0;
	if (params == NULL || params[0] == '\0')
		return 0;
	if (tern_tel_parse_u64(params, 0, max, start) == 0)
		return 0;
	tern_tel_sanitize(params, shown, sizeof(shown));
	reply_error(d, "'%s': start slot must be a number in 0..%llu", shown,
		    (unsigned long long)max);
	return -EINVAL;
}

enum {
	SEG_SLOT,
	SEG_HANDLE,
	SEG_NAME,
	SEG_KIND,
	SEG_LENGTH,
	SEG_TRANSPORT,
	SEG_SOCKET,
	SEG_REFS,
	SEG_COLUMNS
};

static int
answer_segments(const char *params, struct rte_tel_data *d)
{
	static const char *const names[SEG_COLUMNS] = { "slot",	  "handle",    "name",	 "kind",
							"length", "transport", "socket", "refs" };
	static const enum rte_tel_value_type types[SEG_COLUMNS] = {
		RTE_TEL_U64_VAL, RTE_TEL_U64_VAL,    RTE_TEL_STRING_VAL, RTE_TEL_STRING_VAL,
		RTE_TEL_U64_VAL, RTE_TEL_STRING_VAL, RTE_TEL_INT_VAL,	 RTE_TEL_U64_VAL
	};
	struct rte_tel_data *col[SEG_COLUMNS];
	struct tern_segment_table_info ti;
	const char *transport;
	struct tern_segment_info si;
	struct tern_segment_table *tbl = tel.segments;
	uint32_t h, slot, count = 0;
	uint64_t start;
	int next = -1;
	unsigned int i;

	if (tern_segment_table_info(tbl, &ti) != 0)
		return reply_error(d, "no segment table was given to telemetry");
	if (parse_start(params, ti.capacity - 1, &start, d) != 0)
		return 0;
	if (new_arrays(col, types, SEG_COLUMNS) != 0)
		return -ENOMEM;
	slot = (uint32_t)start;
	while ((h = tern_segment_next(tbl, slot)) != TERN_SEGMENT_INVALID) {
		slot = tern_segment_handle_slot(h);
		if (count == SEGMENTS_PER_PAGE) {
			next = (int)slot;
			break;
		}
		slot++;
		/* Unregistered since tern_segment_next() saw it: skip. */
		if (tern_segment_info(tbl, h, &si) != 0)
			continue;
		transport = tern_transport_name(si.transport);
		rte_tel_data_add_array_u64(col[SEG_SLOT], slot - 1);
		rte_tel_data_add_array_u64(col[SEG_HANDLE], h);
		rte_tel_data_add_array_string(col[SEG_NAME], si.name);
		rte_tel_data_add_array_string(col[SEG_KIND],
					      si.kind == TERN_SEGMENT_REMOTE ? "remote" : "local");
		rte_tel_data_add_array_u64(col[SEG_LENGTH], si.length);
		rte_tel_data_add_array_string(col[SEG_TRANSPORT],
					      transport != NULL ? transport : "?");
		rte_tel_data_add_array_int(col[SEG_SOCKET], si.socket_id);
		rte_tel_data_add_array_u64(col[SEG_REFS], si.refs);
		count++;
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "table", ti.name);
	rte_tel_data_add_dict_u64(d, "capacity", ti.capacity);
	rte_tel_data_add_dict_u64(d, "total", ti.nb_active);
	rte_tel_data_add_dict_u64(d, "start", start);
	rte_tel_data_add_dict_u64(d, "count", count);
	rte_tel_data_add_dict_int(d, "next", next);
	for (i = 0; i < SEG_COLUMNS; i++)
		add_container(d, names[i], col[i]);
	return 0;
}

enum {
	CLI_SLOT,
	CLI_PID,
	CLI_STATE,
	CLI_SUBMITTED,
	CLI_CQ_DEPTH,
	CLI_MAX_INFLIGHT,
	CLI_AGE_MS,
	CLI_BUFFERS,
	CLI_COLUMNS
};

static int
answer_clients(const char *params, struct rte_tel_data *d)
{
	static const char *const names[CLI_COLUMNS] = { "slot",	     "pid",	  "state",
							"submitted", "cq_depth",  "max_inflight",
							"age_ms",    "nb_buffers" };
	static const enum rte_tel_value_type types[CLI_COLUMNS] = {
		RTE_TEL_U64_VAL, RTE_TEL_INT_VAL, RTE_TEL_STRING_VAL, RTE_TEL_U64_VAL,
		RTE_TEL_U64_VAL, RTE_TEL_U64_VAL, RTE_TEL_U64_VAL,    RTE_TEL_U64_VAL
	};
	struct rte_tel_data *col[CLI_COLUMNS];
	struct tern_engine_info info;
	struct tern_client_info ci;
	uint32_t slot, count = 0;
	uint64_t start;
	int next = -1, ret;
	unsigned int i;

	ret = tern_engine_info(tel.engine, &info);
	if (ret != 0)
		return reply_engine_error(d, "engine", ret);
	if (parse_start(params, info.max_clients - 1, &start, d) != 0)
		return 0;
	if (new_arrays(col, types, CLI_COLUMNS) != 0)
		return -ENOMEM;
	for (slot = (uint32_t)start; slot < info.max_clients; slot++) {
		if (tern_engine_client_info(tel.engine, slot, &ci) != 0)
			continue;
		if (count == CLIENTS_PER_PAGE) {
			next = (int)slot;
			break;
		}
		rte_tel_data_add_array_u64(col[CLI_SLOT], slot);
		rte_tel_data_add_array_int(col[CLI_PID], ci.pid);
		rte_tel_data_add_array_string(col[CLI_STATE], ci.state == 1   ? "active"
							      : ci.state == 2 ? "dead"
									      : "closing");
		rte_tel_data_add_array_u64(col[CLI_SUBMITTED], ci.submitted);
		rte_tel_data_add_array_u64(col[CLI_CQ_DEPTH], ci.cq_depth);
		rte_tel_data_add_array_u64(col[CLI_MAX_INFLIGHT], ci.max_inflight);
		rte_tel_data_add_array_u64(col[CLI_AGE_MS], ci.age_ns / 1000000u);
		rte_tel_data_add_array_u64(col[CLI_BUFFERS], ci.nb_buffers);
		count++;
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "max_clients", info.max_clients);
	rte_tel_data_add_dict_u64(d, "total", info.nb_clients);
	rte_tel_data_add_dict_u64(d, "start", start);
	rte_tel_data_add_dict_u64(d, "count", count);
	rte_tel_data_add_dict_int(d, "next", next);
	for (i = 0; i < CLI_COLUMNS; i++)
		add_container(d, names[i], col[i]);
	return 0;
}

static int
answer_latency(const char *params, struct rte_tel_data *d)
{
	uint64_t buckets[TERN_LATENCY_BUCKETS], count = 0;
	struct rte_tel_data *arr;
	unsigned int i;
	int ret;

	if (no_params(params, d) != 0)
		return 0;
	ret = tern_engine_latency(tel.engine, buckets);
	if (ret != 0)
		return reply_engine_error(d, "engine", ret);
	arr = new_array(RTE_TEL_U64_VAL);
	if (arr == NULL)
		return -ENOMEM;
	for (i = 0; i < TERN_LATENCY_BUCKETS; i++) {
		rte_tel_data_add_array_u64(arr, buckets[i]);
		count += buckets[i];
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "unit", "ns");
	rte_tel_data_add_dict_string(d, "buckets_are", "log2: bucket i counts [2^i, 2^(i+1)) ns");
	rte_tel_data_add_dict_u64(d, "count", count);
	rte_tel_data_add_dict_u64(d, "p50_ns", tern_tel_latency_percentile(buckets, i, 50.0));
	rte_tel_data_add_dict_u64(d, "p90_ns", tern_tel_latency_percentile(buckets, i, 90.0));
	rte_tel_data_add_dict_u64(d, "p99_ns", tern_tel_latency_percentile(buckets, i, 99.0));
	rte_tel_data_add_dict_u64(d, "max_ns", tern_tel_latency_max(buckets, i));
	add_container(d, "buckets", arr);
	return 0;
}

static int
answer_config(const char *params, struct rte_tel_data *d)
{
	static const char *const settable[] = { "slice_size", "deadline_ms", "log_level" };
	struct tern_engine_conf conf;
	struct rte_tel_data *arr;
	unsigned int i;
	int level, ret;

	if (no_params(params, d) != 0)
		return 0;
	ret = tern_engine_get_conf(tel.engine, &conf);
	if (ret != 0)
		return reply_engine_error(d, "engine", ret);
	arr = new_array(RTE_TEL_STRING_VAL);
	if (arr == NULL)
		return -ENOMEM;
	for (i = 0; i < RTE_DIM(settable); i++)
		rte_tel_data_add_array_string(arr, settable[i]);
	level = tel.log_type >= 0 ? rte_log_get_level((uint32_t)tel.log_type) : -1;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "slice_size", conf.slice_bytes);
	rte_tel_data_add_dict_u64(d, "deadline_ms", conf.deadline_ns / 1000000u);
	rte_tel_data_add_dict_u64(d, "deadline_ns", conf.deadline_ns);
	rte_tel_data_add_dict_string(
		d, "log_level", level > 0 ? tern_tel_log_level_name((uint32_t)level) : "unknown");
	rte_tel_data_add_dict_int(d, "log_level_num", level);
	rte_tel_data_add_dict_u64(d, "nb_lcores", conf.nb_lcores);
	rte_tel_data_add_dict_u64(d, "nb_futures", conf.nb_futures);
	rte_tel_data_add_dict_u64(d, "max_batch", conf.max_batch);
	rte_tel_data_add_dict_u64(d, "max_clients", conf.max_clients);
	rte_tel_data_add_dict_u64(d, "share_bytes", conf.share_bytes);
	rte_tel_data_add_dict_u64(d, "stream_bytes", conf.stream_bytes);
	rte_tel_data_add_dict_u64(d, "drain_ns", conf.drain_ns);
	rte_tel_data_add_dict_int(d, "socket_id", conf.socket_id);
	add_container(d, "settable", arr);
	return 0;
}

/* Runs under the write lock: one change at a time, and rte_log's pattern list is not thread-safe.
 */
static int
answer_config_set(const char *params, struct rte_tel_data *d)
{
	struct tern_tel_setting set;
	char err[RTE_TEL_MAX_STRING_LEN];
	const char *key = "";
	int ret = 0;

	if (tern_tel_parse_set(params, &set, err, sizeof(err)) != 0)
		return reply_error(d, "%s", err);
	switch (set.key) {
	case TERN_TEL_KEY_SLICE_SIZE:
		key = "slice_size";
		ret = tern_engine_set_slice_bytes(tel.engine, set.value);
		break;
	case TERN_TEL_KEY_DEADLINE_MS:
		key = "deadline_ms";
		ret = tern_engine_set_deadline_ns(tel.engine, set.value * 1000000u);
		break;
	case TERN_TEL_KEY_LOG_LEVEL:
		key = "log_level";
		ret = rte_log_set_level_pattern("tern.*", (uint32_t)set.value);
		break;
	}
	if (ret != 0)
		return reply_error(d, "%s: refused: %s", key, strerror(-ret));
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "status", "ok");
	rte_tel_data_add_dict_string(d, "key", key);
	rte_tel_data_add_dict_u64(d, "value", set.value);
	if (set.key == TERN_TEL_KEY_LOG_LEVEL)
		rte_tel_data_add_dict_string(d, "level",
					     tern_tel_log_level_name((uint32_t)set.value));
	return 0;
}

enum peer_column {
	PEER_NODE,
	PEER_TRANSPORT,
	PEER_PINNED,
	PEER_STATE,
	PEER_SEGMENTS,
	PEER_RETIRED,
	PEER_INFLIGHT,
	PEER_SLICES,
	PEER_BYTES,
	PEER_FAILED,
	PEER_RESOLVES,
	PEER_ERRORS,
	PEER_STALE,
	PEER_LAST_ERROR,
	PEER_RAILS,
	PEER_PATH,
	PEER_LAST_RESORT,
	PEER_FALLBACK_SLICES,
	/* one entry per rail of every peer, in the peers' order */
	RAIL_NODE,
	RAIL_NAME,
	RAIL_STATE,
	RAIL_BYTES,
	RAIL_SLICES,
	RAIL_ERRORS,
	RAIL_REPOSTED,
	RAIL_FAILURES,
	RAIL_SHARE,
	RAIL_BACKOFF,
	RAIL_LAST_ERROR,
	RAIL_LAST_FAILURE,
	PEER_COLUMNS
};

static const char *
rail_state_name(uint32_t state)
{
	return state == TERN_TRANSPORT_RAIL_UP	     ? "up"
	       : state == TERN_TRANSPORT_RAIL_PAUSED ? "paused"
						     : "probing";
}

/* The rails of one peer, one entry each in the RAIL_* columns. */
static void
add_rails(struct rte_tel_data **col, const struct tern_peer_info *pi)
{
	uint32_t r, n = RTE_MIN(pi->nb_rails, (uint32_t)TERN_PEER_RAILS_MAX);
	uint64_t total = 0;

	for (r = 0; r < n; r++)
		total += pi->rails[r].bytes;
	for (r = 0; r < n; r++) {
		const struct tern_transport_rail *rl = &pi->rails[r];

		rte_tel_data_add_array_string(col[RAIL_NODE], pi->node);
		rte_tel_data_add_array_string(col[RAIL_NAME], rl->name);
		rte_tel_data_add_array_string(col[RAIL_STATE], rail_state_name(rl->state));
		rte_tel_data_add_array_u64(col[RAIL_BYTES], rl->bytes);
		rte_tel_data_add_array_u64(col[RAIL_SLICES], rl->slices);
		rte_tel_data_add_array_u64(col[RAIL_ERRORS], rl->errors);
		rte_tel_data_add_array_u64(col[RAIL_REPOSTED], rl->reposted);
		rte_tel_data_add_array_u64(col[RAIL_FAILURES], rl->failures);
		rte_tel_data_add_array_u64(col[RAIL_SHARE],
					   total == 0 ? 0 : (rl->bytes * 100 + total / 2) / total);
		rte_tel_data_add_array_u64(col[RAIL_BACKOFF], rl->backoff_ms);
		rte_tel_data_add_array_string(col[RAIL_LAST_ERROR],
					      rl->last_error == 0 ? "" : strerror(-rl->last_error));
		rte_tel_data_add_array_u64(col[RAIL_LAST_FAILURE], rl->last_failure_ms);
	}
}

static int
answer_peers(const char *params, struct rte_tel_data *d)
{
	static const char *const names[PEER_COLUMNS] = { "node",
							 "transport",
							 "pinned",
							 "state",
							 "segments",
							 "retired",
							 "inflight",
							 "slices",
							 "bytes",
							 "failed_requests",
							 "resolves",
							 "errors",
							 "stale",
							 "last_error",
							 "rails",
							 "path",
							 "last_resort",
							 "fallback_slices",
							 "rail_node",
							 "rail",
							 "rail_state",
							 "rail_bytes",
							 "rail_slices",
							 "rail_errors",
							 "rail_reposted",
							 "rail_failures",
							 "rail_share_pct",
							 "rail_backoff_ms",
							 "rail_last_error",
							 "rail_last_failure_ms" };
	static const enum rte_tel_value_type types[PEER_COLUMNS] = {
		RTE_TEL_STRING_VAL, RTE_TEL_STRING_VAL, RTE_TEL_STRING_VAL, RTE_TEL_STRING_VAL,
		RTE_TEL_U64_VAL,    RTE_TEL_U64_VAL,	RTE_TEL_U64_VAL,    RTE_TEL_U64_VAL,
		RTE_TEL_U64_VAL,    RTE_TEL_U64_VAL,	RTE_TEL_U64_VAL,    RTE_TEL_U64_VAL,
		RTE_TEL_U64_VAL,    RTE_TEL_STRING_VAL, RTE_TEL_U64_VAL,    RTE_TEL_STRING_VAL,
		RTE_TEL_STRING_VAL, RTE_TEL_U64_VAL,	RTE_TEL_STRING_VAL, RTE_TEL_STRING_VAL,
		RTE_TEL_STRING_VAL, RTE_TEL_U64_VAL,	RTE_TEL_U64_VAL,    RTE_TEL_U64_VAL,
		RTE_TEL_U64_VAL,    RTE_TEL_U64_VAL,	RTE_TEL_U64_VAL,    RTE_TEL_U64_VAL,
		RTE_TEL_STRING_VAL, RTE_TEL_U64_VAL
	};
	struct tern_peer_info info[TERN_PEER_MAX];
	struct rte_tel_data *col[PEER_COLUMNS];
	int n, i, c;

	if (no_params(params, d) != 0)
		return 0;
	if (tel.peers == NULL)
		return reply_error(d, "this process has no peers (no --directory or --peer)");
	n = tern_peers_list(tel.peers, info, RTE_DIM(info));
	if (n < 0)
		return reply_engine_error(d, "peers", n);
	if (new_arrays(col, types, PEER_COLUMNS) != 0)
		return -ENOMEM;
	for (i = 0; i < n && i < (int)RTE_DIM(info); i++) {
		struct tern_peer_traffic t = { 0 };

		tern_engine_peer_traffic(tel.engine, info[i].tag, &t);
		rte_tel_data_add_array_string(col[PEER_NODE], info[i].node);
		rte_tel_data_add_array_string(col[PEER_TRANSPORT], info[i].transport);
		rte_tel_data_add_array_string(col[PEER_PINNED],
					      info[i].pinned[0] != '\0' ? info[i].pinned : "auto");
		rte_tel_data_add_array_string(col[PEER_STATE], tern_peer_state_name(info[i].state));
		rte_tel_data_add_array_u64(col[PEER_SEGMENTS], info[i].segments);
		rte_tel_data_add_array_u64(col[PEER_RETIRED], info[i].retired);
		rte_tel_data_add_array_u64(col[PEER_INFLIGHT], info[i].inflight);
		rte_tel_data_add_array_u64(col[PEER_SLICES], t.slices);
		rte_tel_data_add_array_u64(col[PEER_BYTES], t.bytes);
		rte_tel_data_add_array_u64(col[PEER_FAILED], t.failed_requests);
		rte_tel_data_add_array_u64(col[PEER_RESOLVES], info[i].resolves);
		rte_tel_data_add_array_u64(col[PEER_ERRORS], info[i].errors);
		rte_tel_data_add_array_u64(col[PEER_STALE], info[i].stale);
		rte_tel_data_add_array_string(
			col[PEER_LAST_ERROR],
			info[i].last_error == 0 ? "" : strerror(-info[i].last_error));
		rte_tel_data_add_array_u64(col[PEER_RAILS], info[i].nb_rails);
		rte_tel_data_add_array_string(col[PEER_PATH], info[i].path);
		rte_tel_data_add_array_string(col[PEER_LAST_RESORT], info[i].last_resort);
		rte_tel_data_add_array_u64(col[PEER_FALLBACK_SLICES], t.fallback_slices);
		add_rails(col, &info[i]);
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "count", (uint64_t)n);
	for (c = 0; c < PEER_COLUMNS; c++)
		add_container(d, names[c], col[c]);
	return 0;
}

static int
answer_peers_set(const char *params, struct rte_tel_data *d)
{
	char err[RTE_TEL_MAX_STRING_LEN], node[48], transport[16];
	int ret;

	if (tern_tel_parse_peer_set(params, node, transport, err, sizeof(err)) != 0)
		return reply_error(d, "%s", err);
	if (tel.peers == NULL)
		return reply_error(d, "this process has no peers (no --directory or --peer)");
	ret = tern_peers_set_transport(tel.peers, node, transport);
	if (ret != 0)
		return reply_error(d, "%s: refused: %s", node,
				   ret == -ENOENT ? "no such transport" : strerror(-ret));
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "status", "ok");
	rte_tel_data_add_dict_string(d, "node", node);
	rte_tel_data_add_dict_string(d, "transport", transport[0] != '\0' ? transport : "auto");
	return 0;
}

static int
answer_notify(const char *params, struct rte_tel_data *d)
{
	struct tern_notify_sender_stats rows[TERN_NOTIFY_SENDERS_MAX];
	struct tern_notify_queue *q = tern_engine_notify_queue(tel.engine);
	struct tern_notify_queue_stats qs;
	struct tern_notify_send_stats ss;
	struct rte_tel_data *names, *delivered, *refused;
	int n, i, ret;

	if (no_params(params, d) != 0)
		return 0;
	ret = tern_engine_notify_stats(tel.engine, 0, &ss);
	if (ret != 0)
		return reply_engine_error(d, "engine", ret);
	if (q == NULL || tern_notify_queue_stats(q, &qs) != 0)
		return reply_error(d, "the engine has no notification queue");
	n = tern_notify_queue_senders(q, rows, RTE_DIM(rows));
	if (n < 0)
		return reply_error(d, "notification queue: %s", strerror(-n));
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "node", tern_notify_queue_node(q));
	rte_tel_data_add_dict_u64(d, "depth", qs.depth);
	rte_tel_data_add_dict_u64(d, "queued", qs.queued);
	rte_tel_data_add_dict_u64(d, "delivered", qs.delivered);
	rte_tel_data_add_dict_u64(d, "polled", qs.polled);
	rte_tel_data_add_dict_u64(d, "refused", qs.refused);
	rte_tel_data_add_dict_u64(d, "malformed", qs.malformed);
	rte_tel_data_add_dict_u64(d, "sent_posted", ss.posted);
	rte_tel_data_add_dict_u64(d, "sent_delivered", ss.delivered);
	rte_tel_data_add_dict_u64(d, "sent_refused", ss.refused);
	rte_tel_data_add_dict_u64(d, "sent_failed", ss.failed);
	names = new_array(RTE_TEL_STRING_VAL);
	delivered = new_array(RTE_TEL_U64_VAL);
	refused = new_array(RTE_TEL_U64_VAL);
	if (names == NULL || delivered == NULL || refused == NULL) {
		rte_tel_data_free(names);
		rte_tel_data_free(delivered);
		rte_tel_data_free(refused);
		return -ENOMEM;
	}
	for (i = 0; i < n && i < (int)RTE_DIM(rows); i++) {
		rte_tel_data_add_array_string(names, rows[i].node);
		rte_tel_data_add_array_u64(delivered, rows[i].delivered);
		rte_tel_data_add_array_u64(refused, rows[i].refused);
	}
	add_container(d, "sender", names);
	add_container(d, "sender_delivered", delivered);
	add_container(d, "sender_refused", refused);
	return 0;
}

typedef int (*answer_fn)(const char *params, struct rte_tel_data *d);

static int
run(const char *params, struct rte_tel_data *d, answer_fn fn, bool writes)
{
	int ret;

	if (writes)
		pthread_rwlock_wrlock(&tel.lock);
	else
		pthread_rwlock_rdlock(&tel.lock);
	if (tel.active)
		ret = fn(params, d);
	else
		ret = reply_error(d, "tern telemetry is not attached to an engine");
	pthread_rwlock_unlock(&tel.lock);
	return ret;
}

#define TERN_TEL_CMD(name, fn, writes)                                          \
	static int cmd_##name(const char *cmd __rte_unused, const char *params, \
			      struct rte_tel_data *d)                           \
	{                                                                       \
		return run(params, d, fn, writes);                              \
	}

TERN_TEL_CMD(info, answer_info, false)
TERN_TEL_CMD(stats, answer_stats, false)
TERN_TEL_CMD(lcore, answer_lcore, false)
TERN_TEL_CMD(segments, answer_segments, false)
TERN_TEL_CMD(clients, answer_clients, false)
TERN_TEL_CMD(latency, answer_latency, false)
TERN_TEL_CMD(config, answer_config, false)
TERN_TEL_CMD(config_set, answer_config_set, true)
TERN_TEL_CMD(peers, answer_peers, false)
TERN_TEL_CMD(peers_set, answer_peers_set, true)
TERN_TEL_CMD(notify, answer_notify, false)

static const struct {
	const char *cmd;
	telemetry_cb fn;
	const char *help;
} commands[] = {
	{ "/tern/info", cmd_info,
	  "Version, node, worker lcores, uptime, transports. No parameters" },
	{ "/tern/stats", cmd_stats, "Counters summed over the worker lcores, future pool use" },
	{ "/tern/lcore", cmd_lcore,
	  "One worker lcore's counters, busy ratio, queues. Parameter: id" },
	{ "/tern/segments", cmd_segments,
	  "Registered segments, 64 per reply. Parameter: first slot (reply's 'next')" },
	{ "/tern/clients", cmd_clients,
	  "Client slots in use, 64 per reply. Parameter: first slot (reply's 'next')" },
	{ "/tern/latency", cmd_latency,
	  "Submit-to-resolve latency: log2(ns) buckets, percentiles" },
	{ "/tern/config", cmd_config, "Current settings" },
	{ "/tern/config/set", cmd_config_set,
	  "Change a setting: slice_size=<bytes[K|M|G]>, deadline_ms=<ms> or log_level=<level>" },
	{ "/tern/peers", cmd_peers,
	  "Peers: transport, state, imports, work in flight, traffic, errors. No parameters" },
	{ "/tern/peers/set", cmd_peers_set,
	  "Pin a peer to a transport: NODE=TRANSPORT, or NODE=auto for the cheapest" },
	{ "/tern/notify", cmd_notify,
	  "Notifications: this node's queue (queued, delivered, polled, refused per sender) "
	  "and what it sent. No parameters" },
};

int
tern_telemetry_register(const struct tern_telemetry_conf *conf)
{
	unsigned int i;
	int ret = 0;

	if (conf == NULL || conf->engine == NULL ||
	    (conf->node != NULL && strnlen(conf->node, LABEL_MAX) >= LABEL_MAX) ||
	    (conf->version != NULL && strnlen(conf->version, LABEL_MAX) >= LABEL_MAX))
		return -EINVAL;
	pthread_rwlock_wrlock(&tel.lock);
	if (tel.active) {
		ret = -EEXIST;
		goto out;
	}
	for (i = 0; i < RTE_DIM(commands); i++) {
		if (tel.commands_registered & (1u << i))
			continue;
		/* On failure the commands registered so far stay registered
		 * (DPDK cannot remove them) and answer "not attached". */
		ret = rte_telemetry_register_cmd(commands[i].cmd, commands[i].fn, commands[i].help);
		if (ret != 0)
			goto out;
		tel.commands_registered |= 1u << i;
	}
	tel.engine = conf->engine;
	tel.segments = conf->segments;
	tel.peers = conf->peers;
	rte_strlcpy(tel.node, conf->node != NULL ? conf->node : "", sizeof(tel.node));
	rte_strlcpy(tel.version, conf->version != NULL ? conf->version : TERN_VERSION,
		    sizeof(tel.version));
	tel.log_type = rte_log_register("tern.engine");
	tel.active = true;
out:
	pthread_rwlock_unlock(&tel.lock);
	return ret;
}

void
tern_telemetry_unregister(void)
{
	pthread_rwlock_wrlock(&tel.lock);
	tel.active = false;
	tel.engine = NULL;
	tel.segments = NULL;
	tel.peers = NULL;
	pthread_rwlock_unlock(&tel.lock);
}
