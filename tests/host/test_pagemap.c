/* test_pagemap.c — the SCAN and pread paths agree, and both see what the
 * kernel did: zero-page reads, writes, DONTNEED, FREE, holes, shared pages. */
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "harness/harness.h"
#include "host/pagemap.h"
#include "host/profile.h"
#include "host/sys.h"
#include "util/err.h"

static size_t ps(void) { return (size_t)sysconf(_SC_PAGESIZE); }

/* The kind a read fault on fresh anon memory leaves, per the profile. */
static uint8_t read_kind(void) {
  return fl_kprofile_get()->zero_page_on_read == FL_YES ? FL_PAGE_ZERO : FL_PAGE_PRIVATE;
}

/* Reads kinds with every path available here; both must agree. */
static bool read_all(uintptr_t a, size_t n, uint8_t *kinds) {
  fl_pagemap_t *pr, *sc;
  uint8_t tmp[1024];
  if (fl_pagemap_open(&pr, FL_PAGEMAP_PREAD) != FL_OK || fl_pagemap_read(pr, a, n, kinds) != FL_OK)
    return false;
  fl_pagemap_close(pr);
  if (!fl_pagemap_scan_supported()) return true;
  if (fl_pagemap_open(&sc, FL_PAGEMAP_SCAN) != FL_OK || fl_pagemap_read(sc, a, n, tmp) != FL_OK)
    return false;
  fl_pagemap_close(sc);
  for (size_t i = 0; i < n; i++)
    if (tmp[i] != kinds[i]) {
      fprintf(stderr, "page %zu: scan %d, pread %d\n", i, tmp[i], kinds[i]);
      return false;
    }
  return true;
}

