/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_log.h>

#include <tern_cli.h>

#include "dataplane_args.h"

#define SIZE_MAX_SEGMENT (1ull << 40)

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
		if (tern_cli_parse_size(val, 1ull << 30, &v) != 0 || v < 4096)
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
	       "  --drain-ms N           on SIGINT/SIGTERM, wait this long for work in flight "
	       "(2000)\n"
	       "  --log-level LEVEL      tern.* log level: error, warning, notice, info, debug or "
	       "1-8\n"
	       "  --config FILE          the same options as 'key = value' lines ('#' comments);\n"
	       "                         the command line wins\n"
	       "  --help                 this text\n"
	       "\n"
	       "Stop with SIGINT or SIGTERM: new work is refused, work in flight drains within\n"
	       "--drain-ms, the rest fails, and the exit status is 0. A second signal exits at "
	       "once.\n",
	       prog, DP_MAX_SEGMENTS);
}
