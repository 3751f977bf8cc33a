/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The directory front end: URI parsing, the published table, the lookup
 * cache, and every public tern_directory_*() call. The top of lib/directory:
 * it picks a backend from the table (registry.c) and reaches it only through
 * its ops, never by name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_errno.h>

#include "directory_private.h"

#define DEFAULT_TTL_S	   10
#define DEFAULT_CACHE_MS   1000
#define DEFAULT_TIMEOUT_MS 2000
#define CONF_TTL_MAX_S	   86400
#define CONF_MS_MAX	   3600000

static bool
host_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-';
}

static bool
ip6_char_ok(char c)
{
	return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') ||
	       c == ':' || c == '.';
}

static bool
prefix_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

/* host ':' port, ending at ',', '/' or the end. Advances *pp. */
static int
parse_endpoint(const char **pp, struct directory_endpoint *ep, bool port_zero_ok)
{
	const char *p = *pp, *start;
	unsigned long port = 0;
	size_t n;

	if (*p == '[') {
		start = ++p;
		while (ip6_char_ok(*p))
			p++;
		if (*p != ']' || p == start)
			return -EINVAL;
		n = (size_t)(p - start);
		p++;
	} else {
		start = p;
		while (host_char_ok(*p))
			p++;
		n = (size_t)(p - start);
		if (n == 0 || start[0] == '-' || start[0] == '.')
			return -EINVAL;
	}
	if (n >= DIR_HOST_MAX)
		return -EINVAL;
	memcpy(ep->host, start, n);
	ep->host[n] = '\0';
	if (*p++ != ':')
		return -EINVAL;
	start = p;
	while (*p >= '0' && *p <= '9') {
		port = port * 10 + (unsigned long)(*p - '0');
		if (p - start >= 5 || port > 65535)
			return -EINVAL;
		p++;
	}
	if (p == start || (port == 0 && !port_zero_ok) || (p - start > 1 && start[0] == '0'))
		return -EINVAL;
	ep->port = (uint16_t)port;
	*pp = p;
	return 0;
}

/* '/' part ('/' part)*, parts of [A-Za-z0-9_.-], not "." or "..", to the end. */
static int
parse_prefix(const char *p, char *out)
{
	size_t n = 0, part = 0;

	if (*p++ != '/')
		return -EINVAL;
	for (;; p++) {
		if (*p == '/' || *p == '\0') {
			if (part == 0 || (part == 1 && p[-1] == '.') ||
			    (part == 2 && p[-1] == '.' && p[-2] == '.'))
				return -EINVAL;
			if (*p == '\0')
				break;
			part = 0;
		} else if (prefix_char_ok(*p)) {
			part++;
		} else {
			return -EINVAL;
		}
		if (n + 1 >= DIR_PREFIX_MAX)
			return -EINVAL;
		out[n++] = *p;
	}
	out[n] = '\0';
	return 0;
}

static int
parse_uri(struct tern_directory *dir, const char *uri)
{
	const struct directory_backend_ops *ops = NULL;
	const char *p;
	unsigned int i;
	size_t n;
	int rc;

	if (uri == NULL || strnlen(uri, 4096) >= 4096)
		return -EINVAL;
	p = strstr(uri, "://");
	if (p == NULL)
		return -EINVAL;
	n = (size_t)(p - uri);
	ops = directory_backend_find(uri, n);
	if (ops == NULL) {
		for (i = 0; i < n; i++)
			if (!(uri[i] >= 'a' && uri[i] <= 'z') && !(uri[i] >= '0' && uri[i] <= '9'))
				return -EINVAL;
		return n == 0 ? -EINVAL : -ENOTSUP;
	}
	p += 3;
	dir->nb_ep = 0;
	for (;;) {
		if (dir->nb_ep == ops->max_endpoints)
			return -EINVAL;
		rc = parse_endpoint(&p, &dir->ep[dir->nb_ep], ops->port_zero_ok);
		if (rc < 0)
			return rc;
		dir->nb_ep++;
		if (*p != ',')
			break;
		p++;
	}
	if (ops->needs_prefix)
		rc = parse_prefix(p, dir->prefix);
	else
		rc = *p == '\0' ? 0 : -EINVAL;
	if (rc < 0)
		return rc;
	dir->ops = ops;
	return 0;
}

