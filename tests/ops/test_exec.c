/* test_exec.c — the executor against a trivial in-process target over the
 * process allocator (ASan's, in sanitized builds: only the executor's slot,
 * budget and record logic is under test here, not an allocator). */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>

#include "harness/harness.h"
#include "ops/exec.h"
#include "ops/gen.h"
#include "ops/text.h"

/* Impossible sizes are legal inputs: ASan must return NULL, not abort. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

/* ---------------------------------------------------------------- target */

typedef struct sys_ctx {
  long outstanding; /* blocks handed out and not freed */
} sys_ctx_t;

static void count(void *c, uintptr_t p, long d) {
  if (p) ((sys_ctx_t *)c)->outstanding += d;
}
static uintptr_t s_malloc(void *c, size_t n) {
  uintptr_t p = (uintptr_t)malloc(n);
  count(c, p, 1);
  return p;
}
static uintptr_t s_calloc(void *c, size_t m, size_t n) {
  uintptr_t p = (uintptr_t)calloc(m, n);
  count(c, p, 1);
  return p;
}
static uintptr_t s_realloc(void *c, uintptr_t p, size_t n) {
  uintptr_t q = (uintptr_t)realloc((void *)p, n);
  if (q && !p) count(c, q, 1);
  if (!q && p && n == 0) count(c, p, -1);
  return q;
}
static void s_free(void *c, uintptr_t p) {
  count(c, p, -1);
  free((void *)p);
}
/* ASan 12's allocator CHECK-fails (aborts) on alignments near 2^63, e.g.
 * posix_memalign(&p, 1ul << 63, 1), instead of failing the call. This target
 * tests the executor, not ASan, so it refuses such alignments itself. */
static bool huge_align(size_t a) { return a > ((size_t)1 << 32); }

static uintptr_t s_memalign(void *c, size_t a, size_t n) {
  if (huge_align(a)) return errno = EINVAL, 0;
  uintptr_t p = (uintptr_t)memalign(a, n);
  count(c, p, 1);
  return p;
}
static uintptr_t s_aligned_alloc(void *c, size_t a, size_t n) {
  if (huge_align(a)) return errno = EINVAL, 0;
  uintptr_t p = (uintptr_t)aligned_alloc(a, n);
  count(c, p, 1);
  return p;
}
static int s_posix_memalign(void *c, uintptr_t *out, size_t a, size_t n) {
  void *p = NULL;
  if (huge_align(a)) return EINVAL;
  int r = posix_memalign(&p, a, n);
  if (r == 0) {
    *out = (uintptr_t)p;
    count(c, *out, 1);
  }
  return r;
}
static uintptr_t s_valloc(void *c, size_t n) {
  uintptr_t p = (uintptr_t)valloc(n);
  count(c, p, 1);
  return p;
}
static size_t s_usable(void *c, uintptr_t p) { return malloc_usable_size((void *)p); }
static int s_get_errno(void *c) { return errno; }
static void s_set_errno(void *c, int e) { errno = e; }
static bool s_read(void *c, uintptr_t a, void *buf, size_t n) {
  memcpy(buf, (const void *)a, n);
  return true;
}
static bool s_write(void *c, uintptr_t a, const void *buf, size_t n) {
  memcpy((void *)a, buf, n);
  return true;
}
static unsigned s_check(void *c, unsigned level) { return 0; }

/* pvalloc, mallopt, trim, set_thread and inject stay NULL: unsupported. */
static fl_target_t sys_target(sys_ctx_t *ctx) {
  memset(ctx, 0, sizeof *ctx);
  return (fl_target_t){.name = "system", .ctx = ctx, .malloc = s_malloc, .calloc = s_calloc,
                       .realloc = s_realloc, .free = s_free, .memalign = s_memalign,
                       .aligned_alloc = s_aligned_alloc, .posix_memalign = s_posix_memalign,
                       .valloc = s_valloc, .usable_size = s_usable, .get_errno = s_get_errno,
                       .set_errno = s_set_errno, .read = s_read, .write = s_write,
                       .check = s_check};
}

static fl_status_t run_script(const char *script, const fl_exec_options_t *o,
                              fl_exec_result_t *r, sys_ctx_t *ctx) {
  fl_ops_t ops;
  fl_ops_init(&ops);
  fl_status_t st = fl_ops_parse_text(script, strlen(script), "s.ops", &ops);
  if (st == FL_OK) {
    fl_target_t t = sys_target(ctx);
    st = fl_exec_run(&ops, &t, o, r);
  }
  fl_ops_free(&ops);
  return st;
}

