/* cmd_diff.c — `faultline diff`: refmalloc against the real glibc, op by op
 * (src/ops/diff.h does the work; this file reads flags and prints). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ops/diff.h"
#include "ops/file.h"
#include "util/err.h"
#include "util/json.h"

typedef struct diff_opts {
  const char *file, *tunables, *helper, *preload;
  uint64_t ops, seed, threads, budget;
  bool json, have_ops;
} diff_opts_t;

static void help(void) {
  printf(
      "usage: faultline diff [FILE] [--ops N] [--seed S] [--threads N] [--json]\n"
      "                      [--budget BYTES] [--tunables STR] [--helper PATH] [--preload SO]\n"
      "\n"
      "Runs one op stream twice: on refmalloc (glibc 2.36 malloc over faultline's\n"
      "kernel model) and on the real glibc malloc, in the faultline-glibc helper\n"
      "process (ASLR off, clean environment, traced with ptrace + seccomp so that\n"
      "every brk/mmap/munmap/mremap/mprotect/madvise it makes is seen). Per op it\n"
      "compares the pointer returned, malloc_usable_size, errno, the int result\n"
      "and the system calls made, and reports the first op where they differ.\n"
      "\n"
      "Addresses are normalised before comparing: h+OFF is an offset from the\n"
      "initial break (the brk heap), mN+OFF an offset into the N-th mapping made\n"
      "during the run; glibc's own start-up calls (ld.so, libc init) are left out,\n"
      "and brk(0) queries are not compared.\n"
      "\n"
      "The stream is FILE (text script, binary or raw bytes, see spec/ops.md), or\n"
      "--ops N ops from the seeded generator (src/ops/gen.c), default 10000, with\n"
      "a live-byte budget of 128 MiB (every boundary of the size table up to the\n"
      "seed article's 100 MiB fits) and without memalign-family ops whose\n"
      "alignment exceeds the budget while M_PERTURB is set (glibc would fill\n"
      "alignment + size bytes, e.g. 4 GiB; spec/diff.md).\n"
      "Logical threads are real pthreads in the helper (each op runs on its thread,\n"
      "glibc picks arenas itself); check ops are skipped on both sides.\n"
      "\n"
      "options:\n"
      "  --ops N          generate N ops (without FILE; default 10000)\n"
      "  --seed S         the generator's seed (default 1)\n"
      "  --budget BYTES   the generator's live-byte budget (default 134217728)\n"
      "  --threads N      logical threads for the generator (1..16, default 1)\n"
      "  --tunables STR   GLIBC_TUNABLES for both sides, e.g. glibc.malloc.tcache_count=0\n"
      "  --helper PATH    the faultline-glibc executable (default: next to faultline)\n"
      "  --preload SO     LD_PRELOAD this allocator into the helper instead of glibc's\n"
      "  --json           one JSON object: ops, identical, first_divergence\n"
      "                   {op_index, op, refmalloc, glibc, script}, crash, seconds\n"
      "                   (spec/diff.md)\n"
      "\n"
      "examples:\n"
      "  faultline diff --ops 100000 --seed 1 --json\n"
      "  faultline diff corpus/ops/seed-experiment\n"
      "  faultline diff --ops 5000 --seed 7 --tunables glibc.malloc.tcache_count=0\n"
      "  faultline diff --ops 20000 --seed 2 --threads 4\n"
      "  faultline record -o py.ops -- python3 -c 'import json' && faultline diff py.ops\n"
      "\n"
      "A divergence prints both sides and a replayable script of the ops up to it:\n"
      "save it and run `faultline diff saved.ops` or `faultline run saved.ops`.\n"
      "\n"
      "exit status: 0 every op identical, 1 a divergence, 2 usage error,\n"
      "3 environment error (the helper cannot start or be traced).\n");
}

static int parse(int argc, char **argv, diff_opts_t *o) {
  *o = (diff_opts_t){.ops = 10000, .seed = 1, .threads = 1, .budget = FL_DIFF_DEFAULT_BUDGET};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    uint64_t *num = NULL;
    if (fl_cli_is_help(a)) {
      help();
      return -1;
    } else if (!strcmp(a, "--json")) {
      o->json = true;
      continue;
    } else if (!strcmp(a, "--ops")) {
      num = &o->ops;
      o->have_ops = true;
    } else if (!strcmp(a, "--seed")) {
      num = &o->seed;
    } else if (!strcmp(a, "--threads")) {
      num = &o->threads;
    } else if (!strcmp(a, "--budget")) {
      num = &o->budget;
    } else if (!strcmp(a, "--tunables") || !strcmp(a, "--helper") || !strcmp(a, "--preload")) {
      if (++i >= argc) return fl_cli_fail("diff", 2, "%s needs a value", a);
      const char **dst = a[2] == 't' ? &o->tunables : a[2] == 'h' ? &o->helper : &o->preload;
      *dst = argv[i];
      continue;
    } else if (a[0] == '-' && a[1]) {
      return fl_cli_fail("diff", 2, "unknown option '%s' (see faultline diff --help)", a);
    } else if (o->file) {
      return fl_cli_fail("diff", 2, "one FILE only ('%s' and '%s')", o->file, a);
    } else {
      o->file = a;
      continue;
    }
    if (++i >= argc || !fl_cli_parse_u64(argv[i], num == &o->ops, num))
      return fl_cli_fail("diff", 2, "%s needs a number (see faultline diff --help)", a);
  }
  if (o->file && o->have_ops) return fl_cli_fail("diff", 2, "FILE or --ops, not both");
  if (!o->budget) return fl_cli_fail("diff", 2, "--budget must be at least 1 byte");
  if (o->threads < 1 || o->threads > FL_OP_THREADS)
    return fl_cli_fail("diff", 2, "--threads must be 1..%d", FL_OP_THREADS);
  return 0;
}

static void progress(void *ctx, const char *side, size_t done, size_t total) {
  (void)ctx;
  fprintf(stderr, "\r  %-9s %zu/%zu ops", side, done, total);
  if (done == total) fputc('\n', stderr);
}

static void print_json(const diff_opts_t *o, const fl_diff_result_t *r) {
  fl_json_t j;
  fl_json_init(&j, stdout, true);
  fl_json_begin_object(&j);
  fl_json_key(&j, "source");
  fl_json_string(&j, o->file ? o->file : "generator");
  if (!o->file) {
    fl_json_key(&j, "seed"); fl_json_uint(&j, o->seed);
  }
  fl_json_key(&j, "stream_ops"); fl_json_uint(&j, r->stream_ops);
  fl_json_key(&j, "ops"); fl_json_uint(&j, r->ops);
  fl_json_key(&j, "identical"); fl_json_uint(&j, r->identical);
  fl_json_key(&j, "first_divergence");
  if (r->diverged) {
    fl_json_begin_object(&j);
    fl_json_key(&j, "op_index"); fl_json_uint(&j, r->first_index);
    fl_json_key(&j, "op"); fl_json_string(&j, r->op);
    fl_json_key(&j, "refmalloc"); fl_json_string(&j, r->refmalloc);
    fl_json_key(&j, "glibc"); fl_json_string(&j, r->glibc);
    fl_json_key(&j, "script");
    if (r->script) fl_json_string(&j, r->script);
    else fl_json_null(&j);
    fl_json_end_object(&j);
  } else {
    fl_json_null(&j);
  }
  fl_json_key(&j, "crash");
  if (r->crashed) {
    fl_json_begin_object(&j);
    fl_json_key(&j, "op_index"); fl_json_uint(&j, r->crash_index);
    fl_json_key(&j, "glibc_signal"); fl_json_int(&j, r->crash_signal);
    fl_json_key(&j, "glibc_message"); fl_json_string(&j, r->glibc_message);
    fl_json_key(&j, "refmalloc_event"); fl_json_string(&j, r->refmalloc_event);
    fl_json_key(&j, "agreed"); fl_json_bool(&j, r->crash_agreed);
    fl_json_end_object(&j);
  } else {
    fl_json_null(&j);
  }
  fl_json_key(&j, "refmalloc_seconds"); fl_json_double(&j, r->refmalloc_seconds);
  fl_json_key(&j, "glibc_seconds"); fl_json_double(&j, r->glibc_seconds);
  fl_json_key(&j, "glibc_op_seconds"); fl_json_double(&j, r->glibc_op_seconds);
  fl_json_end_object(&j);
  fl_json_finish(&j);
}

/* The last lines of the script: the ops that led to the divergence. */
static void print_tail(const char *script, size_t lines) {
  const char *end = script + strlen(script), *p = end;
  size_t n = 0;
  while (p > script && n <= lines)
    if (*--p == '\n') n++;
  if (p > script) printf("    ...\n"), p++;
  for (const char *q = p; q < end;) {
    const char *nl = strchr(q, '\n');
    size_t len = nl ? (size_t)(nl - q) : strlen(q);
    printf("    %.*s\n", (int)len, q);
    q += len + (nl != NULL);
  }
}

