/* cmd_run.c — `faultline run FILE`: one op script, binary input or
 * recording, executed on refmalloc over the kernel model, and what came of
 * it: findings, glibc integrity messages, system calls, memory. */
#include <stdio.h>
#include <string.h>

#include "alloc/refmalloc.h"
#include "check/check.h"
#include "cli/cli.h"
#include "host/profile.h"
#include "ops/exec.h"
#include "ops/file.h"
#include "ops/rmtarget.h"
#include "util/err.h"
#include "util/json.h"
#include "view/trace.h"
#include "vm/vm.h"

typedef struct run_opts {
  const char *file, *tunables;
  bool json, shadow, trace;
  int check; /* invariant level, 0 = none */
} run_opts_t;

static void help(void) {
  printf(
      "usage: faultline run FILE [--check L] [--shadow] [--trace] [--tunables STR] [--json]\n"
      "\n"
      "Executes an op stream on refmalloc (glibc 2.36 malloc over faultline's kernel\n"
      "model) and reports what happened: findings (a verify that read other bytes,\n"
      "a block that could not be accessed), glibc's integrity messages (double\n"
      "free, corrupted sizes, ...: glibc would have aborted there), the system\n"
      "calls refmalloc made, and the memory the model ended with.\n"
      "\n"
      "FILE is a text script (first line `faultline-ops v2`), a binary stream\n"
      "(`FLOP` header) or raw fuzzer bytes; spec/ops.md describes all three.\n"
      "\n"
      "options:\n"
      "  --shadow         run the model in shadow mode: every call is also made for\n"
      "                   real inside the model's window, and after every op the\n"
      "                   window is compared with /proc/self/maps, pagemap, smaps\n"
      "                   and the minor-fault count\n"
      "  --check L        check the invariants at level L after every call (1: the\n"
      "                   chunks the call touched, 2: plus an amortised full walk,\n"
      "                   3: a full walk every call; spec/invariants.md)\n"
      "  --trace          explain every op: what malloc decided (served from a tcache\n"
      "                   bin, a fastbin, a small/large bin, the unsorted bin, a\n"
      "                   split of top, sysmalloc via brk or mmap; free to tcache,\n"
      "                   fastbin, unsorted, coalesced into top, munmap; trims),\n"
      "                   its system calls in strace's format, the minor faults\n"
      "                   and RSS change, and the invariants checked (--check L)\n"
      "  --tunables STR   as GLIBC_TUNABLES, e.g. glibc.malloc.tcache_count=0\n"
      "  --json           one JSON object instead of the text report\n"
      "\n"
      "examples:\n"
      "  faultline run corpus/refmalloc/seed-experiment.ops\n"
      "  faultline run crash-1234 --shadow --json\n"
      "  faultline run corpus/scripts/bins-tour.ops --trace --check 2\n"
      "\n"
      "exit status: 0 clean, 1 a finding or an integrity message, 2 usage error\n"
      "(unreadable or malformed file), 3 environment error.\n");
}

static int parse(int argc, char **argv, run_opts_t *o) {
  *o = (run_opts_t){0};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (fl_cli_is_help(a)) {
      help();
      return -1;
    } else if (!strcmp(a, "--json")) {
      o->json = true;
    } else if (!strcmp(a, "--shadow")) {
      o->shadow = true;
    } else if (!strcmp(a, "--trace")) {
      o->trace = true;
    } else if (!strcmp(a, "--check")) {
      int st = fl_cli_check_level("run", ++i < argc ? argv[i] : NULL, 0, &o->check);
      if (st) return st;
    } else if (!strcmp(a, "--tunables")) {
      if (++i >= argc) return fl_cli_fail("run", 2, "--tunables needs a value");
      o->tunables = argv[i];
    } else if (a[0] == '-' && a[1]) {
      return fl_cli_fail("run", 2, "unknown option '%s' (see faultline run --help)", a);
    } else if (o->file) {
      return fl_cli_fail("run", 2, "one FILE only ('%s' and '%s')", o->file, a);
    } else {
      o->file = a;
    }
  }
  if (!o->file) return fl_cli_fail("run", 2, "which file? (see faultline run --help)");
  return 0;
}

