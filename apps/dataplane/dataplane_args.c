/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_log.h>

#include <tern_cli.h>
#include <tern_engine.h>

#include "dataplane_args.h"

#define SIZE_MAX_SEGMENT (1ull << 40)

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Node and segment names: [A-Za-z0-9_.:-], 1..47 characters. */
static int
check_node_name(const char *s)
{
	return tern_cli_check_name_chars(s, DP_NAME_MAX, TERN_CLI_NAME_SEGMENT);
}

/* A directory URI: a known scheme and something after it. The directory
 * library parses the rest strictly when the dataplane opens it. */
static int
check_uri(const char *s)
{
	static const char *const schemes[] = { "p2p://", "etcd://", "redis://" };
	size_t len = strnlen(s, DP_URI_MAX), i, n;

	if (len == 0 || len >= DP_URI_MAX)
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return -EINVAL;
	for (i = 0; i < RTE_DIM(schemes); i++) {
		n = strlen(schemes[i]);
		if (strncmp(s, schemes[i], n) == 0 && len > n)
			return 0;
	}
	return -EINVAL;
}

/* [a-z0-9_], 1..15: a transport name. */
static int
check_transport_name(const char *s)
{
	return tern_cli_check_name_chars(s, DP_TRANSPORT_NAME_MAX, TERN_CLI_NAME_LOWER);
}

/* NODE=VALUE: the node part into @node (validated), the rest returned. */
static const char *
split_node(const char *val, char *node)
{
	const char *eq = strchr(val, '=');

	if (eq == NULL || eq == val || (size_t)(eq - val) >= DP_NAME_MAX)
		return NULL;
	memcpy(node, val, (size_t)(eq - val));
	node[eq - val] = '\0';
	return check_node_name(node) == 0 ? eq + 1 : NULL;
}

