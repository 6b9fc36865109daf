/* demo.h — the seed article's experiment, measured three ways at once.
 *
 * The article's program: p = malloc(100); memset(p, 1, 100);
 * q = malloc(100 MiB); memset(q, 2, 100 MiB); free(p); free(q).
 * Every step runs on
 *  - the model: refmalloc (glibc 2.36 malloc) over the kernel model in
 *    shadow mode; its system calls are recorded through the vm hook;
 *  - the kernel: the same calls, made for real at the model's addresses by
 *    shadow mode; after each step /proc/self/smaps and the minor-fault count
 *    are read, and fl_vm_compare asks whether the kernel agrees;
 *  - glibc: the real glibc 2.36 malloc in the faultline-glibc helper (a
 *    child under ptrace: src/ops/glibc.h), whose system calls the tracer
 *    records; /proc/PID/smaps and /proc/PID/stat give its mapping and
 *    faults.
 * Nothing here is a number written down: every field below was measured.
 * Each step carries verdicts, so that the text and the JSON tell the same
 * story (src/cli/cmd_demo.c prints them). */
#ifndef FL_VIEW_DEMO_H
#define FL_VIEW_DEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ops/op.h"
#include "util/err.h"
#include "vm/vm.h"

#define FL_DEMO_STEPS 6
#define FL_DEMO_MAX_CALLS 8
/* The helper takes faults of its own while it runs an op (its stack, the
 * request it reads): a few over the model's bound are the helper's. */
#define FL_DEMO_MINFLT_SLACK 8

typedef enum fl_demo_side { FL_DEMO_MODEL, FL_DEMO_KERNEL, FL_DEMO_GLIBC, FL_DEMO_SIDES } fl_demo_side_t;
/* "model", "kernel", "glibc" */
const char *fl_demo_side_name(fl_demo_side_t s);

typedef struct fl_demo_call {
  fl_sysno_t no;
  uint64_t args[6];
  int64_t ret;
} fl_demo_call_t;

/* One `pmap -x` line: the VMA holding a block, on one side. */
typedef struct fl_demo_map {
  bool found;
  uintptr_t addr;
  uint64_t kbytes, rss_kib, dirty_kib;
  int prot;
} fl_demo_map_t;

typedef struct fl_demo_step {
  const char *code;                 /* the C the article runs: "q = malloc(104857600)" */
  fl_op_t op;                       /* the same as an op (slot 0 is p, 1 is q) */
  uint64_t ptr[FL_DEMO_SIDES];      /* malloc's result (the kernel side: the model's) */
  /* system calls: the model's, and the traced glibc's (the kernel performed
   * the model's own, at the same addresses) */
  fl_demo_call_t calls[FL_DEMO_SIDES][FL_DEMO_MAX_CALLS];
  size_t ncalls[FL_DEMO_SIDES];
  /* after the step: the VMA holding p (the heap) and the one holding q */
  fl_demo_map_t heap[FL_DEMO_SIDES], big[FL_DEMO_SIDES];
  /* The helper's kernel may merge q's mapping with an anonymous VMA next to
   * it (ld.so's, under the libraries): glibc_vma is then the VMA as pmap
   * shows it, and big[FL_DEMO_GLIBC] q's own part: the merged VMA less the
   * neighbours as they were measured just before the malloc. */
  bool glibc_merged;
  fl_demo_map_t glibc_vma;
  /* minor faults during the step: the model's bound, the others' counts */
  uint64_t minflt_min, minflt_max;
  long minflt[FL_DEMO_SIDES];
  /* verdicts */
  bool calls_agree;                 /* glibc made the same calls as the model */
  bool kernel_agrees;               /* fl_vm_compare found nothing new */
  char kernel_mismatch[256];
  bool maps_agree;                  /* the pmap lines match on all three sides */
  bool minflt_agrees;               /* the kernel's and glibc's counts within the bound */
} fl_demo_step_t;

typedef struct fl_demo {
  fl_demo_step_t steps[FL_DEMO_STEPS];
  size_t nsteps;
  int glibc_pid;
  bool agree;                       /* every verdict of every step */
} fl_demo_t;

/* Runs the experiment. helper: the faultline-glibc executable, or NULL to
 * find it as src/ops/glibc.h says. FL_OK (d->agree says whether the three
 * sides agree), FL_EENV when the model's window or the helper cannot be
 * had. */
fl_status_t fl_demo_run(fl_demo_t *d, const char *helper);

/* The step that ran `kind` on slot `slot` (the malloc of q, the memset of
 * q...), or NULL: for the summary lines and the JSON. */
const fl_demo_step_t *fl_demo_step(const fl_demo_t *d, fl_op_kind_t kind, unsigned slot);

#endif
