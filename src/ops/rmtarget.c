#include "ops/rmtarget.h"

#include <string.h>

#include "alloc/introspect.h"
#include "vm/vm.h"

/* The op language names system calls in the model's order. */
_Static_assert((int)FL_OP_SYS_MMAP == (int)FL_SYS_MMAP && (int)FL_OP_SYS_MUNMAP == (int)FL_SYS_MUNMAP &&
                   (int)FL_OP_SYS_MPROTECT == (int)FL_SYS_MPROTECT && (int)FL_OP_SYS_MREMAP == (int)FL_SYS_MREMAP &&
                   (int)FL_OP_SYS_MADVISE == (int)FL_SYS_MADVISE && (int)FL_OP_SYS_BRK == (int)FL_SYS_BRK,
               "fl_op_sys_t and fl_sysno_t must agree");

static uintptr_t rt_malloc(void *c, size_t n) { return fl_rm_malloc(c, n); }
static uintptr_t rt_calloc(void *c, size_t n, size_t s) { return fl_rm_calloc(c, n, s); }
static uintptr_t rt_realloc(void *c, uintptr_t p, size_t n) { return fl_rm_realloc(c, p, n); }
static void rt_free(void *c, uintptr_t p) { fl_rm_free(c, p); }
static uintptr_t rt_memalign(void *c, size_t a, size_t n) { return fl_rm_memalign(c, a, n); }
static uintptr_t rt_aligned_alloc(void *c, size_t a, size_t n) { return fl_rm_aligned_alloc(c, a, n); }
static int rt_posix_memalign(void *c, uintptr_t *out, size_t a, size_t n) { return fl_rm_posix_memalign(c, out, a, n); }
static uintptr_t rt_valloc(void *c, size_t n) { return fl_rm_valloc(c, n); }
static uintptr_t rt_pvalloc(void *c, size_t n) { return fl_rm_pvalloc(c, n); }
static size_t rt_usable_size(void *c, uintptr_t p) { return fl_rm_usable_size(c, p); }
static int rt_mallopt(void *c, int param, int value) { return fl_rm_mallopt(c, param, value); }
static int rt_trim(void *c, size_t pad) { return fl_rm_trim(c, pad); }
static void rt_set_thread(void *c, unsigned tid) { fl_rm_set_thread(c, tid); }
static bool rt_fills(void *c) {
  fl_rm_params_t mp;
  fl_rm_params(c, &mp);
  return mp.perturb_byte != 0;
}
static int rt_get_errno(void *c) { return fl_rm_errno(c); }
static void rt_set_errno(void *c, int e) { fl_rm_set_errno(c, e); }

static bool rt_inject(void *c, fl_op_sys_t sys, unsigned nth, int err) {
  fl_vm_inject(fl_rm_vm(c), (fl_sysno_t)sys, nth, err);
  return true;
}

#ifdef FL_RM_RELEASE
/* Observation compiled out (src/alloc/mem.h): the program's accesses are
 * plain ones too, on the shadow window's real memory. */
static bool rt_read(void *c, uintptr_t addr, void *buf, size_t len) {
  (void)c;
  memcpy(buf, (const void *)addr, len);
  return true;
}

static bool rt_write(void *c, uintptr_t addr, const void *buf, size_t len) {
  (void)c;
  memcpy((void *)addr, buf, len);
  return true;
}
#else
static bool rt_read(void *c, uintptr_t addr, void *buf, size_t len) {
  return fl_vm_load(fl_rm_vm(c), addr, buf, len) == 0;
}

static bool rt_write(void *c, uintptr_t addr, const void *buf, size_t len) {
  return fl_vm_store(fl_rm_vm(c), addr, buf, len) == 0;
}
#endif

/* A walk now finds what the level's incremental checks would have found
 * over the ops so far, and more: check 1-3 all run the full set. */
static unsigned rt_check(void *chk, unsigned level) {
  return level ? (unsigned)fl_check_full(chk) : 0;
}

void fl_rmtarget_set_checker(fl_target_t *t, fl_check_t *chk) {
  t->check = rt_check;
  t->check_ctx = chk;
}

void fl_rmtarget_init(fl_target_t *t, fl_rm_t *rm) {
  *t = (fl_target_t){
      .name = "refmalloc",
      .ctx = rm,
      .malloc = rt_malloc,
      .calloc = rt_calloc,
      .realloc = rt_realloc,
      .free = rt_free,
      .memalign = rt_memalign,
      .aligned_alloc = rt_aligned_alloc,
      .posix_memalign = rt_posix_memalign,
      .valloc = rt_valloc,
      .pvalloc = rt_pvalloc,
      .usable_size = rt_usable_size,
      .mallopt = rt_mallopt,
      .trim = rt_trim,
      .set_thread = rt_set_thread,
      .inject = rt_inject,
      .fills = rt_fills,
      .get_errno = rt_get_errno,
      .set_errno = rt_set_errno,
      .read = rt_read,
      .write = rt_write,
      .check = NULL, /* fl_rmtarget_set_checker */
  };
}
