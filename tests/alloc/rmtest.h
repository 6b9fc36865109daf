/* rmtest.h — helpers for the refmalloc scenario tests.
 *
 * Each scenario opens a fresh fast-mode model and a refmalloc on it, and
 * records every system call the allocator makes (the vm syscall hook), so
 * tests can assert glibc's exact calls: SYSCALLS(...) after CLEAR(). */
#ifndef FL_TESTS_RMTEST_H
#define FL_TESTS_RMTEST_H

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "alloc/introspect.h"
#include "alloc/refmalloc.h"
#include "harness/harness.h"
#include "host/profile.h"
#include "util/err.h"
#include "vm/vm.h"

#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

typedef struct rmtest {
  fl_vm_t *vm;
  fl_rm_t *rm;
  uintptr_t heap; /* the initial break: glibc's heap start */
  size_t ncalls;
  fl_vm_syscall_t calls[512];
} rmtest_t;

static rmtest_t rmt;

static void rmtest_syscall(void *ctx, const fl_vm_syscall_t *c) {
  rmtest_t *t = ctx;
  if (t->ncalls < sizeof t->calls / sizeof t->calls[0]) t->calls[t->ncalls] = *c;
  t->ncalls++;
}

static inline void rmtest_close(void) {
  if (rmt.rm) fl_rm_close(rmt.rm);
  if (rmt.vm) fl_vm_close(rmt.vm);
  memset(&rmt, 0, sizeof rmt);
}

/* Opens a model in the given mode and a refmalloc with the given
 * GLIBC_TUNABLES (or NULL). */
static inline fl_rm_t *rmtest_open_mode(const char *tunables, fl_vm_mode_t mode) {
  rmtest_close();
  fl_vm_config_t c;
  fl_vm_config_default(&c, fl_kprofile_get());
  c.mode = mode;
  if (fl_vm_open(&rmt.vm, &c) != FL_OK) {
    fprintf(stderr, "fl_vm_open: %s\n", fl_error_message());
    return NULL;
  }
  fl_vm_hooks_t h = {.ctx = &rmt, .syscall = rmtest_syscall};
  fl_vm_set_hooks(rmt.vm, &h);
  fl_rm_config_t rc;
  fl_rm_config_default(&rc);
  rc.tunables = tunables;
  if (fl_rm_open(&rmt.rm, rmt.vm, &rc) != FL_OK) {
    fprintf(stderr, "fl_rm_open: %s\n", fl_error_message());
    return NULL;
  }
  rmt.heap = fl_vm_start_brk(rmt.vm);
  return rmt.rm;
}

static inline fl_rm_t *rmtest_open(const char *tunables) {
  return rmtest_open_mode(tunables, FL_VM_FAST);
}

#define OPEN_RM(rm, tunables)             \
  fl_rm_t *rm = rmtest_open(tunables);    \
  FL_CHECK_MSG(rm != NULL, "cannot open refmalloc")

#define CLEAR() (rmt.ncalls = 0)
#define NCALLS() (rmt.ncalls)
#define CALL(i) (rmt.calls[i])
/* The heap offset of a pointer in the brk heap. */
#define OFF(p) ((long long)((p) - rmt.heap))

static inline const char *sys_name(fl_sysno_t no) {
  static const char *n[] = {"mmap", "munmap", "mprotect", "mremap", "madvise", "brk"};
  return (unsigned)no < FL_SYS_COUNT ? n[no] : "?";
}

static inline void dump_calls(void) {
  for (size_t i = 0; i < rmt.ncalls && i < 512; i++)
    fprintf(stderr, "  %s(0x%llx, 0x%llx, 0x%llx, 0x%llx) = 0x%llx\n", sys_name(rmt.calls[i].no),
            (unsigned long long)rmt.calls[i].args[0], (unsigned long long)rmt.calls[i].args[1],
            (unsigned long long)rmt.calls[i].args[2], (unsigned long long)rmt.calls[i].args[3],
            (unsigned long long)rmt.calls[i].ret);
}

#define CHECK_NCALLS(n)                                                  \
  do {                                                                   \
    if (NCALLS() != (size_t)(n)) dump_calls();                           \
    FL_CHECK_EQ(NCALLS(), (n));                                          \
  } while (0)

/* The event message, or "" when not aborted. */
static inline const char *rm_msg(fl_rm_t *rm) {
  const fl_rm_event_t *ev = fl_rm_last_event(rm);
  return ev ? ev->message : "";
}

static inline uint64_t ld64(uintptr_t a) {
  uint64_t v = 0;
  fl_vm_load(rmt.vm, a, &v, 8);
  return v;
}
static inline void st64(uintptr_t a, uint64_t v) { fl_vm_store(rmt.vm, a, &v, 8); }

#endif