static int
conf_apply(struct tern_directory *dir, const struct tern_directory_conf *conf)
{
	struct tern_directory_conf c = { 0 };

	if (conf != NULL)
		c = *conf;
	if (c.ttl_s > CONF_TTL_MAX_S || c.cache_ms > CONF_MS_MAX || c.timeout_ms > CONF_MS_MAX)
		return -EINVAL;
	dir->conf.ttl_s = c.ttl_s != 0 ? c.ttl_s : DEFAULT_TTL_S;
	dir->conf.cache_ms = c.cache_ms != 0 ? c.cache_ms : DEFAULT_CACHE_MS;
	dir->conf.timeout_ms = c.timeout_ms != 0 ? c.timeout_ms : DEFAULT_TIMEOUT_MS;
	return 0;
}

struct tern_directory *
tern_directory_open(const char *uri, const struct tern_directory_conf *conf)
{
	struct tern_directory *dir;
	int rc;

	dir = calloc(1, sizeof(*dir));
	if (dir == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	rc = parse_uri(dir, uri);
	if (rc == 0)
		rc = conf_apply(dir, conf);
	if (rc < 0) {
		DIR_LOG(ERR, "cannot open directory \"%.200s\": %s", uri ? uri : "(null)",
			rc == -ENOTSUP ? "unknown scheme (doc/directory.md lists the backends)"
				       : "malformed URI or configuration");
		free(dir);
		rte_errno = -rc;
		return NULL;
	}
	dir->published = calloc(DIR_PUBLISH_MAX, sizeof(*dir->published));
	dir->cache = calloc(DIR_CACHE_MAX, sizeof(*dir->cache));
	if (dir->published == NULL || dir->cache == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	pthread_mutex_init(&dir->lock, NULL);
	pthread_mutex_init(&dir->pub_lock, NULL);
	rc = dir->ops->init != NULL ? dir->ops->init(dir) : 0;
	if (rc < 0) {
		pthread_mutex_destroy(&dir->lock);
		pthread_mutex_destroy(&dir->pub_lock);
		goto fail;
	}
	return dir;
fail:
	free(dir->published);
	free(dir->cache);
	free(dir);
	rte_errno = -rc;
	return NULL;
}

void
tern_directory_close(struct tern_directory *dir)
{
	unsigned int i;

	if (dir == NULL)
		return;
	/* First: a serving thread reads the published table freed below. */
	if (dir->ops->serve_stop != NULL)
		dir->ops->serve_stop(dir);
	pthread_mutex_lock(&dir->lock);
	if (dir->ops->fini != NULL)
		dir->ops->fini(dir);
	pthread_mutex_unlock(&dir->lock);
	for (i = 0; i < dir->nb_published; i++)
		free(dir->published[i].json);
	for (i = 0; i < dir->nb_cache; i++)
		free(dir->cache[i].json);
	free(dir->published);
	free(dir->cache);
	pthread_mutex_destroy(&dir->lock);
	pthread_mutex_destroy(&dir->pub_lock);
	free(dir);
}

static struct directory_entry *
entry_find(struct directory_entry *tab, unsigned int n, const char *node, const char *segment)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (strcmp(tab[i].node, node) == 0 && strcmp(tab[i].segment, segment) == 0)
			return &tab[i];
	return NULL;
}

static void
entry_remove(struct directory_entry *tab, unsigned int *n, struct directory_entry *e)
{
	free(e->json);
	*e = tab[--*n];
	memset(&tab[*n], 0, sizeof(tab[*n]));
}

int
tern_directory_publish(struct tern_directory *dir, const struct tern_descriptor *d)
{
	char buf[TERN_DESCRIPTOR_WIRE_MAX + 1];
	struct directory_entry e = { 0 }, *slot;
	int len, rc;

	if (dir == NULL || d == NULL)
		return -EINVAL;
	len = tern_descriptor_encode(d, buf, sizeof(buf));
	if (len < 0)
		return len == -ENOMEM ? len : -EINVAL;
	rc = directory_entry_fill(&e, d->node, d->segment, buf, (size_t)len);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&dir->lock);
	pthread_mutex_lock(&dir->pub_lock);
	slot = entry_find(dir->published, dir->nb_published, d->node, d->segment);
	if (slot == NULL && dir->nb_published == DIR_PUBLISH_MAX)
		rc = -ENOSPC;
	pthread_mutex_unlock(&dir->pub_lock);
	if (rc == 0 && dir->ops->put != NULL)
		rc = dir->ops->put(dir, &e);
	if (rc == 0) {
		pthread_mutex_lock(&dir->pub_lock);
		slot = entry_find(dir->published, dir->nb_published, d->node, d->segment);
		if (slot == NULL)
			slot = &dir->published[dir->nb_published++];
		free(slot->json);
		*slot = e;
		e.json = NULL;
		pthread_mutex_unlock(&dir->pub_lock);
	}
	pthread_mutex_unlock(&dir->lock);
	free(e.json);
	if (rc < 0)
		DIR_LOG(WARNING, "publish %s/%s failed: %s", d->node, d->segment, strerror(-rc));
	return rc;
}

