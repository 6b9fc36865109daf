/* cktest.h — helpers for the falsifiability tests: a fresh fast-mode model,
 * a refmalloc on it and a checker; corruption helpers that reach into
 * refmalloc's state (alloc/chunk.h) and the model's (vm/internal.h), which
 * only tests may do; and ONLY(id): the check fired exactly that ID. */
#ifndef FL_TESTS_CKTEST_H
#define FL_TESTS_CKTEST_H

#include <stdlib.h>
#include <sys/mman.h>

#include "alloc/chunk.h"
#include "alloc/introspect.h"
#include "check/check.h"
#include "harness/harness.h"
#include "host/profile.h"
#include "util/err.h"
#include "vm/internal.h"

typedef struct ckt {
  fl_vm_t *vm;
  fl_rm_t *rm;
  fl_check_t *c;
} ckt_t;

static ckt_t T;

static inline void ckt_close(void) {
  if (T.c) fl_check_close(T.c);
  if (T.rm) fl_rm_close(T.rm);
  if (T.vm) fl_vm_close(T.vm);
  memset(&T, 0, sizeof T);
}

static inline bool ckt_open_mode(int level, const char *tunables, fl_vm_mode_t mode) {
  ckt_close();
  fl_vm_config_t cfg;
  fl_vm_config_default(&cfg, fl_kprofile_get());
  cfg.mode = mode;
  if (fl_vm_open(&T.vm, &cfg) != FL_OK) return false;
  fl_rm_config_t rc;
  fl_rm_config_default(&rc);
  rc.tunables = tunables;
  if (fl_rm_open(&T.rm, T.vm, &rc) != FL_OK) return false;
  return fl_check_open(&T.c, T.rm, T.vm, level) == FL_OK;
}
static inline bool ckt_open(int level, const char *tunables) { return ckt_open_mode(level, tunables, FL_VM_FAST); }

/* Exactly `id` fired (at least once) since the last clear, nothing else. */
static inline bool ckt_only(const char *id) {
  size_t n = fl_check_violation_stored(T.c);
  bool ok = fl_check_fired(T.c, id) > 0;
  for (size_t i = 0; i < n; i++)
    if (strcmp(fl_check_violation(T.c, i)->id, id) != 0) ok = false;
  if (!ok) {
    fprintf(stderr, "expected only %s:\n", id);
    fl_check_report(T.c, stderr, false);
  }
  return ok;
}
static inline bool ckt_clean(void) {
  if (fl_check_violation_count(T.c) == 0) return true;
  fl_check_report(T.c, stderr, false);
  return false;
}

/* The full check passes; then after the corruption it fires exactly id. */
#define CKT_CLEAN_FULL()                     \
  do {                                       \
    fl_check_clear(T.c);                     \
    fl_check_full(T.c);                      \
    FL_CHECK_MSG(ckt_clean(), "not clean");  \
  } while (0)
#define CKT_ONLY_FULL(id)                                  \
  do {                                                     \
    fl_check_clear(T.c);                                   \
    fl_check_full(T.c);                                    \
    FL_CHECK_MSG(ckt_only(id), "expected only %s", id);    \
    ckt_close();                                           \
  } while (0)
#define CKT_ONLY_ONE(id)                                   \
  do {                                                     \
    fl_check_clear(T.c);                                   \
    fl_check_one(T.c, id);                                 \
    FL_CHECK_MSG(ckt_only(id), "expected only %s", id);    \
    ckt_close();                                           \
  } while (0)

/* Model memory and refmalloc words (bin headers live in the arena image). */
static inline uint64_t rd(uintptr_t a) {
  uint64_t v = 0;
  fl_vm_peek(T.vm, a, &v, 8);
  return v;
}
static inline void wr(uintptr_t a, uint64_t v) { fl_vm_store(T.vm, a, &v, 8); }
static inline uint64_t rdw(uintptr_t a) { return ld(&T.rm->main_arena, a); }
static inline void wrw(uintptr_t a, uint64_t v) { st(&T.rm->main_arena, a, v); }
static inline uintptr_t hdr(uintptr_t mem) { return mem - 16; }
static inline uintptr_t bin(unsigned i) { return bin_at(&T.rm->main_arena, i); }
static inline uintptr_t tcache(void) { return T.rm->threads[0].tcache; }

/* Moves the only chunk of bin `from` alone into the empty bin `to`. */
static inline void relink(uintptr_t p, unsigned from, unsigned to) {
  wrw(bin(from) + 16, bin(from));
  wrw(bin(from) + 24, bin(from));
  wrw(bin(to) + 16, p);
  wrw(bin(to) + 24, p);
  wrw(p + 16, bin(to));
  wrw(p + 24, bin(to));
  T.rm->main_arena.binmap[to >> 5] |= 1u << (to & 31);
}

#define NOTC "glibc.malloc.tcache_count=0"

#endif