static int
parse_log_level(const char *s)
{
	static const char *const names[] = { "emergency", "alert",  "critical", "error",
					     "warning",	  "notice", "info",	"debug" };
	uint64_t v;
	unsigned int i;

	for (i = 0; i < RTE_DIM(names); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i + 1;
	if (tern_cli_parse_u64(s, RTE_LOG_EMERG, RTE_LOG_DEBUG, &v) == 0)
		return (int)v;
	return -EINVAL;
}

/* Each option's parser: validate @val and store it in @a. */
typedef int (*dp_opt_fn)(struct dp_args *a, const char *val, bool from_file, char *err,
			 size_t errlen);

static int
opt_node(struct dp_args *a, const char *val, bool from_file, char *err, size_t errlen)
{
	RTE_SET_USED(from_file);
	if (check_node_name(val) != 0)
		return fail(err, errlen, "--node '%s': use 1-47 of [A-Za-z0-9_.:-]", val);
	snprintf(a->node, sizeof(a->node), "%s", val);
	return 0;
}

static int
opt_engine(struct dp_args *a, const char *val, bool from_file, char *err, size_t errlen)
{
	RTE_SET_USED(from_file);
	if (tern_cli_check_name(val, sizeof(a->engine)) != 0)
		return fail(err, errlen, "--engine '%s': use 1-15 of [A-Za-z0-9_]", val);
	snprintf(a->engine, sizeof(a->engine), "%s", val);
	return 0;
}

/* Accumulates; a file's segments are skipped when the command line gave some. */
static int
opt_segment(struct dp_args *a, const char *val, bool from_file, char *err, size_t errlen)
{
	const char *colon = strchr(val, ':');
	struct dp_segment_opt *seg;
	unsigned int i;

	if (colon == NULL || colon == val || (size_t)(colon - val) >= DP_NAME_MAX)
		return fail(err, errlen, "--segment '%s': expected NAME:SIZE", val);
	if (from_file && (a->set & DP_OPT_SEGMENT) && !(a->set & DP_OPT_CONFIG))
		return 0; /* segments came from the command line */
	if (a->nb_segments == DP_MAX_SEGMENTS)
		return fail(err, errlen, "--segment: at most %d segments", DP_MAX_SEGMENTS);
	seg = &a->segments[a->nb_segments];
	memcpy(seg->name, val, (size_t)(colon - val));
	seg->name[colon - val] = '\0';
	if (check_node_name(seg->name) != 0)
		return fail(err, errlen, "--segment '%s': name must be 1-47 of [A-Za-z0-9_.:-]",
			    val);
	if (tern_cli_parse_size(colon + 1, SIZE_MAX_SEGMENT, &seg->size) != 0)
		return fail(err, errlen, "--segment '%s': size must be 1 byte to 1T (K/M/G/T)",
			    val);
	for (i = 0; i < a->nb_segments; i++)
		if (strcmp(a->segments[i].name, seg->name) == 0)
			return fail(err, errlen, "--segment '%s': duplicate segment name",
				    seg->name);
	a->nb_segments++;
	if (!from_file)
		a->set |= DP_OPT_SEGMENT;
	return 0;
}

static int
opt_slice_size(struct dp_args *a, const char *val, bool from_file, char *err, size_t errlen)
{
	RTE_SET_USED(from_file);
	if (tern_cli_parse_size(val, TERN_SLICE_BYTES_MAX, &a->slice_bytes) != 0 ||
	    a->slice_bytes < TERN_SLICE_BYTES_MIN)
		return fail(err, errlen, "--slice-size '%s': 4K to 1G", val);
	return 0;
}

/* The plain numbers: key, range, field. */
static const struct dp_number {
	const char *key;
	uint64_t min, max;
	size_t offset;
} numbers[] = {
	{ "deadline-ms", 1, 3600 * 1000, offsetof(struct dp_args, deadline_ms) },
	{ "max-clients", 1, 4096, offsetof(struct dp_args, max_clients) },
	{ "futures", 64, 1u << 22, offsetof(struct dp_args, nb_futures) },
	{ "drain-ms", 1, 600 * 1000, offsetof(struct dp_args, drain_ms) },
};

static int
opt_number(struct dp_args *a, const struct dp_number *n, const char *val, char *err, size_t errlen)
{
	uint64_t *field = (uint64_t *)(void *)((char *)a + n->offset);

	if (tern_cli_parse_u64(val, n->min, n->max, field) != 0)
		return fail(err, errlen, "--%s '%s': %" PRIu64 " to %" PRIu64, n->key, val, n->min,
			    n->max);
	return 0;
}

static int
opt_log_level(struct dp_args *a, const char *val, bool from_file, char *err, size_t errlen)
{
	RTE_SET_USED(from_file);
	a->log_level = parse_log_level(val);
	if (a->log_level < 0)
		return fail(err, errlen,
			    "--log-level '%s': a level name (error, info, debug...) or 1-8", val);
	return 0;
}

static int
opt_directory(struct dp_args *a, const char *val, bool from_file, char *err, size_t errlen)
{
	RTE_SET_USED(from_file);
	if (check_uri(val) != 0)
		return fail(err, errlen,
			    "--directory '%s': expected p2p://ADDR:PORT, "
			    "etcd://HOST:PORT[,HOST:PORT...]/PREFIX or redis://HOST:PORT/PREFIX",
			    val);
	snprintf(a->directory, sizeof(a->directory), "%s", val);
	return 0;
}

static int
opt_peer(struct dp_args *a, const char *val, bool from_file, char *err, size_t errlen)
{
	struct dp_peer_opt *po = &a->peers[a->nb_peers];
	const char *uri;
	unsigned int i;

	RTE_SET_USED(from_file);
	if (a->nb_peers == DP_MAX_PEERS)
		return fail(err, errlen, "--peer: at most %d peers", DP_MAX_PEERS);
	uri = split_node(val, po->node);
	if (uri == NULL || check_uri(uri) != 0)
		return fail(err, errlen, "--peer '%s': expected NODE=p2p://ADDR:PORT", val);
	for (i = 0; i < a->nb_peers; i++)
		if (strcmp(a->peers[i].node, po->node) == 0)
			return fail(err, errlen, "--peer '%s': node given twice", val);
	snprintf(po->uri, sizeof(po->uri), "%s", uri);
	a->nb_peers++;
	return 0;
}

static int
opt_peer_transport(struct dp_args *a, const char *val, bool from_file, char *err, size_t errlen)
{
	struct dp_pin_opt *pin = &a->pins[a->nb_pins];
	const char *t;
	unsigned int i;

	RTE_SET_USED(from_file);
	if (a->nb_pins == DP_MAX_PEERS)
		return fail(err, errlen, "--peer-transport: at most %d", DP_MAX_PEERS);
	t = split_node(val, pin->node);
	if (t == NULL || check_transport_name(t) != 0)
		return fail(err, errlen,
			    "--peer-transport '%s': expected NODE=TRANSPORT (e.g. b=tcp)", val);
	for (i = 0; i < a->nb_pins; i++)
		if (strcmp(a->pins[i].node, pin->node) == 0)
			return fail(err, errlen, "--peer-transport '%s': node given twice", val);
	snprintf(pin->transport, sizeof(pin->transport), "%s", t);
	a->nb_pins++;
	return 0;
}

/* --listen and --rdma-listen: keep the address as given, checked. */
static int
opt_listen(const char *key, const char *val, char *dst, size_t dst_len, char *err, size_t errlen)
{
	char addr[64];
	uint16_t port;

	if (tern_cli_parse_addr_port(val, addr, sizeof(addr), &port) != 0 || strlen(val) >= dst_len)
		return fail(err, errlen,
			    "--%s '%s': expected IPV4:PORT or [IPV6]:PORT (numeric, port 0-65535)",
			    key, val);
	snprintf(dst, dst_len, "%s", val);
	return 0;
}

static int
opt_tcp_listen(struct dp_args *a, const char *val, bool from_file, char *err, size_t errlen)
{
	RTE_SET_USED(from_file);
	return opt_listen("listen", val, a->listen, sizeof(a->listen), err, errlen);
}

static int
opt_rdma_listen(struct dp_args *a, const char *val, bool from_file, char *err, size_t errlen)
{
	RTE_SET_USED(from_file);
	return opt_listen("rdma-listen", val, a->rdma_listen, sizeof(a->rdma_listen), err, errlen);
}

static int
opt_auth_file(struct dp_args *a, const char *val, bool from_file, char *err, size_t errlen)
{
	RTE_SET_USED(from_file);
	if (val[0] == '\0' || strlen(val) >= sizeof(a->auth_file) || strchr(val, ',') != NULL)
		return fail(err, errlen, "--auth-file: a path of 1..%zu characters, without ','",
			    sizeof(a->auth_file) - 1);
	snprintf(a->auth_file, sizeof(a->auth_file), "%s", val);
	return 0;
}

/* --transport NAME[,key=value...]: the transport checks its own keys. */
static int
opt_transport(struct dp_args *a, const char *val, bool from_file, char *err, size_t errlen)
{
	struct dp_transport_opt *t = &a->transports[a->nb_transports];
	const char *comma = strchr(val, ',');
	size_t n = comma != NULL ? (size_t)(comma - val) : strlen(val);
	unsigned int i;

	RTE_SET_USED(from_file);
	if (a->nb_transports == DP_MAX_TRANSPORTS)
		return fail(err, errlen, "--transport: at most %d", DP_MAX_TRANSPORTS);
	if (n >= sizeof(t->name) || (comma != NULL && strlen(comma + 1) >= sizeof(t->args)))
		return fail(err, errlen, "--transport '%s': too long", val);
	memcpy(t->name, val, n);
	t->name[n] = '\0';
	if (check_transport_name(t->name) != 0)
		return fail(err, errlen, "--transport '%s': expected NAME[,KEY=VALUE...]", val);
	for (i = 0; i < a->nb_transports; i++)
		if (strcmp(a->transports[i].name, t->name) == 0)
			return fail(err, errlen, "--transport '%s': transport given twice", val);
	snprintf(t->args, sizeof(t->args), "%s", comma != NULL ? comma + 1 : "");
	a->nb_transports++;
	return 0;
}

static int
opt_shm(struct dp_args *a, const char *val, bool from_file, char *err, size_t errlen)
{
	RTE_SET_USED(from_file);
	if (strcmp(val, "on") != 0 && strcmp(val, "off") != 0)
		return fail(err, errlen, "--shm '%s': on or off", val);
	a->shm_off = strcmp(val, "off") == 0;
	return 0;
}

static int
opt_idle(struct dp_args *a, const char *val, bool from_file, char *err, size_t errlen)
{
	RTE_SET_USED(from_file);
	if (strcmp(val, "poll") != 0 && strcmp(val, "yield") != 0)
		return fail(err, errlen, "--idle '%s': poll or yield", val);
	a->idle_yield = strcmp(val, "yield") == 0;
	return 0;
}

static int
opt_store(struct dp_args *a, const char *val, bool from_file, char *err, size_t errlen)
{
	RTE_SET_USED(from_file);
	if (strlen(val) >= sizeof(a->store) || check_node_name(val) != 0)
		return fail(err, errlen,
			    "--store-capacity '%s': a --segment name, 1-47 of [A-Za-z0-9_.:-]",
			    val);
	snprintf(a->store, sizeof(a->store), "%s", val);
	return 0;
}

static int
opt_config(struct dp_args *a, const char *val, bool from_file, char *err, size_t errlen)
{
	RTE_SET_USED(from_file);
	if (strlen(val) == 0 || strlen(val) >= sizeof(a->config))
		return fail(err, errlen, "--config: bad path");
	snprintf(a->config, sizeof(a->config), "%s", val);
	return 0;
}

/* bit: the command line's value wins over the file's (0: the option
 * accumulates, or decides itself). */
static const struct dp_option {
	const char *key;
	uint32_t bit;
	dp_opt_fn fn;
} options[] = {
	{ "node", DP_OPT_NODE, opt_node },
	{ "engine", DP_OPT_ENGINE, opt_engine },
	{ "segment", 0, opt_segment },
	{ "slice-size", DP_OPT_SLICE, opt_slice_size },
	{ "log-level", DP_OPT_LOG_LEVEL, opt_log_level },
	{ "directory", DP_OPT_DIRECTORY, opt_directory },
	{ "peer", 0, opt_peer },
	{ "peer-transport", 0, opt_peer_transport },
	{ "transport", 0, opt_transport },
	{ "listen", DP_OPT_LISTEN, opt_tcp_listen },
	{ "rdma-listen", DP_OPT_RDMA_LISTEN, opt_rdma_listen },
	{ "auth-file", DP_OPT_AUTH_FILE, opt_auth_file },
	{ "shm", DP_OPT_SHM, opt_shm },
	{ "idle", DP_OPT_IDLE, opt_idle },
	{ "store-capacity", DP_OPT_STORE, opt_store },
	{ "config", DP_OPT_CONFIG, opt_config },
};

static const uint32_t number_bits[] = { DP_OPT_DEADLINE, DP_OPT_MAX_CLIENTS, DP_OPT_FUTURES,
					DP_OPT_DRAIN };

/*
 * One option. The value is checked into a copy first, so that a bad value in
 * a file is reported even when the command line's value of the same option
 * wins (@p from_file: the file's line is then dropped).
 */
static int
apply(struct dp_args *a, const char *key, const char *val, bool from_file, char *err, size_t errlen)
{
	static struct dp_args tmp; /* control path, one thread: off the stack */
	uint32_t bit = 0;
	unsigned int i;
	int ret = 1;

	tmp = *a;
	for (i = 0; i < RTE_DIM(numbers) && ret > 0; i++)
		if (strcmp(key, numbers[i].key) == 0) {
			ret = opt_number(&tmp, &numbers[i], val, err, errlen);
			bit = number_bits[i];
		}
	for (i = 0; i < RTE_DIM(options) && ret > 0; i++)
		if (strcmp(key, options[i].key) == 0 &&
		    !(from_file && options[i].bit == DP_OPT_CONFIG)) {
			ret = options[i].fn(&tmp, val, from_file, err, errlen);
			bit = options[i].bit;
		}
	if (ret > 0)
		return fail(err, errlen, "unknown option '%s%s'", from_file ? "" : "--", key);
	if (ret != 0 || (from_file && (a->set & bit)))
		return ret;
	*a = tmp;
	a->set |= bit;
	return 0;
}

int
dp_args_parse(int argc, char **argv, struct dp_args *a, char *err, size_t errlen)
{
	char key[32];
	int i, ret;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *eq, *val;
		size_t klen;

		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			a->help = true;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
			return fail(err, errlen, "unexpected argument '%s'", arg);
		eq = strchr(arg + 2, '=');
		klen = eq != NULL ? (size_t)(eq - arg - 2) : strlen(arg + 2);
		if (klen == 0 || klen >= sizeof(key))
			return fail(err, errlen, "unknown option '%s'", arg);
		memcpy(key, arg + 2, klen);
		key[klen] = '\0';
		if (eq != NULL) {
			val = eq + 1;
		} else {
			if (i + 1 >= argc)
				return fail(err, errlen, "option '--%s' needs a value", key);
			val = argv[++i];
		}
		ret = apply(a, key, val, false, err, errlen);
		if (ret != 0)
			return ret;
	}
	return 0;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

int
dp_args_load_config_text(const char *text, struct dp_args *a, char *err, size_t errlen)
{
	char line[512], inner[512];
	unsigned int lineno = 0;
	const char *p = text;
	int ret;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		char *l, *eq, *key, *val;

		lineno++;
		if (len >= sizeof(line))
			return fail(err, errlen, "config line %u: too long", lineno);
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (nl != NULL);
		l = trim(line);
		if (*l == '\0' || *l == '#')
			continue;
		eq = strchr(l, '=');
		if (eq == NULL)
			return fail(err, errlen, "config line %u: expected 'key = value'", lineno);
		*eq = '\0';
		key = trim(l);
		val = trim(eq + 1);
		if (*key == '\0' || *val == '\0')
			return fail(err, errlen, "config line %u: expected 'key = value'", lineno);
		ret = apply(a, key, val, true, inner, sizeof(inner));
		if (ret != 0)
			return fail(err, errlen, "config line %u: %s", lineno, inner);
	}
	return 0;
}

