/* map.c — the mmap family and brk, as mm/mmap.c, mm/vma.c, mm/mprotect.c,
 * mm/mremap.c and mm/madvise.c decide them for private anonymous memory.
 * Each rule cites the kernel function it mirrors; spec/model.md lists them.
 * Calls return the kernel's result (>= 0) or -errno. */
#include "vm/internal.h"

#include "host/procfs.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include "util/mutant.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#define FL_PROT_SEM 0x8
#define FL_MAP_TYPE 0x0f
#define FL_MAP_SHARED_VALIDATE 0x03

static uintptr_t page_align(uintptr_t x) { return (x + FL_PAGE - 1) & FL_PAGE_MASK; }

static bool in_window(const fl_vm_t *vm, uintptr_t lo, uintptr_t hi) {
  return lo >= vm->lo && hi <= vm->hi && lo <= hi;
}

/* ---- accounting: vm_stat_account, may_expand_vm, __vm_enough_memory ---- */
static bool is_data(int prot) { return (prot & FL_MUT(36, PROT_WRITE, PROT_READ)) != 0; }

static void stat_account(fl_vm_t *vm, int prot, uint64_t pages, int sign) {
  vm->st.total_vm_pages += (uint64_t)sign * pages;
  if (is_data(prot)) vm->st.data_vm_pages += (uint64_t)sign * pages;
}

static bool may_expand(const fl_vm_t *vm, int prot, uint64_t pages) {
  return !(is_data(prot) && vm->data_limit_pages && vm->st.data_vm_pages + pages > vm->data_limit_pages);
}

/* OVERCOMMIT_GUESS refuses a single request larger than RAM + swap;
 * OVERCOMMIT_ALWAYS refuses nothing; OVERCOMMIT_NEVER is not modelled. */
static bool enough_memory(const fl_vm_t *vm, uint64_t pages) {
  if (vm->prof.overcommit_memory != 0) return true;
  return pages <= fl_pages(vm->prof.mem_total + vm->prof.swap_total);
}

/* sysctl_max_map_count as the window sees it. In shadow mode the rest of
 * the process counts too, and it changes under the harness (allocator
 * arenas): near the limit, re-read how many VMAs live outside the window. */
static size_t map_limit(fl_vm_t *vm) {
  if (fl_vm_shadow(vm) && !vm->cfg.map_limit && vm->vmas.count + 64 >= vm->map_limit) {
    long total = fl_vm_process_vmas();
    if (total >= (long)vm->vmas.count) {
      long outside = total - (long)vm->vmas.count;
      long lim = (long)vm->prof.max_map_count - outside;
      vm->map_limit = lim > 0 ? (size_t)lim : 1;
    }
  }
  return vm->map_limit;
}

/* ---- VMA surgery ------------------------------------------------------- */
static bool same_kind(const fl_vma_t *a, int prot, unsigned flags) {
  return FL_MUT(33, a->prot == prot, true) && a->flags == flags;
}

static bool anon_ok(uint32_t a, uint32_t b) { return !a || !b || a == b; }

/* __split_vma: n keeps [start, at); returns the new VMA [at, end). */
static fl_vnode_t *split(fl_vm_t *vm, fl_vnode_t *n, uintptr_t at) {
  fl_vma_t upper = n->v;
  upper.start = at;
  upper.pgoff = n->v.pgoff + FL_MUT(41, fl_pages(at - n->v.start), 0);
  fl_vset_resize(&vm->vmas, n, n->v.start, at);
  return fl_vset_insert(&vm->vmas, &upper);
}

/* Removes every VMA piece inside [lo, hi), dropping its pages; the caller
 * has checked map_count for the splits (vms_gather_munmap_vmas). */
static void unmap_range(fl_vm_t *vm, uintptr_t lo, uintptr_t hi) {
  fl_vnode_t *n = fl_vset_find(&vm->vmas, lo);
  while (n && n->v.start < hi) {
    if (n->v.start < lo) n = split(vm, n, lo);
    if (n->v.end > hi) split(vm, n, hi);
    fl_vnode_t *next = n->next;
    FL_MUT_SKIP(31) fl_vm_zap(vm, n->v.start, n->v.end);
    FL_MUT_SKIP(42) stat_account(vm, n->v.prot, fl_pages(n->v.end - n->v.start), -1);
    fl_vset_remove(&vm->vmas, n);
    n = next;
  }
}

