/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include <tern_cli.h>
#include <tern_engine.h>

#include "perf_args.h"

/* The engine's smallest slice. */
#define PERF_DIM(a) (sizeof(a) / sizeof((a)[0]))

/* Transports and targets a user may name; which exist is the app's business. */
static const char *const known_transports[] = { "memcpy", "shm", "tcp", "mlx5" };
static const char *const target_names[] = {
	[PERF_TARGET_LOOPBACK] = "loopback",
	[PERF_TARGET_PEER] = "peer",
	[PERF_TARGET_DATAPLANE] = "dataplane",
};

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A size at the start of @sp, ending where a size may end; not zero. */
static int
parse_size_prefix(const char **sp, uint64_t *out)
{
	int ret = tern_cli_scan_size(sp, out);

	return ret != 0 ? ret : *out == 0 ? -EINVAL : 0;
}

int
perf_parse_size_list(const char *s, uint64_t *sizes, unsigned int max, unsigned int *nb)
{
	unsigned int n = 0;
	uint64_t lo, hi, v;
	int ret;

	if (s == NULL || sizes == NULL || nb == NULL)
		return -EINVAL;
	for (;;) {
		ret = parse_size_prefix(&s, &lo);
		if (ret != 0)
			return ret;
		hi = lo;
		if (*s == '-') {
			s++;
			ret = parse_size_prefix(&s, &hi);
			if (ret != 0)
				return ret;
		}
		if (*s != ',' && *s != '\0')
			return -EINVAL;
		if (lo > hi || hi > PERF_BLOCK_MAX)
			return -EINVAL;
		for (v = lo;; v *= 2) {
			if (n == max)
				return -E2BIG;
			sizes[n++] = v < hi ? v : hi;
			if (v >= hi)
				break;
		}
		if (*s == '\0')
			break;
		s++; /* ',' : an item must follow */
	}
	*nb = n;
	return 0;
}

int
perf_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	return tern_cli_parse_u64(s, min, max, out);
}

int
perf_parse_duration(const char *s, uint64_t *ns)
{
	uint64_t whole, frac = 0, frac_scale = 1000000000ull, unit = 1000000000ull, v;
	unsigned int digits = 0;
	int ret;

	if (s == NULL || ns == NULL)
		return -EINVAL;
	ret = tern_cli_scan_u64(&s, &whole);
	if (ret != 0)
		return ret == -ERANGE ? -ERANGE : -EINVAL;
	if (*s == '.') {
		s++;
		if (!is_digit(*s))
			return -EINVAL;
		for (; is_digit(*s); s++) {
			if (++digits > 9)
				return -EINVAL;
			frac = frac * 10 + (uint64_t)(*s - '0');
			frac_scale /= 10;
		}
	}
	if (strcmp(s, "ms") == 0)
		unit = 1000000ull;
	else if (strcmp(s, "us") == 0)
		unit = 1000ull;
	else if (*s != '\0' && strcmp(s, "s") != 0)
		return -EINVAL;
	if (whole > PERF_SECONDS_MAX * (1000000000ull / unit))
		return -ERANGE;
	/* whole * unit + frac * (unit / 1e9 scaled): fractions finer than 1 ns are dropped. */
	v = whole * unit + frac * frac_scale / (1000000000ull / unit);
	if (v > PERF_SECONDS_MAX * 1000000000ull)
		return -ERANGE;
	*ns = v;
	return 0;
}

const char *
perf_op_name(enum perf_op op)
{
	return op == PERF_OP_READ ? "read" : "write";
}

const char *
perf_target_name(enum perf_target target)
{
	if ((unsigned int)target < PERF_DIM(target_names))
		return target_names[target];
	return "?";
}