int
dp_args_load_config(const char *path, struct dp_args *a, char *err, size_t errlen)
{
	char buf[64 * 1024];
	size_t n;
	FILE *f = fopen(path, "r");
	int ret;

	if (f == NULL)
		return fail(err, errlen, "--config %s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	ret = ferror(f) || !feof(f);
	fclose(f);
	if (ret)
		return fail(err, errlen, "--config %s: unreadable or larger than 64 KiB", path);
	if (memchr(buf, '\0', n) != NULL)
		return fail(err, errlen, "--config %s: not a text file", path);
	buf[n] = '\0';
	return dp_args_load_config_text(buf, a, err, errlen);
}

void
dp_args_usage(const char *prog)
{
	printf("usage: %s [EAL args] -- [options]\n"
	       "\n"
	       "The tern dataplane: owns hugepage segments and worker lcores, hosts clients\n"
	       "(in this process or attached DPDK secondary processes) and answers telemetry.\n"
	       "\n"
	       "  --node NAME            this node's name (default: the host name)\n"
	       "  --engine NAME          engine name clients attach to, [A-Za-z0-9_]{1,15} (tern)\n"
	       "  --segment NAME:SIZE    export SIZE bytes of hugepage memory as NAME "
	       "(repeatable,\n"
	       "                         up to %d; SIZE takes K/M/G/T, e.g. kv:4G)\n"
	       "  --slice-size SIZE      slice size, 4K..1G (256K)\n"
	       "  --deadline-ms N        default deadline of a batch (5000)\n"
	       "  --max-clients N        client slots, 1..4096 (64)\n"
	       "  --futures N            future pool, 64..4194304 (16384); each client takes\n"
	       "                         its max_inflight + 25 %% + 4\n"
	       "  --drain-ms N           on SIGINT/SIGTERM, wait this long for work in flight "
	       "(2000)\n"
	       "  --idle poll|yield      idle worker lcores keep polling (poll), or give their\n"
	       "                         CPU away (yield: for machines shared with other work)\n"
	       "  --log-level LEVEL      tern.* log level: error, warning, notice, info, debug or "
	       "1-8\n"
	       "  --store-capacity NAME  own segment NAME (a --segment) as object-store capacity\n"
	       "                         for attached clients' stores (doc/store.md)\n"
	       "\n"
	       "Peers (other dataplanes whose segments clients read and write):\n"
	       "  --directory URI        publish this node's segments and find peers' there:\n"
	       "                         p2p://ADDR:PORT (serve them on this control port),\n"
	       "                         etcd://HOST:PORT[,HOST:PORT...]/PREFIX or\n"
	       "                         redis://HOST:PORT/PREFIX\n"
	       "  --peer NODE=URI        NODE's own directory, e.g. b=p2p://127.0.0.1:7100 "
	       "(repeatable)\n"
	       "  --transport NAME[,KEY=VALUE...]\n"
	       "                         configure a transport (tcp, shm, mlx5) with its own keys\n"
	       "                         (doc/operations.md), e.g. "
	       "tcp,listen=0.0.0.0:7000,conns=4\n"
	       "  --listen ADDR:PORT     serve the tcp transport there ([IPV6]:PORT; port 0 picks "
	       "one)\n"
	       "  --auth-file PATH       tcp: a secret (16..4096 bytes) every peer must prove it\n"
	       "                         has; also proven to peers that ask (default: none)\n"
	       "  --rdma-listen ADDR:PORT\n"
	       "                         answer mlx5 (RDMA) connection handshakes there and "
	       "export\n"
	       "                         segments over mlx5; ignored, with a note, without a "
	       "device\n"
	       "  --shm on|off           export segments to dataplanes on this host through "
	       "shared\n"
	       "                         memory (on)\n"
	       "  --peer-transport NODE=TRANSPORT\n"
	       "                         always reach NODE through TRANSPORT (repeatable)\n"
	       "\n"
	       "  --config FILE          the same options as 'key = value' lines ('#' comments);\n"
	       "                         the command line wins\n"
	       "  --help                 this text\n"
	       "\n"
	       "Stop with SIGINT or SIGTERM: new work is refused, work in flight drains within\n"
	       "--drain-ms, the rest fails, and the exit status is 0. A second signal exits at "
	       "once.\n",
	       prog, DP_MAX_SEGMENTS);
}

/* Append "key=value" to @t's args. */
static int
add_arg(struct dp_transport_opt *t, const char *key, const char *value)
{
	size_t n = strlen(t->args);
	int w = snprintf(t->args + n, sizeof(t->args) - n, "%s%s=%s", n != 0 ? "," : "", key,
			 value);

	return w < 0 || (size_t)w >= sizeof(t->args) - n ? -E2BIG : 0;
}

static struct dp_transport_opt *
find_or_add(struct dp_transport_opt *out, unsigned int *nb, unsigned int max, const char *name)
{
	unsigned int i;

	for (i = 0; i < *nb; i++)
		if (strcmp(out[i].name, name) == 0)
			return &out[i];
	if (*nb == max)
		return NULL;
	memset(&out[*nb], 0, sizeof(out[*nb]));
	snprintf(out[*nb].name, sizeof(out[*nb].name), "%s", name);
	return &out[(*nb)++];
}

int
dp_args_transports(const struct dp_args *a, struct dp_transport_opt *out, unsigned int max)
{
	struct dp_transport_opt *t;
	unsigned int nb = 0, i;

	/* The older options first: a --transport key given too comes later and wins. */
	if (a->listen[0] != '\0' || a->auth_file[0] != '\0') {
		t = find_or_add(out, &nb, max, "tcp");
		if (t == NULL || (a->listen[0] != '\0' && add_arg(t, "listen", a->listen) != 0) ||
		    (a->auth_file[0] != '\0' && add_arg(t, "auth_file", a->auth_file) != 0))
			return -E2BIG;
	}
	if (a->rdma_listen[0] != '\0') {
		t = find_or_add(out, &nb, max, "mlx5");
		if (t == NULL || add_arg(t, "listen", a->rdma_listen) != 0)
			return -E2BIG;
	}
	if (!a->shm_off && find_or_add(out, &nb, max, "shm") == NULL)
		return -E2BIG;
	for (i = 0; i < a->nb_transports; i++) {
		size_t n;

		t = find_or_add(out, &nb, max, a->transports[i].name);
		if (t == NULL)
			return -E2BIG;
		n = strlen(t->args);
		if (a->transports[i].args[0] == '\0')
			continue;
		if (n + 1 + strlen(a->transports[i].args) >= sizeof(t->args))
			return -E2BIG;
		snprintf(t->args + n, sizeof(t->args) - n, "%s%s", n != 0 ? "," : "",
			 a->transports[i].args);
	}
	return (int)nb;
}
