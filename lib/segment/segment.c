/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/mempolicy.h>

#include <rte_errno.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_memzone.h>
#include <rte_string_fns.h>

#include <tern_cli.h>
#include <tern_transport_driver.h>

#include "tern_segment_driver.h"

RTE_LOG_REGISTER(tern_segment_logtype, tern.segment, INFO);
#define SEG_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, tern_segment_logtype, "tern_segment: " fmt "\n", ##__VA_ARGS__)

#define TABLE_NAME_MAX 16 /* keeps memzone names within RTE_MEMZONE_NAMESIZE */

static int
table_name_valid(const char *name)
{
	return tern_cli_check_name(name, TABLE_NAME_MAX) == 0;
}

static int
segment_name_valid(const char *name)
{
	return tern_cli_check_name_chars(name, TERN_SEGMENT_NAME_MAX, TERN_CLI_NAME_SEGMENT) == 0;
}

struct tern_segment_table *
tern_segment_table_create(const char *name, uint32_t capacity, int socket_id)
{
	char mz_name[RTE_MEMZONE_NAMESIZE];
	const struct rte_memzone *mz;
	struct tern_segment_table *tbl;
	size_t size;

	if (!table_name_valid(name) || capacity == 0 || capacity > TERN_SEGMENT_MAX) {
		rte_errno = EINVAL;
		return NULL;
	}
	snprintf(mz_name, sizeof(mz_name), "tern_seg_%s", name);
	if (rte_memzone_lookup(mz_name) != NULL) {
		rte_errno = EEXIST;
		return NULL;
	}
	RTE_BUILD_BUG_ON(offsetof(struct tern_segment, refs) < RTE_CACHE_LINE_SIZE);
	size = sizeof(*tbl) + (size_t)capacity * sizeof(struct tern_segment);
	mz = rte_memzone_reserve_aligned(mz_name, size, socket_id, 0, RTE_CACHE_LINE_SIZE);
	if (mz == NULL) {
		if (rte_errno != EEXIST)
			rte_errno = ENOMEM;
		return NULL;
	}
	tbl = mz->addr;
	memset(tbl, 0, size);
	snprintf(tbl->name, sizeof(tbl->name), "%s", name);
	tbl->capacity = capacity;
	tbl->memzone = mz;
	return tbl;
}

struct tern_segment_table *
tern_segment_table_lookup(const char *name)
{
	char mz_name[RTE_MEMZONE_NAMESIZE];
	const struct rte_memzone *mz;

	if (!table_name_valid(name)) {
		rte_errno = EINVAL;
		return NULL;
	}
	snprintf(mz_name, sizeof(mz_name), "tern_seg_%s", name);
	mz = rte_memzone_lookup(mz_name);
	if (mz == NULL) {
		rte_errno = ENOENT;
		return NULL;
	}
	return mz->addr;
}

int
tern_segment_table_free(struct tern_segment_table *tbl)
{
	if (tbl == NULL)
		return -EINVAL;
	if (tbl->nb_active != 0)
		return -EBUSY;
	return rte_memzone_free(tbl->memzone);
}

/* A slot is a candidate while it is not FREE (DRAINING still owns its range). */
static int
local_overlaps(const struct tern_segment_table *tbl, const uint8_t *base, uint64_t length)
{
	uint32_t i;

	for (i = 0; i < tbl->capacity; i++) {
		const struct tern_segment *s = &tbl->slots[i];

		if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == TERN_SEGMENT_FREE ||
		    s->kind != TERN_SEGMENT_LOCAL)
			continue;
		if (base < s->base + s->length && s->base < base + length)
			return 1;
	}
	return 0;
}

static int
name_taken(const struct tern_segment_table *tbl, const char *name)
{
	uint32_t handle;

	return tern_segment_find(tbl, name, &handle) == 0;
}

static struct tern_segment *
slot_claim(struct tern_segment_table *tbl)
{
	uint32_t i;

	for (i = 0; i < tbl->capacity; i++)
		if (__atomic_load_n(&tbl->slots[i].state, __ATOMIC_ACQUIRE) == TERN_SEGMENT_FREE)
			return &tbl->slots[i];
	return NULL;
}

