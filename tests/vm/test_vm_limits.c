/* max_map_count: the limit is per process, so it is exhausted in a child
 * process, never in the harness. */
#include "vmtest.h"


/* Exhausting the real limit leaves no slot for AddressSanitizer's own
 * mappings, so this scenario runs in the non-sanitized helper. */
FL_TEST(max_map_count_exhaustion) {
  FL_CHECK_EQ(run_vmprobe("mapcount"), 0);
}

/* With a configured limit the same rules apply without going near the
 * process's real one: munmap in the middle of a VMA needs a free slot. */
FL_TEST(map_limit_munmap_split_enomem) {
  fl_vm_config_t c;
  fl_vm_config_default(&c, fl_kprofile_get());
  c.map_limit = 3;
  fl_vm_t *vm;
  FL_CHECK_EQ(fl_vm_open(&vm, &c), FL_OK);
  uintptr_t a = c.base + (1UL << 30);
  FL_CHECK_EQ(fl_vm_mmap(vm, a, 4 * PG, RW, ANON | MAP_FIXED), a);
  FL_CHECK_EQ(fl_vm_mmap(vm, a + 5 * PG, 4 * PG, RW, ANON | MAP_FIXED), a + 5 * PG);
  FL_CHECK_EQ(fl_vm_mmap(vm, a + 10 * PG, 4 * PG, RW, ANON | MAP_FIXED), a + 10 * PG);
  FL_CHECK_EQ(fl_vm_munmap(vm, a + PG, PG), -ENOMEM);
  FL_CHECK_EQ(fl_vm_munmap(vm, a, PG), 0); /* at the edge: no split */
  FL_CHECK_EQ(fl_vm_mprotect(vm, a + 6 * PG, PG, PROT_READ), -ENOMEM);
  fl_vm_close(vm);
}
