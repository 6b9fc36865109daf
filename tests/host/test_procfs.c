/* test_procfs.c — the maps/smaps/status readers against mappings we make. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness/harness.h"
#include "host/procfs.h"
#include "host/sys.h"

static size_t ps(void) { return (size_t)sysconf(_SC_PAGESIZE); }

FL_TEST(smaps_rss_of_100_touched_pages) {
  /* NRRR...RRN: PROT_NONE guards keep the RW VMA from merging with a
   * neighbour (smaps counts whole VMAs). */
  size_t len = 100 * ps();
  intptr_t g = fl_sys_mmap(0, len + 2 * ps(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  FL_CHECK_GE(g, 0);
  intptr_t p = g + (intptr_t)ps();
  FL_CHECK_EQ(fl_sys_mprotect((uintptr_t)p, len, PROT_READ | PROT_WRITE), 0);
  FL_CHECK_EQ(fl_smaps_rss_kib((uintptr_t)p, (uintptr_t)p + len), 0);
  for (size_t i = 0; i < 100; i++) fl_sys_poke((uintptr_t)p + i * ps(), 1);
  FL_CHECK_EQ(fl_smaps_rss_kib((uintptr_t)p, (uintptr_t)p + len), (long)(len / 1024));
  FL_CHECK_EQ(fl_sys_madvise((uintptr_t)p, len / 2, MADV_DONTNEED), 0);
  FL_CHECK_EQ(fl_smaps_rss_kib((uintptr_t)p, (uintptr_t)p + len), (long)(len / 2048));
  fl_sys_munmap((uintptr_t)g, len + 2 * ps());
}

FL_TEST(maps_mprotect_splits_into_three) {
  /*  before: RRRRRR        after: RR NN RR  (one VMA becomes three) */
  size_t len = 6 * ps();
  intptr_t p = fl_sys_mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  FL_CHECK_GE(p, 0);
  uintptr_t a = (uintptr_t)p;
  fl_maps_entry_t e[8];
  FL_CHECK_EQ(fl_maps_read(a, a + len, e, 8), 1);
  FL_CHECK_EQ(e[0].prot, PROT_READ | PROT_WRITE);
  long before = fl_maps_count();
  FL_CHECK_EQ(fl_sys_mprotect(a + 2 * ps(), 2 * ps(), PROT_NONE), 0);
  FL_CHECK_EQ(fl_maps_read(a, a + len, e, 8), 3);
  FL_CHECK_EQ(fl_maps_count(), before + 2);
  FL_CHECK_EQ(e[0].start, a);
  FL_CHECK_EQ(e[0].end, a + 2 * ps());
  FL_CHECK_EQ(e[1].start, a + 2 * ps());
  FL_CHECK_EQ(e[1].prot, PROT_NONE);
  FL_CHECK_EQ(e[2].end, a + len);
  FL_CHECK_EQ(e[2].prot, PROT_READ | PROT_WRITE);
  FL_CHECK(!e[1].shared);
  FL_CHECK_STREQ(e[1].name, "");
  /* Clipping: a window inside the middle VMA sees one clipped entry. */
  FL_CHECK_EQ(fl_maps_read(a + 3 * ps(), a + 4 * ps(), e, 8), 1);
  FL_CHECK_EQ(e[0].start, a + 3 * ps());
  FL_CHECK_EQ(e[0].end, a + 4 * ps());
  fl_sys_munmap(a, len);
}

FL_TEST(maps_name_with_spaces_and_offset) {
  char path[] = "/tmp/fl procfs name XXXXXX";
  int fd = mkstemp(path);
  FL_CHECK_GE(fd, 0);
  FL_CHECK_EQ(ftruncate(fd, (off_t)(4 * ps())), 0);
  intptr_t p = fl_sys_mmap(0, 2 * ps(), PROT_READ, MAP_SHARED, fd, (long)(2 * ps()));
  close(fd);
  FL_CHECK_GE(p, 0);
  fl_maps_entry_t e[2];
  FL_CHECK_EQ(fl_maps_read((uintptr_t)p, (uintptr_t)p + 2 * ps(), e, 2), 1);
  FL_CHECK(e[0].shared);
  FL_CHECK_EQ(e[0].prot, PROT_READ);
  FL_CHECK_EQ(e[0].offset, 2 * ps());
  FL_CHECK_STREQ(e[0].name, path);
  unlink(path);
  fl_sys_munmap((uintptr_t)p, 2 * ps());
}

FL_TEST(maps_finds_stack_and_counts_cap) {
  fl_maps_entry_t e[2];
  long n = fl_maps_read(0, UINTPTR_MAX, e, 2);
  FL_CHECK_GT(n, 2); /* more than cap: the count is still the total */
  FL_CHECK_EQ(n, fl_maps_count());
  uintptr_t sp = (uintptr_t)&e;
  FL_CHECK_EQ(fl_maps_read(sp, sp + 1, e, 2), 1);
  FL_CHECK(e[0].prot & PROT_WRITE);
}

FL_TEST(status_vmsize_grows_with_mapping) {
  long before = fl_status_kib("VmSize");
  FL_CHECK_GT(before, 0);
  size_t len = 256 * ps();
  intptr_t p = fl_sys_mmap(0, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  FL_CHECK_GE(p, 0);
  FL_CHECK_EQ(fl_status_kib("VmSize:"), before + (long)(len / 1024));
  FL_CHECK_EQ(fl_status_kib("NoSuchField"), -1);
  fl_sys_munmap((uintptr_t)p, len);
}

FL_TEST(minflt_counts_write_faults) {
  size_t n = 64;
  intptr_t p = fl_sys_mmap(0, n * ps(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  FL_CHECK_GE(p, 0);
  long f0 = fl_minflt();
  for (size_t i = 0; i < n; i++) fl_sys_poke((uintptr_t)p + i * ps(), 1);
  long f1 = fl_minflt();
  /* A bound, not equality (DESIGN: counts vary; a large folio can take
   * several pages in one fault). */
  FL_CHECK_GE(f1 - f0, 1);
  FL_CHECK_LE(f1 - f0, (long)n + 8);
  fl_sys_munmap((uintptr_t)p, n * ps());
}