/* A munmap of [lo, hi) that splits one VMA in two needs a free map slot. */
static bool unmap_needs_slot(fl_vm_t *vm, uintptr_t lo, uintptr_t hi) {
  const fl_vnode_t *n = fl_vset_find(&vm->vmas, lo);
  return n && n->v.start < lo && hi < n->v.end && vm->vmas.count >= map_limit(vm);
}

enum { PAGES_ALL, PAGES_ACCOUNTED };

static uint64_t pages_in(const fl_vm_t *vm, uintptr_t lo, uintptr_t hi, int which) {
  uint64_t n = 0;
  for (const fl_vnode_t *v = fl_vset_find(&vm->vmas, lo); v && v->v.start < hi; v = v->next) {
    if (which == PAGES_ACCOUNTED && !(v->v.flags & FL_VMA_ACCOUNT)) continue;
    uintptr_t a = v->v.start > lo ? v->v.start : lo, b = v->v.end < hi ? v->v.end : hi;
    n += fl_pages(b - a);
  }
  return n;
}

/* vma_merge_new_range: a new range [start, end) joins its neighbours when
 * flags, anon_vma and pgoff allow; when both sides could, prev and next must
 * also agree on anon_vma (can_vma_merge_right), else only the left merges. */
static fl_vnode_t *merge_new(fl_vm_t *vm, const fl_vma_t *v, bool just_expand) {
  fl_vnode_t *next = fl_vset_find(&vm->vmas, v->start);
  fl_vnode_t *prev = next ? next->prev : vm->vmas.last;
  uint64_t pglen = fl_pages(v->end - v->start);
  bool left = prev && prev->v.end == v->start && same_kind(&prev->v, v->prot, v->flags) &&
              anon_ok(prev->v.anon, v->anon) && prev->v.pgoff + fl_pages(prev->v.end - prev->v.start) == v->pgoff;
  bool right = FL_MUT(34, !just_expand, false) && next && next->v.start == v->end &&
               same_kind(&next->v, v->prot, v->flags) &&
               anon_ok(v->anon, next->v.anon) && v->pgoff + pglen == next->v.pgoff &&
               (!left || anon_ok(prev->v.anon, next->v.anon));
  if (left && right) {
    uint32_t anon = prev->v.anon ? prev->v.anon : next->v.anon ? next->v.anon : v->anon;
    uintptr_t end = next->v.end;
    fl_vset_remove(&vm->vmas, next);
    fl_vset_resize(&vm->vmas, prev, prev->v.start, end);
    prev->v.anon = anon;
    return prev;
  }
  if (left) {
    fl_vset_resize(&vm->vmas, prev, prev->v.start, v->end);
    if (!prev->v.anon) prev->v.anon = v->anon;
    return prev;
  }
  if (right) {
    next->v.pgoff = v->pgoff;
    fl_vset_resize(&vm->vmas, next, v->start, next->v.end);
    if (!next->v.anon) next->v.anon = v->anon;
    return next;
  }
  return fl_vset_insert(&vm->vmas, v);
}

/* vma_modify -> vma_merge_existing_range: [start, end) of n takes new
 * prot/flags; merge with prev/next when the range touches them and they
 * agree, otherwise split n (split_vma refuses at max_map_count). Returns
 * the VMA now covering start, or NULL with *err set. */
static fl_vnode_t *modify(fl_vm_t *vm, fl_vnode_t *n, fl_vnode_t *prev, uintptr_t start, uintptr_t end,
                          int prot, unsigned flags, int *err) {
  uint64_t pgoff = n->v.pgoff + fl_pages(start - n->v.start), pglen = fl_pages(end - start);
  bool left_side = start == n->v.start, right_side = end == n->v.end;
  fl_vnode_t *next = n->next;
  bool ml = left_side && prev && prev == n->prev && prev->v.end == start && same_kind(&prev->v, prot, flags) &&
            anon_ok(prev->v.anon, n->v.anon) && prev->v.pgoff + fl_pages(prev->v.end - prev->v.start) == pgoff;
  bool mr = right_side && next && next->v.start == end && same_kind(&next->v, prot, flags) &&
            anon_ok(n->v.anon, next->v.anon) && pgoff + pglen == next->v.pgoff &&
            (!ml || anon_ok(prev->v.anon, next->v.anon));
  if (ml && mr) {
    uint32_t anon = prev->v.anon ? prev->v.anon : next->v.anon ? next->v.anon : n->v.anon;
    uintptr_t e = next->v.end;
    fl_vset_remove(&vm->vmas, n);
    fl_vset_remove(&vm->vmas, next);
    fl_vset_resize(&vm->vmas, prev, prev->v.start, e);
    prev->v.anon = anon;
    return prev;
  }
  if (ml) {
    if (!prev->v.anon) prev->v.anon = n->v.anon;
    if (right_side) {
      fl_vset_remove(&vm->vmas, n);
    } else {
      n->v.pgoff += fl_pages(end - n->v.start);
      fl_vset_resize(&vm->vmas, n, end, n->v.end);
    }
    fl_vset_resize(&vm->vmas, prev, prev->v.start, end);
    return prev;
  }
  if (mr) {
    if (!next->v.anon) next->v.anon = n->v.anon;
    if (left_side) fl_vset_remove(&vm->vmas, n);
    else fl_vset_resize(&vm->vmas, n, n->v.start, start);
    next->v.pgoff = pgoff;
    fl_vset_resize(&vm->vmas, next, start, next->v.end);
    return next;
  }
  if (n->v.start < start) {
    if (vm->vmas.count >= map_limit(vm)) return *err = -ENOMEM, NULL;
    n = split(vm, n, start);
  }
  if (n->v.end > end) {
    if (vm->vmas.count >= map_limit(vm)) return *err = -ENOMEM, NULL;
    split(vm, n, end);
  }
  n->v.prot = prot;
  n->v.flags = flags;
  return n;
}

