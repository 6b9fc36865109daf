/* placement.h — where does this kernel put mmap(NULL, len)?
 *
 * The model's top-down placement is checked against the kernel by a probe:
 * a forked child first fills every hole between the lowest mapping of its
 * mmap area (the one right above the big free gap) and its stack with
 * PROT_NONE mappings, so that the kernel's top-down search can only use the
 * free gap below; then it performs the steps without MAP_FIXED and reports
 * each mapping's address relative to that "floor". The model does the same
 * with its window top as the floor. Skipped under valgrind (it places
 * mappings itself).
 *
 * The floor is the lowest mapping above the highest free gap of at least
 * FL_PLACE_BIG_GAP below [stack] (not simply the largest gap: under ASan the
 * largest one lies below the executable, between ASan's shadow and the PIE),
 * rounded down to FL_PLACE_FLOOR_ALIGN with a PROT_NONE pad, so that results
 * that depend on alignment (THP-aligned 2 MiB multiples) compare with a model
 * whose window top is aligned. The free space between the highest mapping
 * and mmap_base (at most [stack] end - RLIMIT_STACK - stack_guard_gap) is
 * filled too. A bottom-up layout (legacy_va_layout, ADDR_COMPAT_LAYOUT,
 * unlimited RLIMIT_STACK) gives FL_EENV. */
#ifndef FL_HOST_PLACEMENT_H
#define FL_HOST_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>

#define FL_PLACE_FLOOR_ALIGN ((uintptr_t)2 << 20)
#define FL_PLACE_BIG_GAP ((uintptr_t)64 << 30)
#define FL_PLACE_TIMEOUT_MS 10000

typedef enum fl_place_kind {
  FL_PLACE_MMAP = 0,    /* mmap(hint, len, prot, MAP_PRIVATE|MAP_ANONYMOUS) */
  FL_PLACE_MUNMAP = 1,  /* munmap(addr of step `ref` + off, len) */
  FL_PLACE_MREMAP = 2,  /* mremap(addr of step `ref` + off, oldlen=len, newlen=len2, MREMAP_MAYMOVE) */
} fl_place_kind_t;

typedef struct fl_place_step {
  fl_place_kind_t kind;
  size_t len;
  size_t len2;       /* MREMAP: new length */
  int prot;          /* MMAP: PROT_* */
  int ref;           /* MUNMAP/MREMAP: index of an earlier MMAP/MREMAP step */
  size_t off;        /* offset added to that step's address */
  intptr_t hint_rel; /* MMAP: hint relative to the floor (0 = no hint) */
} fl_place_step_t;

/* Runs the steps in a child. rel_out[i] receives, for MMAP/MREMAP steps, the
 * resulting address minus the floor (negative: below it), or -errno; for
 * MUNMAP steps 0 or -errno. Returns FL_OK, FL_EENV (fork failed, valgrind,
 * maps unreadable) with a message. */
int fl_placement_probe(const fl_place_step_t *steps, size_t n, intptr_t *rel_out);

#endif
