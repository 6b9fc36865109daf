/* fuzz/oracle.c — the black-box oracle (src/oracle) on any allocator.
 *
 * Each input decodes to an op stream run in the faultline-oracle helper
 * with LD_PRELOAD=$FAULTLINE_ALLOCATOR (default: this system's glibc), which
 * checks what C and POSIX promise about malloc: alignment, no overlap,
 * usable size, errno, zeroed calloc, give-back, ... A broken promise or a
 * death of the helper aborts with the oracle's report. The oracle counts
 * the kinds a black box cannot run (thread, check, inject, hostile ops) as
 * unsupported: no input can corrupt the heap on purpose here.
 *
 * The helper lives across inputs (a new process per input would be most of
 * the cost). An allocator's state can then carry over from one input to the
 * next, so a finding is run again on a fresh helper before aborting, and
 * the report says whether the input alone reproduces it. */
#include <dlfcn.h>
#include <gnu/libc-version.h>

#include "common.h"
#include "oracle/oracle.h"

static fl_oracle_t *oracle; /* the helper kept across inputs */

/* $FAULTLINE_ALLOCATOR, else the libc.so.6 this process loaded. */
static const char *allocator(void) {
  const char *env = getenv("FAULTLINE_ALLOCATOR");
  if (env && *env) return env;
  Dl_info info;
  if (!dladdr((void *)gnu_get_libc_version, &info) || !info.dli_fname) {
    fprintf(stderr, "fuzz/oracle: cannot locate libc.so.6; set FAULTLINE_ALLOCATOR\n");
    exit(3);
  }
  return info.dli_fname;
}

static fl_oracle_t *open_oracle(bool fresh) {
  fl_oracle_opts_t opts = {.allocator = allocator(), .fresh = fresh};
  fl_oracle_t *o;
  if (fl_oracle_open(&o, &opts) != FL_OK) fl_fuzz_environment("oracle");
  return o;
}

static void report(const fl_oracle_result_t *r) {
  for (size_t i = 0; i < r->nviol; i++)
    if (!r->viol[i].allowed)
      fprintf(stderr, "%s at op %llu: %s\n", fl_oracle_id_name(r->viol[i].id),
              (unsigned long long)r->viol[i].op_index, r->viol[i].detail);
  if (r->died)
    fprintf(stderr, "the helper %s at op %llu (signal %d, exit %d): %s\n", r->timeout ? "hung" : "died",
            (unsigned long long)r->death_op, r->signal, r->exit_code, r->message);
}

/* Runs ops on o; FL_OK or FL_FINDING (r filled), anything else exits. */
static fl_status_t run(fl_oracle_t *o, const fl_ops_t *ops, fl_oracle_result_t *r) {
  fl_status_t st = fl_oracle_run(o, ops, r);
  if (st != FL_OK && st != FL_FINDING) fl_fuzz_environment("oracle");
  return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fl_ops_t ops;
  fl_fuzz_decode("oracle", data, size, &ops);
  if (!oracle) oracle = open_oracle(false);
  static fl_oracle_result_t r, again; /* large: kept off the stack */
  if (run(oracle, &ops, &r) == FL_FINDING) {
    report(&r);
    fl_oracle_t *fresh = open_oracle(true);
    bool alone = run(fresh, &ops, &again) == FL_FINDING;
    fl_oracle_close(fresh);
    fl_fuzz_finding("oracle", "%s broke a promise%s (allocator %s)", fl_oracle_provider(oracle),
                    alone ? "" : "; a fresh helper running this input alone did not: earlier inputs' state",
                    allocator());
  }
  fl_ops_free(&ops);
  return 0;
}