int
tern_directory_unpublish(struct tern_directory *dir, const char *node, const char *segment)
{
	struct directory_entry *e;
	int rc = 0;

	if (dir == NULL || !tern_descriptor_name_valid(node) ||
	    !tern_descriptor_name_valid(segment))
		return -EINVAL;
	pthread_mutex_lock(&dir->lock);
	pthread_mutex_lock(&dir->pub_lock);
	e = entry_find(dir->published, dir->nb_published, node, segment);
	if (e == NULL)
		rc = -ENOENT;
	else
		entry_remove(dir->published, &dir->nb_published, e);
	pthread_mutex_unlock(&dir->pub_lock);
	if (rc == 0 && dir->ops->del != NULL)
		rc = dir->ops->del(dir, node, segment);
	pthread_mutex_unlock(&dir->lock);
	return rc;
}

/* Decode what a backend returned for node/segment; it must name exactly that. */
static int
decode_fetched(const char *node, const char *segment, const char *json, size_t len,
	       struct tern_descriptor *out)
{
	int rc;

	rc = tern_descriptor_decode(out, json, len);
	if (rc < 0)
		return -EPROTO;
	if ((node != NULL && strcmp(out->node, node) != 0) ||
	    (segment != NULL && strcmp(out->segment, segment) != 0)) {
		DIR_LOG(WARNING, "backend answered %s/%s for a request about %s/%s", out->node,
			out->segment, node, segment != NULL ? segment : "*");
		tern_descriptor_fini(out);
		return -EPROTO;
	}
	return 0;
}

/* Fetch node/segment from the backend into the cache (dir->lock held). On
 * success *ep is the fresh cache entry. */
static int
fetch_locked(struct tern_directory *dir, const char *node, const char *segment,
	     struct directory_entry **ep)
{
	struct tern_descriptor tmp;
	struct directory_entry *e, *oldest;
	bool was_cached;
	char *json = NULL;
	size_t len = 0;
	unsigned int i;
	int rc;