void
perf_args_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [EAL args] -- [options]\n"
		"  --op read|write          direction (default write)\n"
		"  --block-size LIST        sizes and ranges, e.g. 4K,64K,1M,64M or 4K-64M "
		"(doubling);\n"
		"                           default 4K,64K,1M,64M\n"
		"  --batch N                requests per submit, 1..%u (default 1)\n"
		"  --inflight N             submits outstanding per client, 1..%u (default 4)\n"
		"  --clients N              client threads, 1..%u (default 1)\n"
		"  --workers N              worker lcores the engine uses (default: every EAL "
		"worker)\n"
		"  --duration T             measured time per block size, e.g. 2, 0.5, 500ms "
		"(default 2)\n"
		"  --iterations N           submits per client per block size (instead of "
		"--duration)\n"
		"  --store N                the object store (doc/store.md): put then get N keys "
		"of each\n"
		"                           block size, --batch keys per future, every byte "
		"verified,\n"
		"                           next to raw WRITE/READ of the same bytes; --iterations "
		"rounds\n"
		"                           (default 3); loopback, or dataplane when it owns the\n"
		"                           --segment (tern-dataplane --store-capacity)\n"
		"  --store-metadata URI     --store: embedded (default), etcd://HOST:PORT/PREFIX "
		"or\n"
		"                           redis://HOST:PORT/PREFIX\n"
		"  --warmup T               unmeasured time before each measurement (default 0.2)\n"
		"  --transport NAME         memcpy|shm|tcp|mlx5 (default memcpy)\n"
		"  --target NAME            loopback|peer|dataplane (default loopback); "
		"dataplane:\n"
		"                           attach to a running tern-dataplane (run tern-perf as "
		"a\n"
		"                           DPDK secondary: --proc-type=secondary --file-prefix "
		"P)\n"
		"  --engine NAME            dataplane: the engine to attach to (default tern)\n"
		"  --segment NAME           dataplane: its exported target segment (default kv),\n"
		"                           or NODE/NAME: a peer's segment, resolved by the "
		"dataplane\n"
		"  --notify batch|empty|listen  notifications (doc/notify.md): every WRITE batch\n"
		"                           carries one, or tern_notify_send() alone (no data);\n"
		"                           latency submit -> seen by a client of the target (in\n"
		"                           this process for loopback; listen: a tern-perf "
		"attached\n"
		"                           to the target dataplane receives and reports)\n"
		"  --completion reap|wait   poll the completion queue, or wait on each future "
		"(default reap)\n"
		"  --working-set BYTES      buffer per client (default: one block, reused)\n"
		"  --slice-size BYTES       engine slice size (default: the engine's)\n"
		"  --stream-threshold BYTES engine: streaming stores from this request size\n"
		"  --share-threshold BYTES  engine: batches this large are spread over the lcores\n"
		"  --verify                 check every byte in an untimed pass after each "
		"measurement\n"
		"  --no-baseline            skip the memcpy and streaming-copy baselines\n"
		"  --json                   one JSON document on stdout\n"
		"  --quiet                  no progress line on stderr\n"
		"  --help                   this text\n"
		"BYTES and sizes take a K, M, G or T suffix (powers of 1024; a B after it is "
		"allowed).\n",
		prog, PERF_BATCH_MAX, PERF_INFLIGHT_MAX, PERF_CLIENTS_MAX);
}

enum opt_id {
	OPT_OP,
	OPT_BLOCK_SIZE,
	OPT_BATCH,
	OPT_INFLIGHT,
	OPT_CLIENTS,
	OPT_WORKERS,
	OPT_DURATION,
	OPT_ITERATIONS,
	OPT_STORE,
	OPT_STORE_METADATA,
	OPT_WARMUP,
	OPT_TRANSPORT,
	OPT_TARGET,
	OPT_ENGINE,
	OPT_SEGMENT,
	OPT_COMPLETION,
	OPT_NOTIFY,
	OPT_WORKING_SET,
	OPT_SLICE_SIZE,
	OPT_STREAM_THRESHOLD,
	OPT_SHARE_THRESHOLD,
	OPT_VERIFY,
	OPT_NO_BASELINE,
	OPT_JSON,
	OPT_QUIET,
	OPT_HELP,
};