/* ---------------------------------------------------------------- tests */

FL_TEST(script_runs_clean) {
  const char *script =
      "#1 = malloc 100\n"
      "write #1 0 100 0xab\n"
      "verify #1 0 100 0xab\n"
      "#2 = realloc #1 5000\n"       /* moves (or not): #1 is empty after */
      "verify #2 0 100 0xab\n"       /* realloc keeps the prefix */
      "verify #1 0 1 0xab\n"         /* empty slot: skipped */
      "#3 = calloc 10 10\n"
      "verify #3 0 SIZE_MAX 0x00\n"  /* clipped to the 100 bytes */
      "write #3 200 1 0x01\n"        /* past the block: skipped */
      "usable_size #2\n"
      "free #9\n"                    /* empty: skipped */
      "#4 = memalign 4096 10\n"
      "check 3\n"
      "free #2\n"
      "free #3\n";
  fl_exec_options_t o = {.record = true};
  fl_exec_result_t r;
  sys_ctx_t ctx;
  FL_CHECK_MSG(run_script(script, &o, &r, &ctx) == FL_OK, "%s / %s", fl_error_message(),
               r.finding);
  FL_CHECK_EQ(r.findings, 0);
  FL_CHECK_EQ(r.first_finding, SIZE_MAX);
  FL_CHECK_EQ(r.skipped, 3);
  FL_CHECK_EQ(r.records[5].status, FL_EXEC_EMPTY_SLOT);
  FL_CHECK_EQ(r.records[8].status, FL_EXEC_OUT_OF_BLOCK);
  FL_CHECK_EQ(r.records[10].status, FL_EXEC_EMPTY_SLOT);
  FL_CHECK_GE(r.records[9].usable, 5000);
  FL_CHECK_EQ(r.records[11].ptr % 4096, 0);
  FL_CHECK_EQ(r.live_bytes, 10); /* #4 still live at the end ... */
  FL_CHECK_EQ(ctx.outstanding, 0); /* ... and freed by the executor */
  fl_exec_result_free(&r);
}

FL_TEST(verify_mismatch_is_a_finding) {
  const char *script = "#1 = malloc 64\nwrite #1 0 64 0xab\nwrite #1 17 1 0x00\n"
                       "verify #1 0 64 0xab\nverify #1 0 64 0xab\nfree #1\n";
  fl_exec_result_t r;
  sys_ctx_t ctx;
  fl_exec_options_t o = {.stop_on_finding = false};
  FL_CHECK_EQ(run_script(script, &o, &r, &ctx), FL_FINDING);
  FL_CHECK_EQ(r.findings, 2);
  FL_CHECK_EQ(r.first_finding, 3);
  FL_CHECK(strstr(r.finding, "op 3 (verify #1 0 64 0xab): byte at offset 17 of #1") == r.finding);
  FL_CHECK(strstr(r.finding, "is 0x00, expected 0xab") != NULL);
  FL_CHECK_EQ(ctx.outstanding, 0);
  fl_exec_result_free(&r);
  o.stop_on_finding = true;
  FL_CHECK_EQ(run_script(script, &o, &r, &ctx), FL_FINDING);
  FL_CHECK_EQ(r.findings, 1);
  FL_CHECK_EQ(ctx.outstanding, 0);
}

FL_TEST(impossible_sizes_run_and_fail) {
  const char *script = "#1 = malloc SIZE_MAX\n#2 = malloc PTRDIFF_MAX+1\n"
                       "#3 = calloc 4294967296 4294967296\n#4 = posix_memalign 3 16\n"
                       "#5 = malloc 33554432\n"; /* over a 1 MiB budget: skipped */
  fl_exec_options_t o = {.record = true, .budget = 1 << 20};
  fl_exec_result_t r;
  sys_ctx_t ctx;
  FL_CHECK_EQ(run_script(script, &o, &r, &ctx), FL_OK);
  for (int i = 0; i < 3; i++) {
    FL_CHECK_EQ(r.records[i].status, FL_EXEC_OK);
    FL_CHECK_EQ(r.records[i].ptr, 0);
    FL_CHECK_EQ(r.records[i].err, ENOMEM);
  }
  FL_CHECK_EQ(r.records[3].ret, EINVAL);
  FL_CHECK_EQ(r.records[4].status, FL_EXEC_OVER_BUDGET);
  FL_CHECK_EQ(r.skipped, 1);
  fl_exec_result_free(&r);
}
/* The fuzz smoke's out-of-memory (corpus/regressions/perturbed-huge-memalign):
 * under M_PERTURB glibc writes request + alignment bytes for a memalign, so
 * the budget counts the alignment while the block lives; freeing it gives
 * the charge back, and a realloc'd block counts its new size only. The
 * system target has no `fills`: the executor assumes it may. */
