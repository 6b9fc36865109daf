/* check.h — executable invariants over refmalloc, the vm model and the
 * kernel, with stable IDs (spec/invariants.md is the contract; the table in
 * registry.c is the one list both the CLI and the spec test read).
 *
 * A checker attaches to an allocator and its vm:
 *
 *   fl_check_t *c;
 *   fl_check_open(&c, rm, vm, 2);      // subscribes to refmalloc's call hook
 *   ... fl_rm_malloc / fl_rm_free ...  // checks run after every call
 *   fl_check_full(c);                  // everything, now
 *   fl_check_report(c, stdout, false);
 *
 * Levels (FAULTLINE_CHECK): 0 off; 1 O(1) per op on the chunks the op
 * touched; 2 level 1 plus incremental structure checks (the bins the op's
 * size class uses, the VMAs when the op made a system call) and a full walk
 * amortised over k * live-chunks ops; 3 a full walk after every op.
 *
 * The checker reads model memory with fl_vm_peek only: it faults nothing,
 * and RSS and the fault counters stay what the allocator made them. */
#ifndef FL_CHECK_CHECK_H
#define FL_CHECK_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "alloc/refmalloc.h"
#include "vm/vm.h"

typedef struct fl_check fl_check_t;

typedef enum fl_check_cost {
  FL_COST_OP = 0,      /* O(1) per op */
  FL_COST_TOUCHED = 1, /* O(what the op touched) */
  FL_COST_WALK = 2,    /* a full walk */
} fl_check_cost_t;

typedef int (*fl_check_fn)(fl_check_t *c);

typedef struct fl_invariant {
  const char *id;        /* stable: never renamed, never reused */
  const char *family;    /* BIN, VMA, PT, RSS, KERNEL */
  const char *statement;
  const char *mirrors;   /* the glibc or kernel function it mirrors */
  int level;             /* the lowest check level that runs it */
  fl_check_cost_t cost;
  const char *fn_name;   /* the check function, as spec/invariants.md names it */
  fl_check_fn fn;        /* runs it (and the others it shares a walk with) */
} fl_invariant_t;

/* ---- the registry -------------------------------------------------------- */
size_t fl_invariant_count(void);
const fl_invariant_t *fl_invariant_at(size_t i);
const fl_invariant_t *fl_invariant_find(const char *id);
const char *fl_check_cost_name(fl_check_cost_t cost);
/* `faultline check --list`: one line per invariant, or a JSON array. */
void fl_check_list(FILE *out, bool json);

/* ---- violations ------------------------------------------------------------ */
typedef struct fl_violation {
  const char *id;
  uint64_t op_index;     /* the API call after which it was found */
  uintptr_t addr;        /* the chunk, VMA or page concerned */
  char expected[192];
  char actual[192];
  char drawing[768];     /* neighbouring chunks or VMAs, ASCII */
} fl_violation_t;

typedef void (*fl_check_violation_fn)(void *ctx, const fl_violation_t *v);

/* ---- the checker --------------------------------------------------------- */
/* FL_OK, FL_EUSAGE (level outside 0..3) or FL_EENV. Attach before the first
 * allocation so that the checker knows every live chunk (the invariants on
 * live chunks are skipped otherwise: see fl_check_tracking). */
int fl_check_open(fl_check_t **out, fl_rm_t *rm, fl_vm_t *vm, int level);
void fl_check_close(fl_check_t *c);
void fl_check_set_level(fl_check_t *c, int level);
int fl_check_level(const fl_check_t *c);
/* Level 2 walks every max(64, k * live chunks) ops (default k = 1). */
void fl_check_set_walk_factor(fl_check_t *c, unsigned k);
/* The vm holds nothing but refmalloc's memory (default true): every VMA of
 * the window must then belong to it (VMA-STRAY). */
void fl_check_set_exclusive(fl_check_t *c, bool exclusive);
void fl_check_set_violation_hook(fl_check_t *c, fl_check_violation_fn fn, void *ctx);
/* The program's own loads and stores are not observed (LD_PRELOAD): the
 * model's page table is then refmalloc's view only, and the invariants that
 * hold it against the kernel's pages (KERNEL-PAGES, KERNEL-PAGE-STATE,
 * KERNEL-RSS, KERNEL-MINFLT) are not reported. */
void fl_check_set_unobserved(fl_check_t *c, bool unobserved);
/* Did the checker see every allocation since the allocator opened? */
bool fl_check_tracking(const fl_check_t *c);

/* After an API call (refmalloc's call hook calls this; tests may too).
 * Returns the number of new violations. */
int fl_check_after_op(fl_check_t *c, uint64_t op_index, const fl_rm_call_t *call);
/* Moves the kernel minor-fault baseline to now (shadow mode): the caller's
 * own start-up faults since fl_check_open are nobody's op. */
void fl_check_rebase(fl_check_t *c);
/* Every invariant, now (a full walk). Returns the number of new violations. */
int fl_check_full(fl_check_t *c);
/* Runs the check function that implements `id` (with the invariants it
 * shares a walk with). -1 if the ID is unknown or has no check here (the
 * ORACLE-* promises are checked in the oracle helper, not on refmalloc). */
int fl_check_one(fl_check_t *c, const char *id);
/* BIN-MALLINFO against a given mallinfo2 result (the call hook passes
 * refmalloc's own after each mallinfo2 call). */
int fl_check_mallinfo(fl_check_t *c, const fl_rm_mallinfo2_t *mi);

/* ---- results ------------------------------------------------------------- */
size_t fl_check_violation_count(const fl_check_t *c);   /* all found */
size_t fl_check_violation_stored(const fl_check_t *c);  /* the first ones kept */
const fl_violation_t *fl_check_violation(const fl_check_t *c, size_t i);
/* How many times `id` fired since the last clear. */
size_t fl_check_fired(const fl_check_t *c, const char *id);
void fl_check_clear(fl_check_t *c);
uint64_t fl_check_walks(const fl_check_t *c);   /* full walks so far */
uint64_t fl_check_ops(const fl_check_t *c);     /* ops seen */
size_t fl_check_live(const fl_check_t *c);      /* live chunks tracked */
void fl_check_report(const fl_check_t *c, FILE *out, bool json);

#endif