static void print_text(const diff_opts_t *o, const fl_diff_result_t *r) {
  if (o->file) printf("faultline diff %s: %zu ops\n", o->file, r->stream_ops);
  else printf("faultline diff: %zu generated ops, seed %llu\n", r->stream_ops, (unsigned long long)o->seed);
  printf("  compared %zu ops, %zu identical (refmalloc %.2f s; glibc %.2f s, %.2f s of it inside the ops)\n",
         r->ops, r->identical, r->refmalloc_seconds, r->glibc_seconds, r->glibc_op_seconds);
  if (r->crashed) {
    char g[600];
    if (r->crash_signal) snprintf(g, sizeof g, "died of %s: \"%s\"", strsignal(r->crash_signal), r->glibc_message);
    else snprintf(g, sizeof g, "lived");
    printf("  the stream ends at op %zu: glibc %s; refmalloc %s%s%s (%s)\n", r->crash_index, g,
           r->refmalloc_event[0] ? "raised \"" : "raised nothing", r->refmalloc_event,
           r->refmalloc_event[0] ? "\"" : "", r->crash_agreed ? "the same outcome" : "DIFFERENT outcomes");
  }
  if (r->diverged) {
    printf("  FIRST DIVERGENCE at op %zu: %s\n    refmalloc: %s\n    glibc:     %s\n  the ops up to it:\n",
           r->first_index, r->op, r->refmalloc, r->glibc);
    if (r->script) print_tail(r->script, 20);
  }
  printf("  verdict: %s\n", r->identical == r->ops ? "identical" : "DIVERGENCE");
}

