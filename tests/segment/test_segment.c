/* SPDX-License-Identifier: BSD-3-Clause */
/* The segment table: registration rules, handles, bounds, references. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include <cmocka.h>

#include <rte_errno.h>
#include <rte_memory.h>

#include <tern_segment_driver.h>
#include <tern_transport_driver.h>

#include "test_common.h"

static uint8_t arena[1 << 20] __attribute__((aligned(4096)));

static struct tern_segment_conf
local_conf(const char *name, void *addr, uint64_t len)
{
	struct tern_segment_conf c = {
		.name = name, .addr = addr, .length = len, .socket_id = SOCKET_ID_ANY
	};
	return c;
}

static void
table_create_rejects_bad_arguments(void **state)
{
	struct tern_segment_table *t;

	RTE_SET_USED(state);
	assert_null(tern_segment_table_create(NULL, 8, SOCKET_ID_ANY));
	assert_int_equal(rte_errno, EINVAL);
	assert_null(tern_segment_table_create("", 8, SOCKET_ID_ANY));
	assert_null(tern_segment_table_create("bad name", 8, SOCKET_ID_ANY));
	assert_null(tern_segment_table_create("waytoolongtablename", 8, SOCKET_ID_ANY));
	assert_null(tern_segment_table_create("ok", 0, SOCKET_ID_ANY));
	assert_null(tern_segment_table_create("ok", TERN_SEGMENT_MAX + 1, SOCKET_ID_ANY));
	assert_int_equal(rte_errno, EINVAL);
	t = tern_segment_table_create("ok", 4, SOCKET_ID_ANY);
	assert_non_null(t);
	assert_null(tern_segment_table_create("ok", 4, SOCKET_ID_ANY));
	assert_int_equal(rte_errno, EEXIST);
	assert_ptr_equal(tern_segment_table_lookup("ok"), t);
	assert_null(tern_segment_table_lookup("nope"));
	assert_int_equal(rte_errno, ENOENT);
	assert_int_equal(tern_segment_table_free(t), 0);
	assert_int_equal(tern_segment_table_free(NULL), -EINVAL);
}

static void
register_rejects_bad_input(void **state)
{
	struct tern_segment_table *t = tern_segment_table_create("reg", 4, SOCKET_ID_ANY);
	struct tern_segment_conf c;
	uint8_t priv[TERN_SEGMENT_PRIV_SIZE + 1] = { 0 };
	uint32_t h;

	RTE_SET_USED(state);
	c = local_conf("a", arena, 4096);
	assert_int_equal(tern_segment_register(NULL, &c, &h), -EINVAL);
	assert_int_equal(tern_segment_register(t, NULL, &h), -EINVAL);
	assert_int_equal(tern_segment_register(t, &c, NULL), -EINVAL);
	c = local_conf(NULL, arena, 4096);
	assert_int_equal(tern_segment_register(t, &c, &h), -EINVAL);
	c = local_conf("has space", arena, 4096);
	assert_int_equal(tern_segment_register(t, &c, &h), -EINVAL);
	c = local_conf("0123456789012345678901234567890123456789012345678", arena, 4096);
	assert_int_equal(tern_segment_register(t, &c, &h), -EINVAL);
	c = local_conf("zero", arena, 0);
	assert_int_equal(tern_segment_register(t, &c, &h), -EINVAL);
	c = local_conf("null", NULL, 4096);
	assert_int_equal(tern_segment_register(t, &c, &h), -EINVAL);
	c = local_conf("wrap", (void *)(UINTPTR_MAX - 100), 4096);
	assert_int_equal(tern_segment_register(t, &c, &h), -EINVAL);
	c = local_conf("kind", arena, 4096);
	c.kind = 7;
	assert_int_equal(tern_segment_register(t, &c, &h), -EINVAL);
	c = local_conf("tp", arena, 4096);
	c.transport = "no_such_transport";
	assert_int_equal(tern_segment_register(t, &c, &h), -ENOENT);
	c = local_conf("remote", NULL, 4096);
	c.kind = TERN_SEGMENT_REMOTE; /* a remote segment needs a transport */
	assert_int_equal(tern_segment_register(t, &c, &h), -EINVAL);
	c = local_conf("priv", arena, 4096);
	c.priv = priv;
	c.priv_len = sizeof(priv);
	assert_int_equal(tern_segment_register(t, &c, &h), -EINVAL);
	assert_int_equal(t->nb_active, 0);
	assert_int_equal(tern_segment_table_free(t), 0);
}