typedef struct run_outcome {
  fl_exec_result_t exec;
  fl_vm_stats_t vm;
  const fl_rm_event_t *event;
  size_t mismatches;
  const char *first_mismatch;
  size_t violations;
  char first_violation[1024];
  fl_ops_format_t format;
  size_t ops;
  fl_trace_t *trace;       /* --trace: kept for the JSON */
} run_outcome_t;

static const char *sysnames[FL_SYS_COUNT] = {"mmap", "munmap", "mprotect", "mremap", "madvise", "brk"};

static void print_json(const run_opts_t *o, const run_outcome_t *r) {
  fl_json_t j;
  fl_json_init(&j, stdout, true);
  fl_json_begin_object(&j);
  fl_json_key(&j, "file"); fl_json_string(&j, o->file);
  fl_json_key(&j, "format"); fl_json_string(&j, fl_ops_format_name(r->format));
  fl_json_key(&j, "ops"); fl_json_uint(&j, r->ops);
  fl_json_key(&j, "ops_run"); fl_json_uint(&j, r->exec.ops_run);
  fl_json_key(&j, "skipped"); fl_json_uint(&j, r->exec.skipped);
  fl_json_key(&j, "findings"); fl_json_uint(&j, r->exec.findings);
  fl_json_key(&j, "first_finding");
  if (r->exec.findings) fl_json_string(&j, r->exec.finding);
  else fl_json_null(&j);
  fl_json_key(&j, "integrity_message");
  if (r->event) fl_json_string(&j, r->event->message);
  else fl_json_null(&j);
  fl_json_key(&j, "integrity_op_index");
  if (r->event) fl_json_uint(&j, r->event->op_index);
  else fl_json_null(&j);
  fl_json_key(&j, "syscalls");
  fl_json_begin_object(&j);
  for (int k = 0; k < FL_SYS_COUNT; k++) {
    fl_json_key(&j, sysnames[k]);
    fl_json_uint(&j, r->vm.syscalls[k]);
  }
  fl_json_end_object(&j);
  fl_json_key(&j, "rss_kib"); fl_json_uint(&j, r->vm.rss_pages * 4);
  fl_json_key(&j, "vmas"); fl_json_uint(&j, r->vm.nr_vmas);
  fl_json_key(&j, "peak_live_bytes"); fl_json_uint(&j, r->exec.peak_live_bytes);
  fl_json_key(&j, "check_level"); fl_json_int(&j, o->check);
  fl_json_key(&j, "violations"); fl_json_uint(&j, r->violations);
  fl_json_key(&j, "first_violation");
  if (r->violations) fl_json_string(&j, r->first_violation);
  else fl_json_null(&j);
  fl_json_key(&j, "kernel_mismatches");
  if (o->shadow) fl_json_uint(&j, r->mismatches);
  else fl_json_null(&j);
  if (r->trace) {
    fl_json_key(&j, "trace");
    fl_trace_json(r->trace, &j);
  }
  fl_json_end_object(&j);
  fl_json_finish(&j);
}

static void print_text(const run_opts_t *o, const run_outcome_t *r) {
  printf("faultline run %s (%s, %zu ops)\n", o->file, fl_ops_format_name(r->format), r->ops);
  printf("  ran %zu ops, skipped %zu, leaked %zu blocks, peak live %llu bytes\n", r->exec.ops_run, r->exec.skipped,
         r->exec.leaked, (unsigned long long)r->exec.peak_live_bytes);
  printf("  system calls:");
  for (int k = 0; k < FL_SYS_COUNT; k++) printf(" %s %llu", sysnames[k], (unsigned long long)r->vm.syscalls[k]);
  printf("\n  the model ends with %llu VMAs, RSS %llu KiB\n", (unsigned long long)r->vm.nr_vmas,
         (unsigned long long)r->vm.rss_pages * 4);
  if (r->event)
    printf("  INTEGRITY: op %llu: \"%s\" (glibc aborts here)\n", (unsigned long long)r->event->op_index,
           r->event->message);
  if (r->exec.findings) printf("  FINDING: %s\n", r->exec.finding);
  if (o->check) printf("  invariants (level %d): %s%s\n", o->check, r->violations ? "VIOLATED: " : "all held",
                       r->violations ? r->first_violation : "");
  if (o->shadow)
    printf("  kernel comparison: %s%s\n", r->mismatches ? "MISMATCH: " : "the kernel agrees",
           r->mismatches ? r->first_mismatch : "");
  printf("  verdict: %s\n", r->event || r->exec.findings || r->mismatches || r->violations ? "FINDING" : "clean");
}