/* ---- placement: get_unmapped_area ---------------------------------------- */
/* Top-down search (unmapped_area_topdown), with the THP alignment recent
 * kernels give anonymous requests whose length is a multiple of 2 MiB
 * (__thp_get_unmapped_area: search for len + 2 MiB, then align; the file
 * offset it aligns to is 0 for anonymous memory, mremap moves included).
 * __get_unmapped_area aligns only requests made without a hint: a hint
 * that is not free falls back to the plain search (probed on 6.18: a
 * 64 MiB mmap whose hint is taken lands right below the mapping above the
 * gap, 2 MiB-misaligned). glibc's new_heap tries its aligned_heap_area
 * hint before anything else, so arena heaps depend on it. */
static uintptr_t place(const fl_vm_t *vm, size_t len, bool hinted) {
  if (vm->prof.thp_align_anon_mmap == FL_YES && len % FL_PMD == 0 && !hinted) {
    uintptr_t gap_end = fl_vset_gap_topdown(&vm->vmas, len + FL_PMD, vm->lo, vm->hi);
    if (gap_end) {
      uintptr_t ret = gap_end - (len + FL_PMD);
      uintptr_t off_sub = (0 - ret) & (FL_PMD - 1);
      return off_sub ? ret + off_sub : ret + FL_PMD;
    }
  }
  uintptr_t gap_end = fl_vset_gap_topdown(&vm->vmas, len, vm->lo, vm->hi);
  return gap_end ? gap_end - len : 0;
}

static bool range_free(const fl_vm_t *vm, uintptr_t lo, uintptr_t hi) {
  const fl_vnode_t *n = fl_vset_find(&vm->vmas, lo);
  return !n || n->v.start >= hi;
}

/* ---- mmap ------------------------------------------------------------------ */
static unsigned new_flags(const fl_vm_t *vm, int prot, int flags) {
  unsigned f = 0;
  if ((flags & MAP_NORESERVE) && vm->prof.overcommit_memory != 2) f |= FL_VMA_NORESERVE;
  if ((prot & PROT_WRITE) && !(f & FL_VMA_NORESERVE)) f |= FL_VMA_ACCOUNT; /* accountable_mapping */
  return f;
}

/* mmap_region for a private anonymous range whose place is decided. */
static intptr_t map_region(fl_vm_t *vm, uintptr_t addr, size_t len, int prot, int flags) {
  uintptr_t end = addr + len;
  if (unmap_needs_slot(vm, addr, end)) return -ENOMEM;
  /* may_expand_vm and the charge count only what the range adds. */
  if (!may_expand(vm, prot, fl_pages(len) - pages_in(vm, addr, end, PAGES_ALL))) return -ENOMEM;
  unsigned vflags = new_flags(vm, prot, flags);
  if ((vflags & FL_VMA_ACCOUNT) && !enough_memory(vm, fl_pages(len) - pages_in(vm, addr, end, PAGES_ACCOUNTED)))
    return -ENOMEM;
  unmap_range(vm, addr, end);
  fl_vma_t v = {.start = addr, .end = end, .prot = prot & (PROT_READ | PROT_WRITE | PROT_EXEC),
                .flags = vflags, .pgoff = fl_pages(addr), .anon = 0};
  fl_vnode_t *n = merge_new(vm, &v, false);
  if (!n) return -ENOMEM;
  stat_account(vm, v.prot, fl_pages(len), +1);
  if ((flags & (MAP_POPULATE | MAP_NONBLOCK)) == MAP_POPULATE)
    for (fl_vnode_t *p = fl_vset_find(&vm->vmas, addr); p && p->v.start < end; p = p->next)
      fl_vm_populate(vm, p, p->v.start > addr ? p->v.start : addr, p->v.end < end ? p->v.end : end);
  return (intptr_t)addr;
}

