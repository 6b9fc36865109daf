/* fuzz/bench/bare_glibc.c — the baseline for the fuzz targets' exec/s.
 *
 * The same inputs as the op-stream targets, decoded and run by the same
 * executor with the same options, but on this process's glibc malloc: no
 * model, no refmalloc, no invariants, no kernel comparison. What a fuzz
 * target costs beyond this is what faultline adds. Built only in the
 * fuzz-nosan preset (under ASan malloc would be ASan's). mallopt and
 * malloc_trim stay unsupported: they would change the process allocator
 * for every later input. */
#include <errno.h>
#include <malloc.h>
#include <string.h>

#include "../common.h"

static uintptr_t g_malloc(void *c, size_t n) { return (uintptr_t)malloc(n); }
static uintptr_t g_calloc(void *c, size_t m, size_t n) { return (uintptr_t)calloc(m, n); }
static uintptr_t g_realloc(void *c, uintptr_t p, size_t n) { return (uintptr_t)realloc((void *)p, n); }
static void g_free(void *c, uintptr_t p) { free((void *)p); }
static uintptr_t g_memalign(void *c, size_t a, size_t n) { return (uintptr_t)memalign(a, n); }
static uintptr_t g_aligned_alloc(void *c, size_t a, size_t n) { return (uintptr_t)aligned_alloc(a, n); }
static int g_posix_memalign(void *c, uintptr_t *out, size_t a, size_t n) {
  void *p = NULL;
  int r = posix_memalign(&p, a, n);
  if (r == 0) *out = (uintptr_t)p;
  return r;
}
static uintptr_t g_valloc(void *c, size_t n) { return (uintptr_t)valloc(n); }
static uintptr_t g_pvalloc(void *c, size_t n) { return (uintptr_t)pvalloc(n); }
static size_t g_usable(void *c, uintptr_t p) { return malloc_usable_size((void *)p); }
static int g_get_errno(void *c) { return errno; }
static void g_set_errno(void *c, int e) { errno = e; }
static bool g_read(void *c, uintptr_t a, void *buf, size_t n) { return memcpy(buf, (const void *)a, n), true; }
static bool g_write(void *c, uintptr_t a, const void *buf, size_t n) { return memcpy((void *)a, buf, n), true; }

static const fl_target_t glibc_target = {
    .name = "glibc", .malloc = g_malloc, .calloc = g_calloc, .realloc = g_realloc, .free = g_free,
    .memalign = g_memalign, .aligned_alloc = g_aligned_alloc, .posix_memalign = g_posix_memalign,
    .valloc = g_valloc, .pvalloc = g_pvalloc, .usable_size = g_usable, .get_errno = g_get_errno,
    .set_errno = g_set_errno, .read = g_read, .write = g_write};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fl_ops_t ops;
  fl_fuzz_decode("bare_glibc", data, size, &ops);
  fl_exec_options_t eo = fl_fuzz_exec_options();
  fl_exec_result_t res;
  /* It measures, it does not judge: verify mismatches (mostly of bytes the
   * input never wrote) are not findings here. */
  fl_status_t st = fl_exec_run(&ops, &glibc_target, &eo, &res);
  if (st != FL_OK && st != FL_FINDING) fl_fuzz_environment("bare_glibc");
  fl_exec_result_free(&res);
  fl_ops_free(&ops);
  return 0;
}
