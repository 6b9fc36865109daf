/* pagemap.c — classify pages with PAGEMAP_SCAN or pread(/proc/self/pagemap).
 *
 * Both paths answer the same question per page: absent, the shared zero
 * page, a page of our own, or something else. They agree by construction:
 *
 *   kernel state (pte)         SCAN categories          pread entry
 *   none / zapped              (not reported)           !present, !swapped
 *   zero page (read fault)     PRESENT|PFNZERO          present, PFN == zero pfn
 *   anon page of ours          PRESENT                  present, !file
 *   file / shmem / shared anon PRESENT|FILE             present, file (bit 61)
 *   swap entry                 SWAPPED                  swapped (bit 62)
 *
 * SCAN's PFNZERO is is_zero_pfn() (pagemap_page_category); the pread path
 * compares the PFN with the zero pfn found by experiment. Where PFNs are
 * hidden (no CAP_SYS_ADMIN) pread falls back to "present and not exclusive",
 * which also matches an anon page still shared with a fork child; SCAN calls
 * that page ours. The /proc fd belongs to the mm that opened it: reopen after
 * fork(). */
#include "host/pagemap.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "host/sys.h"
#include "util/err.h"

/* ------------------------------------------------------------------------ */
/* PAGEMAP_SCAN, declared here: glibc 2.36 and the installed linux-libc-dev  */
/* predate it. Layout from include/uapi/linux/fs.h, Linux 6.7 and later.    */
/* ------------------------------------------------------------------------ */

#define FL_PAGE_IS_WPALLOWED (1ULL << 0)
#define FL_PAGE_IS_WRITTEN (1ULL << 1)
#define FL_PAGE_IS_FILE (1ULL << 2)
#define FL_PAGE_IS_PRESENT (1ULL << 3)
#define FL_PAGE_IS_SWAPPED (1ULL << 4)
#define FL_PAGE_IS_PFNZERO (1ULL << 5)
#define FL_PAGE_IS_HUGE (1ULL << 6)
#define FL_PAGE_IS_SOFT_DIRTY (1ULL << 7)

struct fl_page_region {
  uint64_t start, end, categories;
};

struct fl_pm_scan_arg {
  uint64_t size, flags, start, end;
  uint64_t walk_end; /* written by the kernel: where the walk stopped */
  uint64_t vec, vec_len, max_pages;
  uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};

_Static_assert(sizeof(struct fl_pm_scan_arg) == 96, "pm_scan_arg is 12 u64");
_Static_assert(sizeof(struct fl_page_region) == 24, "page_region is 3 u64");

#define FL_IOC_PAGEMAP_SCAN _IOWR('f', 16, struct fl_pm_scan_arg)

/* Regions merge runs of equal categories, so 256 covers most calls in one
 * ioctl; a busier range continues from walk_end. 6 KiB of stack. */
#define SCAN_VEC 256
#define PREAD_CHUNK 512

struct fl_pagemap {
  int fd;
  fl_pagemap_path_t path;
  size_t page_size;
};

/* ------------------------------------------------------------------------ */
/* One-time facts                                                            */
/* ------------------------------------------------------------------------ */

static fl_pagemap_facts_t facts;
static bool scan_ok;
static pthread_once_t facts_once = PTHREAD_ONCE_INIT;

static int read_entry_fd(int fd, uintptr_t addr, size_t ps, uint64_t *entry) {
  off_t off = (off_t)(addr / ps * sizeof(uint64_t));
  return pread(fd, entry, sizeof *entry, off) == (ssize_t)sizeof *entry ? 0 : -1;
}

static bool probe_scan(int fd) {
  if (fl_sys_under_valgrind()) return false; /* valgrind 3.19: unknown ioctl */
  uintptr_t ps = (uintptr_t)sysconf(_SC_PAGESIZE);
  struct fl_page_region reg[4];
  uintptr_t here = (uintptr_t)&reg & ~(ps - 1);
  struct fl_pm_scan_arg a = {.size = sizeof a, .start = here, .end = here + ps,
                             .vec = (uint64_t)(uintptr_t)reg, .vec_len = 4,
                             .return_mask = FL_PAGE_IS_PRESENT};
  return ioctl(fd, FL_IOC_PAGEMAP_SCAN, &a) >= 0 && a.walk_end == here + ps;
}

