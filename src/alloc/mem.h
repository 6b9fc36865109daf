/* mem.h — every load and store refmalloc makes on allocator memory.
 *
 * refmalloc never dereferences a model address itself: chunk headers, the
 * tcache, free-list links and user bytes all go through these accessors, so
 * the vm model sees each access (it faults pages as the kernel would and
 * predicts RSS exactly). An access the kernel would answer with SIGSEGV
 * calls m->segv, which does not return (it longjmps to the API entry).
 *
 * Compiled with FL_RM_RELEASE the accessors become plain loads and stores
 * on the window memory, for a release variant without observation. Its vm
 * must be in shadow mode: the real mappings then give fresh pages zeroed and
 * carry contents through mremap, as the kernel does. Fast mode could not (it
 * clears and moves only the pages the model saw faulted, and here none are). */
#ifndef FL_ALLOC_MEM_H
#define FL_ALLOC_MEM_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "vm/vm.h"

typedef struct rm_mem {
  fl_vm_t *vm;
  void (*segv)(void *ctx, uintptr_t addr, bool write); /* does not return */
  void *ctx;
} rm_mem_t;

#ifdef FL_RM_RELEASE

static inline void mem_load(const rm_mem_t *m, uintptr_t a, void *dst, size_t n) {
  (void)m;
  memcpy(dst, (const void *)a, n);
}
static inline void mem_store(const rm_mem_t *m, uintptr_t a, const void *src, size_t n) {
  (void)m;
  memcpy((void *)a, src, n);
}
static inline void mem_fill(const rm_mem_t *m, uintptr_t a, int byte, size_t n) {
  (void)m;
  memset((void *)a, byte, n);
}
static inline void mem_touch(const rm_mem_t *m, uintptr_t a, size_t n, bool write) {
  (void)m, (void)a, (void)n, (void)write;
}

#else

static inline void mem_load(const rm_mem_t *m, uintptr_t a, void *dst, size_t n) {
  if (fl_vm_load(m->vm, a, dst, n) != 0) m->segv(m->ctx, a, false);
}
static inline void mem_store(const rm_mem_t *m, uintptr_t a, const void *src, size_t n) {
  if (fl_vm_store(m->vm, a, src, n) != 0) m->segv(m->ctx, a, true);
}
static inline void mem_fill(const rm_mem_t *m, uintptr_t a, int byte, size_t n) {
  if (n && fl_vm_fill(m->vm, a, byte, n) != 0) m->segv(m->ctx, a, true);
}
/* Touch without changing contents (glibc writes what we keep host-side). */
static inline void mem_touch(const rm_mem_t *m, uintptr_t a, size_t n, bool write) {
  if (n && fl_vm_touch(m->vm, a, n, write) != 0) m->segv(m->ctx, a, write);
}

#endif

static inline uint64_t mem_ld64(const rm_mem_t *m, uintptr_t a) {
  uint64_t v;
  mem_load(m, a, &v, sizeof v);
  return v;
}
static inline void mem_st64(const rm_mem_t *m, uintptr_t a, uint64_t v) {
  mem_store(m, a, &v, sizeof v);
}
static inline uint16_t mem_ld16(const rm_mem_t *m, uintptr_t a) {
  uint16_t v;
  mem_load(m, a, &v, sizeof v);
  return v;
}
static inline void mem_st16(const rm_mem_t *m, uintptr_t a, uint16_t v) {
  mem_store(m, a, &v, sizeof v);
}

/* memcpy(dst, src, n) between model addresses (the regions never overlap
 * where glibc calls memcpy). Forward, in bounded pieces. */
static inline void mem_copy(const rm_mem_t *m, uintptr_t dst, uintptr_t src, size_t n) {
  unsigned char buf[16384];
  while (n) {
    size_t k = n < sizeof buf ? n : sizeof buf;
    mem_load(m, src, buf, k);
    mem_store(m, dst, buf, k);
    src += k;
    dst += k;
    n -= k;
  }
}

#endif
