/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the answers of tern_directory_kv_get_n()'s requests,
 * a Redis MGET reply (the bytes parsed by hiredis's reader) and an etcd
 * transaction's JSON, for two keys. Any answer gives each key a result
 * (0 with a value of 1..TERN_DIRECTORY_KV_VALUE_MAX bytes, -ENOENT, or an
 * error with no value), never a crash or a leak:
 *   build/tests/directory/fuzz_kv_get_n -max_total_time=60
 * The first byte chooses the backend (even: Redis, odd: etcd). etcd.c and
 * redis.c are compiled in (their static parsers, instrumented). */
#include "../../lib/directory/etcd.c"
#include "../../lib/directory/redis.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(char **values, const size_t *lens, const int *results)
{
	unsigned int i;

	for (i = 0; i < 2; i++) {
		if (results[i] == 0) {
			if (values[i] == NULL || lens[i] == 0 ||
			    lens[i] > TERN_DIRECTORY_KV_VALUE_MAX)
				abort();
		} else if (values[i] != NULL || results[i] > 0) {
			abort();
		}
		free(values[i]);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[2] = { "fk/~kv/k0", "fk/~kv/k1" };
	static const size_t klens[2] = { 9, 9 };
	char *values[2] = { NULL, NULL };
	size_t lens[2] = { 0, 0 };
	int results[2] = { 1, 1 };

	if (size < 1)
		return 0;
	if (data[0] % 2 == 0) {
		redisReader *rd = redisReaderCreate();
		void *reply = NULL;

		if (rd == NULL)
			return 0;
		if (redisReaderFeed(rd, (const char *)data + 1, size - 1) == REDIS_OK &&
		    redisReaderGetReply(rd, &reply) == REDIS_OK && reply != NULL) {
			directory_redis_mget_answer(reply, 2, values, lens, results);
			check(values, lens, results);
			freeReplyObject(reply);
		}
		redisReaderFree(rd);
	} else {
		json_t *resp = json_loadb((const char *)data + 1, size - 1, 0, NULL);

		if (resp != NULL) {
			directory_etcd_get_n_answer(resp, 2, keys, klens, values, lens, results);
			check(values, lens, results);
			json_decref(resp);
		}
	}
	return 0;
}