	e = entry_find(dir->cache, dir->nb_cache, node, segment);
	was_cached = e != NULL;
	rc = dir->ops->get(dir, node, segment, &json, &len);
	if (rc == 0) {
		rc = decode_fetched(node, segment, json, len, &tmp);
		if (rc == 0)
			tern_descriptor_fini(&tmp);
	}
	if (rc == -ENOENT || rc == -EPROTO) {
		if (was_cached)
			entry_remove(dir->cache, &dir->nb_cache, e);
		free(json);
		return rc == -ENOENT && was_cached ? -ESTALE : rc;
	}
	if (rc < 0) {
		free(json);
		return rc;
	}
	if (e == NULL) {
		if (dir->nb_cache == DIR_CACHE_MAX) {
			oldest = &dir->cache[0];
			for (i = 1; i < dir->nb_cache; i++)
				if (dir->cache[i].stamp_ns < oldest->stamp_ns)
					oldest = &dir->cache[i];
			entry_remove(dir->cache, &dir->nb_cache, oldest);
		}
		e = &dir->cache[dir->nb_cache++];
	}
	rc = directory_entry_fill(e, node, segment, json, len);
	free(json);
	if (rc < 0) {
		entry_remove(dir->cache, &dir->nb_cache, e);
		return rc;
	}
	*ep = e;
	return 0;
}

int
tern_directory_lookup(struct tern_directory *dir, const char *node, const char *segment,
		      struct tern_descriptor *out)
{
	struct directory_entry *e;
	int rc = 0;

	if (dir == NULL || out == NULL || !tern_descriptor_name_valid(node) ||
	    !tern_descriptor_name_valid(segment))
		return -EINVAL;
	pthread_mutex_lock(&dir->lock);
	e = entry_find(dir->cache, dir->nb_cache, node, segment);
	if (e == NULL || tern_clock_ns() - e->stamp_ns >= (uint64_t)dir->conf.cache_ms * 1000000ull)
		rc = fetch_locked(dir, node, segment, &e);
	if (rc == 0)
		rc = decode_fetched(node, segment, e->json, e->len, out);
	pthread_mutex_unlock(&dir->lock);
	return rc;
}

int
tern_directory_check(struct tern_directory *dir, const struct tern_descriptor *d)
{
	struct tern_descriptor now;
	struct directory_entry *e;
	int rc;

	if (dir == NULL || d == NULL || !tern_descriptor_name_valid(d->node) ||
	    !tern_descriptor_name_valid(d->segment))
		return -EINVAL;
	pthread_mutex_lock(&dir->lock);
	rc = fetch_locked(dir, d->node, d->segment, &e);
	if (rc == 0) {
		rc = decode_fetched(d->node, d->segment, e->json, e->len, &now);
		if (rc == 0) {
			rc = tern_descriptor_equal(d, &now) ? 0 : -ESTALE;
			tern_descriptor_fini(&now);
		}
	}
	pthread_mutex_unlock(&dir->lock);
	return rc == -ENOENT || rc == -EPROTO ? -ESTALE : rc;
}

struct list_state {
	const char *node;
	struct tern_descriptor *out;
	unsigned int max;
	unsigned int count;
};

static int
list_one(void *arg, const char *segment, const char *json, size_t len)
{
	struct list_state *ls = arg;
	struct tern_descriptor d;

	if (ls->count == DIR_LIST_MAX)
		return -E2BIG;
	if (decode_fetched(ls->node, segment, json, len, &d) < 0)
		return 0; /* logged; one bad entry does not hide the others */
	if (ls->count < ls->max)
		ls->out[ls->count] = d;
	else
		tern_descriptor_fini(&d);
	ls->count++;
	return 0;
}

int
tern_directory_list(struct tern_directory *dir, const char *node, struct tern_descriptor *out,
		    unsigned int max)
{
	struct list_state ls = { .node = node, .out = out, .max = max };
	unsigned int i;
	int rc;

	if (dir == NULL || (out == NULL && max > 0) || !tern_descriptor_name_valid(node))
		return -EINVAL;
	pthread_mutex_lock(&dir->lock);
	rc = dir->ops->list(dir, node, list_one, &ls);
	pthread_mutex_unlock(&dir->lock);
	if (rc < 0) {
		for (i = 0; i < RTE_MIN(ls.count, max); i++)
			tern_descriptor_fini(&out[i]);
		return rc;
	}
	return (int)ls.count;
}

