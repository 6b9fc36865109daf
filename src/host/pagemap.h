/* pagemap.h — which pages of a range are present, and how.
 *
 * Two paths that must agree: the PAGEMAP_SCAN ioctl (Linux >= 6.7; the
 * system headers predate it, so the struct and ioctl number are declared in
 * pagemap.c behind a probe) and pread() of /proc/self/pagemap (bit 63
 * present, bit 56 exclusively mapped, bits 0-54 PFN). Under valgrind only the
 * pread path is used: valgrind 3.19 does not understand PAGEMAP_SCAN. */
#ifndef FL_HOST_PAGEMAP_H
#define FL_HOST_PAGEMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum fl_page_kind {
  FL_PAGE_ABSENT = 0,    /* no page (never touched, or zapped) */
  FL_PAGE_ZERO = 1,      /* the shared zero page (read fault on fresh anon) */
  FL_PAGE_PRIVATE = 2,   /* a page of this process's own (anon, exclusive) */
  FL_PAGE_OTHER = 3,     /* present but neither: shared, file, swapped */
} fl_page_kind_t;

typedef enum fl_pagemap_path {
  FL_PAGEMAP_AUTO = 0,   /* SCAN where it works, else pread */
  FL_PAGEMAP_SCAN = 1,
  FL_PAGEMAP_PREAD = 2,
} fl_pagemap_path_t;

typedef struct fl_pagemap fl_pagemap_t;

/* Opens /proc/self/pagemap. FL_EENV (with message) if unreadable or if the
 * requested path is unsupported here. */
int fl_pagemap_open(fl_pagemap_t **out, fl_pagemap_path_t path);
void fl_pagemap_close(fl_pagemap_t *pm);
fl_pagemap_path_t fl_pagemap_path(const fl_pagemap_t *pm);

/* Classifies every page of [addr, addr + npages * page_size) into kinds[]
 * (one byte per page). Returns FL_OK or FL_EENV with a message. */
int fl_pagemap_read(fl_pagemap_t *pm, uintptr_t addr, size_t npages, uint8_t *kinds);

/* ---- additions used by the profile and the tests ---- */

/* The PAGEMAP_SCAN ioctl works in this process (probed once; false under
 * valgrind, which does not understand it). */
bool fl_pagemap_scan_supported(void);

/* The raw 64-bit /proc/self/pagemap entry of the page holding addr.
 * FL_OK or FL_EENV with a message. */
int fl_pagemap_entry(uintptr_t addr, uint64_t *entry);

/* Found once by experiment (a read fault on a fresh private anonymous page):
 * whether PFNs are visible, and the PFN of the shared zero page if this
 * kernel maps it on read and PFNs are visible. */
typedef struct fl_pagemap_facts {
  bool readable;        /* /proc/self/pagemap could be opened and read */
  bool pfn_visible;     /* a present page showed a non-zero PFN */
  bool zero_pfn_known;  /* the read-faulted page was a PFN shared by no write */
  uint64_t zero_pfn;
} fl_pagemap_facts_t;
const fl_pagemap_facts_t *fl_pagemap_facts(void);

/* Bits of a pagemap entry (Documentation/admin-guide/mm/pagemap.rst). */
#define FL_PM_PFN_MASK ((UINT64_C(1) << 55) - 1)
#define FL_PM_SOFT_DIRTY (UINT64_C(1) << 55)
#define FL_PM_EXCLUSIVE (UINT64_C(1) << 56)
#define FL_PM_FILE (UINT64_C(1) << 61)
#define FL_PM_SWAPPED (UINT64_C(1) << 62)
#define FL_PM_PRESENT (UINT64_C(1) << 63)

#endif