FL_TEST(memalign_counts_its_alignment_against_the_budget) {
  const char *script = "#1 = memalign 262144 16\n"  /* 256 KiB + 16: fits 1 MiB */
                       "#2 = memalign 1048576 1\n"   /* 1 MiB + 1: over, skipped */
                       "#3 = memalign 524288 16\n"   /* 768 KiB + 32: fits */
                       "#4 = posix_memalign 524288 16\n" /* would be 1.25 MiB: over */
                       "free #3\n"
                       "#4 = memalign 524288 16\n"  /* fits again */
                       "#1 = realloc #1 16\n"       /* now charged 16, not 256 KiB + 16 */
                       "#5 = malloc 262144\n"       /* so this fits */
                       "#6 = memalign SIZE_MAX-8 1\n"; /* impossible: runs and fails */
  fl_exec_options_t o = {.record = true, .budget = 1 << 20};
  fl_exec_result_t r;
  sys_ctx_t ctx;
  FL_CHECK_MSG(run_script(script, &o, &r, &ctx) == FL_OK, "%s", fl_error_message());
  static const fl_exec_status_t want[] = {FL_EXEC_OK, FL_EXEC_OVER_BUDGET, FL_EXEC_OK, FL_EXEC_OVER_BUDGET, FL_EXEC_OK,
                                          FL_EXEC_OK, FL_EXEC_OK, FL_EXEC_OK, FL_EXEC_OK};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    FL_CHECK_MSG(r.records[i].status == want[i], "op %zu: %s", i, fl_exec_status_name(r.records[i].status));
  FL_CHECK_EQ(r.records[8].ptr, 0);
  FL_CHECK_EQ(r.peak_live_bytes, 16 + 16 + 262144); /* live bytes stay the requested ones */
  FL_CHECK_EQ(ctx.outstanding, 0);
  fl_exec_result_free(&r);
}

/* A target that says it does not fill what it takes (refmalloc without
 * M_PERTURB) keeps its alignment out of the budget: a 4 GiB alignment only
 * reserves address space, and is a placement test worth running. */
static bool s_never_fills(void *c) { return false; }

FL_TEST(alignment_is_free_when_the_target_does_not_fill) {
  fl_ops_t ops;
  fl_ops_init(&ops);
  const char *script = "#1 = memalign 1048576 16\n#2 = posix_memalign 2097152 16\n";
  FL_CHECK_EQ(fl_ops_parse_text(script, strlen(script), "s.ops", &ops), FL_OK);
  sys_ctx_t ctx;
  fl_target_t t = sys_target(&ctx);
  t.fills = s_never_fills;
  fl_exec_options_t o = {.record = true, .budget = 1 << 20};
  fl_exec_result_t r;
  FL_CHECK_EQ(fl_exec_run(&ops, &t, &o, &r), FL_OK);
  FL_CHECK_EQ(r.records[0].status, FL_EXEC_OK);
  FL_CHECK_EQ(r.records[1].status, FL_EXEC_OK);
  FL_CHECK_EQ(r.records[1].ptr % 2097152, 0);
  FL_CHECK_EQ(ctx.outstanding, 0);
  fl_exec_result_free(&r);
  fl_ops_free(&ops);
}


