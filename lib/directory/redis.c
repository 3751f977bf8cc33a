/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * redis:// backend through hiredis. Each descriptor is one string key
 * "<prefix>/<node>/<segment>" written with SET ... EX ttl; keepalive writes
 * them again, so a node that stops refreshing disappears after ttl seconds.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "directory_private.h"

#define REDIS_SCAN_ROUNDS_MAX 100000 /* bound on one SCAN walk */

struct redis_state {
	redisContext *c; /* NULL: not connected */
};

static int
redis_connect(struct tern_directory *dir)
{
	struct redis_state *st = dir->backend;
	struct timeval tv = { .tv_sec = dir->conf.timeout_ms / 1000,
			      .tv_usec = (dir->conf.timeout_ms % 1000) * 1000 };
	int rc;

	if (st->c != NULL)
		return 0;
	st->c = redisConnectWithTimeout(dir->ep[0].host, dir->ep[0].port, tv);
	if (st->c == NULL)
		return -ENOMEM;
	if (st->c->err != 0) {
		rc = strstr(st->c->errstr, "timed out") != NULL ? -ETIMEDOUT : -ECONNREFUSED;
		DIR_LOG(WARNING, "redis %s:%u: %s", dir->ep[0].host, dir->ep[0].port,
			st->c->errstr);
		redisFree(st->c);
		st->c = NULL;
		return rc;
	}
	redisSetTimeout(st->c, tv);
	return 0;
}

/* A command; one reconnect if the connection broke. The reply in *replyp. */
static int
redis_cmd(struct tern_directory *dir, redisReply **replyp, const char *fmt, ...)
{
	struct redis_state *st = dir->backend;
	redisReply *reply = NULL;
	unsigned int attempt;
	va_list ap;
	int rc = 0;

	for (attempt = 0; attempt < 2; attempt++) {
		rc = redis_connect(dir);
		if (rc < 0)
			return rc;
		va_start(ap, fmt);
		reply = redisvCommand(st->c, fmt, ap);
		va_end(ap);
		if (reply != NULL)
			break;
		rc = st->c->err == REDIS_ERR_IO && errno == EAGAIN ? -ETIMEDOUT : -EIO;
		DIR_LOG(WARNING, "redis %s:%u: %s", dir->ep[0].host, dir->ep[0].port,
			st->c->errstr);
		redisFree(st->c);
		st->c = NULL;
	}
	if (reply == NULL)
		return rc;
	if (reply->type == REDIS_REPLY_ERROR) {
		DIR_LOG(WARNING, "redis: %.200s", reply->str);
		freeReplyObject(reply);
		return -EIO;
	}
	*replyp = reply;
	return 0;
}

static int
redis_set(struct tern_directory *dir, const struct directory_entry *e)
{
	char key[DIR_KEY_MAX];
	redisReply *r;
	int n, rc;

	n = directory_key(dir, e->node, e->segment, key, sizeof(key));
	if (n < 0)
		return n;
	rc = redis_cmd(dir, &r, "SET %b %b EX %u", key, (size_t)n, e->json, e->len,
		       dir->conf.ttl_s);
	if (rc < 0)
		return rc;
	rc = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0 ? 0 : -EPROTO;
	freeReplyObject(r);
	return rc;
}

static int
redis_del(struct tern_directory *dir, const char *node, const char *segment)
{
	char key[DIR_KEY_MAX];
	redisReply *r;
	int n, rc;

	n = directory_key(dir, node, segment, key, sizeof(key));
	if (n < 0)
		return n;
	rc = redis_cmd(dir, &r, "DEL %b", key, (size_t)n);
	if (rc == 0)
		freeReplyObject(r);
	return rc;
}

/* GET a key: 0 with a malloc'd copy, -ENOENT, or an error. */
static int
get_key(struct tern_directory *dir, const char *key, size_t klen, char **json, size_t *len)
{
	redisReply *r;
	int rc;

	rc = redis_cmd(dir, &r, "GET %b", key, klen);
	if (rc < 0)
		return rc;
	if (r->type == REDIS_REPLY_NIL)
		rc = -ENOENT;
	else if (r->type != REDIS_REPLY_STRING || r->len > TERN_DESCRIPTOR_WIRE_MAX)
		rc = -EPROTO;
	else {
		*json = strndup(r->str, r->len);
		*len = r->len;
		rc = *json == NULL ? -ENOMEM : 0;
	}
	freeReplyObject(r);
	return rc;
}