struct opt_desc {
	const char *name;
	enum opt_id id;
	bool has_arg;
};

static const struct opt_desc opt_table[] = {
	{ "op", OPT_OP, true },
	{ "block-size", OPT_BLOCK_SIZE, true },
	{ "batch", OPT_BATCH, true },
	{ "inflight", OPT_INFLIGHT, true },
	{ "clients", OPT_CLIENTS, true },
	{ "workers", OPT_WORKERS, true },
	{ "duration", OPT_DURATION, true },
	{ "iterations", OPT_ITERATIONS, true },
	{ "store", OPT_STORE, true },
	{ "store-metadata", OPT_STORE_METADATA, true },
	{ "warmup", OPT_WARMUP, true },
	{ "transport", OPT_TRANSPORT, true },
	{ "target", OPT_TARGET, true },
	{ "engine", OPT_ENGINE, true },
	{ "segment", OPT_SEGMENT, true },
	{ "completion", OPT_COMPLETION, true },
	{ "notify", OPT_NOTIFY, true },
	{ "working-set", OPT_WORKING_SET, true },
	{ "slice-size", OPT_SLICE_SIZE, true },
	{ "stream-threshold", OPT_STREAM_THRESHOLD, true },
	{ "share-threshold", OPT_SHARE_THRESHOLD, true },
	{ "verify", OPT_VERIFY, false },
	{ "no-baseline", OPT_NO_BASELINE, false },
	{ "json", OPT_JSON, false },
	{ "quiet", OPT_QUIET, false },
	{ "help", OPT_HELP, false },
};

static int __attribute__((format(printf, 3, 4)))
fail(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && err_len > 0) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* NAME or NODE/NAME, each 1..47 of [A-Za-z0-9_.:-]. */
static bool
segment_arg_valid(const char *s)
{
	size_t run = 0;
	unsigned int slashes = 0;

	for (; *s != '\0'; s++) {
		char c = *s;

		if (c == '/') {
			if (run == 0 || ++slashes > 1)
				return false;
			run = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == ':' || c == '-') ||
		    ++run > 47)
			return false;
	}
	return run != 0;
}

static const char *
parse_error(int ret)
{
	return ret == -ERANGE ? "out of range" : ret == -E2BIG ? "too many sizes" : "malformed";
}

static int
parse_size_opt(const char *name, const char *val, uint64_t max, uint64_t *out, char *err,
	       size_t err_len)
{
	int ret = tern_cli_parse_size(val, max, out);

	if (ret != 0)
		return fail(err, err_len,
			    "--%s '%s': %s (a size: digits with K, M, G or T, 1..%llu)", name, val,
			    parse_error(ret), (unsigned long long)max);
	return 0;
}

static int
parse_uint_opt(const char *name, const char *val, uint64_t min, uint64_t max, uint64_t *out,
	       char *err, size_t err_len)
{
	int ret = perf_parse_uint(val, min, max, out);

	if (ret != 0)
		return fail(err, err_len, "--%s '%s': %s (an integer, %llu..%llu)", name, val,
			    parse_error(ret), (unsigned long long)min, (unsigned long long)max);
	return 0;
}

static int
parse_name(const char *val, const char *const *names, unsigned int nb)
{
	unsigned int i;

	for (i = 0; i < nb; i++)
		if (names[i] != NULL && strcmp(val, names[i]) == 0)
			return (int)i;
	return -1;
}

static void
args_defaults(struct perf_args *a)
{
	memset(a, 0, sizeof(*a));
	a->op = PERF_OP_WRITE;
	a->block_sizes[0] = 4ull << 10;
	a->block_sizes[1] = 64ull << 10;
	a->block_sizes[2] = 1ull << 20;
	a->block_sizes[3] = 64ull << 20;
	a->nb_block_sizes = 4;
	a->batch = 1;
	a->inflight = 4;
	a->clients = 1;
	a->duration_ns = 2000000000ull;
	a->warmup_ns = 200000000ull;
	strcpy(a->transport, "memcpy");
	a->target = PERF_TARGET_LOOPBACK;
	a->completion = PERF_COMPLETION_REAP;
	a->baseline = true;
	snprintf(a->engine, sizeof(a->engine), "tern");
	snprintf(a->segment, sizeof(a->segment), "kv");
}