FL_TEST(slot_overwrite_and_realloc_rules) {
  const char *script = "#1 = malloc 10\n#1 = malloc 20\n"  /* first block leaked */
                       "#2 = realloc #1 0\n"                /* frees #1 (or returns a block) */
                       "#3 = realloc #7 30\n"               /* empty source: skipped */
                       "#3 = malloc 30\n"
                       "#3 = realloc #3 SIZE_MAX\n"         /* fails: #3 keeps its block */
                       "verify #3 0 1 0x00\n";
  fl_exec_options_t o = {.record = true};
  fl_exec_result_t r;
  sys_ctx_t ctx;
  fl_status_t st = run_script(script, &o, &r, &ctx);
  FL_CHECK(st == FL_OK || st == FL_FINDING); /* malloc'd bytes are not zero: either is fine */
  FL_CHECK_EQ(r.leaked, 1);
  FL_CHECK_EQ(r.records[3].status, FL_EXEC_EMPTY_SLOT);
  FL_CHECK_NE(r.records[4].ptr, 0);
  FL_CHECK_EQ(r.records[5].status, FL_EXEC_OK);
  FL_CHECK_EQ(r.records[5].ptr, 0); /* failed: #3 keeps its block */
  FL_CHECK_NE(r.records[6].status, FL_EXEC_EMPTY_SLOT);
  /* the leaked block is ours to free: the executor dropped it as told */
  FL_CHECK_EQ(ctx.outstanding, 1);
  free((void *)r.records[0].ptr);
  fl_exec_result_free(&r);
}

FL_TEST(generated_streams_run_clean) {
  fl_gen_options_t g;
  fl_gen_options_default(&g);
  g.budget = 64 << 20;
  g.threads = 2;
  fl_exec_options_t o = {.record = true, .budget = g.budget};
  for (uint64_t seed = 1; seed <= 20; seed++) {
    fl_ops_t ops;
    fl_ops_init(&ops);
    FL_CHECK_EQ(fl_ops_generate(seed, 3000, &g, &ops), FL_OK);
    sys_ctx_t ctx;
    fl_target_t t = sys_target(&ctx);
    fl_exec_result_t r;
    fl_status_t st = fl_exec_run(&ops, &t, &o, &r);
    FL_CHECK_MSG(st == FL_OK, "seed %llu: %s", (unsigned long long)seed, r.finding);
    FL_CHECK_EQ(r.leaked, 0);
    FL_CHECK_EQ(ctx.outstanding, 0);
    FL_CHECK_LE(r.peak_live_bytes, g.budget);
    /* The generator counts requested bytes; the executor adds memalign's
     * alignment (spec/ops.md, "Budget"): an op is skipped for budget only
     * if it is aligned itself or an aligned block is live. */
    static bool aligned_live[FL_OP_SLOTS];
    memset(aligned_live, 0, sizeof aligned_live);
    unsigned n_aligned = 0;
    for (size_t i = 0; i < ops.n; i++) {
      const fl_op_t *op = &ops.v[i];
      fl_op_kind_t k = (fl_op_kind_t)op->kind;
      bool aligned = k == FL_OP_MEMALIGN || k == FL_OP_ALIGNED_ALLOC || k == FL_OP_POSIX_MEMALIGN;
      FL_CHECK_MSG(aligned || n_aligned || r.records[i].status != FL_EXEC_OVER_BUDGET,
                   "seed %llu op %zu over the executor's budget", (unsigned long long)seed, i);
      if (r.records[i].status != FL_EXEC_OK) continue;
      bool frees = k == FL_OP_FREE || (k == FL_OP_REALLOC && (r.records[i].ptr || op->a == 0));
      if (frees && aligned_live[op->src]) aligned_live[op->src] = false, n_aligned--;
      if (fl_op_kind_allocates(k) && r.records[i].ptr && aligned) aligned_live[op->dst] = true, n_aligned++;
    }
    FL_CHECK_GT(r.ops_run, ops.n / 2);
    fl_exec_result_free(&r);
    fl_ops_free(&ops);
  }
}

FL_TEST(bad_inputs_are_usage_errors) {
  sys_ctx_t ctx;
  fl_target_t t = sys_target(&ctx);
  fl_ops_t ops;
  fl_ops_init(&ops);
  fl_op_t bad = {.kind = FL_OP_CHECK, .a = 9};
  FL_CHECK_EQ(fl_ops_push(&ops, &bad), FL_OK);
  fl_exec_result_t r;
  FL_CHECK_EQ(fl_exec_run(&ops, &t, NULL, &r), FL_EUSAGE);
  FL_CHECK_STREQ(fl_error_message(), "op 0 (kind 16) is not canonical");
  fl_exec_result_free(&r);
  t.read = NULL;
  ops.n = 0;
  FL_CHECK_EQ(fl_exec_run(&ops, &t, NULL, &r), FL_EUSAGE);
  FL_CHECK_STREQ(fl_error_message(), "target 'system' lacks a required function");
  fl_exec_result_free(&r);
  fl_ops_free(&ops);
}
