/* oracle.h — the black-box oracle: what C and POSIX promise about malloc,
 * checked on any allocator (issue 4, items 5 and 6).
 *
 * The allocator runs in the faultline-oracle helper (src/helper), exec'd
 * with a clean environment and LD_PRELOAD=<allocator .so>, so that every
 * allocator works, including those that cannot be dlopen'ed, and the
 * parent (sanitized or not) never shares a heap with it. The helper runs op
 * streams and checks the promises itself; a crash or a hang of the helper
 * is a finding too (FL_ORACLE_CRASH, FL_ORACLE_HANG, or the promise the op
 * was exercising: free(NULL), freeing a zero-size block).
 *
 *   fl_oracle_t *o;
 *   fl_oracle_opts_t opts = {.allocator = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"};
 *   fl_oracle_open(&o, &opts);            // starts the helper, checks the preload took
 *   fl_ops_t ops = {0};
 *   fl_oracle_stream(seed, 20000, &ops);  // the probes, then a generated stream
 *   fl_oracle_result_t r;
 *   fl_oracle_run(o, &ops, &r);           // FL_OK, FL_FINDING, or an error
 *   fl_oracle_close(o);
 *
 * Promises: spec/invariants.md, ORACLE-* rows (the IDs are the registry's). */
#ifndef FL_ORACLE_ORACLE_H
#define FL_ORACLE_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oracle/wire.h"
#include "ops/op.h"
#include "util/err.h"

/* "ORACLE-ALIGN", ...; NULL out of range. Lookup: -1 if unknown. */
const char *fl_oracle_id_name(unsigned id);
int fl_oracle_id_lookup(const char *name);

/* Adds "ID" (on every op) or "ID:KIND" (on ops of one kind, "end" for the
 * end of the run) to allow. FL_EUSAGE with a message for anything else. */
fl_status_t fl_oracle_allow(uint32_t allow[FL_ORACLE_ID_COUNT], const char *spec);

typedef enum fl_oracle_promises {
  FL_ORACLE_PROMISES_POSIX, /* the default: C and POSIX */
  FL_ORACLE_PROMISES_C,     /* the C standard only */
} fl_oracle_promises_t;

/* The give-back bound: after everything is freed and the purge calls are
 * made, Rss may exceed its value before the run by at most
 * FL_ORACLE_GIVE_BACK_SLACK plus peak_live / FL_ORACLE_GIVE_BACK_DIV
 * (spec/invariants.md, ORACLE-GIVE-BACK, says why this holds). */
#define FL_ORACLE_GIVE_BACK_SLACK ((uint64_t)16 << 20)
#define FL_ORACLE_GIVE_BACK_DIV 8

typedef struct fl_oracle_opts {
  const char *allocator;     /* the .so for LD_PRELOAD (a path; libc.so.6 for glibc's own) */
  const char *helper;        /* NULL: $FAULTLINE_ORACLE_HELPER, next to the executable,
                              * or in $FAULTLINE_BUILD_DIR */
  fl_oracle_promises_t promises;
  /* Per promise, the op kinds (FL_ORACLE_KIND_BIT) on which breaking it is
   * reported but not a finding: fl_oracle_allow fills it. */
  uint32_t allow[FL_ORACLE_ID_COUNT];
  unsigned timeout_ms;       /* per op; 0 = FL_ORACLE_DEFAULT_TIMEOUT_MS */
  uint64_t budget;           /* live bytes; 0 = FL_ORACLE_DEFAULT_BUDGET */
  bool fresh;                /* a new helper process for every run (replayable runs) */
} fl_oracle_opts_t;

#define FL_ORACLE_DEFAULT_TIMEOUT_MS 10000u
#define FL_ORACLE_DEFAULT_BUDGET ((uint64_t)32 << 20)

typedef struct fl_oracle_violation {
  fl_oracle_id_t id;
  bool allowed;
  uint64_t op_index;         /* the op that showed it (ops->n: the end of the run) */
  char detail[FL_ORACLE_TEXT + 96];
} fl_oracle_violation_t;

typedef struct fl_oracle_result {
  uint64_t fired[FL_ORACLE_ID_COUNT]; /* times each promise broke, allowed ones included */
  size_t nviol;                       /* the first violation of each ID */
  fl_oracle_violation_t viol[FL_ORACLE_VIOL_MAX + 1];
  bool finding;                       /* a promise broke that was not allowed */
  /* The helper's death (CRASH, HANG or the promise its op exercised). */
  bool died, timeout;
  int signal, exit_code;              /* signal 0 / exit_code -1 when not applicable */
  uint64_t death_op;                  /* the op it was running (ops->n: the teardown) */
  char message[512];                  /* what it wrote on stderr */
  /* Counts and memory. */
  uint64_t ops_run, skipped, unsupported, nulls;
  bool measured;                      /* the give-back numbers below are valid */
  uint64_t peak_live, rss_before, rss_after, rss_peak, rss_bound;
  uint32_t purged;                    /* bit per fl_oracle_fn_t */
} fl_oracle_result_t;

typedef struct fl_oracle fl_oracle_t;

/* Starts the helper. FL_EUSAGE when the allocator is not a readable file or
 * the helper's malloc does not come from it (ld.so refused the preload, or
 * it defines no malloc); FL_EENV when the helper cannot be found or run. */
fl_status_t fl_oracle_open(fl_oracle_t **out, const fl_oracle_opts_t *opts);
void fl_oracle_close(fl_oracle_t *o);

/* Runs ops (any canonical stream: the kinds a black box cannot run, thread,
 * check, inject and the hostile ones, are counted as unsupported), then
 * frees every block still live, purges, and measures the give-back. Starts
 * a new helper when the last one died, stopped on a finding, or opts.fresh.
 * FL_OK: no finding; FL_FINDING: see r; FL_EENV/FL_EUSAGE: message set. */
fl_status_t fl_oracle_run(fl_oracle_t *o, const fl_ops_t *ops, fl_oracle_result_t *r);

/* The file the helper's malloc comes from, and the fl_oracle_fn_t bits of
 * what that file provides. */
const char *fl_oracle_provider(const fl_oracle_t *o);
uint32_t fl_oracle_provided(const fl_oracle_t *o);
const char *fl_oracle_fn_name(unsigned fn);

/* The probes: a fixed script that asks every promise once (impossible
 * sizes, every power-of-two alignment up to 2 MiB, posix_memalign's bad
 * alignments, free(NULL), zero sizes, calloc over recycled memory, realloc
 * growing and shrinking across the mmap threshold). Appends to out. */
fl_status_t fl_oracle_probes(fl_ops_t *out);
/* The probes, then n generated ops of seed (the generator's mix with the
 * kinds a black box runs, 256 slots, the default budget). */
fl_status_t fl_oracle_stream(uint64_t seed, size_t n, fl_ops_t *out);

#endif