/* Shadow mode: the model against the kernel after every op, so that the
 * fault counts compared are the op's own; the first mismatch stops. */
static unsigned compare_what = FL_CMP_ALL;

/* Mismatches that count: with checks on, the minor-fault ones are the
 * checker's own faults (it moves its baseline past them itself). */
static size_t counted_mismatches(const fl_vm_t *vm) {
  size_t n = 0;
  for (size_t i = 0; i < fl_vm_mismatch_count(vm); i++)
    n += (compare_what & FL_CMP_MINFLT) || fl_vm_mismatch(vm, i)->kind != FL_MM_MINFLT;
  return n;
}

/* What runs after every op: the kernel comparison (shadow mode), then the
 * trace. */
typedef struct after_ctx {
  fl_vm_t *vm;             /* shadow mode: compare; else NULL */
  fl_trace_t *trace;
  fl_check_t *chk;
  size_t violation_op;     /* the script op during which the first violation came; SIZE_MAX: none yet */
  uint64_t calls_seen;     /* the checker's allocator-call count after the previous op */
} after_ctx_t;

/* The executor's set-up (its slot table, under ASan that table's shadow)
 * faults pages of ours: fault counts start after it. */
static void on_start(void *ctx) {
  after_ctx_t *a = ctx;
  if (a->vm) fl_vm_compare(a->vm, 0);
  if (a->chk) fl_check_rebase(a->chk);
}

static bool after_op(void *ctx, size_t index, const fl_op_t *op, fl_exec_status_t status) {
  after_ctx_t *a = ctx;
  fl_vm_t *vm = a->vm;
  /* Level 3 is a walk after every op: the checker's call hook walked after
   * allocator calls; an op that made none (write, poke, ...) gets its walk
   * here, as in the campaign, so that a violation is seen at its op. */
  if (a->chk && fl_check_level(a->chk) >= 3 && fl_check_ops(a->chk) == a->calls_seen && status == FL_EXEC_OK)
    fl_check_full(a->chk);
  if (a->chk) a->calls_seen = fl_check_ops(a->chk);
  if (a->chk && a->violation_op == SIZE_MAX && fl_check_violation_count(a->chk)) a->violation_op = index;
  if (vm) fl_vm_compare(vm, compare_what);
  if (a->trace) fl_trace_op(a->trace, index, op, status);
  /* the trace's own page faults are nobody's op: the next count starts here */
  if (vm && a->trace) fl_vm_compare(vm, 0);
  if (!vm || !counted_mismatches(vm)) return true;
  fprintf(stderr, "faultline run: the model and the kernel disagree after op %zu\n", index);
  return false;
}

