/* diff.h — the differential: one op stream on refmalloc and on the real glibc.
 *
 * The stream runs on refmalloc (a fresh FAST-mode model) through the
 * executor, capturing the model's system calls per op, and then op by op on
 * glibc in the traced helper (glibc.h). The executor's decisions (empty
 * slots, the live-byte budget) are taken once, on refmalloc, and the helper
 * follows the same slot rules: before the first divergence both sides hold
 * the same blocks in the same slots, so the decisions hold for both.
 * check ops are skipped on both sides (the helper has no invariants);
 * thread ops run real pthreads in the helper, and refmalloc's side mirrors
 * their pthread_create (stack mapping, DTV calloc). The model mirrors the
 * helper's address space (its break, mmap_base and mappings, diff.c).
 * spec/diff.md has the whole contract.
 *
 * Addresses differ between a model window and a real process, so both
 * sides are normalised the same way before comparing:
 *  - a pointer inside a mapping made by mmap/mremap during the run is
 *    "m<i>+off": the i-th mapping in order of creation, offset from its start;
 *  - a pointer in the brk heap is "h+off", from the initial break (the first
 *    brk(0) answer after start-up; glibc's ld.so/libc start-up is excluded);
 *  - brk arguments and results likewise; lengths, prot, flags, errno values
 *    are compared raw; brk(0) queries are not compared;
 *  - anything else stays a raw address (and will differ).
 * Per op: status, pointer, usable size, errno, int result, verify outcome
 * and the list of system calls. A glibc abort (SIGABRT, message on stderr)
 * equals a refmalloc integrity event with the same message; a SIGSEGV
 * equals a model SEGV; the comparison ends there. */
#ifndef FL_OPS_DIFF_H
#define FL_OPS_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ops/gen.h"
#include "ops/glibc.h"
#include "ops/op.h"
#include "util/err.h"

typedef struct fl_diff_opts {
  fl_glibc_opts_t glibc; /* .tunables applies to refmalloc too */
  uint64_t budget;       /* the executor's live-byte budget; 0 = its default */
  /* Called every `progress_every` ops of each side (0: never); side is
   * "refmalloc" or "glibc". */
  void (*progress)(void *ctx, const char *side, size_t done, size_t total);
  void *progress_ctx;
  size_t progress_every;
} fl_diff_opts_t;

typedef struct fl_diff_result {
  size_t stream_ops;  /* ops in the stream */
  size_t ops;         /* ops compared (all, unless a side ended early) */
  size_t identical;   /* compared ops whose every field matched */
  size_t budget_skips;/* ops skipped on both sides: over the budget */
  bool diverged;
  size_t first_index; /* the first divergent op */
  char op[128];       /* that op, as a text line */
  char refmalloc[2048], glibc[2048]; /* both sides of it, normalised */
  char *script;       /* the stream up to and including it, a text script */
  /* How the run ended early, if it did: a helper death or a refmalloc
   * integrity event (crash_agreed: both, with the same outcome). */
  bool crashed;
  size_t crash_index;
  int crash_signal;         /* glibc's signal, 0 if glibc lived */
  char glibc_message[512];  /* what glibc wrote to stderr */
  char refmalloc_event[512];/* refmalloc's integrity message, "" if none */
  bool crash_agreed;
  /* Wall time of each side's run: refmalloc's includes the model and the
   * executor; glibc's the helper's round trips and the tracer. */
  double refmalloc_seconds, glibc_seconds;
  /* The time the helper spent inside the ops (fl_glibc_reply_t.ns). */
  double glibc_op_seconds;
} fl_diff_result_t;

/* The stream `faultline diff --ops N --seed S` compares: the generator's
 * (gen.h) with `threads` logical threads and a live-byte budget, minus one
 * kind of op: a memalign-family op whose alignment exceeds the budget while
 * M_PERTURB is set. glibc's _int_memalign asks _int_malloc for alignment +
 * size bytes and perturbs all of them, so memalign(4 GiB, 10) then writes
 * 4 GiB on both sides (tens of seconds, and the pages stay resident until
 * the block is freed): far over the budget that bounds every other op's
 * memory. Without M_PERTURB the same op stays in (it only reserves address
 * space). Ops are generated until n survive; the result is exactly n ops.
 * FL_EUSAGE for bad options (gen.h). */
#define FL_DIFF_DEFAULT_BUDGET ((uint64_t)128 << 20)
fl_status_t fl_diff_generate(uint64_t seed, size_t n, unsigned threads, uint64_t budget, fl_ops_t *out);

/* FL_OK (ran; see r->identical), FL_EENV (the helper or the model could not
 * start), FL_EUSAGE (a non-canonical op, bad tunables). Call
 * fl_diff_result_free afterwards in every case. */
fl_status_t fl_diff_run(const fl_ops_t *ops, const fl_diff_opts_t *o, fl_diff_result_t *r);
void fl_diff_result_free(fl_diff_result_t *r);

/* Whether a helper that died of `signal` having written `glibc_stderr`
 * ended the way refmalloc's integrity event says glibc would: SIGABRT with
 * the event's message in what glibc printed, or SIGSEGV for a model SEGV. */
struct fl_rm_event;
bool fl_diff_same_end(int signal, const char *glibc_stderr, const struct fl_rm_event *ev);

#endif