static int load(const diff_opts_t *o, fl_ops_t *ops) {
  fl_status_t st;
  if (o->file) {
    return fl_cli_load_ops("diff", o->file, ops, NULL);
  } else {
    st = fl_diff_generate(o->seed, (size_t)o->ops, (unsigned)o->threads, o->budget, ops);
  }
  return st == FL_OK ? 0 : fl_cli_fail("diff", st, "%s", fl_error_message());
}

int fl_cmd_diff(int argc, char **argv) {
  diff_opts_t o;
  int st = parse(argc, argv, &o);
  if (st) return st < 0 ? 0 : st;
  fl_ops_t ops;
  fl_ops_init(&ops);
  if ((st = load(&o, &ops))) {
    fl_ops_free(&ops);
    return st;
  }
  fl_diff_opts_t d = {.glibc = {.helper = o.helper, .preload = o.preload, .tunables = o.tunables}};
  if (isatty(2)) {
    d.progress = progress;
    d.progress_every = ops.n >= 1000 ? ops.n / 100 : 0;
  }
  fl_diff_result_t r;
  fl_status_t s = fl_diff_run(&ops, &d, &r);
  fl_ops_free(&ops);
  if (s != FL_OK) {
    fl_diff_result_free(&r);
    return fl_cli_fail("diff", s, "%s", fl_error_message());
  }
  if (o.json) print_json(&o, &r);
  else print_text(&o, &r);
  int rc = r.identical == r.ops ? 0 : 1;
  fl_diff_result_free(&r);
  return rc;
}
