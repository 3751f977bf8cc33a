/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: a p2p server's request parser (p2p_answer(), with the
 * "call" op of lib/store's owners) and the hex of a call's message. Any
 * request gets an answer or a refusal, never a crash; an answer is JSON
 * with v and status; a call reaches the handler only with a well-formed
 * message, and the hex decoder accepts exactly what the encoder writes.
 * p2p.c is compiled in (its static functions, instrumented):
 *   build/tests/directory/fuzz_p2p -max_total_time=60 */
#include "../../lib/directory/p2p.c"

int directory_logtype = RTE_LOGTYPE_USER1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
echo(void *arg, const char *node, const char *segment, const uint8_t *req, size_t len, uint8_t *rep)
{
	(void)arg;
	if (!tern_descriptor_name_valid(node) || !tern_descriptor_name_valid(segment) || len == 0 ||
	    len > TERN_DIRECTORY_P2P_MSG_MAX)
		abort();
	memcpy(rep, req, len);
	return (int)len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tern_directory dir;
	static bool init;
	uint8_t bin[TERN_DIRECTORY_P2P_MSG_MAX];
	char hex[2 * TERN_DIRECTORY_P2P_MSG_MAX + 1];
	char *resp = NULL;
	size_t len = 0;
	json_t *root;
	int n;

	if (!init) {
		rte_log_set_global_level(RTE_LOG_EMERG);
		pthread_mutex_init(&dir.pub_lock, NULL);
		dir.handler = echo;
		init = true;
	}
	if (size <= P2P_REQ_MAX && p2p_answer(&dir, (const char *)data, size, &resp, &len) == 0) {
		root = json_loadb(resp, len, 0, NULL);
		if (root == NULL || !json_is_integer(json_object_get(root, "v")) ||
		    !json_is_integer(json_object_get(root, "status")))
			abort();
		json_decref(root);
	}
	free(resp);
	n = hex_decode((const char *)data, size, bin);
	if (n > 0) {
		hex_encode(bin, (size_t)n, hex);
		if ((size_t)n * 2 != size || memcmp(hex, data, size) != 0)
			abort();
	}
	return 0;
}
