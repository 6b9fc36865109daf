/* sys.c — the system calls refmalloc makes, as glibc 2.36 makes them.
 *
 * Every call goes to the vm model. A failing call sets the emulated errno
 * to what the kernel returned, as glibc's syscall wrappers do. sbrk mirrors
 * misc/sbrk.c and sysdeps/unix/sysv/linux/brk.c: the first call asks the
 * kernel for the break (brk(0)) because libc's __curbrk starts NULL; later
 * sbrk(0) answers from __curbrk without a system call. */
#include <errno.h>
#include <sys/mman.h>

#include "alloc/chunk.h"
#include "util/mutant.h"

static int sys_err(fl_rm_t *rm, long ret) {
  /* A range outside the window is outside the model: for glibc it is an
   * mmap that could not be placed. */
  rm->err = ret == -FL_VM_ENOTMODELLED ? ENOMEM : (int)-ret;
  return -1;
}

uintptr_t rm_mmap(fl_rm_t *rm, uintptr_t addr, size_t len, int prot, int flags) {
  /* glibc's MMAP() adds MAP_ANONYMOUS|MAP_PRIVATE to the caller's flags. */
  intptr_t r = fl_vm_mmap(rm->vm, addr, len, prot, flags | MAP_ANONYMOUS | MAP_PRIVATE);
  if (r < 0 && r > -4096) {
    sys_err(rm, r);
    return MAP_FAILED_;
  }
  return (uintptr_t)r;
}

int rm_munmap(fl_rm_t *rm, uintptr_t addr, size_t len) {
  int r = fl_vm_munmap(rm->vm, addr, len);
  return r < 0 ? sys_err(rm, r) : 0;
}

int rm_mprotect(fl_rm_t *rm, uintptr_t addr, size_t len, int prot) {
  int r = fl_vm_mprotect(rm->vm, addr, len, prot);
  return r < 0 ? sys_err(rm, r) : 0;
}

uintptr_t rm_mremap(fl_rm_t *rm, uintptr_t old, size_t oldlen, size_t newlen, int flags) {
  intptr_t r = fl_vm_mremap(rm->vm, old, oldlen, newlen, flags, 0);
  if (r < 0 && r > -4096) {
    sys_err(rm, r);
    return MAP_FAILED_;
  }
  return (uintptr_t)r;
}

int rm_madvise(fl_rm_t *rm, uintptr_t addr, size_t len, int advice) {
  int r = fl_vm_madvise(rm->vm, addr, len, advice);
  return r < 0 ? sys_err(rm, r) : 0;
}

/* __brk (addr): the kernel returns the new break; less than asked = ENOMEM. */
static int rm_brk(fl_rm_t *rm, uintptr_t addr) {
  uintptr_t newbrk = fl_vm_brk(rm->vm, addr);
  rm->curbrk = newbrk;
  if (newbrk < addr) {
    rm->err = ENOMEM;
    return -1;
  }
  return 0;
}

/* __sbrk (increment) */
uintptr_t rm_sbrk(fl_rm_t *rm, intptr_t increment) {
  bool update_brk = rm->curbrk == 0;
  if (update_brk && rm_brk(rm, 0) < 0) return (uintptr_t)-1;
  if (increment == 0) return rm->curbrk;
  uintptr_t oldbrk = rm->curbrk;
  if (increment > 0 ? oldbrk + (uintptr_t)increment < oldbrk
                    : oldbrk < (uintptr_t)-increment) {
    rm->err = ENOMEM;
    return (uintptr_t)-1;
  }
  if (rm_brk(rm, oldbrk + (uintptr_t)increment) < 0) return (uintptr_t)-1;
  return FL_MUT(26, oldbrk, rm->curbrk);
}

/* madvise_thp (malloc.c): MADV_HUGEPAGE on areas of at least a THP when
 * glibc.malloc.hugetlb=1 made thp_pagesize non-zero. */
void rm_madvise_thp(fl_rm_t *rm, uintptr_t p, size_t size) {
  if (rm->mp.thp_pagesize == 0 || size < rm->mp.thp_pagesize) return;
  if (p & (rm->pagesize - 1)) {
    uintptr_t q = ALIGN_DOWN(p, rm->pagesize);
    size += p - q;
    p = q;
  }
  rm_madvise(rm, p, size, MADV_HUGEPAGE);
}