static void
slot_publish(struct tern_segment_table *tbl, struct tern_segment *seg, uint32_t *handle)
{
	uint32_t slot = (uint32_t)(seg - tbl->slots);

	seg->generation = (seg->generation + 1) & 0xffffu;
	if (seg->generation == 0)
		seg->generation = 1; /* handle 0 is TERN_SEGMENT_INVALID */
	seg->handle = seg->generation << 16 | slot;
	tbl->nb_active++;
	*handle = seg->handle;
	__atomic_store_n(&seg->state, TERN_SEGMENT_ACTIVE, __ATOMIC_RELEASE);
}

int
tern_segment_register(struct tern_segment_table *tbl, const struct tern_segment_conf *conf,
		      uint32_t *handle)
{
	const char *transport;
	struct tern_segment *seg;
	uint16_t kind;
	int tid;

	if (tbl == NULL || conf == NULL || handle == NULL || !segment_name_valid(conf->name) ||
	    conf->length == 0)
		return -EINVAL;
	kind = conf->kind == 0 ? TERN_SEGMENT_LOCAL : conf->kind;
	if (kind != TERN_SEGMENT_LOCAL && kind != TERN_SEGMENT_REMOTE)
		return -EINVAL;
	if (conf->priv_len > TERN_SEGMENT_PRIV_SIZE ||
	    (conf->priv_len != 0 && conf->priv == NULL) || conf->peer >= TERN_SEGMENT_PEER_MAX)
		return -EINVAL;
	if (kind == TERN_SEGMENT_LOCAL &&
	    (conf->addr == NULL || (uintptr_t)conf->addr + conf->length < (uintptr_t)conf->addr))
		return -EINVAL;
	transport = conf->transport;
	if (transport == NULL) {
		if (kind == TERN_SEGMENT_REMOTE)
			return -EINVAL;
		transport = "memcpy";
	}
	tid = tern_transport_id(transport);
	if (tid < 0)
		return -ENOENT;
	if (name_taken(tbl, conf->name))
		return -EEXIST;
	if (kind == TERN_SEGMENT_LOCAL && local_overlaps(tbl, conf->addr, conf->length))
		return -EEXIST;
	seg = slot_claim(tbl);
	if (seg == NULL)
		return -ENOSPC;

	seg->base = conf->addr;
	seg->length = conf->length;
	seg->kind = kind;
	seg->transport = (uint16_t)tid;
	seg->socket_id = conf->socket_id;
	seg->flags = 0;
	seg->fd = -1;
	seg->peer = conf->peer;
	seg->memzone = NULL;
	snprintf(seg->name, sizeof(seg->name), "%s", conf->name);
	memset(seg->priv, 0, sizeof(seg->priv));
	if (conf->priv_len != 0)
		memcpy(seg->priv, conf->priv, conf->priv_len);
	slot_publish(tbl, seg, handle);
	SEG_LOG(DEBUG, "registered %s (%s, %" PRIu64 " bytes) as %#x", seg->name, transport,
		seg->length, *handle);
	return 0;
}

