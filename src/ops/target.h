/* target.h — what the executor drives: one allocator, behind a vtable.
 *
 * Targets: refmalloc in-process (src/alloc), any allocator in a helper
 * process (the differential), a trivial system-malloc target in tests/ops.
 * Addresses are uintptr_t because they may live in another process or in the
 * model's window: the executor never dereferences them, it reads and writes
 * through the target's memory accessors. Every function receives ctx.
 *
 * Required: malloc, calloc, realloc, free, usable_size, read, write,
 * get_errno, set_errno; every function but check receives ctx. Optional (NULL = unsupported, recorded as such and
 * never a finding): the memalign family, valloc, pvalloc, mallopt, trim,
 * set_thread, inject, check; fills (NULL: the executor assumes yes). */
#ifndef FL_OPS_TARGET_H
#define FL_OPS_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ops/op.h"

typedef struct fl_target {
  const char *name;
  void *ctx;

  uintptr_t (*malloc)(void *ctx, size_t size);
  uintptr_t (*calloc)(void *ctx, size_t nmemb, size_t size);
  uintptr_t (*realloc)(void *ctx, uintptr_t p, size_t size);
  void (*free)(void *ctx, uintptr_t p);
  uintptr_t (*memalign)(void *ctx, size_t alignment, size_t size);
  uintptr_t (*aligned_alloc)(void *ctx, size_t alignment, size_t size);
  /* Returns posix_memalign's result (0 or an errno); *out as posix says. */
  int (*posix_memalign)(void *ctx, uintptr_t *out, size_t alignment, size_t size);
  uintptr_t (*valloc)(void *ctx, size_t size);
  uintptr_t (*pvalloc)(void *ctx, size_t size);
  size_t (*usable_size)(void *ctx, uintptr_t p);
  /* param is <malloc.h>'s number (fl_op_mallopt_glibc); returns mallopt's. */
  int (*mallopt)(void *ctx, int param, int value);
  int (*trim)(void *ctx, size_t pad);
  void (*set_thread)(void *ctx, unsigned tid);
  /* Makes the nth next system call of kind sys fail with err; returns false
   * if the target cannot inject that kind. */
  bool (*inject)(void *ctx, fl_op_sys_t sys, unsigned nth, int err);
  /* Whether the allocator now writes every byte it takes for a request
   * (glibc's M_PERTURB): the executor's budget then counts a memalign
   * block's alignment too (exec.h). NULL: assume it may. */
  bool (*fills)(void *ctx);
  /* The allocator's errno (the target's thread's, for a helper process). */
  int (*get_errno)(void *ctx);
  void (*set_errno)(void *ctx, int err);

  /* Memory accessors: false if the bytes cannot be accessed (a finding). */
  bool (*read)(void *ctx, uintptr_t addr, void *buf, size_t len);
  bool (*write)(void *ctx, uintptr_t addr, const void *buf, size_t len);

  /* The check op: runs the invariants of level (0-3); returns the number of
   * violations found (their reports are the checker's to make). The
   * invariants live beside the allocator, not in it: check receives
   * check_ctx, not ctx. */
  unsigned (*check)(void *check_ctx, unsigned level);
  void *check_ctx;
} fl_target_t;

#endif