int
tern_directory_keepalive(struct tern_directory *dir)
{
	int rc = 0;

	if (dir == NULL)
		return -EINVAL;
	pthread_mutex_lock(&dir->lock);
	if (dir->ops->keepalive != NULL)
		rc = dir->ops->keepalive(dir);
	pthread_mutex_unlock(&dir->lock);
	return rc;
}

int
tern_directory_p2p_serve(struct tern_directory *dir, unsigned int flags)
{
	if (dir == NULL || dir->ops->serve == NULL || (flags & ~TERN_DIRECTORY_P2P_THREAD) != 0)
		return -EINVAL;
	return dir->ops->serve(dir, flags);
}

int
tern_directory_p2p_poll(struct tern_directory *dir, int timeout_ms)
{
	if (dir == NULL || dir->ops->serve_poll == NULL || timeout_ms < 0)
		return -EINVAL;
	return dir->ops->serve_poll(dir, timeout_ms);
}

int
tern_directory_p2p_port(const struct tern_directory *dir)
{
	if (dir == NULL || dir->ops->serve_port == NULL)
		return -EINVAL;
	return dir->ops->serve_port(dir);
}

int
tern_directory_p2p_set_handler(struct tern_directory *dir, tern_directory_p2p_handler_fn fn,
			       void *arg)
{
	if (dir == NULL || dir->ops->call == NULL)
		return -EINVAL;
	pthread_mutex_lock(&dir->pub_lock);
	dir->handler = fn;
	dir->handler_arg = arg;
	pthread_mutex_unlock(&dir->pub_lock);
	return 0;
}

int
tern_directory_p2p_call(struct tern_directory *dir, const char *node, const char *segment,
			const uint8_t *req, size_t len, uint8_t *rep, size_t *rep_len)
{
	if (dir == NULL || dir->ops->call == NULL || !tern_descriptor_name_valid(node) ||
	    !tern_descriptor_name_valid(segment) || req == NULL || len == 0 ||
	    len > TERN_DIRECTORY_P2P_MSG_MAX || rep == NULL || rep_len == NULL)
		return -EINVAL;
	return dir->ops->call(dir, node, segment, req, len, rep, rep_len);
}

/* ---- the key-value space ---- */

/* 1..TERN_DIRECTORY_KV_KEY_MAX - 1 bytes of 0x21..0x7e (0 bytes with @allow_empty). */
static bool
kv_key_valid(const char *key, bool allow_empty)
{
	size_t n;

	if (key == NULL)
		return false;
	for (n = 0; n < TERN_DIRECTORY_KV_KEY_MAX && key[n] != '\0'; n++)
		if ((unsigned char)key[n] < 0x21 || (unsigned char)key[n] > 0x7e)
			return false;
	return n < TERN_DIRECTORY_KV_KEY_MAX && (n > 0 || allow_empty);
}

int
tern_directory_kv_put(struct tern_directory *dir, const char *key, const void *value, size_t len,
		      unsigned int flags)
{
	char k[DIR_KV_KEY_MAX];
	int n, rc;

	if (dir == NULL || !kv_key_valid(key, false) || value == NULL || len == 0 ||
	    len > TERN_DIRECTORY_KV_VALUE_MAX || memchr(value, '\0', len) != NULL ||
	    (flags & ~TERN_DIRECTORY_KV_CREATE) != 0)
		return -EINVAL;
	if (dir->ops->kv_put == NULL)
		return -ENOTSUP;
	n = directory_kv_key(dir, key, k, sizeof(k));
	if (n < 0)
		return -EINVAL;
	pthread_mutex_lock(&dir->lock);
	rc = dir->ops->kv_put(dir, k, (size_t)n, value, len,
			      (flags & TERN_DIRECTORY_KV_CREATE) != 0);
	pthread_mutex_unlock(&dir->lock);
	return rc;
}