int
tern_segment_alloc(struct tern_segment_table *tbl, const char *name, uint64_t length, int socket_id,
		   uint32_t *handle)
{
	char mz_name[RTE_MEMZONE_NAMESIZE];
	const struct rte_memzone *mz;
	struct tern_segment_conf conf;
	struct tern_segment *seg;
	uint32_t slot;
	int ret;

	if (tbl == NULL || handle == NULL || !segment_name_valid(name) || length == 0)
		return -EINVAL;
	if (name_taken(tbl, name))
		return -EEXIST;
	seg = slot_claim(tbl);
	if (seg == NULL)
		return -ENOSPC;
	slot = (uint32_t)(seg - tbl->slots);
	snprintf(mz_name, sizeof(mz_name), "tsg_%.15s_%x_%x", tbl->name, slot,
		 (seg->generation + 1) & 0xffffu);
	mz = rte_memzone_reserve_aligned(mz_name, length, socket_id, RTE_MEMZONE_SIZE_HINT_ONLY,
					 RTE_CACHE_LINE_SIZE);
	if (mz == NULL) {
		struct rte_malloc_socket_stats st;
		int sock = socket_id == SOCKET_ID_ANY ? (int)rte_socket_id() : socket_id;

		SEG_LOG(ERR, "cannot allocate %" PRIu64 " bytes for segment %s: %s", length, name,
			rte_strerror(rte_errno));
		if (rte_malloc_get_socket_stats(sock, &st) == 0 && st.greatest_free_size < length &&
		    st.heap_freesz_bytes >= length)
			SEG_LOG(ERR,
				"socket %d has %zu bytes free but its largest free block is %zu "
				"(with --legacy-mem, add --iova-mode=va: doc/operations.md)",
				sock, st.heap_freesz_bytes, st.greatest_free_size);
		return -ENOMEM;
	}
	conf = (struct tern_segment_conf){
		.name = name,
		.addr = mz->addr,
		.length = length,
		.kind = TERN_SEGMENT_LOCAL,
		.socket_id = mz->socket_id,
	};
	ret = tern_segment_register(tbl, &conf, handle);
	if (ret < 0) {
		rte_memzone_free(mz);
		return ret;
	}
	seg = &tbl->slots[tern_segment_handle_slot(*handle)];
	seg->flags |= TERN_SEGMENT_F_ALLOCATED;
	seg->memzone = mz;
	return 0;
}

#ifndef MFD_HUGE_2MB /* in <linux/memfd.h>, which clashes with glibc's <sys/mman.h> */
#define MFD_HUGE_2MB (21u << 26)
#endif
#define FILE_HUGE_BYTES (2ull << 20) /* MFD_HUGE_2MB */
#define FILE_PAGE_BYTES 4096ull
#define FILE_SEALS	(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#define FILE_LENGTH_MAX (1ull << 46) /* far beyond any machine; keeps rounding exact */

/* Undo file_create(): the mapping covers the whole (sealed) file. */
static void
file_unmap(void *addr, int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0)
		munmap(addr, (size_t)st.st_size);
	close(fd);
}

/* Prefer @p socket_id's memory for the pages populated next; best effort. */
static bool
file_bind_socket(void *addr, uint64_t size, int socket_id)
{
	unsigned long mask[RTE_MAX_NUMA_NODES / (8 * sizeof(unsigned long)) + 1] = { 0 };
	const unsigned int bits = 8 * sizeof(unsigned long);

	if (socket_id < 0 || socket_id >= RTE_MAX_NUMA_NODES)
		return false;
	mask[socket_id / bits] = 1ul << (socket_id % bits);
	return syscall(SYS_mbind, addr, size, MPOL_PREFERRED, mask, 8 * sizeof(mask), 0) == 0;
}

/*
 * Create, size, seal, map and populate a memfd: hugetlbfs pages when @p huge.
 * Populating with MADV_POPULATE_WRITE reports a page that cannot be had
 * (hugetlb pool or cgroup limit exhausted) as an error now instead of a
 * SIGBUS on an lcore later. Returns 0 or a negative errno.
 */
static int
file_create(const char *name, uint64_t length, int socket_id, bool huge, int *fd_out,
	    void **addr_out, int *socket_out)
{
	uint64_t size = RTE_ALIGN_CEIL(length, huge ? FILE_HUGE_BYTES : FILE_PAGE_BYTES);
	unsigned int flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
	char fname[TERN_SEGMENT_NAME_MAX + 8];
	bool bound;
	void *addr;
	int fd, ret;

	if (huge)
		flags |= MFD_HUGETLB | MFD_HUGE_2MB;
	/* Ordinary memfd pages are not reserved: populating more than the free
	 * memory would wake the OOM killer instead of failing. */
	else if (size / FILE_PAGE_BYTES > (uint64_t)sysconf(_SC_AVPHYS_PAGES) *
						  (uint64_t)sysconf(_SC_PAGESIZE) / FILE_PAGE_BYTES)
		return -ENOMEM;
	snprintf(fname, sizeof(fname), "tern:%s", name);
	fd = memfd_create(fname, flags);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) != 0 || fcntl(fd, F_ADD_SEALS, FILE_SEALS) != 0) {
		ret = -errno;
		goto fail;
	}
	/* With a NUMA socket, bind before the pages exist; else populate now. */
	addr = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_SHARED | (socket_id == SOCKET_ID_ANY ? MAP_POPULATE : 0), fd, 0);
	if (addr == MAP_FAILED) {
		ret = -errno;
		goto fail;
	}
	bound = file_bind_socket(addr, size, socket_id);
	/* EINVAL: a kernel older than 5.14; hugetlb pages were reserved by mmap. */
	if (madvise(addr, size, MADV_POPULATE_WRITE) != 0 && errno != EINVAL) {
		ret = -errno;
		munmap(addr, size);
		goto fail;
	}
	*fd_out = fd;
	*addr_out = addr;
	*socket_out = bound ? socket_id : SOCKET_ID_ANY;
	return 0;