/* do_mmap, in the kernel's order of checks. */
static intptr_t do_mmap(fl_vm_t *vm, uintptr_t addr, size_t len, int prot, int flags) {
  if (!len) return -EINVAL;
  if (flags & MAP_FIXED_NOREPLACE) flags |= MAP_FIXED;
  if (!(flags & MAP_FIXED)) addr &= FL_PAGE_MASK; /* round_hint_to_min */
  size_t plen = page_align(len);
  if (!plen) return -ENOMEM;
  if (vm->vmas.count > map_limit(vm)) return -ENOMEM;
  int type = flags & FL_MAP_TYPE;
  if (!(flags & MAP_ANONYMOUS) || type == MAP_SHARED || type == FL_MAP_SHARED_VALIDATE)
    return -FL_VM_ENOTMODELLED;
  if (plen > FL_TASK_SIZE) return -ENOMEM;
  if (flags & MAP_FIXED) {
    if (addr > FL_TASK_SIZE - plen) return -ENOMEM;
    if (addr & ~FL_PAGE_MASK) return -EINVAL;
    if (!in_window(vm, addr, addr + plen)) return -FL_VM_ENOTMODELLED;
  } else {
    /* arch_get_unmapped_area_topdown: a free hint is taken as it is. */
    bool hint = addr && in_window(vm, addr, addr + plen) && range_free(vm, addr, addr + plen);
    if (!hint) addr = place(vm, plen, addr != 0);
    if (!addr) return -ENOMEM;
  }
  if ((flags & MAP_FIXED_NOREPLACE) && !range_free(vm, addr, addr + plen)) return -EEXIST;
  if (type != MAP_PRIVATE) return -EINVAL;
  return map_region(vm, addr, plen, prot, flags);
}

intptr_t fl_vm_mmap(fl_vm_t *vm, uintptr_t addr, size_t len, int prot, int flags) {
  uint64_t args[5] = {addr, len, (uint64_t)prot, (uint64_t)flags, 0};
  int inj = fl_vm_take_injection(vm, FL_SYS_MMAP);
  intptr_t r = inj ? inj : do_mmap(vm, addr, len, prot, flags);
  if (fl_vm_shadow(vm) && !inj) fl_shadow_mmap(vm, addr, len, prot, flags, r);
  fl_vm_report_call(vm, FL_SYS_MMAP, args, r, inj != 0);
  return r;
}

/* ---- munmap: do_vmi_munmap -------------------------------------------------- */
static int do_munmap(fl_vm_t *vm, uintptr_t addr, size_t len) {
  if ((addr & ~FL_PAGE_MASK) || addr > FL_TASK_SIZE || len > FL_TASK_SIZE - addr) return -EINVAL;
  uintptr_t end = addr + page_align(len);
  if (end == addr) return -EINVAL;
  if (!in_window(vm, addr, end)) return -FL_VM_ENOTMODELLED;
  if (unmap_needs_slot(vm, addr, end)) return -ENOMEM;
  unmap_range(vm, addr, end);
  return 0;
}

int fl_vm_munmap(fl_vm_t *vm, uintptr_t addr, size_t len) {
  uint64_t args[5] = {addr, len, 0, 0, 0};
  int inj = fl_vm_take_injection(vm, FL_SYS_MUNMAP);
  int r = inj ? inj : do_munmap(vm, addr, len);
  if (fl_vm_shadow(vm) && !inj) fl_shadow_simple(vm, FL_SYS_MUNMAP, args, r);
  fl_vm_report_call(vm, FL_SYS_MUNMAP, args, r, inj != 0);
  return r;
}

