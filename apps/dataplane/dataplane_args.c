/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <errno.h>
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
	size_t i, len = strnlen(s, DP_NAME_MAX);

	if (len == 0 || len >= DP_NAME_MAX)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == ':' || c == '-'))
			return -EINVAL;
	}
	return 0;
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
	size_t i, len = strnlen(s, 16);

	if (len == 0 || len >= 16)
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return -EINVAL;
	return 0;
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

/* ADDR:PORT with a numeric IPv4 address, or [IPv6]:PORT; PORT 0..65535. */
static int
parse_listen(const char *val, char *addr, size_t addr_len, uint16_t *port)
{
	const char *colon, *start = val, *end;
	unsigned char buf[16];
	uint64_t p;
	size_t n;

	if (val[0] == '[') {
		end = strchr(val, ']');
		if (end == NULL || end[1] != ':')
			return -EINVAL;
		start = val + 1;
		colon = end + 1;
	} else {
		colon = strrchr(val, ':');
		if (colon == NULL)
			return -EINVAL;
		end = colon;
	}
	n = (size_t)(end - start);
	if (n == 0 || n >= addr_len)
		return -EINVAL;
	memcpy(addr, start, n);
	addr[n] = '\0';
	if (inet_pton(val[0] == '[' ? AF_INET6 : AF_INET, addr, buf) != 1)
		return -EINVAL;
	if (tern_cli_parse_u64(colon + 1, 0, 65535, &p) != 0)
		return -EINVAL;
	*port = (uint16_t)p;
	return 0;
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

/* One option; @from_file: the command line's value wins. */
static int
apply(struct dp_args *a, const char *key, const char *val, bool from_file, char *err, size_t errlen)
{
	struct dp_segment_opt *seg;
	const char *colon;
	uint64_t v;
	unsigned int i;
	int ret;

#define SKIP_IF_SET(bit)                           \
	do {                                       \
		if (from_file && (a->set & (bit))) \
			return 0;                  \
		a->set |= (bit);                   \
	} while (0)

	if (strcmp(key, "node") == 0) {
		if (check_node_name(val) != 0)
			return fail(err, errlen, "--node '%s': use 1-47 of [A-Za-z0-9_.:-]", val);
		SKIP_IF_SET(DP_OPT_NODE);
		snprintf(a->node, sizeof(a->node), "%s", val);
	} else if (strcmp(key, "engine") == 0) {
		if (tern_cli_check_name(val, sizeof(a->engine)) != 0)
			return fail(err, errlen, "--engine '%s': use 1-15 of [A-Za-z0-9_]", val);
		SKIP_IF_SET(DP_OPT_ENGINE);
		snprintf(a->engine, sizeof(a->engine), "%s", val);
	} else if (strcmp(key, "segment") == 0) {
		colon = strchr(val, ':');
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
			return fail(err, errlen,
				    "--segment '%s': name must be 1-47 of [A-Za-z0-9_.:-]", val);
		ret = tern_cli_parse_size(colon + 1, SIZE_MAX_SEGMENT, &seg->size);
		if (ret != 0)
			return fail(err, errlen,
				    "--segment '%s': size must be 1 byte to 1T (K/M/G/T)", val);
		for (i = 0; i < a->nb_segments; i++)
			if (strcmp(a->segments[i].name, seg->name) == 0)
				return fail(err, errlen, "--segment '%s': duplicate segment name",
					    seg->name);
		a->nb_segments++;
		if (!from_file)
			a->set |= DP_OPT_SEGMENT;
	} else if (strcmp(key, "slice-size") == 0) {
		if (tern_cli_parse_size(val, TERN_SLICE_BYTES_MAX, &v) != 0 ||
		    v < TERN_SLICE_BYTES_MIN)
			return fail(err, errlen, "--slice-size '%s': 4K to 1G", val);
		SKIP_IF_SET(DP_OPT_SLICE);
		a->slice_bytes = v;
	} else if (strcmp(key, "deadline-ms") == 0) {
		if (tern_cli_parse_u64(val, 1, 3600 * 1000, &v) != 0)
			return fail(err, errlen, "--deadline-ms '%s': 1 to 3600000", val);
		SKIP_IF_SET(DP_OPT_DEADLINE);
		a->deadline_ms = v;
	} else if (strcmp(key, "max-clients") == 0) {
		if (tern_cli_parse_u64(val, 1, 4096, &v) != 0)
			return fail(err, errlen, "--max-clients '%s': 1 to 4096", val);
		SKIP_IF_SET(DP_OPT_MAX_CLIENTS);
		a->max_clients = v;
	} else if (strcmp(key, "futures") == 0) {
		if (tern_cli_parse_u64(val, 64, 1u << 22, &v) != 0)
			return fail(err, errlen, "--futures '%s': 64 to 4194304", val);
		SKIP_IF_SET(DP_OPT_FUTURES);
		a->nb_futures = v;
	} else if (strcmp(key, "drain-ms") == 0) {
		if (tern_cli_parse_u64(val, 1, 600 * 1000, &v) != 0)
			return fail(err, errlen, "--drain-ms '%s': 1 to 600000", val);
		SKIP_IF_SET(DP_OPT_DRAIN);
		a->drain_ms = v;
	} else if (strcmp(key, "log-level") == 0) {
		ret = parse_log_level(val);
		if (ret < 0)
			return fail(err, errlen,
				    "--log-level '%s': a level name (error, info, debug...) or 1-8",
				    val);
		SKIP_IF_SET(DP_OPT_LOG_LEVEL);
		a->log_level = ret;
	} else if (strcmp(key, "directory") == 0) {
		if (check_uri(val) != 0)
			return fail(err, errlen,
				    "--directory '%s': expected p2p://ADDR:PORT, "
				    "etcd://HOST:PORT[,HOST:PORT...]/PREFIX or "
				    "redis://HOST:PORT/PREFIX",
				    val);
		SKIP_IF_SET(DP_OPT_DIRECTORY);
		snprintf(a->directory, sizeof(a->directory), "%s", val);
	} else if (strcmp(key, "peer") == 0) {
		struct dp_peer_opt *po = &a->peers[a->nb_peers];
		const char *uri;

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
	} else if (strcmp(key, "peer-transport") == 0) {
		struct dp_pin_opt *pin = &a->pins[a->nb_pins];
		const char *t;

		if (a->nb_pins == DP_MAX_PEERS)
			return fail(err, errlen, "--peer-transport: at most %d", DP_MAX_PEERS);
		t = split_node(val, pin->node);
		if (t == NULL || check_transport_name(t) != 0)
			return fail(err, errlen,
				    "--peer-transport '%s': expected NODE=TRANSPORT (e.g. b=tcp)",
				    val);
		for (i = 0; i < a->nb_pins; i++)
			if (strcmp(a->pins[i].node, pin->node) == 0)
				return fail(err, errlen, "--peer-transport '%s': node given twice",
					    val);
		snprintf(pin->transport, sizeof(pin->transport), "%s", t);
		a->nb_pins++;
	} else if (strcmp(key, "listen") == 0) {
		char addr[sizeof(a->listen_addr)];
		uint16_t port;

		if (parse_listen(val, addr, sizeof(addr), &port) != 0)
			return fail(err, errlen,
				    "--listen '%s': expected IPV4:PORT or [IPV6]:PORT (numeric, "
				    "port 0-65535)",
				    val);
		SKIP_IF_SET(DP_OPT_LISTEN);
		snprintf(a->listen_addr, sizeof(a->listen_addr), "%s", addr);
		a->listen_port = port;
	} else if (strcmp(key, "rdma-listen") == 0) {
		char addr[sizeof(a->rdma_listen_addr)];
		uint16_t port;

		if (parse_listen(val, addr, sizeof(addr), &port) != 0)
			return fail(
				err, errlen,
				"--rdma-listen '%s': expected IPV4:PORT or [IPV6]:PORT (numeric, "
				"port 0-65535)",
				val);
		SKIP_IF_SET(DP_OPT_RDMA_LISTEN);
		snprintf(a->rdma_listen_addr, sizeof(a->rdma_listen_addr), "%s", addr);
		a->rdma_listen_port = port;
	} else if (strcmp(key, "auth-file") == 0) {
		if (val[0] == '\0' || strlen(val) >= sizeof(a->auth_file))
			return fail(err, errlen, "--auth-file: a path of 1..%zu characters",
				    sizeof(a->auth_file) - 1);
		SKIP_IF_SET(DP_OPT_AUTH_FILE);
		snprintf(a->auth_file, sizeof(a->auth_file), "%s", val);
	} else if (strcmp(key, "shm") == 0) {
		if (strcmp(val, "on") != 0 && strcmp(val, "off") != 0)
			return fail(err, errlen, "--shm '%s': on or off", val);
		SKIP_IF_SET(DP_OPT_SHM);
		a->shm_off = strcmp(val, "off") == 0;
	} else if (strcmp(key, "idle") == 0) {
		if (strcmp(val, "poll") != 0 && strcmp(val, "yield") != 0)
			return fail(err, errlen, "--idle '%s': poll or yield", val);
		SKIP_IF_SET(DP_OPT_IDLE);
		a->idle_yield = strcmp(val, "yield") == 0;
	} else if (strcmp(key, "config") == 0 && !from_file) {
		if (strlen(val) == 0 || strlen(val) >= sizeof(a->config))
			return fail(err, errlen, "--config: bad path");
		a->set |= DP_OPT_CONFIG;
		snprintf(a->config, sizeof(a->config), "%s", val);
	} else {
		return fail(err, errlen, "unknown option '%s%s'", from_file ? "" : "--", key);
	}
	return 0;
#undef SKIP_IF_SET
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
	       "\n"
	       "Peers (other dataplanes whose segments clients read and write):\n"
	       "  --directory URI        publish this node's segments and find peers' there:\n"
	       "                         p2p://ADDR:PORT (serve them on this control port),\n"
	       "                         etcd://HOST:PORT[,HOST:PORT...]/PREFIX or\n"
	       "                         redis://HOST:PORT/PREFIX\n"
	       "  --peer NODE=URI        NODE's own directory, e.g. b=p2p://127.0.0.1:7100 "
	       "(repeatable)\n"
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