int
tern_directory_kv_swap(struct tern_directory *dir, const char *key, const void *expect, size_t elen,
		       const void *value, size_t len)
{
	char k[DIR_KV_KEY_MAX];
	int n, rc;

	if (dir == NULL || !kv_key_valid(key, false) || value == NULL || len == 0 ||
	    len > TERN_DIRECTORY_KV_VALUE_MAX || memchr(value, '\0', len) != NULL ||
	    expect == NULL || elen == 0 || elen > TERN_DIRECTORY_KV_VALUE_MAX ||
	    memchr(expect, '\0', elen) != NULL)
		return -EINVAL;
	if (dir->ops->kv_swap == NULL)
		return -ENOTSUP;
	n = directory_kv_key(dir, key, k, sizeof(k));
	if (n < 0)
		return -EINVAL;
	pthread_mutex_lock(&dir->lock);
	rc = dir->ops->kv_swap(dir, k, (size_t)n, expect, elen, value, len);
	pthread_mutex_unlock(&dir->lock);
	return rc;
}

int
tern_directory_kv_put_n(struct tern_directory *dir, unsigned int n, const char *const *keys,
			const void *const *values, const size_t *lens, unsigned int flags,
			int *results)
{
	static __thread char k[TERN_DIRECTORY_KV_BATCH_MAX][DIR_KV_KEY_MAX];
	const char *kp[TERN_DIRECTORY_KV_BATCH_MAX];
	size_t klen[TERN_DIRECTORY_KV_BATCH_MAX];
	bool create = (flags & TERN_DIRECTORY_KV_CREATE) != 0;
	unsigned int i;
	int m;

	if (dir == NULL || n == 0 || n > TERN_DIRECTORY_KV_BATCH_MAX || keys == NULL ||
	    values == NULL || lens == NULL || results == NULL ||
	    (flags & ~TERN_DIRECTORY_KV_CREATE) != 0)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!kv_key_valid(keys[i], false) || values[i] == NULL || lens[i] == 0 ||
		    lens[i] > TERN_DIRECTORY_KV_VALUE_MAX ||
		    memchr(values[i], '\0', lens[i]) != NULL)
			return -EINVAL;
	if (dir->ops->kv_put == NULL)
		return -ENOTSUP;
	for (i = 0; i < n; i++) {
		m = directory_kv_key(dir, keys[i], k[i], sizeof(k[i]));
		if (m < 0)
			return -EINVAL;
		kp[i] = k[i];
		klen[i] = (size_t)m;
	}
	pthread_mutex_lock(&dir->lock);
	if (dir->ops->kv_put_n != NULL)
		dir->ops->kv_put_n(dir, n, kp, klen, values, lens, create, results);
	else
		for (i = 0; i < n; i++)
			results[i] =
				dir->ops->kv_put(dir, kp[i], klen[i], values[i], lens[i], create);
	pthread_mutex_unlock(&dir->lock);
	return 0;
}

int
tern_directory_kv_get(struct tern_directory *dir, const char *key, void *value, size_t max,
		      size_t *len)
{
	char k[DIR_KV_KEY_MAX], *v = NULL;
	size_t vlen = 0;
	int n, rc;

	if (dir == NULL || !kv_key_valid(key, false) || (value == NULL && max > 0) || len == NULL)
		return -EINVAL;
	if (dir->ops->kv_get == NULL)
		return -ENOTSUP;
	n = directory_kv_key(dir, key, k, sizeof(k));
	if (n < 0)
		return -EINVAL;
	pthread_mutex_lock(&dir->lock);
	rc = dir->ops->kv_get(dir, k, (size_t)n, &v, &vlen);
	pthread_mutex_unlock(&dir->lock);
	if (rc < 0)
		return rc;
	*len = vlen;
	if (vlen > max)
		rc = -ENOSPC;
	else
		memcpy(value, v, vlen);
	free(v);
	return rc;
}