/* ---- mprotect: do_mprotect_pkey / mprotect_fixup ---------------------------- */
static fl_vnode_t *mprotect_fixup(fl_vm_t *vm, fl_vnode_t *n, fl_vnode_t *prev, uintptr_t start,
                                  uintptr_t end, int prot, int *err) {
  if (n->v.prot == prot) return n;
  uint64_t pages = fl_pages(end - start);
  unsigned flags = n->v.flags;
  int oldprot = n->v.prot;
  if (prot & PROT_WRITE) {
    if (!may_expand(vm, prot, pages) && may_expand(vm, oldprot, pages)) return *err = -ENOMEM, NULL;
    if (!(flags & (FL_VMA_ACCOUNT | FL_VMA_NORESERVE)) && !(oldprot & PROT_WRITE)) {
      if (!enough_memory(vm, pages)) return *err = -ENOMEM, NULL;
      flags |= FL_VMA_ACCOUNT;
    }
  } else if ((flags & FL_VMA_ACCOUNT) && !n->v.anon) {
    /* An anonymous VMA never faulted gives its charge back (6.12+). */
    flags &= ~FL_VMA_ACCOUNT;
  }
  fl_vnode_t *r = modify(vm, n, prev, start, end, prot, flags, err);
  if (!r) return NULL;
  stat_account(vm, oldprot, pages, -1);
  stat_account(vm, prot, pages, +1);
  /* Pages that become writable again may take one write fault each, or
   * none where change_protection could map them writable at once. */
  if ((prot & PROT_WRITE) && !(oldprot & PROT_WRITE)) vm->st.minflt_max += fl_vm_count_private(vm, start, end);
  return r;
}

static int do_mprotect(fl_vm_t *vm, uintptr_t start, size_t len, int prot) {
  int grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
  prot &= ~(PROT_GROWSDOWN | PROT_GROWSUP);
  if (grows == (PROT_GROWSDOWN | PROT_GROWSUP)) return -EINVAL;
  if (start & ~FL_PAGE_MASK) return -EINVAL;
  if (!len) return 0;
  len = page_align(len);
  uintptr_t end = start + len;
  if (end <= start) return -ENOMEM;
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | FL_PROT_SEM)) return -EINVAL;
  if (!in_window(vm, start, end)) return -FL_VM_ENOTMODELLED;
  prot &= PROT_READ | PROT_WRITE | PROT_EXEC;
  fl_vnode_t *n = fl_vset_find(&vm->vmas, start);
  if (!n || n->v.start >= end) return -ENOMEM;
  if (grows) return -EINVAL; /* no VM_GROWSDOWN/UP VMA in the model */
  if (n->v.start > start) return -ENOMEM;
  fl_vnode_t *prev = start > n->v.start ? n : n->prev;
  uintptr_t nstart = start, tmp = n->v.start;
  int err = 0;
  while (n && n->v.start < end) {
    FL_MUT_SKIP(46) if (n->v.start != tmp) return -ENOMEM; /* a hole: what came before stays changed */
    tmp = n->v.end < end ? n->v.end : end;
    fl_vnode_t *r = mprotect_fixup(vm, n, prev, nstart, tmp, prot, &err);
    if (!r) return err;
    tmp = r->v.end;
    nstart = tmp;
    prev = r;
    n = r->next;
  }
  return tmp < end ? -ENOMEM : 0;
}

int fl_vm_mprotect(fl_vm_t *vm, uintptr_t addr, size_t len, int prot) {
  uint64_t args[5] = {addr, len, (uint64_t)prot, 0, 0};
  int inj = fl_vm_take_injection(vm, FL_SYS_MPROTECT);
  int r = inj ? inj : do_mprotect(vm, addr, len, prot);
  if (fl_vm_shadow(vm) && !inj) fl_shadow_simple(vm, FL_SYS_MPROTECT, args, r);
  fl_vm_report_call(vm, FL_SYS_MPROTECT, args, r, inj != 0);
  return r;
}

/* ---- mremap: mm/mremap.c ---------------------------------------------------- */
/* move_vma: the pages travel with a copy of the VMA (copy_vma keeps the
 * anon_vma, and the pgoff unless the VMA was never faulted), then the old
 * range is unmapped. */
static intptr_t move_vma(fl_vm_t *vm, fl_vnode_t *n, uintptr_t old, size_t old_len,
                         uintptr_t new_addr, size_t new_len) {
  if (vm->vmas.count + 3 >= map_limit(vm)) return -ENOMEM;
  if ((n->v.flags & FL_VMA_ACCOUNT) && new_len > old_len && !enough_memory(vm, fl_pages(new_len - old_len)))
    return -ENOMEM;
  fl_vma_t v = n->v;
  v.start = new_addr;
  v.end = new_addr + new_len;
  v.pgoff = v.anon ? n->v.pgoff + fl_pages(old - n->v.start) : fl_pages(new_addr);
  if (!merge_new(vm, &v, false)) return -ENOMEM;
  stat_account(vm, v.prot, fl_pages(new_len), +1);
  FL_MUT_SKIP(40) fl_vm_move_pages(vm, old, new_addr, old_len < new_len ? old_len : new_len);
  unmap_range(vm, old, old + old_len);
  return (intptr_t)new_addr;
}

