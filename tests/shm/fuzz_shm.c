/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the shm transport's decoders: the export blob (what
 * a directory hands segment_import()), the request (what a client sends the
 * control thread), the reply (what a server sends back) and the boot_id
 * text, the notification and its answer. Whatever decodes must re-encode to the same bytes and
 * satisfy every rule of doc/shm.md.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shm_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t again[SHM_NTF_MAX], id[SHM_BOOT_ID_LEN];
	struct shm_ntf_rep nr;
	struct shm_ntf nt;
	struct shm_blob b;
	struct shm_req q;
	struct shm_rep r;
	size_t len;
	int n;

	if (shm_blob_decode(data, size, &b) == 0) {
		len = strlen(b.path);
		if (b.handle == 0 || b.length == 0 || b.path[0] != '/' || len < 2 ||
		    len >= SHM_PATH_MAX || size != SHM_BLOB_HDR_LEN + len + 1)
			abort();
		n = shm_blob_encode(again, sizeof(again), &b);
		if (n != (int)size || memcmp(again, data, size) != 0)
			abort();
	}
	if (shm_req_decode(data, size, &q) == 0) {
		if (size != SHM_REQ_LEN || q.handle == 0 || q.length == 0)
			abort();
		shm_req_encode(again, &q);
		if (memcmp(again, data, SHM_REQ_LEN) != 0)
			abort();
	}
	if (shm_rep_decode(data, size, &r) == 0) {
		if (size != SHM_REP_LEN || r.status > 0 || r.status < SHM_STATUS_MIN ||
		    (r.status == 0) != (r.length != 0))
			abort();
		shm_rep_encode(again, &r);
		if (memcmp(again, data, SHM_REP_LEN) != 0)
			abort();
	}
	if (shm_ntf_decode(data, size, &nt) == 0) {
		if (nt.msg_len > SHM_NTF_MSG_MAX || size != SHM_NTF_HDR_LEN + nt.msg_len ||
		    nt.sender[0] == 0 || memchr(nt.sender, 0, SHM_NTF_SENDER_LEN) == NULL)
			abort();
		n = shm_ntf_encode(again, sizeof(again), nt.cookie, nt.tag, nt.sender, nt.msg_len);
		if (n != (int)size || memcmp(again, data, size) != 0)
			abort();
	}
	if (shm_ntf_rep_decode(data, size, &nr) == 0) {
		if (size != SHM_NTF_REP_LEN || nr.status > 0 || nr.status < SHM_STATUS_MIN)
			abort();
		shm_ntf_rep_encode(again, &nr);
		if (memcmp(again, data, SHM_NTF_REP_LEN) != 0)
			abort();
	}
	(void)shm_boot_id_parse((const char *)data, size, id);
	return 0;
}
