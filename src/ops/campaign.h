/* campaign.h — one op stream in one of the campaign's modes, and the first
 * finding it produces: the engine under `faultline verify`, `replay`,
 * `minimize` (its "does it still fail the same way?") and the corpus tests.
 *
 * Modes:
 *  glass-box  refmalloc on a FAST-mode model, the invariants at a check
 *             level (default 2) after every allocator call; at level 3 a
 *             full walk also follows the ops that are not allocator calls
 *             (write, poke, ...), so a corrupting poke is caught at its own
 *             op. A last full walk follows the stream.
 *  kernel     refmalloc on a SHADOW-mode model (every system call also made
 *             for real inside the window), the level-1 invariants, and after
 *             every op a full walk whose KERNEL-* checks hold the model
 *             against /proc/self/maps, pagemap, smaps Rss and the fault count
 *             (from the end of op 0 on: the executor's start-up faults too).
 *  diff       refmalloc against the real glibc in the faultline-glibc helper,
 *             op by op (diff.h).
 *
 * A finding has an ID: an invariant's (spec/invariants.md), or
 *   INTEGRITY  refmalloc raised a glibc integrity message or a model SIGSEGV,
 *   VERIFY     a verify op read other bytes, or a block could not be accessed,
 *   DIFF       refmalloc and glibc disagreed (or ended differently).
 * and an op index: the op of the stream after which it was seen (ops->n
 * when only the frees of the blocks still live at the end revealed it).
 * The same stream and options give the same finding at the same op, every
 * time: models start empty at the same window, and nothing is random.
 * The executor's live-byte budget (o->budget) counts a memalign-family
 * block as request + alignment under M_PERTURB (exec.h): glibc takes that
 * many bytes and writes them all.
 *
 * Scripts say what they expect in a comment line (the how2heap corpus, the
 * reproducers verify saves, corpus/regressions):
 *   ; expect: BIN-ONE-LIST at op 9 in glass-box check 3
 *   ; expect: clean in kernel
 */
#ifndef FL_OPS_CAMPAIGN_H
#define FL_OPS_CAMPAIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ops/op.h"
#include "util/err.h"

typedef enum fl_campaign_mode {
  FL_CAMPAIGN_GLASS,
  FL_CAMPAIGN_KERNEL,
  FL_CAMPAIGN_DIFF,
  FL_CAMPAIGN_MODE_COUNT
} fl_campaign_mode_t;

/* "glass-box", "kernel", "diff"; lookup gives -1 for an unknown name. */
const char *fl_campaign_mode_name(fl_campaign_mode_t m);
int fl_campaign_mode_lookup(const char *name, size_t len);

#define FL_CAMPAIGN_DEFAULT_LEVEL 2

typedef struct fl_campaign_opts {
  fl_campaign_mode_t mode;
  int check_level;     /* glass-box: 1..3; 0 = FL_CAMPAIGN_DEFAULT_LEVEL */
  uintptr_t base;      /* the model's window; 0 = FL_VM_DEFAULT_BASE */
  uint64_t budget;     /* the executor's live-byte budget; 0 = its default */
  /* Run free_at/poke/poke_ptr. Off for generated and fuzzed streams (a heap
   * the input corrupted on purpose is not a finding), on for scripts. */
  bool hostile;
  const char *helper;  /* diff: the faultline-glibc executable, NULL = default */
} fl_campaign_opts_t;

void fl_campaign_opts_default(fl_campaign_opts_t *o, fl_campaign_mode_t mode);

#define FL_FINDING_ID_MAX 32

typedef struct fl_finding {
  bool found;
  char id[FL_FINDING_ID_MAX];
  size_t op_index;
  char message[640];  /* one line: what was expected and what was seen */
  char detail[800];   /* the neighbourhood drawn in ASCII, or "" */
} fl_finding_t;

/* Counters a campaign adds up over its streams. */
typedef struct fl_campaign_stats {
  uint64_t ops;             /* ops the executor ran (not skipped) */
  uint64_t checked_ops;     /* ops after which the invariants ran */
  uint64_t walks;           /* full walks of every invariant */
  uint64_t kernel_compares; /* model-vs-kernel comparisons */
  uint64_t diff_ops;        /* ops compared with glibc */
  uint64_t budget_skips;    /* allocations the executor skipped: over the budget (exec.h) */
} fl_campaign_stats_t;

/* Runs ops in o's mode on fresh state; f says what was found (f->found false:
 * clean). stats may be NULL; it is added to. FL_OK whether or not something
 * was found; FL_EUSAGE for a non-canonical op; FL_EENV when the model's
 * window, the helper or memory is not available (fl_error has the reason). */
fl_status_t fl_campaign_run(const fl_ops_t *ops, const fl_campaign_opts_t *o, fl_finding_t *f,
                            fl_campaign_stats_t *stats);

/* ---- expectations in scripts --------------------------------------------- */
typedef struct fl_expect {
  bool clean;                  /* "; expect: clean" */
  char id[FL_FINDING_ID_MAX];
  size_t op_index;
  fl_campaign_mode_t mode;
  int check_level;             /* 0: not given */
} fl_expect_t;

/* Finds the first "; expect: ..." comment line in text. 1 found, 0 none,
 * -1 malformed (fl_error says why, naming `name` and the line). */
int fl_expect_parse(const char *text, size_t len, const char *name, fl_expect_t *e);
/* The comment line for a finding (or clean, f NULL) in o's mode, with '\n'. */
int fl_expect_format(const fl_finding_t *f, const fl_campaign_opts_t *o, char *buf, size_t cap);
/* Whether f is what e expects. */
bool fl_expect_matches(const fl_expect_t *e, const fl_finding_t *f);

#endif