/* --op, --completion, --transport, --target: one of a fixed set of words. */
static int
apply_choice_option(const struct opt_desc *o, const char *val, struct perf_args *a, char *err,
		    size_t err_len)
{
	int idx;

	switch (o->id) {
	case OPT_OP:
		if (strcmp(val, "read") == 0)
			a->op = PERF_OP_READ;
		else if (strcmp(val, "write") == 0)
			a->op = PERF_OP_WRITE;
		else
			return fail(err, err_len, "--op '%s': expected read or write", val);
		return 0;
	case OPT_COMPLETION:
		if (strcmp(val, "reap") == 0)
			a->completion = PERF_COMPLETION_REAP;
		else if (strcmp(val, "wait") == 0)
			a->completion = PERF_COMPLETION_WAIT;
		else
			return fail(err, err_len, "--completion '%s': expected reap or wait", val);
		return 0;
	case OPT_NOTIFY:
		if (strcmp(val, "batch") == 0)
			a->notify = PERF_NOTIFY_BATCH;
		else if (strcmp(val, "empty") == 0)
			a->notify = PERF_NOTIFY_EMPTY;
		else if (strcmp(val, "listen") == 0)
			a->notify = PERF_NOTIFY_LISTEN;
		else
			return fail(err, err_len, "--notify '%s': expected batch, empty or listen",
				    val);
		return 0;
	case OPT_TRANSPORT:
		idx = parse_name(val, known_transports, PERF_DIM(known_transports));
		if (idx < 0)
			return fail(err, err_len,
				    "--transport '%s': unknown (memcpy, shm, tcp, mlx5)", val);
		strcpy(a->transport, known_transports[idx]);
		return 0;
	default: /* OPT_TARGET, the last of this kind */
		idx = parse_name(val, target_names, PERF_DIM(target_names));
		if (idx < 0)
			return fail(err, err_len,
				    "--target '%s': unknown (loopback, peer, dataplane)", val);
		a->target = (enum perf_target)idx;
		return 0;
	}
}

/* --engine, --segment: names checked against their character sets. */
static int
apply_name_option(const struct opt_desc *o, const char *val, struct perf_args *a, char *err,
		  size_t err_len)
{
	if (o->id == OPT_STORE_METADATA) {
		size_t i, n = strlen(val);

		for (i = 0; i < n; i++)
			if ((unsigned char)val[i] < 0x21 || (unsigned char)val[i] > 0x7e)
				break;
		if (n == 0 || i < n || n >= sizeof(a->store_metadata))
			return fail(err, err_len,
				    "--store-metadata: 1-%zu printable characters (embedded, "
				    "etcd://HOST:PORT/PREFIX, redis://HOST:PORT/PREFIX)",
				    sizeof(a->store_metadata) - 1);
		snprintf(a->store_metadata, sizeof(a->store_metadata), "%s", val);
		return 0;
	}
	if (o->id == OPT_ENGINE) {
		if (tern_cli_check_name(val, sizeof(a->engine)) != 0)
			return fail(err, err_len, "--engine '%s': 1-15 of [A-Za-z0-9_]", val);
		snprintf(a->engine, sizeof(a->engine), "%s", val);
		return 0;
	}
	if (!segment_arg_valid(val))
		return fail(err, err_len,
			    "--segment '%s': NAME or NODE/NAME, each 1-47 of [A-Za-z0-9_.:-]", val);
	snprintf(a->segment, sizeof(a->segment), "%s", val);
	return 0;
}