/* Moves every VMA piece of [addr, addr + len) to the same offset from
 * new_addr, gaps staying gaps. */
static intptr_t move_each(fl_vm_t *vm, uintptr_t addr, size_t len, uintptr_t new_addr) {
  uintptr_t pos = addr, end = addr + len;
  fl_vnode_t *n;
  while (pos < end && (n = fl_vset_find(&vm->vmas, pos)) && n->v.start < end) {
    uintptr_t s = n->v.start > pos ? n->v.start : pos, e = n->v.end < end ? n->v.end : end;
    intptr_t r = move_vma(vm, n, s, e - s, new_addr + (s - addr), e - s);
    if (r < 0) return r;
    pos = e;
  }
  return (intptr_t)new_addr;
}

/* vma_expandable + expand_vma_in_place: the VMA grows into the free room
 * after it, and (measured on 6.18) merges with the next VMA when the growth
 * reaches it and they match. */
static intptr_t expand_in_place(fl_vm_t *vm, fl_vnode_t *n, size_t delta) {
  if ((n->v.flags & FL_VMA_ACCOUNT) && !enough_memory(vm, fl_pages(delta))) return -ENOMEM;
  fl_vma_t v = n->v;
  v.start = n->v.end;
  v.end = n->v.end + delta;
  v.pgoff = n->v.pgoff + fl_pages(n->v.end - n->v.start);
  if (!merge_new(vm, &v, false)) return -ENOMEM;
  stat_account(vm, v.prot, fl_pages(delta), +1);
  return 0;
}

static bool expandable(const fl_vm_t *vm, const fl_vnode_t *n, size_t delta) {
  uintptr_t end = n->v.end + delta;
  return end > n->v.end && in_window(vm, n->v.start, end) && range_free(vm, n->v.end, end);
}

static int mremap_params(fl_vm_t *vm, uintptr_t addr, size_t old_len, size_t new_len, int flags,
                         uintptr_t new_addr) {
  if (flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP)) return -EINVAL;
  if (addr & ~FL_PAGE_MASK) return -EINVAL;
  if (!new_len) return -EINVAL;
  if (new_len > FL_TASK_SIZE) return -EINVAL;
  if (!(flags & (MREMAP_FIXED | MREMAP_DONTUNMAP))) return 0;
  if (new_addr > FL_TASK_SIZE - new_len) return -EINVAL;
  if (new_addr & ~FL_PAGE_MASK) return -EINVAL;
  if (!(flags & MREMAP_MAYMOVE)) return -EINVAL;
  if ((flags & MREMAP_DONTUNMAP) && old_len != new_len) return -EINVAL;
  if (addr + old_len > new_addr && new_addr + new_len > addr) return -EINVAL;
  if (vm->vmas.count + 2 + 3 >= map_limit(vm)) return -ENOMEM;
  return 0;
}