static void
names_and_ranges_are_unique_and_table_fills(void **state)
{
	struct tern_segment_table *t = tern_segment_table_create("uniq", 2, SOCKET_ID_ANY);
	struct tern_segment_table_info ti;
	struct tern_segment_conf c;
	uint32_t a, b, x;

	RTE_SET_USED(state);
	c = local_conf("a", arena, 4096);
	assert_int_equal(tern_segment_register(t, &c, &a), 0);
	c = local_conf("a", arena + 8192, 4096);
	assert_int_equal(tern_segment_register(t, &c, &x), -EEXIST);
	c = local_conf("overlap", arena + 4095, 10);
	assert_int_equal(tern_segment_register(t, &c, &x), -EEXIST);
	c = local_conf("b", arena + 4096, 4096);
	assert_int_equal(tern_segment_register(t, &c, &b), 0);
	c = local_conf("c", arena + 16384, 4096);
	assert_int_equal(tern_segment_register(t, &c, &x), -ENOSPC);
	/* What an application sees of the (opaque) table. */
	assert_int_equal(tern_segment_table_info(t, &ti), 0);
	assert_string_equal(ti.name, "uniq");
	assert_int_equal(ti.capacity, 2);
	assert_int_equal(ti.nb_active, 2);
	assert_int_equal(tern_segment_table_info(NULL, &ti), -EINVAL);
	assert_int_equal(tern_segment_table_info(t, NULL), -EINVAL);
	assert_int_equal(tern_segment_table_free(t), -EBUSY);
	assert_int_equal(tern_segment_find(t, "b", &x), 0);
	assert_int_equal(x, b);
	assert_int_equal(tern_segment_find(t, "zz", &x), -ENOENT);
	assert_int_equal(tern_segment_unregister(t, a), 0);
	assert_int_equal(tern_segment_unregister(t, b), 0);
	assert_int_equal(tern_segment_table_free(t), 0);
}

static void
acquire_checks_bounds_and_stale_handles(void **state)
{
	struct tern_segment_table *t = tern_segment_table_create("acq", 4, SOCKET_ID_ANY);
	struct tern_segment_conf c = local_conf("s", arena, 4096);
	struct tern_segment *s;
	uint32_t h, h2;

	RTE_SET_USED(state);
	assert_int_equal(tern_segment_register(t, &c, &h), 0);
	assert_non_null(s = tern_segment_acquire(t, h, 0, 4096, 1));
	tern_segment_release(s, 1);
	assert_non_null(s = tern_segment_acquire(t, h, 4095, 1, 1));
	tern_segment_release(s, 1);
	assert_null(tern_segment_acquire(t, h, 4095, 2, 1));
	assert_null(tern_segment_acquire(t, h, 4097, 0, 1));
	assert_null(tern_segment_acquire(t, h, UINT64_MAX, 2, 1));
	assert_null(tern_segment_acquire(t, h, 1, UINT64_MAX, 1));
	assert_null(tern_segment_acquire(t, 0xffff, 0, 1, 1));
	assert_null(tern_segment_acquire(t, TERN_SEGMENT_INVALID, 0, 1, 1));
	/* References block unregistering. */
	assert_non_null(s = tern_segment_acquire(t, h, 0, 1, 3));
	assert_int_equal(tern_segment_unregister(t, h), -EBUSY);
	tern_segment_release(s, 3);
	assert_int_equal(tern_segment_unregister(t, h), 0);
	assert_int_equal(tern_segment_unregister(t, h), -ENOENT);
	/* The slot is reused with a new generation: the old handle stays dead. */
	assert_int_equal(tern_segment_register(t, &c, &h2), 0);
	assert_int_not_equal(h, h2);
	assert_int_equal(tern_segment_handle_slot(h), tern_segment_handle_slot(h2));
	assert_null(tern_segment_acquire(t, h, 0, 1, 1));
	assert_int_equal(tern_segment_unregister(t, h2), 0);
	assert_int_equal(tern_segment_table_free(t), 0);
}