/* --batch, --inflight, --clients, --workers, --iterations: bounded integers. */
static int
apply_count_option(const struct opt_desc *o, const char *val, struct perf_args *a, char *err,
		   size_t err_len)
{
	uint64_t v;
	int ret;

	switch (o->id) {
	case OPT_BATCH:
		ret = parse_uint_opt(o->name, val, 1, PERF_BATCH_MAX, &v, err, err_len);
		a->batch = (uint32_t)v;
		return ret;
	case OPT_INFLIGHT:
		ret = parse_uint_opt(o->name, val, 1, PERF_INFLIGHT_MAX, &v, err, err_len);
		a->inflight = (uint32_t)v;
		return ret;
	case OPT_CLIENTS:
		ret = parse_uint_opt(o->name, val, 1, PERF_CLIENTS_MAX, &v, err, err_len);
		a->clients = (uint32_t)v;
		return ret;
	case OPT_WORKERS:
		ret = parse_uint_opt(o->name, val, 1, 64, &v, err, err_len);
		a->workers = (uint32_t)v;
		return ret;
	case OPT_STORE:
		ret = parse_uint_opt(o->name, val, 1, PERF_STORE_KEYS_MAX, &v, err, err_len);
		a->store_keys = (uint32_t)v;
		return ret;
	default: /* OPT_ITERATIONS, the last of this kind */
		return parse_uint_opt(o->name, val, 1, UINT32_MAX, &a->iterations, err, err_len);
	}
}

/* --duration, --warmup: durations; a measurement cannot last 0 s. */
static int
apply_time_option(const struct opt_desc *o, const char *val, struct perf_args *a, char *err,
		  size_t err_len)
{
	bool duration = o->id == OPT_DURATION;
	uint64_t v;
	int ret;

	ret = perf_parse_duration(val, &v);
	if (ret == 0 && duration && v == 0)
		ret = -ERANGE;
	if (ret != 0)
		return fail(err, err_len,
			    "--%s '%s': %s (seconds, e.g. 2, 0.5, 500ms; at most %llu s%s)",
			    o->name, val, parse_error(ret), PERF_SECONDS_MAX,
			    duration ? ", more than 0" : "");
	if (duration)
		a->duration_ns = v;
	else
		a->warmup_ns = v;
	return 0;
}

/* --block-size (a list), --working-set, --slice-size and the engine thresholds. */
static int
apply_size_option(const struct opt_desc *o, const char *val, struct perf_args *a, char *err,
		  size_t err_len)
{
	int ret;

	switch (o->id) {
	case OPT_BLOCK_SIZE:
		ret = perf_parse_size_list(val, a->block_sizes, PERF_MAX_BLOCK_SIZES,
					   &a->nb_block_sizes);
		if (ret != 0)
			return fail(err, err_len,
				    "--block-size '%s': %s (sizes 1..1G or ranges LO-HI, "
				    "comma-separated, "
				    "at most %u sizes)",
				    val, parse_error(ret), PERF_MAX_BLOCK_SIZES);
		return 0;
	case OPT_WORKING_SET:
		return parse_size_opt(o->name, val, PERF_WORKING_SET_MAX, &a->working_set, err,
				      err_len);
	case OPT_SLICE_SIZE:
		ret = parse_size_opt(o->name, val, TERN_SLICE_BYTES_MAX, &a->slice_bytes, err,
				     err_len);
		if (ret == 0 && a->slice_bytes < TERN_SLICE_BYTES_MIN)
			return fail(err, err_len, "--slice-size '%s': at least 4K", val);
		return ret;
	case OPT_STREAM_THRESHOLD:
		return parse_size_opt(o->name, val, UINT64_MAX, &a->stream_bytes, err, err_len);
	default: /* OPT_SHARE_THRESHOLD, the last of this kind */
		return parse_size_opt(o->name, val, UINT64_MAX, &a->share_bytes, err, err_len);
	}
}

/* Options without a value. */
static void
apply_flag(const struct opt_desc *o, struct perf_args *a)
{
	switch (o->id) {
	case OPT_VERIFY:
		a->verify = true;
		break;
	case OPT_NO_BASELINE:
		a->baseline = false;
		break;
	case OPT_JSON:
		a->json = true;
		break;
	case OPT_QUIET:
		a->quiet = true;
		break;
	default: /* OPT_HELP, the last of this kind */
		a->help = true;
		break;
	}
}