static intptr_t do_mremap(fl_vm_t *vm, uintptr_t addr, size_t old_len, size_t new_len, int flags,
                          uintptr_t new_addr) {
  old_len = page_align(old_len);
  new_len = page_align(new_len);
  int err = mremap_params(vm, addr, old_len, new_len, flags, new_addr);
  if (err) return err;
  bool fixed = flags & MREMAP_FIXED;
  if (flags & MREMAP_DONTUNMAP) return -FL_VM_ENOTMODELLED;
  if (!in_window(vm, addr, addr + old_len) || (fixed && !in_window(vm, new_addr, new_addr + new_len)))
    return -FL_VM_ENOTMODELLED;
  fl_vnode_t *n = fl_vset_find(&vm->vmas, addr);
  if (!n || n->v.start > addr) return -EFAULT;
  bool shrink = old_len > new_len, expand = old_len < new_len;
  /* A fixed move that does not resize may span several VMAs and the gaps
   * between them (Linux 6.17+: each VMA moves to its offset). */
  bool multi = fixed && old_len == new_len && addr + old_len > n->v.end;
  if (expand || fixed) { /* check_prep_vma: only where a new range is mapped */
    if (!old_len) return -EINVAL;
    if (!multi && (shrink ? new_len : old_len) > n->v.end - addr) return -EFAULT;
    if (expand && !may_expand(vm, n->v.prot, fl_pages(new_len - old_len))) return -ENOMEM;
  }
  if (fixed) { /* mremap_to: the target is unmapped first, then any shrink */
    if (unmap_needs_slot(vm, new_addr, new_addr + new_len)) return -ENOMEM;
    unmap_range(vm, new_addr, new_addr + new_len);
  }
  if (shrink) {
    if (unmap_needs_slot(vm, addr + new_len, addr + old_len)) return -ENOMEM;
    unmap_range(vm, addr + new_len, addr + old_len);
    if (!fixed) return (intptr_t)addr;
    old_len = new_len;
    n = fl_vset_find(&vm->vmas, addr);
  }
  if (multi) return move_each(vm, addr, old_len, new_addr);
  if (fixed) return move_vma(vm, n, addr, old_len, new_addr, new_len);
  if (!expand) return (intptr_t)addr;
  if (old_len == n->v.end - addr && expandable(vm, n, new_len - old_len)) {
    err = (int)expand_in_place(vm, n, new_len - old_len);
    return err ? err : (intptr_t)addr;
  }
  if (!(flags & MREMAP_MAYMOVE)) return -ENOMEM;
  /* Placed as a fresh anonymous mmap: the VMA's pgoff does not enter the
   * THP alignment (measured on 6.18). */
  new_addr = place(vm, new_len, false);
  if (!new_addr) return -ENOMEM;
  return move_vma(vm, n, addr, old_len, new_addr, new_len);
}

intptr_t fl_vm_mremap(fl_vm_t *vm, uintptr_t old, size_t oldlen, size_t newlen, int flags, uintptr_t newaddr) {
  uint64_t args[5] = {old, oldlen, newlen, (uint64_t)flags, newaddr};
  int inj = fl_vm_take_injection(vm, FL_SYS_MREMAP);
  intptr_t r = inj ? inj : do_mremap(vm, old, oldlen, newlen, flags, newaddr);
  if (fl_vm_shadow(vm) && !inj) fl_shadow_mremap(vm, old, oldlen, newlen, flags, newaddr, r, r >= 0 && (uintptr_t)r != old);
  fl_vm_report_call(vm, FL_SYS_MREMAP, args, r, inj != 0);
  return r;
}

/* ---- madvise: madvise_walk_vmas -------------------------------------------- */
static bool advice_known(int a) {
  return (a >= MADV_NORMAL && a <= MADV_WILLNEED) || a == MADV_DONTNEED || (a >= 8 && a <= 25) ||
         a == 100 || a == 101 || a == 102 || a == 103;
}

static bool advice_modelled(int a) {
  return a == MADV_NORMAL || a == MADV_WILLNEED || a == MADV_DONTNEED || a == MADV_FREE ||
         a == MADV_HUGEPAGE || a == MADV_NOHUGEPAGE;
}

/* One VMA's part [start, end); returns the VMA that now covers it. */
static fl_vnode_t *advise_one(fl_vm_t *vm, fl_vnode_t *n, fl_vnode_t *prev, uintptr_t start, uintptr_t end,
                              int advice, int *err) {
  unsigned flags = n->v.flags;
  switch (advice) {
  case MADV_DONTNEED: FL_MUT_SKIP(32) fl_vm_zap(vm, start, end); return n;
  case MADV_FREE: fl_vm_lazyfree(vm, start, end); return n;
  case MADV_HUGEPAGE: flags = (flags & ~FL_VMA_NOHUGEPAGE) | FL_VMA_HUGEPAGE; break;
  case MADV_NOHUGEPAGE: flags = (flags & ~FL_VMA_HUGEPAGE) | FL_VMA_NOHUGEPAGE; break;
  default: return n; /* NORMAL, WILLNEED: nothing the model tracks changes */
  }
  if (flags == n->v.flags) return n;
  fl_vnode_t *r = modify(vm, n, prev, start, end, n->v.prot, flags, err);
  if (!r && *err == -ENOMEM) *err = -EAGAIN; /* madvise_vma_behavior */
  return r;
}