static void
lookup_local_finds_the_containing_segment_without_a_reference(void **state)
{
	struct tern_segment_table *t = tern_segment_table_create("loc", 8, SOCKET_ID_ANY);
	struct tern_segment_conf c;
	struct tern_segment *s;
	uint32_t a, b, r;

	RTE_SET_USED(state);
	c = local_conf("a", arena, 8192);
	assert_int_equal(tern_segment_register(t, &c, &a), 0);
	c = local_conf("b", arena + 65536, 8192);
	assert_int_equal(tern_segment_register(t, &c, &b), 0);
	c = local_conf("r", NULL, 1 << 20);
	c.kind = TERN_SEGMENT_REMOTE;
	c.transport = "memcpy";
	assert_int_equal(tern_segment_register(t, &c, &r), 0);
	s = tern_segment_lookup_local(t, arena + 65536 + 100, 100, TERN_SEGMENT_INVALID);
	assert_non_null(s);
	assert_int_equal(s->handle, b);
	assert_int_equal(s->refs, 0);
	s = tern_segment_lookup_local(t, arena + 10, 10, b); /* wrong hint */
	assert_non_null(s);
	assert_int_equal(s->handle, a);
	s = tern_segment_lookup_local(t, arena + 10, 10, a); /* right hint */
	assert_non_null(s);
	assert_int_equal(s->handle, a);
	assert_null(tern_segment_lookup_local(t, arena + 8000, 200, a)); /* straddles */
	assert_null(tern_segment_lookup_local(t, arena + 9000, 1, a));	 /* between */
	assert_null(tern_segment_lookup_local(t, NULL, 1, a));
	assert_null(tern_segment_lookup_local(t, arena, 0, a));
	assert_null(tern_segment_lookup_local(t, arena + 10, UINT64_MAX, a)); /* wraps */
	/* A lookup takes nothing: unregister is not refused. */
	assert_int_equal(tern_segment_unregister(t, a), 0);
	assert_int_equal(tern_segment_unregister(t, b), 0);
	assert_int_equal(tern_segment_unregister(t, r), 0);
	assert_int_equal(tern_segment_table_free(t), 0);
}

static void
alloc_gives_memory_and_info_describes_it(void **state)
{
	struct tern_segment_table *t = tern_segment_table_create("alloc", 4, SOCKET_ID_ANY);
	struct tern_segment_info info;
	uint32_t h, x;

	RTE_SET_USED(state);
	assert_int_equal(tern_segment_alloc(t, "kv", 1 << 20, SOCKET_ID_ANY, &h), 0);
	assert_int_equal(tern_segment_info(t, h, &info), 0);
	assert_string_equal(info.name, "kv");
	assert_int_equal(info.length, 1 << 20);
	assert_int_equal(info.kind, TERN_SEGMENT_LOCAL);
	memset(info.addr, 0xab, 1 << 20);
	assert_int_equal(tern_segment_alloc(t, "kv", 4096, SOCKET_ID_ANY, &x), -EEXIST);
	assert_int_equal(tern_segment_alloc(t, "huge", 1ull << 40, SOCKET_ID_ANY, &x), -ENOMEM);
	assert_int_equal(tern_segment_alloc(t, "zero", 0, SOCKET_ID_ANY, &x), -EINVAL);
	assert_int_equal(tern_segment_info(t, h + 0x10000, &info), -ENOENT);
	assert_int_equal(tern_segment_next(t, 0), h);
	assert_int_equal(tern_segment_next(t, tern_segment_handle_slot(h) + 1),
			 TERN_SEGMENT_INVALID);
	assert_int_equal(tern_segment_unregister(t, h), 0);
	assert_int_equal(tern_segment_table_free(t), 0);
}

