/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * etcd:// backend: etcd v3 through its JSON gateway (grpc-gateway) with
 * libcurl. Keys and values travel base64-encoded; 64-bit integers come back
 * as JSON strings. Everything this handle publishes is attached to one lease;
 * keepalive renews it, and when it has expired (a long pause, a partition) a
 * new one is granted and everything is written again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include <rte_common.h>

#include "directory_private.h"

#define ETCD_RESP_MAX (8u << 20) /* bytes of one gateway answer */
#define ETCD_URL_MAX  (DIR_HOST_MAX + 64)
#define ETCD_B64_MAX  (((TERN_DESCRIPTOR_WIRE_MAX + 2) / 3) * 4 + 1)

struct etcd_state {
	CURL *curl;
	struct curl_slist *headers;
	unsigned int cur_ep; /* the endpoint that answered last */
	int64_t lease;	     /* 0: none granted yet (or lost) */
};

struct etcd_buf {
	char *data;
	size_t len;
	bool overflow;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void
curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *
b64_encode(const void *in, size_t len)
{
	const uint8_t *p = in;
	size_t i, o = 0;
	uint32_t v;
	char *out;

	out = malloc((len + 2) / 3 * 4 + 1);
	if (out == NULL)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (i < len) {
		v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

static int
b64_value(char c)
{
	const char *p = c != '\0' ? strchr(b64_alphabet, c) : NULL;

	return p == NULL ? -1 : (int)(p - b64_alphabet);
}

/* Strict decoding (padding required) into a malloc'd NUL-terminated buffer. */
static int
b64_decode(const char *in, size_t len, char **out, size_t *out_len)
{
	size_t i, o = 0, pad = 0;
	int a, b, c, d;
	char *buf;

	if (len % 4 != 0)
		return -EPROTO;
	if (len > 0 && in[len - 1] == '=')
		pad = len > 1 && in[len - 2] == '=' ? 2 : 1;
	buf = malloc(len / 4 * 3 + 1);
	if (buf == NULL)
		return -ENOMEM;
	for (i = 0; i < len; i += 4) {
		a = b64_value(in[i]);
		b = b64_value(in[i + 1]);
		c = i + 4 == len && pad == 2 ? 0 : b64_value(in[i + 2]);
		d = i + 4 == len && pad >= 1 ? 0 : b64_value(in[i + 3]);
		if (a < 0 || b < 0 || c < 0 || d < 0) {
			free(buf);
			return -EPROTO;
		}
		buf[o++] = (char)(a << 2 | b >> 4);
		buf[o++] = (char)((b & 15) << 4 | c >> 2);
		buf[o++] = (char)((c & 3) << 6 | d);
	}
	o -= pad;
	buf[o] = '\0';
	*out = buf;
	*out_len = o;
	return 0;
}

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct etcd_buf *b = arg;
	size_t n = size * nmemb;
	char *grown;

	if (b->len + n > ETCD_RESP_MAX) {
		b->overflow = true;
		return 0;
	}
	grown = realloc(b->data, b->len + n + 1);
	if (grown == NULL)
		return 0;
	memcpy(grown + b->len, ptr, n);
	b->len += n;
	grown[b->len] = '\0';
	b->data = grown;
	return n;
}

static int
curl_errno(CURLcode res)
{
	switch (res) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* A 64-bit integer the gateway sends as a string (or, leniently, a number). */
static int
json_i64(json_t *obj, const char *key, int64_t *value)
{
	json_t *v = json_object_get(obj, key);
	const char *s;
	char *end;

	if (json_is_integer(v)) {
		*value = json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -ENOENT;
	s = json_string_value(v);
	if (s[0] == '\0' || strlen(s) > 20)
		return -EPROTO;
	errno = 0;
	*value = strtoll(s, &end, 10);
	return errno != 0 || *end != '\0' ? -EPROTO : 0;
}

/* POST @p req (consumed) to @p path; the answer's JSON in *resp (may be NULL). */
static int
etcd_call(struct tern_directory *dir, const char *path, json_t *req, json_t **resp)
{
	struct etcd_state *st = dir->backend;
	struct etcd_buf b = { 0 };
	const struct directory_endpoint *ep;
	char url[ETCD_URL_MAX];
	unsigned int tries;
	json_error_t err;
	json_t *root;
	CURLcode res = CURLE_OK;
	long code = 0;
	char *body;
	int rc = 0;

	if (req == NULL)
		return -ENOMEM;
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (body == NULL)
		return -ENOMEM;
	for (tries = 0; tries < dir->nb_ep; tries++) {
		ep = &dir->ep[st->cur_ep];
		snprintf(url, sizeof(url),
			 strchr(ep->host, ':') ? "http://[%s]:%u%s" : "http://%s:%u%s", ep->host,
			 ep->port, path);
		free(b.data);
		b = (struct etcd_buf){ 0 };
		curl_easy_setopt(st->curl, CURLOPT_URL, url);
		curl_easy_setopt(st->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(st->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
		curl_easy_setopt(st->curl, CURLOPT_WRITEDATA, &b);
		res = curl_easy_perform(st->curl);
		if (res == CURLE_OK || b.overflow)
			break;
		DIR_LOG(WARNING, "etcd %s:%u: %s", ep->host, ep->port, curl_easy_strerror(res));
		st->cur_ep = (st->cur_ep + 1) % dir->nb_ep;
	}
	free(body);
	if (b.overflow)
		rc = -EMSGSIZE;
	else if (res != CURLE_OK)
		rc = curl_errno(res);
	if (rc == 0) {
		curl_easy_getinfo(st->curl, CURLINFO_RESPONSE_CODE, &code);
		root = b.data != NULL ? json_loadb(b.data, b.len, 0, &err) : NULL;
		if (code != 200) {
			/* Gateway errors: {"error": ..., "code": N, "message": ...} */
			rc = b.data != NULL && strstr(b.data, "lease not found") != NULL ? -ENOLINK
											 : -EIO;
			if (rc == -EIO)
				DIR_LOG(WARNING, "etcd %s: HTTP %ld: %.200s", path, code,
					b.data != NULL ? b.data : "");
			json_decref(root);
		} else if (!json_is_object(root)) {
			DIR_LOG(WARNING, "etcd %s: answer is not a JSON object", path);
			json_decref(root);
			rc = -EPROTO;
		} else if (resp != NULL) {
			*resp = root;
		} else {
			json_decref(root);
		}
	}
	free(b.data);
	return rc;
}

static int
etcd_key(const struct tern_directory *dir, const char *node, const char *segment, char **b64)
{
	char key[DIR_KEY_MAX];
	int n;

	key[0] = '/';
	n = directory_key(dir, node, segment, key + 1, sizeof(key) - 1);
	if (n < 0)
		return n;
	*b64 = b64_encode(key, (size_t)n + 1);
	return *b64 == NULL ? -ENOMEM : 0;
}

static int
lease_grant(struct tern_directory *dir)
{
	struct etcd_state *st = dir->backend;
	json_t *resp;
	int64_t id;
	int rc;

	rc = etcd_call(dir, "/v3/lease/grant", json_pack("{s:i}", "TTL", (int)dir->conf.ttl_s),
		       &resp);
	if (rc < 0)
		return rc;
	rc = json_i64(resp, "ID", &id);
	json_decref(resp);
	if (rc < 0 || id <= 0)
		return -EPROTO;
	st->lease = id;
	return 0;
}

static int
put_one(struct tern_directory *dir, const struct directory_entry *e)
{
	struct etcd_state *st = dir->backend;
	char *key, *value, lease[24];
	int rc;

	rc = etcd_key(dir, e->node, e->segment, &key);
	if (rc < 0)
		return rc;
	value = b64_encode(e->json, e->len);
	if (value == NULL) {
		free(key);
		return -ENOMEM;
	}
	snprintf(lease, sizeof(lease), "%lld", (long long)st->lease);
	rc = etcd_call(dir, "/v3/kv/put",
		       json_pack("{s:s, s:s, s:s}", "key", key, "value", value, "lease", lease),
		       NULL);
	free(key);
	free(value);
	return rc;
}

/* A new lease and everything published written again under it. */
static int
republish(struct tern_directory *dir)
{
	struct directory_entry *all;
	int n, i, rc;

	rc = lease_grant(dir);
	if (rc < 0)
		return rc;
	n = directory_published_snapshot(dir, &all);
	if (n < 0)
		return n;
	for (i = 0; i < n && rc == 0; i++)
		rc = put_one(dir, &all[i]);
	directory_entries_free(all, (unsigned int)n);
	if (rc == 0 && n > 0)
		DIR_LOG(NOTICE, "etcd: lease lost, %d descriptors written again under lease %lld",
			n, (long long)((struct etcd_state *)dir->backend)->lease);
	return rc;
}

static int
etcd_put(struct tern_directory *dir, const struct directory_entry *e)
{
	struct etcd_state *st = dir->backend;
	int rc;

	if (st->lease == 0) {
		rc = republish(dir);
		if (rc < 0)
			return rc;
	}
	rc = put_one(dir, e);
	if (rc == -ENOLINK) {
		st->lease = 0;
		rc = republish(dir);
		if (rc == 0)
			rc = put_one(dir, e);
	}
	return rc;
}

static int
etcd_del(struct tern_directory *dir, const char *node, const char *segment)
{
	char *key;
	int rc;

	rc = etcd_key(dir, node, segment, &key);
	if (rc < 0)
		return rc;
	rc = etcd_call(dir, "/v3/kv/deleterange", json_pack("{s:s}", "key", key), NULL);
	free(key);
	return rc;
}

/* Each kv's value, base64-decoded, to @p cb with its key minus the first
 * @p key_skip bytes (the "/<prefix>/<node>/" the range asked for). */
static int
range_values(json_t *resp, size_t key_skip, directory_list_cb cb, void *arg, unsigned int *found)
{
	json_t *kvs = json_object_get(resp, "kvs"), *kv, *v, *k;
	size_t i, len, klen;
	char *value, *key;
	int rc = 0;

	*found = 0;
	if (kvs == NULL)
		return 0;
	if (!json_is_array(kvs))
		return -EPROTO;
	json_array_foreach(kvs, i, kv)
	{
		v = json_object_get(kv, "value");
		k = json_object_get(kv, "key");
		if (!json_is_string(v) || json_string_length(v) >= ETCD_B64_MAX ||
		    !json_is_string(k) || json_string_length(k) >= ETCD_B64_MAX)
			return -EPROTO;
		rc = b64_decode(json_string_value(k), json_string_length(k), &key, &klen);
		if (rc < 0)
			return rc;
		if (klen < key_skip) {
			free(key);
			return -EPROTO;
		}
		rc = b64_decode(json_string_value(v), json_string_length(v), &value, &len);
		if (rc == 0) {
			rc = cb(arg, key + key_skip, value, len);
			free(value);
		}
		free(key);
		if (rc < 0)
			return rc;
		(*found)++;
	}
	return 0;
}

struct get_state {
	char *json;
	size_t len;
};

static int
get_one(void *arg, const char *segment, const char *json, size_t len)
{
	struct get_state *gs = arg;

	RTE_SET_USED(segment);
	if (gs->json != NULL)
		return -EPROTO;
	gs->json = strndup(json, len);
	gs->len = len;
	return gs->json == NULL ? -ENOMEM : 0;
}

static int
etcd_get(struct tern_directory *dir, const char *node, const char *segment, char **json,
	 size_t *len)
{
	struct get_state gs = { 0 };
	unsigned int found;
	json_t *resp;
	char *key;
	int rc;

	rc = etcd_key(dir, node, segment, &key);
	if (rc < 0)
		return rc;
	rc = etcd_call(dir, "/v3/kv/range", json_pack("{s:s}", "key", key), &resp);
	free(key);
	if (rc < 0)
		return rc;
	rc = range_values(resp, 0, get_one, &gs, &found);
	json_decref(resp);
	if (rc == 0 && found == 0)
		rc = -ENOENT;
	if (rc < 0) {
		free(gs.json);
		return rc;
	}
	*json = gs.json;
	*len = gs.len;
	return 0;
}

static int
etcd_list(struct tern_directory *dir, const char *node, directory_list_cb cb, void *arg)
{
	char key[DIR_KEY_MAX], *from, *to;
	unsigned int found;
	json_t *resp;
	int n, rc;

	key[0] = '/';
	n = directory_key(dir, node, NULL, key + 1, sizeof(key) - 1);
	if (n < 0)
		return n;
	from = b64_encode(key, (size_t)n + 1);
	key[n] = '/' + 1; /* range end: the prefix's last byte plus one */
	to = b64_encode(key, (size_t)n + 1);
	rc = from == NULL || to == NULL ? -ENOMEM : 0;
	if (rc == 0)
		rc = etcd_call(dir, "/v3/kv/range",
			       json_pack("{s:s, s:s, s:i}", "key", from, "range_end", to, "limit",
					 DIR_LIST_MAX),
			       &resp);
	free(from);
	free(to);
	if (rc < 0)
		return rc;
	rc = range_values(resp, (size_t)n + 1, cb, arg, &found);
	json_decref(resp);
	return rc;
}

static int
etcd_keepalive(struct tern_directory *dir)
{
	struct etcd_state *st = dir->backend;
	json_t *resp, *result;
	int64_t ttl = 0;
	char id[24];
	int rc;

	if (st->lease == 0)
		return dir->nb_published > 0 ? republish(dir) : 0;
	snprintf(id, sizeof(id), "%lld", (long long)st->lease);
	rc = etcd_call(dir, "/v3/lease/keepalive", json_pack("{s:s}", "ID", id), &resp);
	if (rc == -ENOLINK) {
		/* etcd answers TTL 0 for a lost lease, but a gateway that reports it
		 * as an error must not leave the lease set and every later
		 * keepalive failing the same way. */
		st->lease = 0;
		return republish(dir);
	}
	if (rc < 0)
		return rc;
	/* A streaming call: one {"result": {...}} per message. TTL <= 0 or absent:
	 * the lease expired before we renewed it. */
	result = json_object_get(resp, "result");
	if (!json_is_object(result) || json_i64(result, "TTL", &ttl) < 0)
		ttl = 0;
	json_decref(resp);
	if (ttl > 0)
		return 0;
	st->lease = 0;
	return republish(dir);
}

static int
etcd_init(struct tern_directory *dir)
{
	struct etcd_state *st;

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return -ENOMEM;
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return -ENOMEM;
	st->curl = curl_easy_init();
	st->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (st->curl == NULL || st->headers == NULL) {
		curl_easy_cleanup(st->curl);
		curl_slist_free_all(st->headers);
		free(st);
		return -ENOMEM;
	}
	curl_easy_setopt(st->curl, CURLOPT_HTTPHEADER, st->headers);
	curl_easy_setopt(st->curl, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(st->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(st->curl, CURLOPT_TIMEOUT_MS, (long)dir->conf.timeout_ms);
	curl_easy_setopt(st->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)dir->conf.timeout_ms);
	curl_easy_setopt(st->curl, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(st->curl, CURLOPT_NOPROXY, "*");
	dir->backend = st;
	return 0;
}

static void
etcd_fini(struct tern_directory *dir)
{
	struct etcd_state *st = dir->backend;
	char id[24];

	if (st->lease != 0) {
		/* Revoking deletes every key attached to the lease. */
		snprintf(id, sizeof(id), "%lld", (long long)st->lease);
		if (etcd_call(dir, "/v3/lease/revoke", json_pack("{s:s}", "ID", id), NULL) < 0)
			DIR_LOG(WARNING, "etcd: could not revoke lease %s; it expires in %u s", id,
				dir->conf.ttl_s);
	}
	curl_easy_cleanup(st->curl);
	curl_slist_free_all(st->headers);
	free(st);
	dir->backend = NULL;
}

/* ---- the key-value space: keys without lease, a transaction to create ---- */

static int
etcd_kv_put(struct tern_directory *dir, const char *key, size_t klen, const void *value, size_t len,
	    bool create)
{
	char *k = NULL, *v = NULL, *full;
	json_t *req, *resp = NULL, *ok;
	int rc = -ENOMEM;

	full = malloc(klen + 1);
	if (full != NULL) {
		full[0] = '/';
		memcpy(full + 1, key, klen);
		k = b64_encode(full, klen + 1);
		v = b64_encode(value, len);
	}
	free(full);
	if (k == NULL || v == NULL)
		goto out;
	if (!create) {
		rc = etcd_call(dir, "/v3/kv/put", json_pack("{s:s, s:s}", "key", k, "value", v),
			       NULL);
		goto out;
	}
	/* Put only if the key's create revision is 0: it does not exist. */
	req = json_pack("{s:[{s:s, s:s, s:s, s:s}], s:[{s:{s:s, s:s}}]}", "compare", "key", k,
			"result", "EQUAL", "target", "CREATE", "create_revision", "0", "success",
			"request_put", "key", k, "value", v);
	rc = etcd_call(dir, "/v3/kv/txn", req, &resp);
	if (rc == 0) {
		/* proto3 JSON leaves out a false "succeeded". */
		ok = json_object_get(resp, "succeeded");
		if (ok != NULL && !json_is_boolean(ok))
			rc = -EPROTO;
		else
			rc = json_is_true(ok) ? 0 : -EEXIST;
		json_decref(resp);
	}
out:
	free(k);
	free(v);
	return rc;
}

static int
etcd_kv_swap(struct tern_directory *dir, const char *key, size_t klen, const void *expect,
	     size_t elen, const void *value, size_t len)
{
	char *k = NULL, *v = NULL, *x = NULL, *full;
	json_t *req, *resp = NULL, *ok;
	int rc = -ENOMEM;

	full = malloc(klen + 1);
	if (full != NULL) {
		full[0] = '/';
		memcpy(full + 1, key, klen);
		k = b64_encode(full, klen + 1);
		v = b64_encode(value, len);
		x = b64_encode(expect, elen);
	}
	free(full);
	if (k != NULL && v != NULL && x != NULL) {
		/* Put only if the key's value is @expect (absent: no match). */
		req = json_pack("{s:[{s:s, s:s, s:s, s:s}], s:[{s:{s:s, s:s}}]}", "compare", "key",
				k, "result", "EQUAL", "target", "VALUE", "value", x, "success",
				"request_put", "key", k, "value", v);
		rc = etcd_call(dir, "/v3/kv/txn", req, &resp);
	}
	if (rc == 0) {
		ok = json_object_get(resp, "succeeded");
		if (ok != NULL && !json_is_boolean(ok))
			rc = -EPROTO;
		else
			rc = json_is_true(ok) ? 0 : -ESTALE;
		json_decref(resp);
	}
	free(k);
	free(v);
	free(x);
	return rc;
}

/* Creates in one transaction per ETCD_TXN_KEYS keys: every compare must
 * hold; a transaction that fails (a key exists) changes nothing, and its
 * keys are then created one by one for exact results. Plain puts: one by
 * one (a replace has no per-key outcome to batch). */
#define ETCD_TXN_KEYS 64

static void
etcd_kv_put_n(struct tern_directory *dir, unsigned int n, const char *const *keys,
	      const size_t *klens, const void *const *values, const size_t *lens, bool create,
	      int *results)
{
	unsigned int i, j, end;

	for (i = 0; i < n; i = end) {
		json_t *cmp, *ops, *req, *resp = NULL, *ok;
		int rc = -ENOMEM;

		end = i + ETCD_TXN_KEYS < n ? i + ETCD_TXN_KEYS : n;
		if (!create || end - i == 1)
			goto one_by_one;
		cmp = json_array();
		ops = json_array();
		for (j = i; j < end && cmp != NULL && ops != NULL; j++) {
			char *full = malloc(klens[j] + 1), *k = NULL, *v = NULL;

			if (full != NULL) {
				full[0] = '/';
				memcpy(full + 1, keys[j], klens[j]);
				k = b64_encode(full, klens[j] + 1);
				v = b64_encode(values[j], lens[j]);
			}
			free(full);
			if (k == NULL || v == NULL ||
			    json_array_append_new(cmp,
						  json_pack("{s:s, s:s, s:s, s:s}", "key", k,
							    "result", "EQUAL", "target", "CREATE",
							    "create_revision", "0")) != 0 ||
			    json_array_append_new(ops, json_pack("{s:{s:s, s:s}}", "request_put",
								 "key", k, "value", v)) != 0) {
				free(k);
				free(v);
				break;
			}
			free(k);
			free(v);
		}
		if (cmp == NULL || ops == NULL || j < end) {
			json_decref(cmp);
			json_decref(ops);
			for (j = i; j < end; j++)
				results[j] = -ENOMEM;
			continue;
		}
		req = json_pack("{s:o, s:o}", "compare", cmp, "success", ops);
		rc = etcd_call(dir, "/v3/kv/txn", req, &resp);
		if (rc == 0) {
			ok = json_object_get(resp, "succeeded");
			rc = ok != NULL && !json_is_boolean(ok) ? -EPROTO
			     : json_is_true(ok)			? 0
								: -EEXIST;
			json_decref(resp);
		}
		if (rc != -EEXIST) {
			/* Applied, or an error for every key (the transaction is
			 * all or nothing: an ambiguous error is ambiguous for all). */
			for (j = i; j < end; j++)
				results[j] = rc;
			continue;
		}
	one_by_one:
		for (j = i; j < end; j++)
			results[j] =
				etcd_kv_put(dir, keys[j], klens[j], values[j], lens[j], create);
	}
}

/* The range [from, to) of "/<key>..." (to NULL: the key alone), base64. */
static int
etcd_kv_range(const char *key, size_t klen, bool prefix, char **from, char **to)
{
	char *full = malloc(klen + 1);

	*from = *to = NULL;
	if (full == NULL)
		return -ENOMEM;
	full[0] = '/';
	memcpy(full + 1, key, klen);
	*from = b64_encode(full, klen + 1);
	if (prefix) {
		full[klen]++; /* the range end: the prefix's last byte plus one (<= 0x7f) */
		*to = b64_encode(full, klen + 1);
	}
	free(full);
	return *from == NULL || (prefix && *to == NULL) ? -ENOMEM : 0;
}

static int
etcd_kv_get(struct tern_directory *dir, const char *key, size_t klen, char **value, size_t *len)
{
	struct get_state gs = { 0 };
	unsigned int found;
	char *from, *to;
	json_t *resp;
	int rc;

	rc = etcd_kv_range(key, klen, false, &from, &to);
	if (rc == 0)
		rc = etcd_call(dir, "/v3/kv/range", json_pack("{s:s}", "key", from), &resp);
	free(from);
	if (rc < 0)
		return rc;
	rc = range_values(resp, 0, get_one, &gs, &found);
	json_decref(resp);
	if (rc == 0 && found == 0)
		rc = -ENOENT;
	if (rc < 0) {
		free(gs.json);
		return rc;
	}
	*value = gs.json;
	*len = gs.len;
	return 0;
}

/* One range response of a kv_get_n transaction for "/<key>": 0 (*value a
 * malloc'd copy), -ENOENT, or -EPROTO (not exactly that key, more than one,
 * a malformed field). */
static int
etcd_range_one(json_t *rr, const char *key, size_t klen, char **value, size_t *len)
{
	json_t *kvs = json_object_get(rr, "kvs"), *kv, *k, *v;
	char *dk = NULL, *dv = NULL;
	size_t dklen = 0, dvlen = 0;
	int rc;

	if (!json_is_object(rr))
		return -EPROTO;
	if (kvs == NULL || (json_is_array(kvs) && json_array_size(kvs) == 0))
		return -ENOENT; /* proto3 JSON leaves out an empty "kvs" */
	if (!json_is_array(kvs) || json_array_size(kvs) != 1)
		return -EPROTO;
	kv = json_array_get(kvs, 0);
	k = json_object_get(kv, "key");
	v = json_object_get(kv, "value");
	if (!json_is_string(k) || json_string_length(k) >= ETCD_B64_MAX ||
	    (v != NULL && (!json_is_string(v) || json_string_length(v) >= ETCD_B64_MAX)))
		return -EPROTO;
	rc = b64_decode(json_string_value(k), json_string_length(k), &dk, &dklen);
	if (rc == 0 && (dklen != klen + 1 || dk[0] != '/' || memcmp(dk + 1, key, klen) != 0))
		rc = -EPROTO;
	free(dk);
	/* proto3 JSON leaves out an empty value: the kv space never writes one. */
	if (rc == 0 && v == NULL)
		rc = -EPROTO;
	if (rc == 0)
		rc = b64_decode(json_string_value(v), json_string_length(v), &dv, &dvlen);
	if (rc == 0 && (dvlen == 0 || dvlen > TERN_DIRECTORY_KV_VALUE_MAX)) {
		free(dv);
		rc = -EPROTO;
	}
	if (rc < 0)
		return rc;
	*value = dv;
	*len = dvlen;
	return 0;
}

/* The answer of a kv_get_n transaction of @n range requests, for
 * "/<keys[i]>": each key's value (a malloc'd copy), -ENOENT or -EPROTO; an
 * answer that is not a succeeded transaction with one range response per
 * key, in order, each holding that key alone or nothing, fails every key
 * with -EPROTO. */
static void
directory_etcd_get_n_answer(json_t *resp, unsigned int n, const char *const *keys,
			    const size_t *klens, char **values, size_t *lens, int *results)
{
	json_t *ok = json_object_get(resp, "succeeded"), *rs = json_object_get(resp, "responses");
	unsigned int j;
	int rc = 0;

	for (j = 0; j < n; j++) {
		values[j] = NULL;
		lens[j] = 0;
	}
	if (!json_is_true(ok) || !json_is_array(rs) || json_array_size(rs) != n)
		rc = -EPROTO;
	for (j = 0; j < n && rc == 0; j++) {
		json_t *one = json_array_get(rs, j), *rr = json_object_get(one, "response_range");

		if (!json_is_object(one) || json_object_size(one) != 1)
			rc = -EPROTO;
		else
			results[j] = etcd_range_one(rr, keys[j], klens[j], &values[j], &lens[j]);
		if (rc == 0 && results[j] != 0 && results[j] != -ENOENT)
			rc = results[j];
	}
	if (rc == 0)
		return;
	for (j = 0; j < n; j++) {
		free(values[j]);
		values[j] = NULL;
		lens[j] = 0;
		results[j] = rc;
	}
}

/* Gets in one transaction of range requests per ETCD_TXN_KEYS keys (no
 * compare: it always succeeds, and reads one revision). An answer that is
 * not one range response per key, in order, fails every key of that
 * transaction with -EPROTO. */
static void
etcd_kv_get_n(struct tern_directory *dir, unsigned int n, const char *const *keys,
	      const size_t *klens, char **values, size_t *lens, int *results)
{
	unsigned int i, j, end;

	for (i = 0; i < n; i = end) {
		json_t *ops, *resp = NULL;
		int rc = 0;

		end = i + ETCD_TXN_KEYS < n ? i + ETCD_TXN_KEYS : n;
		ops = json_array();
		for (j = i; j < end && ops != NULL && rc == 0; j++) {
			char *from, *to;

			rc = etcd_kv_range(keys[j], klens[j], false, &from, &to);
			if (rc == 0 &&
			    json_array_append_new(
				    ops, json_pack("{s:{s:s}}", "request_range", "key", from)) != 0)
				rc = -ENOMEM;
			free(from);
		}
		if (ops == NULL)
			rc = -ENOMEM;
		if (rc == 0)
			rc = etcd_call(dir, "/v3/kv/txn",
				       json_pack("{s:[], s:o}", "compare", "success", ops), &resp);
		else
			json_decref(ops);
		if (rc == 0) {
			directory_etcd_get_n_answer(resp, end - i, keys + i, klens + i, values + i,
						    lens + i, results + i);
			json_decref(resp);
			continue;
		}
		for (j = i; j < end; j++)
			results[j] = rc;
	}
}

static int
etcd_kv_del(struct tern_directory *dir, const char *key, size_t klen)
{
	char *from, *to;
	json_t *resp;
	int64_t deleted = 0;
	int rc;

	rc = etcd_kv_range(key, klen, false, &from, &to);
	if (rc == 0)
		rc = etcd_call(dir, "/v3/kv/deleterange", json_pack("{s:s}", "key", from), &resp);
	free(from);
	if (rc < 0)
		return rc;
	rc = json_i64(resp, "deleted", &deleted);
	json_decref(resp);
	if (rc == -EPROTO)
		return rc;
	return deleted > 0 ? 0 : -ENOENT; /* proto3 JSON leaves out "deleted": 0 */
}

static int
etcd_kv_list(struct tern_directory *dir, const char *prefix, size_t plen, size_t skip,
	     directory_list_cb cb, void *arg)
{
	unsigned int found;
	char *from, *to;
	json_t *resp;
	int rc;

	rc = etcd_kv_range(prefix, plen, true, &from, &to);
	if (rc == 0)
		rc = etcd_call(dir, "/v3/kv/range",
			       json_pack("{s:s, s:s}", "key", from, "range_end", to), &resp);
	free(from);
	free(to);
	if (rc < 0)
		return rc;
	/* + 1: the leading '/' of etcd keys. */
	rc = range_values(resp, skip + 1, cb, arg, &found);
	json_decref(resp);
	return rc;
}

const struct directory_backend_ops directory_etcd_ops = {
	.scheme = "etcd",
	.max_endpoints = DIR_ENDPOINT_MAX,
	.needs_prefix = true,
	.init = etcd_init,
	.fini = etcd_fini,
	.put = etcd_put,
	.del = etcd_del,
	.get = etcd_get,
	.list = etcd_list,
	.keepalive = etcd_keepalive,
	.kv_put = etcd_kv_put,
	.kv_put_n = etcd_kv_put_n,
	.kv_get = etcd_kv_get,
	.kv_get_n = etcd_kv_get_n,
	.kv_swap = etcd_kv_swap,
	.kv_del = etcd_kv_del,
	.kv_list = etcd_kv_list,
};