static int
redis_get(struct tern_directory *dir, const char *node, const char *segment, char **json,
	  size_t *len)
{
	char key[DIR_KEY_MAX];
	int n;

	n = directory_key(dir, node, segment, key, sizeof(key));
	if (n < 0)
		return n;
	return get_key(dir, key, (size_t)n, json, len);
}

static int
redis_list(struct tern_directory *dir, const char *node, directory_list_cb cb, void *arg)
{
	char pattern[DIR_KEY_MAX + 1], cursor[32] = "0", *json;
	unsigned int rounds = 0, found = 0;
	redisReply *r, *keys;
	size_t i, len;
	int n, rc;

	/* Names and the prefix exclude glob characters, so the pattern is literal. */
	n = directory_key(dir, node, NULL, pattern, sizeof(pattern) - 1);
	if (n < 0)
		return n;
	strcat(pattern, "*");
	/* Keys come back NUL-terminated by hiredis; the pattern minus '*' is their start. */
	do {
		rc = redis_cmd(dir, &r, "SCAN %s MATCH %s COUNT 256", cursor, pattern);
		if (rc < 0)
			return rc;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[0]->len >= sizeof(cursor) ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			return -EPROTO;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		keys = r->element[1];
		for (i = 0; i < keys->elements && rc == 0; i++) {
			if (keys->element[i]->type != REDIS_REPLY_STRING) {
				rc = -EPROTO;
				break;
			}
			if (++found > DIR_LIST_MAX) {
				rc = -E2BIG;
				break;
			}
			rc = get_key(dir, keys->element[i]->str, keys->element[i]->len, &json,
				     &len);
			if (rc == -ENOENT) { /* expired between SCAN and GET */
				rc = 0;
				continue;
			}
			if (rc == 0) {
				/* After "<prefix>/<node>/", the key names the segment. */
				rc = cb(arg, keys->element[i]->str + n, json, len);
				free(json);
			}
		}
		freeReplyObject(r);
		if (++rounds == REDIS_SCAN_ROUNDS_MAX)
			rc = -E2BIG;
	} while (rc == 0 && strcmp(cursor, "0") != 0);
	return rc;
}

static int
redis_keepalive(struct tern_directory *dir)
{
	struct directory_entry *all;
	int n, i, rc = 0;

	n = directory_published_snapshot(dir, &all);
	if (n < 0)
		return n;
	for (i = 0; i < n && rc == 0; i++)
		rc = redis_set(dir, &all[i]);
	directory_entries_free(all, (unsigned int)n);
	return rc;
}

static int
redis_init(struct tern_directory *dir)
{
	dir->backend = calloc(1, sizeof(struct redis_state));
	return dir->backend == NULL ? -ENOMEM : 0;
}

static void
redis_fini(struct tern_directory *dir)
{
	struct redis_state *st = dir->backend;
	unsigned int i;

	for (i = 0; i < dir->nb_published; i++)
		if (redis_del(dir, dir->published[i].node, dir->published[i].segment) < 0)
			break; /* unreachable: the keys expire by themselves */
	if (st->c != NULL)
		redisFree(st->c);
	free(st);
	dir->backend = NULL;
}

/* ---- the key-value space: plain string keys, no expiry ---- */

static int
redis_kv_put(struct tern_directory *dir, const char *key, size_t klen, const void *value,
	     size_t len, bool create)
{
	redisReply *r;
	int rc;

	rc = create ? redis_cmd(dir, &r, "SET %b %b NX", key, klen, value, len)
		    : redis_cmd(dir, &r, "SET %b %b", key, klen, value, len);
	if (rc < 0)
		return rc;
	if (create && r->type == REDIS_REPLY_NIL)
		rc = -EEXIST;
	else
		rc = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0 ? 0 : -EPROTO;
	freeReplyObject(r);
	return rc;
}

/* The value compared and set in one script (atomic in Redis). */
#define REDIS_SWAP_SCRIPT                                                                    \
	"if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) " \
	"return 1 end return 0"

static int
redis_kv_swap(struct tern_directory *dir, const char *key, size_t klen, const void *expect,
	      size_t elen, const void *value, size_t len)
{
	redisReply *r;
	int rc;

	rc = redis_cmd(dir, &r, "EVAL %s 1 %b %b %b", REDIS_SWAP_SCRIPT, key, klen, expect, elen,
		       value, len);
	if (rc < 0)
		return rc;
	if (r->type != REDIS_REPLY_INTEGER || (r->integer != 0 && r->integer != 1))
		rc = -EPROTO;
	else
		rc = r->integer == 1 ? 0 : -ESTALE;
	freeReplyObject(r);
	return rc;
}

