/* fuzz/common.h — what the op-stream fuzz entry points share: sanitizer
 * defaults, turning an input into a bounded op stream, and how a finding
 * ends the process (the report on stderr, then abort, which every engine
 * and the replay binary treat as a crash). Included once per binary. */
#ifndef FL_FUZZ_COMMON_H
#define FL_FUZZ_COMMON_H

#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ops/binary.h"
#include "ops/exec.h"
#include "ops/text.h"
#include "util/err.h"

/* Ops run per input. Longer inputs are cut: a finding needs few ops, and a
 * bounded input keeps exec/s up and timeouts meaningless. */
#define FL_FUZZ_MAX_OPS 512

/* Live bytes an input may hold. The executor's default (1 GiB) would let a
 * write over a huge block take the process past libFuzzer's RSS limit;
 * 256 MiB still admits the seed experiment's malloc(100 MiB) and every
 * threshold of the size table. */
#define FL_FUZZ_BUDGET ((uint64_t)256 << 20)

/* Impossible sizes are legal inputs: ASan's allocator must return NULL for
 * them rather than report, in the harness as in the allocator under test. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

/* A finding: the report, then abort. */
__attribute__((noreturn, format(printf, 2, 3))) static inline void fl_fuzz_finding(const char *target, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "fuzz/%s: ", target);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

/* The harness itself cannot run (no memory, no model window): exit 3, the
 * project's environment status, so that it is not mistaken for a finding. */
__attribute__((noreturn)) static inline void fl_fuzz_environment(const char *target) {
  fprintf(stderr, "fuzz/%s: %s\n", target, fl_error_message());
  exit(3);
}

/* Shadow mode bounds the process's minor faults between two comparisons,
 * and the harness's own heap faults count too. glibc's dynamic mmap
 * threshold would move the executor's 2 MiB slot table from a fresh,
 * lazily touched mapping into the brk heap after the first input, where
 * calloc clears it page by page: hundreds of faults charged to op 0. A
 * fixed threshold keeps it a mapping. (ASan's calloc of fresh mappings
 * never clears; mallopt is a no-op there.) Call before every input. */
static inline void fl_fuzz_steady_heap(void) { mallopt(M_MMAP_THRESHOLD, 128 * 1024); }

/* Decodes an input (every byte string is an op stream) and keeps its first
 * FL_FUZZ_MAX_OPS ops. */
static inline void fl_fuzz_decode(const char *target, const uint8_t *data, size_t size, fl_ops_t *ops) {
  fl_ops_init(ops);
  if (fl_ops_decode(data, size, ops) != FL_OK) fl_fuzz_environment(target);
  if (ops->n > FL_FUZZ_MAX_OPS) ops->n = FL_FUZZ_MAX_OPS;
}

static inline bool fl_fuzz_is_finding(fl_exec_status_t s) {
  return s == FL_EXEC_MISMATCH || s == FL_EXEC_ACCESS || s == FL_EXEC_CHECK_FAILED;
}

/* An executor finding at op index, reported from the after_op hook: the
 * executor's own line when it is the run's first finding, else the op. */
__attribute__((noreturn)) static inline void fl_fuzz_exec_finding(const char *target, const fl_exec_result_t *res,
                                                                  size_t index, const fl_op_t *op,
                                                                  fl_exec_status_t status) {
  if (res->first_finding == index) fl_fuzz_finding(target, "%s", res->finding);
  char text[128];
  fl_op_format(op, text, sizeof text);
  fl_fuzz_finding(target, "op %zu (%s): %s", index, text, fl_exec_status_name(status));
}

/* Executor options for every target but `ops`: hostile ops corrupt a heap
 * on purpose, so what follows them is the input's doing, not a finding. */
static inline fl_exec_options_t fl_fuzz_exec_options(void) {
  return (fl_exec_options_t){.budget = FL_FUZZ_BUDGET, .skip_hostile = true};
}

#endif