int
tern_directory_kv_get_n(struct tern_directory *dir, unsigned int n, const char *const *keys,
			void *const *values, size_t max, size_t *lens, int *results)
{
	static __thread char k[TERN_DIRECTORY_KV_BATCH_MAX][DIR_KV_KEY_MAX];
	const char *kp[TERN_DIRECTORY_KV_BATCH_MAX];
	size_t klen[TERN_DIRECTORY_KV_BATCH_MAX];
	char *v[TERN_DIRECTORY_KV_BATCH_MAX];
	unsigned int i;
	int m;

	if (dir == NULL || n == 0 || n > TERN_DIRECTORY_KV_BATCH_MAX || keys == NULL ||
	    values == NULL || lens == NULL || results == NULL)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!kv_key_valid(keys[i], false) || (values[i] == NULL && max > 0))
			return -EINVAL;
	if (dir->ops->kv_get == NULL)
		return -ENOTSUP;
	for (i = 0; i < n; i++) {
		m = directory_kv_key(dir, keys[i], k[i], sizeof(k[i]));
		if (m < 0)
			return -EINVAL;
		kp[i] = k[i];
		klen[i] = (size_t)m;
		v[i] = NULL;
		lens[i] = 0;
	}
	pthread_mutex_lock(&dir->lock);
	if (dir->ops->kv_get_n != NULL)
		dir->ops->kv_get_n(dir, n, kp, klen, v, lens, results);
	else
		for (i = 0; i < n; i++)
			results[i] = dir->ops->kv_get(dir, kp[i], klen[i], &v[i], &lens[i]);
	pthread_mutex_unlock(&dir->lock);
	for (i = 0; i < n; i++) {
		if (results[i] == 0 && lens[i] > max)
			results[i] = -ENOSPC;
		else if (results[i] == 0 && lens[i] > 0)
			memcpy(values[i], v[i], lens[i]);
		if (results[i] != 0 && results[i] != -ENOSPC)
			lens[i] = 0;
		free(v[i]);
	}
	return 0;
}

int
tern_directory_kv_del(struct tern_directory *dir, const char *key)
{
	char k[DIR_KV_KEY_MAX];
	int n, rc;

	if (dir == NULL || !kv_key_valid(key, false))
		return -EINVAL;
	if (dir->ops->kv_del == NULL)
		return -ENOTSUP;
	n = directory_kv_key(dir, key, k, sizeof(k));
	if (n < 0)
		return -EINVAL;
	pthread_mutex_lock(&dir->lock);
	rc = dir->ops->kv_del(dir, k, (size_t)n);
	pthread_mutex_unlock(&dir->lock);
	return rc;
}

struct kv_list_state {
	tern_directory_kv_cb cb;
	void *arg;
	int count;
	int stop; /* the callback's non-zero value: call it no more */
};

static int
kv_list_one(void *arg, const char *key, const char *value, size_t len)
{
	struct kv_list_state *ls = arg;
	int rc;

	if (ls->stop != 0 || !kv_key_valid(key, false))
		return 0; /* stopped, or not a key this API wrote */
	rc = ls->cb(ls->arg, key, value, len);
	if (rc != 0)
		ls->stop = rc;
	else
		ls->count++;
	return 0;
}

int
tern_directory_kv_list(struct tern_directory *dir, const char *prefix, tern_directory_kv_cb cb,
		       void *arg)
{
	struct kv_list_state ls = { .cb = cb, .arg = arg };
	char k[DIR_KV_KEY_MAX], base[DIR_KV_KEY_MAX];
	int n, skip, rc;

	if (dir == NULL || cb == NULL || !kv_key_valid(prefix, true))
		return -EINVAL;
	if (dir->ops->kv_list == NULL)
		return -ENOTSUP;
	n = directory_kv_key(dir, prefix, k, sizeof(k));
	skip = directory_kv_key(dir, "", base, sizeof(base));
	if (n < 0 || skip < 0)
		return -EINVAL;
	pthread_mutex_lock(&dir->lock);
	rc = dir->ops->kv_list(dir, k, (size_t)n, (size_t)skip, kv_list_one, &ls);
	pthread_mutex_unlock(&dir->lock);
	if (rc != 0)
		return rc;
	return ls.stop != 0 ? ls.stop : ls.count;
}