/* Pipelined: every SET appended, then every reply read (one round trip).
 * A broken connection fails the keys not answered (no retry: a SET NX sent
 * again could find its own first try). */
static void
redis_kv_put_n(struct tern_directory *dir, unsigned int n, const char *const *keys,
	       const size_t *klens, const void *const *values, const size_t *lens, bool create,
	       int *results)
{
	struct redis_state *st = dir->backend;
	redisReply *r;
	unsigned int i, sent = 0;
	int rc;

	rc = redis_connect(dir);
	for (i = 0; i < n && rc == 0; i++, sent++)
		if ((create ? redisAppendCommand(st->c, "SET %b %b NX", keys[i], klens[i],
						 values[i], lens[i])
			    : redisAppendCommand(st->c, "SET %b %b", keys[i], klens[i], values[i],
						 lens[i])) != REDIS_OK)
			rc = -ENOMEM;
	for (i = 0; i < n; i++) {
		if (rc == 0 && i < sent) {
			void *reply = NULL;

			if (redisGetReply(st->c, &reply) != REDIS_OK || reply == NULL) {
				rc = st->c->err == REDIS_ERR_IO && errno == EAGAIN ? -ETIMEDOUT
										   : -EIO;
				DIR_LOG(WARNING, "redis %s:%u: %s", dir->ep[0].host,
					dir->ep[0].port, st->c->errstr);
			} else {
				r = reply;
				if (r->type == REDIS_REPLY_ERROR)
					results[i] = -EIO;
				else if (create && r->type == REDIS_REPLY_NIL)
					results[i] = -EEXIST;
				else
					results[i] = r->type == REDIS_REPLY_STATUS &&
								     strcmp(r->str, "OK") == 0
							     ? 0
							     : -EPROTO;
				freeReplyObject(r);
				continue;
			}
		}
		results[i] = rc != 0 ? rc : -EIO;
	}
	if (rc != 0 && st->c != NULL) {
		redisFree(st->c);
		st->c = NULL;
	}
}

static int
redis_kv_get(struct tern_directory *dir, const char *key, size_t klen, char **value, size_t *len)
{
	return get_key(dir, key, klen, value, len);
}

/* An MGET's answer for @n keys: each key's value (a malloc'd copy), -ENOENT
 * (nil) or an error; an answer that is not an array of @n strings (at most
 * TERN_DIRECTORY_KV_VALUE_MAX bytes) or nils fails every key with -EPROTO,
 * an error reply with -EIO. */
static void
directory_redis_mget_answer(const struct redisReply *r, unsigned int n, char **values, size_t *lens,
			    int *results)
{
	unsigned int i;
	int rc = 0;

	if (r == NULL)
		rc = -EPROTO;
	else if (r->type == REDIS_REPLY_ERROR)
		rc = -EIO;
	else if (r->type != REDIS_REPLY_ARRAY || r->elements != n)
		rc = -EPROTO;
	for (i = 0; i < n && rc == 0; i++)
		if (r->element[i] == NULL ||
		    (r->element[i]->type != REDIS_REPLY_NIL &&
		     (r->element[i]->type != REDIS_REPLY_STRING || r->element[i]->len == 0 ||
		      r->element[i]->len > TERN_DIRECTORY_KV_VALUE_MAX)))
			rc = -EPROTO;
	for (i = 0; i < n; i++) {
		values[i] = NULL;
		lens[i] = 0;
		results[i] = rc;
		if (rc != 0)
			continue;
		if (r->element[i]->type == REDIS_REPLY_NIL) {
			results[i] = -ENOENT;
			continue;
		}
		values[i] = malloc(r->element[i]->len + 1);
		if (values[i] == NULL) {
			results[i] = -ENOMEM;
			continue;
		}
		memcpy(values[i], r->element[i]->str, r->element[i]->len);
		values[i][r->element[i]->len] = '\0';
		lens[i] = r->element[i]->len;
	}
}

/* One MGET of every key (one round trip; sent again once on a broken
 * connection, as any read). */