static int do_madvise(fl_vm_t *vm, uintptr_t start, size_t len_in, int advice) {
  if (!advice_known(advice)) return -EINVAL;
  if (start & ~FL_PAGE_MASK) return -EINVAL;
  size_t len = page_align(len_in);
  if (len_in && !len) return -EINVAL;
  uintptr_t end = start + len;
  if (end < start) return -EINVAL;
  if (end == start) return 0;
  if (!advice_modelled(advice) || !in_window(vm, start, end)) return -FL_VM_ENOTMODELLED;
  fl_vnode_t *n = fl_vset_find(&vm->vmas, start);
  fl_vnode_t *prev = n && start > n->v.start ? n : n ? n->prev : vm->vmas.last;
  int unmapped = 0, err = 0;
  for (;;) {
    if (!n) return -ENOMEM;
    if (start < n->v.start) {
      unmapped = -ENOMEM;
      start = n->v.start;
      if (start >= end) break;
    }
    uintptr_t tmp = n->v.end < end ? n->v.end : end;
    fl_vnode_t *r = advise_one(vm, n, prev, start, tmp, advice, &err);
    if (!r) return err;
    prev = r;
    start = tmp < prev->v.end ? prev->v.end : tmp;
    if (start >= end) break;
    n = fl_vset_find(&vm->vmas, start);
  }
  return unmapped;
}

int fl_vm_madvise(fl_vm_t *vm, uintptr_t addr, size_t len, int advice) {
  uint64_t args[5] = {addr, len, (uint64_t)advice, 0, 0};
  int inj = fl_vm_take_injection(vm, FL_SYS_MADVISE);
  int r = inj ? inj : do_madvise(vm, addr, len, advice);
  if (fl_vm_shadow(vm) && !inj) fl_shadow_simple(vm, FL_SYS_MADVISE, args, r);
  fl_vm_report_call(vm, FL_SYS_MADVISE, args, r, inj != 0);
  return r;
}

/* ---- brk: sys_brk / do_brk_flags --------------------------------------------- */
static bool brk_grow(fl_vm_t *vm, uintptr_t oldbrk, uintptr_t newbrk) {
  if (!in_window(vm, oldbrk, newbrk)) return false;
  fl_vnode_t *next = fl_vset_find(&vm->vmas, oldbrk);
  /* The break stays at least a page below the next mapping. */
  if (next && newbrk + FL_PAGE > next->v.start) return false;
  uint64_t pages = fl_pages(newbrk - oldbrk);
  int prot = PROT_READ | PROT_WRITE;
  if (!may_expand(vm, prot, pages) || vm->vmas.count > map_limit(vm) || !enough_memory(vm, pages)) return false;
  fl_vnode_t *p = next ? next->prev : vm->vmas.last;
  fl_vma_t v = {.start = oldbrk, .end = newbrk, .prot = prot, .flags = FL_VMA_ACCOUNT, .pgoff = fl_pages(oldbrk)};
  if (p && p->v.end == oldbrk && p->v.end > vm->start_brk) {
    if (!merge_new(vm, &v, true)) return false;
  } else if (!fl_vset_insert(&vm->vmas, &v)) {
    return false;
  }
  stat_account(vm, prot, pages, +1);
  return true;
}

static uintptr_t do_brk(fl_vm_t *vm, uintptr_t brk) {
  uintptr_t orig = vm->brk;
  if (brk < vm->start_brk) return orig;
  if (vm->cfg.data_limit && brk - vm->start_brk > vm->cfg.data_limit) return orig; /* check_data_rlimit */
  uintptr_t newbrk = FL_MUT(35, page_align(brk), brk), oldbrk = page_align(vm->brk);
  if (oldbrk == newbrk) return vm->brk = brk;
  if (brk <= vm->brk) {
    const fl_vnode_t *n = fl_vset_find(&vm->vmas, newbrk);
    if (!n || n->v.start >= oldbrk || unmap_needs_slot(vm, newbrk, oldbrk)) return orig;
    unmap_range(vm, newbrk, oldbrk);
  } else if (!brk_grow(vm, oldbrk, newbrk)) {
    return orig;
  }
  if (fl_vm_shadow(vm)) fl_shadow_brk(vm, oldbrk, newbrk);
  return vm->brk = brk;
}

uintptr_t fl_vm_brk(fl_vm_t *vm, uintptr_t newbrk) {
  uint64_t args[5] = {newbrk, 0, 0, 0, 0};
  int inj = fl_vm_take_injection(vm, FL_SYS_BRK);
  /* An injected failure leaves the break where it is, as sys_brk does. */
  uintptr_t r = inj ? vm->brk : do_brk(vm, newbrk);
  fl_vm_report_call(vm, FL_SYS_BRK, args, (int64_t)r, inj != 0);
  return r;
}