fail:
	close(fd);
	return ret;
}

int
tern_segment_alloc_file(struct tern_segment_table *tbl, const char *name, uint64_t length,
			int socket_id, uint32_t *handle)
{
	struct tern_segment_conf conf;
	struct tern_segment *seg;
	void *addr;
	int fd, ret, socket;

	if (tbl == NULL || handle == NULL || !segment_name_valid(name) || length == 0)
		return -EINVAL;
	if (length > FILE_LENGTH_MAX)
		return -ENOMEM;
	if (name_taken(tbl, name))
		return -EEXIST;
	if (slot_claim(tbl) == NULL)
		return -ENOSPC;
	ret = file_create(name, length, socket_id, true, &fd, &addr, &socket);
	if (ret != 0) {
		SEG_LOG(INFO,
			"segment %s: no hugetlb memfd of %" PRIu64
			" bytes (%s): using ordinary shared pages",
			name, length, strerror(-ret));
		ret = file_create(name, length, socket_id, false, &fd, &addr, &socket);
	}
	if (ret != 0) {
		SEG_LOG(ERR, "segment %s: cannot create a sealed memfd of %" PRIu64 " bytes: %s",
			name, length, strerror(-ret));
		return -ENOMEM;
	}
	conf = (struct tern_segment_conf){
		.name = name,
		.addr = addr,
		.length = length,
		.kind = TERN_SEGMENT_LOCAL,
		.socket_id = socket,
	};
	ret = tern_segment_register(tbl, &conf, handle);
	if (ret < 0) {
		file_unmap(addr, fd);
		return ret;
	}
	seg = &tbl->slots[tern_segment_handle_slot(*handle)];
	seg->flags |= TERN_SEGMENT_F_FILE;
	seg->fd = fd;
	return 0;
}

static struct tern_segment *
segment_by_handle(const struct tern_segment_table *tbl, uint32_t handle)
{
	uint32_t slot = tern_segment_handle_slot(handle);
	const struct tern_segment *seg;

	if (handle == TERN_SEGMENT_INVALID || slot >= tbl->capacity)
		return NULL;
	seg = &tbl->slots[slot];
	if (__atomic_load_n(&seg->state, __ATOMIC_ACQUIRE) != TERN_SEGMENT_ACTIVE ||
	    seg->handle != handle)
		return NULL;
	return (struct tern_segment *)(uintptr_t)seg;
}

/* An active or retired slot holding @p handle (what unregister accepts). */
static struct tern_segment *
segment_in_table(const struct tern_segment_table *tbl, uint32_t handle, uint32_t *state)
{
	uint32_t slot = tern_segment_handle_slot(handle);
	const struct tern_segment *seg;

	if (handle == TERN_SEGMENT_INVALID || slot >= tbl->capacity)
		return NULL;
	seg = &tbl->slots[slot];
	*state = __atomic_load_n(&seg->state, __ATOMIC_ACQUIRE);
	if ((*state != TERN_SEGMENT_ACTIVE && *state != TERN_SEGMENT_RETIRED) ||
	    seg->handle != handle)
		return NULL;
	return (struct tern_segment *)(uintptr_t)seg;
}