static void
alloc_file_maps_a_sealed_memfd_another_mapping_sees(void **state)
{
	struct tern_segment_table *t = tern_segment_table_create("file", 4, SOCKET_ID_ANY);
	const uint64_t len = (1 << 20) + 5;
	struct tern_segment_info info;
	struct tern_segment *seg;
	struct statfs sfs;
	struct stat st;
	uint8_t *other;
	uint64_t page;
	uint32_t h;

	RTE_SET_USED(state);
	assert_int_equal(tern_segment_alloc_file(t, "f", len, SOCKET_ID_ANY, &h), 0);
	assert_int_equal(tern_segment_info(t, h, &info), 0);
	assert_int_equal(info.length, len);
	assert_int_equal(info.kind, TERN_SEGMENT_LOCAL);
	assert_int_equal(info.transport, tern_transport_id("memcpy"));
	seg = &t->slots[tern_segment_handle_slot(h)];
	assert_true(seg->flags & TERN_SEGMENT_F_FILE);
	assert_false(seg->flags & TERN_SEGMENT_F_ALLOCATED);
	assert_true(seg->fd >= 0);
	assert_int_equal(fcntl(seg->fd, F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	assert_int_not_equal(ftruncate(seg->fd, 4096), 0);
	assert_int_equal(fcntl(seg->fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	/* Hugetlbfs pages when the kernel had free ones, ordinary ones otherwise;
	 * either way the file is a whole number of its pages. */
	assert_int_equal(fstatfs(seg->fd, &sfs), 0);
	page = sfs.f_type == HUGETLBFS_MAGIC ? 2u << 20 : 4096;
	print_message("file segment on %s pages\n", page == 4096 ? "ordinary" : "2M huge");
	assert_int_equal(fstat(seg->fd, &st), 0);
	assert_int_equal((uint64_t)st.st_size, (len + page - 1) / page * page);

	other = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, seg->fd, 0);
	assert_true(other != MAP_FAILED);
	memset(info.addr, 0x5a, len);
	assert_int_equal(other[0], 0x5a);
	assert_int_equal(other[len - 1], 0x5a);
	other[12345] = 0x17;
	assert_int_equal(((uint8_t *)info.addr)[12345], 0x17);
	assert_int_equal(munmap(other, (size_t)st.st_size), 0);
	assert_int_equal(tern_segment_unregister(t, h), 0);
	assert_int_equal(tern_segment_table_free(t), 0);
}

static void
unregister_unmaps_and_closes_a_file_segment(void **state)
{
	struct tern_segment_table *t = tern_segment_table_create("fileun", 4, SOCKET_ID_ANY);
	struct tern_segment *seg, *ref;
	uint8_t *base;
	uint32_t h;
	int fd;

	RTE_SET_USED(state);
	assert_int_equal(tern_segment_alloc_file(t, "f", 8192, SOCKET_ID_ANY, &h), 0);
	seg = &t->slots[tern_segment_handle_slot(h)];
	fd = seg->fd;
	base = seg->base;
	ref = tern_segment_acquire(t, h, 0, 1, 1);
	assert_non_null(ref);
	assert_int_equal(tern_segment_unregister(t, h), -EBUSY);
	assert_true(fcntl(fd, F_GETFD) >= 0); /* still open while referenced */
	base[0] = 1;
	tern_segment_release(ref, 1);
	assert_int_equal(tern_segment_unregister(t, h), 0);
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(msync(base, 4096, MS_ASYNC), -1); /* no mapping there any more */
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(seg->fd, -1);
	assert_int_equal(seg->flags, 0);
	assert_int_equal(tern_segment_table_free(t), 0);
}

static void
alloc_file_rejects_bad_arguments(void **state)
{
	struct tern_segment_table *t = tern_segment_table_create("filebad", 2, SOCKET_ID_ANY);
	uint32_t h, a, b;

	RTE_SET_USED(state);
	assert_int_equal(tern_segment_alloc_file(NULL, "f", 4096, SOCKET_ID_ANY, &h), -EINVAL);
	assert_int_equal(tern_segment_alloc_file(t, "f", 4096, SOCKET_ID_ANY, NULL), -EINVAL);
	assert_int_equal(tern_segment_alloc_file(t, NULL, 4096, SOCKET_ID_ANY, &h), -EINVAL);
	assert_int_equal(tern_segment_alloc_file(t, "bad name", 4096, SOCKET_ID_ANY, &h), -EINVAL);
	assert_int_equal(tern_segment_alloc_file(t, "zero", 0, SOCKET_ID_ANY, &h), -EINVAL);
	/* More than the machine has: refused, not populated into the OOM killer. */
	assert_int_equal(tern_segment_alloc_file(t, "huge", 1ull << 44, SOCKET_ID_ANY, &h),
			 -ENOMEM);
	assert_int_equal(tern_segment_alloc_file(t, "a", 4096, SOCKET_ID_ANY, &a), 0);
	assert_int_equal(tern_segment_alloc_file(t, "a", 4096, SOCKET_ID_ANY, &h), -EEXIST);
	assert_int_equal(tern_segment_alloc(t, "a", 4096, SOCKET_ID_ANY, &h), -EEXIST);
	assert_int_equal(tern_segment_alloc_file(t, "b", 4096, 0, &b), 0); /* NUMA node 0 */
	assert_int_equal(tern_segment_alloc_file(t, "c", 4096, SOCKET_ID_ANY, &h), -ENOSPC);
	assert_int_equal(t->nb_active, 2);
	assert_int_equal(tern_segment_unregister(t, a), 0);
	assert_int_equal(tern_segment_unregister(t, b), 0);
	assert_int_equal(tern_segment_table_free(t), 0);
}

static void
retire_refuses_new_references_until_unregistered(void **state)
{
	struct tern_segment_table *t = tern_segment_table_create("retire", 4, SOCKET_ID_ANY);
	struct tern_segment_conf c = local_conf("r", arena, 4096);
	struct tern_segment_info info;
	struct tern_segment *seg;
	uint32_t h;

	RTE_SET_USED(state);
	c.peer = 3;
	assert_int_equal(tern_segment_register(t, &c, &h), 0);
	seg = tern_segment_acquire(t, h, 0, 16, 1);
	assert_non_null(seg);
	assert_int_equal(tern_segment_is_retired(t, h), 0);
	assert_int_equal(tern_segment_retire(t, h), 0);
	assert_int_equal(tern_segment_retire(t, h), -ENOENT);
	assert_int_equal(tern_segment_retire(NULL, h), -EINVAL);
	assert_int_equal(tern_segment_is_retired(t, h), 1);
	/* No new reference, the old one still counts, the slot stays visible. */
	assert_null(tern_segment_acquire(t, h, 0, 16, 1));
	assert_int_equal(tern_segment_info(t, h, &info), 0);
	assert_int_equal(info.state, TERN_SEGMENT_RETIRED);
	assert_int_equal(info.peer, 3);
	assert_int_equal(info.refs, 1);
	assert_int_equal(tern_segment_next(t, 0), h);
	assert_int_equal(tern_segment_find(t, "r", &(uint32_t){ 0 }), -ENOENT);
	assert_int_equal(tern_segment_unregister(t, h), -EBUSY);
	assert_int_equal(tern_segment_is_retired(t, h), 1);
	tern_segment_release(seg, 1);
	assert_int_equal(tern_segment_unregister(t, h), 0);
	assert_int_equal(tern_segment_is_retired(t, h), 0);
	assert_int_equal(tern_segment_info(t, h, &info), -ENOENT);
	c.peer = TERN_SEGMENT_PEER_MAX;
	assert_int_equal(tern_segment_register(t, &c, &h), -EINVAL);
	assert_int_equal(tern_segment_table_free(t), 0);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_create_rejects_bad_arguments),
		cmocka_unit_test(register_rejects_bad_input),
		cmocka_unit_test(names_and_ranges_are_unique_and_table_fills),
		cmocka_unit_test(acquire_checks_bounds_and_stale_handles),
		cmocka_unit_test(lookup_local_finds_the_containing_segment_without_a_reference),
		cmocka_unit_test(alloc_gives_memory_and_info_describes_it),
		cmocka_unit_test(retire_refuses_new_references_until_unregistered),
		cmocka_unit_test(alloc_file_maps_a_sealed_memfd_another_mapping_sees),
		cmocka_unit_test(unregister_unmaps_and_closes_a_file_segment),
		cmocka_unit_test(alloc_file_rejects_bad_arguments),
	};

	RTE_SET_USED(argc);
	RTE_SET_USED(argv);
	test_eal_init("test_segment", "0", 256);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