/* Runs ops on a fresh model + refmalloc; fills r. */
static int execute(const run_opts_t *o, const fl_ops_t *ops, run_outcome_t *r) {
  fl_vm_config_t cfg;
  fl_vm_config_default(&cfg, fl_kprofile_get());
  cfg.mode = o->shadow ? FL_VM_SHADOW : FL_VM_FAST;
  fl_vm_t *vm;
  int st = fl_vm_open(&vm, &cfg);
  if (st != FL_OK) return fl_cli_fail("run", 3, "%s", fl_error_message());
  fl_rm_config_t rc;
  fl_rm_config_default(&rc);
  rc.tunables = o->tunables;
  fl_rm_t *rm;
  if (fl_rm_open(&rm, vm, &rc) != FL_OK) {
    fl_vm_close(vm);
    return fl_cli_fail("run", 2, "%s", fl_error_message());
  }
  fl_check_t *chk = NULL;
  if (o->check && fl_check_open(&chk, rm, vm, o->check) != FL_OK) {
    fl_rm_close(rm);
    fl_vm_close(vm);
    return fl_cli_fail("run", 3, "%s", fl_error_message());
  }
  fl_target_t t;
  fl_rmtarget_init(&t, rm);
  if (chk) fl_rmtarget_set_checker(&t, chk);
  fl_exec_options_t eo = {.after_op = after_op, .on_start = on_start};
  after_ctx_t ac = {.chk = chk, .violation_op = SIZE_MAX};
  eo.after_op_ctx = &ac;
  if (o->trace && fl_trace_open(&r->trace, rm, chk, o->json ? NULL : stdout) != FL_OK) {
    fl_check_close(chk);
    fl_rm_close(rm);
    fl_vm_close(vm);
    return fl_cli_fail("run", 3, "%s", fl_error_message());
  }
  ac.trace = r->trace;
  if (o->shadow) {
    /* The checker's own memory faults land in the same process count: with
     * checks on, the minor-fault bound means nothing. */
    compare_what = o->check ? FL_CMP_ALL & ~FL_CMP_MINFLT : FL_CMP_ALL;
    fl_vm_compare(vm, FL_CMP_ALL); /* the baseline */
    ac.vm = vm;
  }
  st = fl_exec_run(ops, &t, &eo, &r->exec);
  if (st == FL_OK || st == FL_FINDING) {
    r->event = fl_rm_last_event(rm);
    r->mismatches = counted_mismatches(vm);
    static char first[1024];
    for (size_t i = 0; i < fl_vm_mismatch_count(vm) && r->mismatches && !first[0]; i++)
      if ((compare_what & FL_CMP_MINFLT) || fl_vm_mismatch(vm, i)->kind != FL_MM_MINFLT)
        snprintf(first, sizeof first, "%s", fl_vm_mismatch(vm, i)->text);
    r->first_mismatch = first;
    fl_vm_stats(vm, &r->vm);
    if (chk && (r->violations = fl_check_violation_count(chk))) {
      const fl_violation_t *v = fl_check_violation(chk, 0);
      /* The checker counts allocator calls; the script, ops. Op n: the
       * executor's frees of the blocks still live at the end. */
      snprintf(r->first_violation, sizeof r->first_violation,
               "%s at op %zu (after call %llu) at %#lx: expected %s, actual %s", v->id,
               ac.violation_op != SIZE_MAX ? ac.violation_op : ops->n, (unsigned long long)v->op_index,
               (unsigned long)v->addr, v->expected, v->actual);
    }
    static fl_rm_event_t ev;
    if (r->event) ev = *r->event, r->event = &ev;
  }
  fl_trace_detach(r->trace);
  fl_check_close(chk);
  fl_rm_close(rm);
  fl_vm_close(vm);
  if (st != FL_OK && st != FL_FINDING) return fl_cli_fail("run", st, "%s", fl_error_message());
  return 0;
}

int fl_cmd_run(int argc, char **argv) {
  run_opts_t o;
  int st = parse(argc, argv, &o);
  if (st) return st < 0 ? 0 : st;
  fl_ops_t ops;
  fl_ops_init(&ops);
  run_outcome_t r = {0};
  int fmt = 0;
  if ((st = fl_cli_load_ops("run", o.file, &ops, &fmt))) {
    fl_ops_free(&ops);
    return st;
  }
  r.format = (fl_ops_format_t)fmt;
  r.ops = ops.n;
  st = execute(&o, &ops, &r);
  fl_ops_free(&ops);
  if (st) {
    fl_trace_close(r.trace);
    fl_exec_result_free(&r.exec);
    return st;
  }
  if (o.json) print_json(&o, &r);
  else print_text(&o, &r);
  bool finding = r.event || r.exec.findings || r.mismatches || r.violations;
  fl_trace_close(r.trace);
  fl_exec_result_free(&r.exec);
  return finding ? 1 : 0;
}
