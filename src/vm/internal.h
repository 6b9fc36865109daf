/* internal.h — the model's state, shared by vm.c, map.c, fault.c and
 * shadow.c. Nothing outside src/vm includes this. */
#ifndef FL_VM_INTERNAL_H
#define FL_VM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "host/pagemap.h"
#include "vm/pt.h"
#include "vm/vm.h"
#include "vm/vma.h"

#define FL_PAGE 4096UL
#define FL_PAGE_MASK (~(FL_PAGE - 1))
#define FL_PMD (2UL << 20)
/* x86-64 user address space (47 bits), TASK_SIZE. */
#define FL_TASK_SIZE 0x7ffffffff000UL

struct fl_vm {
  fl_vm_config_t cfg;
  fl_kprofile_t prof;
  uintptr_t lo, hi;             /* the window */
  fl_vset_t vmas;
  fl_pt_t pt;
  uintptr_t start_brk, brk;
  size_t map_limit;             /* sysctl_max_map_count for the window */
  uint64_t data_limit_pages;    /* RLIMIT_DATA, 0 = unlimited */
  uint32_t next_anon;           /* anon_vma identities */
  fl_vm_stats_t st;
  fl_vm_hooks_t hooks;
  struct { unsigned nth; int err; } inject[FL_SYS_COUNT];
  fl_vnode_t *cache;            /* last VMA an access hit; reset by syscalls */
  /* shadow mode */
  fl_pagemap_t *pm;
  bool thp_was_enabled;         /* PR_SET_THP_DISABLE is ours to undo at close */
  long minflt_base;             /* kernel minflt at the last compare */
  uint64_t model_min_base, model_max_base;
  fl_vm_mismatch_t *mm;
  size_t nmm, capmm;
  uint8_t *kinds;               /* pagemap scratch */
  size_t kinds_cap;
};

static inline bool fl_vm_shadow(const fl_vm_t *vm) { return vm->cfg.mode == FL_VM_SHADOW; }
static inline uint64_t fl_pages(uintptr_t len) { return len >> 12; }

/* vm.c */
/* The process's VMAs as mm->map_count counts them. */
long fl_vm_process_vmas(void);
void fl_vm_record(fl_vm_t *vm, fl_vm_mismatch_kind_t kind, uintptr_t addr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Does an injected failure apply to this call? Returns -err or 0. */
int fl_vm_take_injection(fl_vm_t *vm, fl_sysno_t no);
void fl_vm_report_call(fl_vm_t *vm, fl_sysno_t no, const uint64_t *args, int64_t ret, bool injected);

/* fault.c: page-table side of the model */
/* Discards the pages of [lo, hi) (zap_page_range: munmap, MADV_DONTNEED). */
void fl_vm_zap(fl_vm_t *vm, uintptr_t lo, uintptr_t hi);
/* MADV_FREE on [lo, hi): exclusive pages become lazily freed. */
void fl_vm_lazyfree(fl_vm_t *vm, uintptr_t lo, uintptr_t hi);
/* Moves the page-table entries (and, in fast mode, the contents) of
 * [from, from + len) to [to, to + len) (move_page_tables). */
void fl_vm_move_pages(fl_vm_t *vm, uintptr_t from, uintptr_t to, size_t len);
/* Fault in [lo, hi) as MAP_POPULATE / populate_vma_page_range would. */
void fl_vm_populate(fl_vm_t *vm, fl_vnode_t *v, uintptr_t lo, uintptr_t hi);
/* Counts present exclusive pages in [lo, hi). */
uint64_t fl_vm_count_private(fl_vm_t *vm, uintptr_t lo, uintptr_t hi);

/* shadow.c: the real system calls behind the model in shadow mode, and the
 * comparisons. Each takes the model's result and checks the kernel's. */
void fl_shadow_mmap(fl_vm_t *vm, uintptr_t addr, size_t len, int prot, int flags, intptr_t model);
void fl_shadow_simple(fl_vm_t *vm, fl_sysno_t no, const uint64_t *args, int64_t model);
void fl_shadow_mremap(fl_vm_t *vm, uintptr_t old, size_t oldlen, size_t newlen, int flags,
                      uintptr_t newaddr, intptr_t model, bool moved);
void fl_shadow_brk(fl_vm_t *vm, uintptr_t oldbrk_page, uintptr_t newbrk_page);
int fl_shadow_open(fl_vm_t *vm);
void fl_shadow_close(fl_vm_t *vm);

#endif