static void
redis_kv_get_n(struct tern_directory *dir, unsigned int n, const char *const *keys,
	       const size_t *klens, char **values, size_t *lens, int *results)
{
	struct redis_state *st = dir->backend;
	const char *argv[TERN_DIRECTORY_KV_BATCH_MAX + 1];
	size_t argl[TERN_DIRECTORY_KV_BATCH_MAX + 1];
	redisReply *r = NULL;
	unsigned int attempt, i;
	int rc = 0;

	argv[0] = "MGET";
	argl[0] = 4;
	for (i = 0; i < n; i++) {
		argv[i + 1] = keys[i];
		argl[i + 1] = klens[i];
	}
	for (attempt = 0; attempt < 2; attempt++) {
		rc = redis_connect(dir);
		if (rc < 0)
			break;
		r = redisCommandArgv(st->c, (int)n + 1, argv, argl);
		if (r != NULL)
			break;
		rc = st->c->err == REDIS_ERR_IO && errno == EAGAIN ? -ETIMEDOUT : -EIO;
		DIR_LOG(WARNING, "redis %s:%u: %s", dir->ep[0].host, dir->ep[0].port,
			st->c->errstr);
		redisFree(st->c);
		st->c = NULL;
	}
	if (r == NULL) {
		for (i = 0; i < n; i++)
			results[i] = rc;
		return;
	}
	if (r->type == REDIS_REPLY_ERROR)
		DIR_LOG(WARNING, "redis: %.200s", r->str);
	directory_redis_mget_answer(r, n, values, lens, results);
	freeReplyObject(r);
}

static int
redis_kv_del(struct tern_directory *dir, const char *key, size_t klen)
{
	redisReply *r;
	int rc;

	rc = redis_cmd(dir, &r, "DEL %b", key, klen);
	if (rc < 0)
		return rc;
	if (r->type != REDIS_REPLY_INTEGER)
		rc = -EPROTO;
	else
		rc = r->integer == 0 ? -ENOENT : 0;
	freeReplyObject(r);
	return rc;
}

static int
redis_kv_list(struct tern_directory *dir, const char *prefix, size_t plen, size_t skip,
	      directory_list_cb cb, void *arg)
{
	char pattern[2 * DIR_KV_KEY_MAX + 2], cursor[32] = "0", *value;
	unsigned int rounds = 0;
	redisReply *r, *keys;
	size_t i, o = 0, len;
	int rc;

	/* Keys may hold glob characters: escape them, then match the rest. */
	for (i = 0; i < plen; i++) {
		if (strchr("*?[]\\", prefix[i]) != NULL)
			pattern[o++] = '\\';
		pattern[o++] = prefix[i];
	}
	pattern[o++] = '*';
	do {
		rc = redis_cmd(dir, &r, "SCAN %s MATCH %b COUNT 1000", cursor, pattern, o);
		if (rc < 0)
			return rc;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[0]->len >= sizeof(cursor) ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			return -EPROTO;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		keys = r->element[1];
		for (i = 0; i < keys->elements && rc == 0; i++) {
			if (keys->element[i]->type != REDIS_REPLY_STRING ||
			    keys->element[i]->len < skip) {
				rc = -EPROTO;
				break;
			}
			rc = get_key(dir, keys->element[i]->str, keys->element[i]->len, &value,
				     &len);
			if (rc == -ENOENT) { /* deleted between SCAN and GET */
				rc = 0;
				continue;
			}
			if (rc == 0) {
				rc = cb(arg, keys->element[i]->str + skip, value, len);
				free(value);
			}
		}
		freeReplyObject(r);
		if (rc == 0 && ++rounds == REDIS_SCAN_ROUNDS_MAX)
			rc = -E2BIG;
	} while (rc == 0 && strcmp(cursor, "0") != 0);
	return rc;
}

const struct directory_backend_ops directory_redis_ops = {
	.scheme = "redis",
	.max_endpoints = 1,
	.needs_prefix = true,
	.init = redis_init,
	.fini = redis_fini,
	.put = redis_set,
	.del = redis_del,
	.get = redis_get,
	.list = redis_list,
	.keepalive = redis_keepalive,
	.kv_put = redis_kv_put,
	.kv_put_n = redis_kv_put_n,
	.kv_get = redis_kv_get,
	.kv_get_n = redis_kv_get_n,
	.kv_swap = redis_kv_swap,
	.kv_del = redis_kv_del,
	.kv_list = redis_kv_list,
};