/* A fresh private anonymous page, read then written: the read-faulted PFN
 * is the zero page's if it differs from the written page's and was not
 * exclusive (do_anonymous_page maps my_zero_pfn() for a read fault). */
static void probe_facts(void) {
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  size_t ps = (size_t)sysconf(_SC_PAGESIZE);
  scan_ok = probe_scan(fd);
  intptr_t p = fl_sys_mmap(0, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  uint64_t e1 = 0, e2 = 0;
  if (p >= 0) {
    (void)fl_sys_peek((uintptr_t)p);
    int r1 = read_entry_fd(fd, (uintptr_t)p, ps, &e1);
    fl_sys_poke((uintptr_t)p, 1);
    int r2 = read_entry_fd(fd, (uintptr_t)p, ps, &e2);
    fl_sys_munmap((uintptr_t)p, ps);
    facts.readable = r1 == 0 && r2 == 0;
  }
  close(fd);
  if (!facts.readable) return;
  uint64_t pfn1 = e1 & FL_PM_PFN_MASK, pfn2 = e2 & FL_PM_PFN_MASK;
  facts.pfn_visible = (e2 & FL_PM_PRESENT) && pfn2 != 0;
  if (facts.pfn_visible && (e1 & FL_PM_PRESENT) && !(e1 & FL_PM_EXCLUSIVE) && pfn1 != 0 &&
      pfn1 != pfn2) {
    facts.zero_pfn_known = true;
    facts.zero_pfn = pfn1;
  }
}

const fl_pagemap_facts_t *fl_pagemap_facts(void) {
  pthread_once(&facts_once, probe_facts);
  return &facts;
}

bool fl_pagemap_scan_supported(void) {
  pthread_once(&facts_once, probe_facts);
  return scan_ok;
}

int fl_pagemap_entry(uintptr_t addr, uint64_t *entry) {
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fl_error(FL_EENV, "cannot open /proc/self/pagemap: %s", strerror(errno));
  int r = read_entry_fd(fd, addr, (size_t)sysconf(_SC_PAGESIZE), entry);
  int err = errno;
  close(fd);
  if (r != 0) return fl_error(FL_EENV, "cannot read /proc/self/pagemap: %s", strerror(err));
  return FL_OK;
}

/* ------------------------------------------------------------------------ */
/* Open / close                                                              */
/* ------------------------------------------------------------------------ */

int fl_pagemap_open(fl_pagemap_t **out, fl_pagemap_path_t path) {
  *out = NULL;
  bool scan = fl_pagemap_scan_supported();
  if (path == FL_PAGEMAP_SCAN && !scan)
    return fl_error(FL_EENV, "PAGEMAP_SCAN not usable here%s",
                    fl_sys_under_valgrind() ? " (running under valgrind)" : " (kernel < 6.7?)");
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fl_error(FL_EENV, "cannot open /proc/self/pagemap: %s", strerror(errno));
  fl_pagemap_t *pm = malloc(sizeof *pm);
  if (!pm) {
    close(fd);
    return fl_error(FL_EENV, "out of memory");
  }
  pm->fd = fd;
  pm->path = path == FL_PAGEMAP_AUTO ? (scan ? FL_PAGEMAP_SCAN : FL_PAGEMAP_PREAD) : path;
  pm->page_size = (size_t)sysconf(_SC_PAGESIZE);
  *out = pm;
  return FL_OK;
}

void fl_pagemap_close(fl_pagemap_t *pm) {
  if (!pm) return;
  close(pm->fd);
  free(pm);
}

fl_pagemap_path_t fl_pagemap_path(const fl_pagemap_t *pm) { return pm->path; }

/* ------------------------------------------------------------------------ */
/* Classification                                                            */
/* ------------------------------------------------------------------------ */

static uint8_t kind_of_categories(uint64_t c) {
  if (c & FL_PAGE_IS_PRESENT) {
    if (c & FL_PAGE_IS_FILE) return FL_PAGE_OTHER;
    return (c & FL_PAGE_IS_PFNZERO) ? FL_PAGE_ZERO : FL_PAGE_PRIVATE;
  }
  return (c & FL_PAGE_IS_SWAPPED) ? FL_PAGE_OTHER : FL_PAGE_ABSENT;
}

static uint8_t kind_of_entry(uint64_t e, const fl_pagemap_facts_t *f) {
  if (!(e & FL_PM_PRESENT)) return (e & FL_PM_SWAPPED) ? FL_PAGE_OTHER : FL_PAGE_ABSENT;
  if (e & FL_PM_FILE) return FL_PAGE_OTHER;
  bool zero = f->zero_pfn_known ? (e & FL_PM_PFN_MASK) == f->zero_pfn
                                : !f->pfn_visible && !(e & FL_PM_EXCLUSIVE);
  return zero ? FL_PAGE_ZERO : FL_PAGE_PRIVATE;
}

/* One ioctl per SCAN_VEC regions; only pages that are present or swapped
 * are reported (category_anyof_mask), everything else stays ABSENT. */
static int read_scan(fl_pagemap_t *pm, uintptr_t addr, size_t npages, uint8_t *kinds) {
  struct fl_page_region reg[SCAN_VEC];
  uintptr_t end = addr + npages * pm->page_size;
  struct fl_pm_scan_arg a = {
      .size = sizeof a, .start = addr, .end = end, .vec = (uint64_t)(uintptr_t)reg,
      .vec_len = SCAN_VEC, .category_anyof_mask = FL_PAGE_IS_PRESENT | FL_PAGE_IS_SWAPPED,
      .return_mask = FL_PAGE_IS_PRESENT | FL_PAGE_IS_SWAPPED | FL_PAGE_IS_FILE | FL_PAGE_IS_PFNZERO};
  memset(kinds, FL_PAGE_ABSENT, npages);
  for (;;) {
    int n = ioctl(pm->fd, FL_IOC_PAGEMAP_SCAN, &a);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fl_error(FL_EENV, "PAGEMAP_SCAN [%#lx, %#lx): %s", (unsigned long)a.start,
                               (unsigned long)end, strerror(errno));
    for (int i = 0; i < n; i++) {
      uint8_t k = kind_of_categories(reg[i].categories);
      size_t from = (reg[i].start - addr) / pm->page_size, to = (reg[i].end - addr) / pm->page_size;
      memset(kinds + from, k, to - from);
    }
    if (a.walk_end >= end) return FL_OK;
    if (a.walk_end <= a.start)
      return fl_error(FL_EENV, "PAGEMAP_SCAN made no progress at %#lx", (unsigned long)a.start);
    a.start = a.walk_end;
  }
}

static int read_pread(fl_pagemap_t *pm, uintptr_t addr, size_t npages, uint8_t *kinds) {
  const fl_pagemap_facts_t *f = fl_pagemap_facts();
  uint64_t buf[PREAD_CHUNK];
  off_t off = (off_t)(addr / pm->page_size * sizeof(uint64_t));
  for (size_t done = 0; done < npages;) {
    size_t want = npages - done < PREAD_CHUNK ? npages - done : PREAD_CHUNK;
    ssize_t got = pread(pm->fd, buf, want * sizeof buf[0], off + (off_t)(done * sizeof buf[0]));
    if (got < 0 && errno == EINTR) continue;
    if (got < (ssize_t)sizeof buf[0])
      return fl_error(FL_EENV, "pread /proc/self/pagemap at %#lx: %s",
                      (unsigned long)(addr + done * pm->page_size),
                      got < 0 ? strerror(errno) : "short read");
    size_t n = (size_t)got / sizeof buf[0];
    for (size_t i = 0; i < n; i++) kinds[done + i] = kind_of_entry(buf[i], f);
    done += n;
  }
  return FL_OK;
}

int fl_pagemap_read(fl_pagemap_t *pm, uintptr_t addr, size_t npages, uint8_t *kinds) {
  if (addr % pm->page_size)
    return fl_error(FL_EUSAGE, "fl_pagemap_read: %#lx is not page aligned", (unsigned long)addr);
  if (npages == 0) return FL_OK;
  if (pm->path == FL_PAGEMAP_SCAN) return read_scan(pm, addr, npages, kinds);
  return read_pread(pm, addr, npages, kinds);
}