/* One option with its value (NULL for flags); fills @a. */
static int
apply_option(const struct opt_desc *o, const char *val, struct perf_args *a, char *err,
	     size_t err_len)
{
	switch (o->id) {
	case OPT_OP:
	case OPT_COMPLETION:
	case OPT_NOTIFY:
	case OPT_TRANSPORT:
	case OPT_TARGET:
		return apply_choice_option(o, val, a, err, err_len);
	case OPT_ENGINE:
	case OPT_SEGMENT:
	case OPT_STORE_METADATA:
		return apply_name_option(o, val, a, err, err_len);
	case OPT_BATCH:
	case OPT_INFLIGHT:
	case OPT_CLIENTS:
	case OPT_WORKERS:
	case OPT_ITERATIONS:
	case OPT_STORE:
		return apply_count_option(o, val, a, err, err_len);
	case OPT_DURATION:
	case OPT_WARMUP:
		return apply_time_option(o, val, a, err, err_len);
	case OPT_BLOCK_SIZE:
	case OPT_WORKING_SET:
	case OPT_SLICE_SIZE:
	case OPT_STREAM_THRESHOLD:
	case OPT_SHARE_THRESHOLD:
		return apply_size_option(o, val, a, err, err_len);
	case OPT_VERIFY:
	case OPT_NO_BASELINE:
	case OPT_JSON:
	case OPT_QUIET:
	case OPT_HELP:
		apply_flag(o, a);
		return 0;
	}
	return fail(err, err_len, "internal: unhandled option");
}

int
perf_args_parse(int argc, char *const argv[], struct perf_args *args, char *err, size_t err_len)
{
	const struct opt_desc *o;
	bool seen_duration = false;
	const char *arg, *val, *eq;
	size_t name_len;
	unsigned int j;
	int i, ret;

	if (args == NULL || argc < 0 || (argc > 0 && argv == NULL))
		return fail(err, err_len, "internal: bad arguments to the parser");
	args_defaults(args);
	for (i = 1; i < argc; i++) {
		arg = argv[i];
		if (arg == NULL)
			return fail(err, err_len, "argument %d is NULL", i);
		if (strcmp(arg, "-h") == 0) {
			args->help = true;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
			return fail(err, err_len,
				    "unexpected argument '%s' (options start with --)", arg);
		arg += 2;
		eq = strchr(arg, '=');
		name_len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
		o = NULL;
		for (j = 0; j < PERF_DIM(opt_table); j++) {
			if (strlen(opt_table[j].name) == name_len &&
			    strncmp(opt_table[j].name, arg, name_len) == 0) {
				o = &opt_table[j];
				break;
			}
		}
		if (o == NULL)
			return fail(err, err_len, "unknown option '%s' (see --help)", argv[i]);
		val = NULL;
		if (o->has_arg) {
			if (eq != NULL)
				val = eq + 1;
			else if (i + 1 < argc && argv[i + 1] != NULL)
				val = argv[++i];
			else
				return fail(err, err_len, "--%s needs a value", o->name);
		} else if (eq != NULL) {
			return fail(err, err_len, "--%s takes no value", o->name);
		}
		if (o->id == OPT_DURATION)
			seen_duration = true;
		ret = apply_option(o, val, args, err, err_len);
		if (ret != 0)
			return ret;
	}
	if (args->iterations != 0) {
		if (seen_duration)
			return fail(err, err_len, "--duration and --iterations exclude each other");
		args->duration_ns = 0;
	}
	if (args->working_set != 0 && args->clients > 0 &&
	    args->working_set > PERF_WORKING_SET_MAX / args->clients)
		return fail(err, err_len, "--working-set times --clients exceeds %llu bytes",
			    PERF_WORKING_SET_MAX);
	return 0;
}