int
tern_segment_retire(struct tern_segment_table *tbl, uint32_t handle)
{
	struct tern_segment *seg;
	uint32_t expected = TERN_SEGMENT_ACTIVE;

	if (tbl == NULL)
		return -EINVAL;
	seg = segment_by_handle(tbl, handle);
	if (seg == NULL ||
	    !__atomic_compare_exchange_n(&seg->state, &expected, TERN_SEGMENT_RETIRED, false,
					 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return -ENOENT;
	SEG_LOG(DEBUG, "retired %s (%#x)", seg->name, handle);
	return 0;
}

int
tern_segment_export(struct tern_segment_table *tbl, uint32_t handle)
{
	struct tern_segment *seg;

	if (tbl == NULL)
		return -EINVAL;
	seg = segment_by_handle(tbl, handle);
	if (seg == NULL || __atomic_load_n(&seg->state, __ATOMIC_ACQUIRE) != TERN_SEGMENT_ACTIVE)
		return -ENOENT;
	if (seg->kind != TERN_SEGMENT_LOCAL)
		return -EPERM;
	__atomic_fetch_or(&seg->flags, TERN_SEGMENT_F_EXPORTED, __ATOMIC_RELEASE);
	SEG_LOG(DEBUG, "exported %s (%#x)", seg->name, handle);
	return 0;
}

int
tern_segment_set_fallback(struct tern_segment_table *tbl, uint32_t handle, uint32_t fallback)
{
	struct tern_segment *seg, *fb;

	if (tbl == NULL)
		return -EINVAL;
	seg = segment_by_handle(tbl, handle);
	if (seg == NULL)
		return -ENOENT;
	if (seg->kind != TERN_SEGMENT_REMOTE)
		return -EINVAL;
	if (fallback == TERN_SEGMENT_INVALID) {
		__atomic_store_n(&seg->fallback, 0, __ATOMIC_RELEASE);
		return 0;
	}
	if (fallback == handle)
		return -EINVAL;
	fb = segment_by_handle(tbl, fallback);
	if (fb == NULL)
		return -ENOENT;
	if (fb->kind != TERN_SEGMENT_REMOTE || fb->transport == seg->transport ||
	    fb->length != seg->length || fb->fallback != 0)
		return -EINVAL;
	__atomic_store_n(&seg->fallback, (uint16_t)(tern_segment_handle_slot(fallback) + 1),
			 __ATOMIC_RELEASE);
	SEG_LOG(DEBUG, "%s (%#x): last resort %s (%#x)", seg->name, handle, fb->name, fallback);
	return 0;
}

/* Is slot @p slot the last resort of an active or retired segment? */
static bool
is_fallback(const struct tern_segment_table *tbl, uint32_t slot)
{
	uint32_t i;

	for (i = 0; i < tbl->capacity; i++) {
		uint32_t st = __atomic_load_n(&tbl->slots[i].state, __ATOMIC_ACQUIRE);

		if ((st == TERN_SEGMENT_ACTIVE || st == TERN_SEGMENT_RETIRED) &&
		    __atomic_load_n(&tbl->slots[i].fallback, __ATOMIC_ACQUIRE) == slot + 1)
			return true;
	}
	return false;
}

int
tern_segment_is_retired(const struct tern_segment_table *tbl, uint32_t handle)
{
	uint32_t state;

	return tbl != NULL && segment_in_table(tbl, handle, &state) != NULL &&
	       state == TERN_SEGMENT_RETIRED;
}

int
tern_segment_unregister(struct tern_segment_table *tbl, uint32_t handle)
{
	struct tern_segment *seg;
	uint32_t state, expected;

	if (tbl == NULL)
		return -EINVAL;
	seg = segment_in_table(tbl, handle, &state);
	if (seg == NULL)
		return -ENOENT;
	if (is_fallback(tbl, tern_segment_handle_slot(handle)))
		return -EBUSY;
	expected = state;
	if (!__atomic_compare_exchange_n(&seg->state, &expected, TERN_SEGMENT_DRAINING, false,
					 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return -ENOENT;
	/* Pairs with tern_segment_acquire(): reference, then state check. */
	if (__atomic_load_n(&seg->refs, __ATOMIC_SEQ_CST) != 0) {
		__atomic_store_n(&seg->state, state, __ATOMIC_SEQ_CST);
		return -EBUSY;
	}
	if (seg->flags & TERN_SEGMENT_F_ALLOCATED)
		rte_memzone_free(seg->memzone);
	if (seg->flags & TERN_SEGMENT_F_FILE) {
		file_unmap(seg->base, seg->fd);
		seg->fd = -1;
	}
	seg->memzone = NULL;
	seg->flags = 0;
	seg->fallback = 0;
	tbl->nb_active--;
	__atomic_store_n(&seg->state, TERN_SEGMENT_FREE, __ATOMIC_RELEASE);
	return 0;
}

int
tern_segment_find(const struct tern_segment_table *tbl, const char *name, uint32_t *handle)
{
	uint32_t i;

	if (tbl == NULL || name == NULL || handle == NULL)
		return -EINVAL;
	for (i = 0; i < tbl->capacity; i++) {
		const struct tern_segment *s = &tbl->slots[i];

		if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == TERN_SEGMENT_ACTIVE &&
		    strncmp(s->name, name, TERN_SEGMENT_NAME_MAX) == 0) {
			*handle = s->handle;
			return 0;
		}
	}
	return -ENOENT;
}

int
tern_segment_info(const struct tern_segment_table *tbl, uint32_t handle,
		  struct tern_segment_info *info)
{
	const struct tern_segment *seg;
	uint32_t state;

	if (tbl == NULL || info == NULL)
		return -EINVAL;
	seg = segment_in_table(tbl, handle, &state);
	if (seg == NULL)
		return -ENOENT;
	memcpy(info->name, seg->name, sizeof(info->name));
	info->addr = seg->base;
	info->length = seg->length;
	info->kind = seg->kind;
	info->transport = seg->transport;
	info->socket_id = seg->socket_id;
	info->refs = __atomic_load_n(&seg->refs, __ATOMIC_RELAXED);
	info->state = state;
	info->peer = seg->peer;
	return 0;
}

int
tern_segment_table_info(const struct tern_segment_table *tbl, struct tern_segment_table_info *info)
{
	if (tbl == NULL || info == NULL)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	rte_strlcpy(info->name, tbl->name, sizeof(info->name));
	info->capacity = tbl->capacity;
	info->nb_active = __atomic_load_n(&tbl->nb_active, __ATOMIC_RELAXED);
	return 0;
}

uint32_t
tern_segment_next(const struct tern_segment_table *tbl, uint32_t from_slot)
{
	uint32_t i;

	if (tbl == NULL)
		return TERN_SEGMENT_INVALID;
	for (i = from_slot; i < tbl->capacity; i++) {
		uint32_t state = __atomic_load_n(&tbl->slots[i].state, __ATOMIC_ACQUIRE);

		if (state == TERN_SEGMENT_ACTIVE || state == TERN_SEGMENT_RETIRED)
			return tbl->slots[i].handle;
	}
	return TERN_SEGMENT_INVALID;
}

static int
local_contains(const struct tern_segment *s, const uint8_t *p, uint64_t length)
{
	return s->kind == TERN_SEGMENT_LOCAL && p >= s->base && length <= s->length &&
	       (uint64_t)(p - s->base) <= s->length - length;
}

struct tern_segment *
tern_segment_lookup_local(struct tern_segment_table *tbl, const void *addr, uint64_t length,
			  uint32_t hint)
{
	const uint8_t *p = addr;
	struct tern_segment *seg;
	uint32_t i;

	if (tbl == NULL || addr == NULL || length == 0 || (uintptr_t)p + length < (uintptr_t)p)
		return NULL;
	if (hint != TERN_SEGMENT_INVALID && tern_segment_handle_slot(hint) < tbl->capacity) {
		seg = &tbl->slots[tern_segment_handle_slot(hint)];
		if (local_contains(seg, p, length) &&
		    tern_segment_lookup(tbl, hint, (uint64_t)(p - seg->base), length) != NULL)
			return seg;
	}
	for (i = 0; i < tbl->capacity; i++) {
		seg = &tbl->slots[i];
		if (__atomic_load_n(&seg->state, __ATOMIC_ACQUIRE) == TERN_SEGMENT_ACTIVE &&
		    local_contains(seg, p, length))
			return seg;
	}
	return NULL;
}