FL_TEST(paths_agree_on_mixed_range) {
  /* pages: 0-3 untouched, 4-7 read, 8-11 written, 12-13 DONTNEED,
   *        14-15 FREE, 16-17 unmapped hole, 18-19 shared anon written
   *   AAAA RRRR WWWW DD FF __ SS */
  size_t n = 20, p = ps();
  intptr_t m = fl_sys_mmap(0, n * p, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  FL_CHECK_GE(m, 0);
  uintptr_t a = (uintptr_t)m;
  for (int i = 4; i < 8; i++) (void)fl_sys_peek(a + i * p);
  for (int i = 8; i < 16; i++) fl_sys_poke(a + i * p, 1);
  FL_CHECK_EQ(fl_sys_madvise(a + 12 * p, 2 * p, MADV_DONTNEED), 0);
  FL_CHECK_EQ(fl_sys_madvise(a + 14 * p, 2 * p, MADV_FREE), 0);
  FL_CHECK_EQ(fl_sys_munmap(a + 16 * p, 2 * p), 0);
  FL_CHECK_EQ(fl_sys_mmap(a + 18 * p, 2 * p, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0), (intptr_t)(a + 18 * p));
  fl_sys_poke(a + 18 * p, 1);
  fl_sys_poke(a + 19 * p, 1);
  uint8_t k[20], rk = read_kind();
  const uint8_t want[20] = {0, 0, 0, 0, rk, rk, rk, rk, 2, 2, 2, 2, 0, 0, 2, 2, 0, 0, 3, 3};
  FL_CHECK_MSG(read_all(a, n, k), "paths disagree or failed: %s", fl_error_message());
  for (size_t i = 0; i < n; i++) FL_CHECK_MSG(k[i] == want[i], "page %zu: %d, want %d", i, k[i], want[i]);
  fl_sys_munmap(a, n * p);
}

FL_TEST(zero_read_classified_per_profile) {
  const fl_kprofile_t *prof = fl_kprofile_get();
  intptr_t m = fl_sys_mmap(0, ps(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  FL_CHECK_GE(m, 0);
  (void)fl_sys_peek((uintptr_t)m);
  uint8_t k;
  FL_CHECK(read_all((uintptr_t)m, 1, &k));
  FL_CHECK_NE(prof->zero_page_on_read, FL_UNKNOWN);
  FL_CHECK_EQ(k, read_kind());
  fl_sys_poke((uintptr_t)m, 1);
  FL_CHECK(read_all((uintptr_t)m, 1, &k));
  FL_CHECK_EQ(k, FL_PAGE_PRIVATE);
  fl_sys_munmap((uintptr_t)m, ps());
}

FL_TEST(dontneed_clears_present_at_once) {
  size_t n = 8;
  intptr_t m = fl_sys_mmap(0, n * ps(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  FL_CHECK_GE(m, 0);
  for (size_t i = 0; i < n; i++) fl_sys_poke((uintptr_t)m + i * ps(), 7);
  uint8_t k[8];
  FL_CHECK(read_all((uintptr_t)m, n, k));
  for (size_t i = 0; i < n; i++) FL_CHECK_EQ(k[i], FL_PAGE_PRIVATE);
  FL_CHECK_EQ(fl_sys_madvise((uintptr_t)m, n * ps(), MADV_DONTNEED), 0);
  FL_CHECK(read_all((uintptr_t)m, n, k));
  for (size_t i = 0; i < n; i++) FL_CHECK_EQ(k[i], FL_PAGE_ABSENT);
  FL_CHECK_EQ(fl_sys_peek((uintptr_t)m), 0); /* demand-zero again */
  fl_sys_munmap((uintptr_t)m, n * ps());
}

FL_TEST(madv_free_keeps_present) {
  size_t n = 8;
  intptr_t m = fl_sys_mmap(0, n * ps(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  FL_CHECK_GE(m, 0);
  for (size_t i = 0; i < n; i++) fl_sys_poke((uintptr_t)m + i * ps(), 7);
  FL_CHECK_EQ(fl_sys_madvise((uintptr_t)m, n * ps(), MADV_FREE), 0);
  uint8_t k[8];
  FL_CHECK(read_all((uintptr_t)m, n, k));
  for (size_t i = 0; i < n; i++) FL_CHECK_EQ(k[i], FL_PAGE_PRIVATE);
  FL_CHECK_EQ(fl_sys_peek((uintptr_t)m), 7); /* no reclaim yet: contents stay */
  fl_sys_munmap((uintptr_t)m, n * ps());
}

FL_TEST(scan_continues_after_full_buffer) {
  /* 1024 pages, every other one written: 512 regions, more than one ioctl's
   * page_region buffer holds, so the walk resumes from walk_end. */
  size_t n = 1024;
  intptr_t m = fl_sys_mmap(0, n * ps(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  FL_CHECK_GE(m, 0);
  FL_CHECK_EQ(fl_sys_madvise((uintptr_t)m, n * ps(), MADV_NOHUGEPAGE), 0);
  for (size_t i = 0; i < n; i += 2) fl_sys_poke((uintptr_t)m + i * ps(), 1);
  uint8_t *k = malloc(n);
  FL_CHECK(k != NULL);
  bool ok = read_all((uintptr_t)m, n, k);
  size_t bad = n;
  for (size_t i = 0; ok && i < n && bad == n; i++)
    if (k[i] != (i % 2 ? FL_PAGE_ABSENT : FL_PAGE_PRIVATE)) bad = i;
  free(k);
  fl_sys_munmap((uintptr_t)m, n * ps());
  FL_CHECK(ok);
  FL_CHECK_EQ(bad, n);
}

FL_TEST(scan_path_refused_under_valgrind_only) {
  fl_pagemap_t *pm = NULL;
  int rc = fl_pagemap_open(&pm, FL_PAGEMAP_SCAN);
  if (fl_sys_under_valgrind()) {
    FL_CHECK_EQ(rc, FL_EENV);
    FL_CHECK(pm == NULL);
    FL_CHECK_EQ(fl_pagemap_open(&pm, FL_PAGEMAP_AUTO), FL_OK);
    FL_CHECK_EQ(fl_pagemap_path(pm), FL_PAGEMAP_PREAD);
  } else {
    FL_CHECK_EQ(rc, fl_kprofile_get()->pagemap_scan ? FL_OK : FL_EENV);
    if (pm) FL_CHECK_EQ(fl_pagemap_path(pm), FL_PAGEMAP_SCAN);
    fl_pagemap_close(pm);
    FL_CHECK_EQ(fl_pagemap_open(&pm, FL_PAGEMAP_AUTO), FL_OK);
    FL_CHECK_EQ(fl_pagemap_path(pm), rc == FL_OK ? FL_PAGEMAP_SCAN : FL_PAGEMAP_PREAD);
  }
  fl_pagemap_close(pm);
  FL_CHECK_EQ(fl_pagemap_open(&pm, FL_PAGEMAP_PREAD), FL_OK);
  uint8_t k;
  FL_CHECK_EQ(fl_pagemap_read(pm, 4097, 1, &k), FL_EUSAGE);
  fl_pagemap_close(pm);
}

static double usec_per_read(fl_pagemap_path_t path, uintptr_t a, size_t n, int iters) {
  fl_pagemap_t *pm;
  uint8_t k[64];
  if (fl_pagemap_open(&pm, path) != FL_OK) return -1;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < iters; i++) fl_pagemap_read(pm, a, n, k);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  fl_pagemap_close(pm);
  return ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e3 / iters;
}

FL_TEST(pagemap_cost_64_pages) {
  /* Informational: prints the cost of each path (DESIGN quotes ~1.6 µs SCAN,
   * ~2.5 µs pread for 64 pages); asserts only that both finish. */
  size_t n = 64;
  intptr_t m = fl_sys_mmap(0, n * ps(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  FL_CHECK_GE(m, 0);
  for (size_t i = 0; i < n; i += 3) fl_sys_poke((uintptr_t)m + i * ps(), 1);
  double pr = usec_per_read(FL_PAGEMAP_PREAD, (uintptr_t)m, n, 20000);
  double sc = fl_pagemap_scan_supported() ? usec_per_read(FL_PAGEMAP_SCAN, (uintptr_t)m, n, 20000) : -1;
  printf("64-page classify: pread %.2f us, PAGEMAP_SCAN %.2f us\n", pr, sc);
  fl_sys_munmap((uintptr_t)m, n * ps());
  FL_CHECK_GT(pr, 0);
}
