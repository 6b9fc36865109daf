/* shadow.c — shadow mode: the real system call behind each modelled one,
 * performed at the model's address inside the window, and the comparison
 * of the window with what the kernel reports (/proc/self/maps, pagemap,
 * smaps Rss, getrusage minflt). */
#include "vm/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "host/procfs.h"
#include "host/sys.h"
#include "util/err.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* Slack on the minflt upper bound: the harness's own page faults between
 * two comparisons (allocations of the model and of its caller, stdio):
 * 64, plus 1/32 of the model's own count when many faults lie between two
 * comparisons (a whole script run, say). */
#define FL_MINFLT_SLACK 64

/* One page on each side of the window, mapped for real, so the kernel too
 * sees the window's edges as taken: an mremap growing past the top fails
 * there as in the model. MADV_DONTDUMP gives them a flag no modelled VMA
 * has, so they never merge with one. */
static int map_guard(uintptr_t at) {
  intptr_t r = fl_sys_mmap(at, FL_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (r < 0) return fl_error(FL_EENV, "vm: cannot map the window's guard page at %#lx: %s",
                             (unsigned long)at, strerror((int)-r));
  fl_sys_madvise(at, FL_PAGE, MADV_DONTDUMP);
  return FL_OK;
}

int fl_shadow_open(fl_vm_t *vm) {
  fl_pagemap_path_t path = vm->prof.under_valgrind ? FL_PAGEMAP_PREAD : FL_PAGEMAP_AUTO;
  if (fl_pagemap_open(&vm->pm, path) != FL_OK) return FL_EENV;
  if (map_guard(vm->lo - FL_PAGE) != FL_OK) {
    fl_pagemap_close(vm->pm);
    return FL_EENV;
  }
  if (map_guard(vm->hi) != FL_OK) {
    fl_sys_munmap(vm->lo - FL_PAGE, FL_PAGE);
    fl_pagemap_close(vm->pm);
    return FL_EENV;
  }
  /* Unless the caller studies THP, the process gets none: the model then
   * predicts small pages exactly (MADV_HUGEPAGE still sets VM_HUGEPAGE). */
  if (!vm->cfg.thp && fl_sys_thp_disabled() == 0 && fl_sys_disable_thp() == 0) vm->thp_was_enabled = true;
  fl_sys_guard_keep();
  vm->minflt_base = fl_minflt();
  return FL_OK;
}

void fl_shadow_close(fl_vm_t *vm) {
  fl_sys_guard_release();
  if (vm->thp_was_enabled) fl_sys_enable_thp();
  fl_sys_munmap(vm->lo - FL_PAGE, FL_PAGE);
  fl_sys_munmap(vm->hi, FL_PAGE);
  fl_pagemap_close(vm->pm);
  free(vm->kinds);
}

static const char *sysname(fl_sysno_t no) {
  static const char *names[] = {"mmap", "munmap", "mprotect", "mremap", "madvise", "brk"};
  return (unsigned)no < FL_SYS_COUNT ? names[no] : "?";
}

static void compare_result(fl_vm_t *vm, fl_sysno_t no, const uint64_t *a, int64_t model, int64_t real) {
  if (model == real) return;
  fl_vm_record(vm, FL_MM_ERRNO, (uintptr_t)a[0],
               "%s(%#llx, %#llx, %#llx, %#llx, %#llx): model %lld (%s), kernel %lld (%s)", sysname(no),
               (unsigned long long)a[0], (unsigned long long)a[1], (unsigned long long)a[2],
               (unsigned long long)a[3], (unsigned long long)a[4], (long long)model,
               model < 0 ? strerror((int)-model) : "ok", (long long)real, real < 0 ? strerror((int)-real) : "ok");
}

void fl_shadow_mmap(fl_vm_t *vm, uintptr_t addr, size_t len, int prot, int flags, intptr_t model) {
  uint64_t a[5] = {addr, len, (uint64_t)prot, (uint64_t)flags, 0};
  if (model == -FL_VM_ENOTMODELLED) return;
  bool fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
  intptr_t real;
  if (model >= 0) {
    /* The model decided the place; the kernel must agree it is free (or,
     * for MAP_FIXED, replace what is there). */
    int rflags = fixed ? flags : (flags | MAP_FIXED_NOREPLACE);
    real = fl_sys_mmap((uintptr_t)model, len, prot, rflags, -1, 0);
  } else if (fixed || model == -EINVAL) {
    /* Argument errors, and fixed requests, cannot land outside the window. */
    real = fl_sys_mmap(addr, len, prot, flags, -1, 0);
  } else {
    return; /* a non-fixed failure: the kernel would place it elsewhere */
  }
  compare_result(vm, FL_SYS_MMAP, a, model, real);
  if (model < 0 && real >= 0 && !fixed) fl_sys_munmap((uintptr_t)real, len);
}

void fl_shadow_simple(fl_vm_t *vm, fl_sysno_t no, const uint64_t *a, int64_t model) {
  if (model == -FL_VM_ENOTMODELLED) return;
  int64_t real;
  switch (no) {
  case FL_SYS_MUNMAP: real = fl_sys_munmap(a[0], a[1]); break;
  case FL_SYS_MPROTECT: real = fl_sys_mprotect(a[0], a[1], (int)a[2]); break;
  case FL_SYS_MADVISE: real = fl_sys_madvise(a[0], a[1], (int)a[2]); break;
  default: return;
  }
  compare_result(vm, no, a, model, real);
}

void fl_shadow_mremap(fl_vm_t *vm, uintptr_t old, size_t oldlen, size_t newlen, int flags, uintptr_t newaddr,
                      intptr_t model, bool moved) {
  uint64_t a[5] = {old, oldlen, newlen, (uint64_t)flags, newaddr};
  if (model == -FL_VM_ENOTMODELLED) return;
  intptr_t real;
  if (moved) {
    /* The model chose the new place: the kernel moves there. */
    real = fl_sys_mremap(old, oldlen, newlen, MREMAP_MAYMOVE | MREMAP_FIXED, (uintptr_t)model);
  } else if (model >= 0) {
    real = fl_sys_mremap(old, oldlen, newlen, flags & ~MREMAP_MAYMOVE, 0);
  } else if ((flags & MREMAP_FIXED) || !(flags & MREMAP_MAYMOVE) || model == -EINVAL || model == -EFAULT) {
    /* Errors the kernel must share, and calls that cannot leave the window. */
    real = fl_sys_mremap(old, oldlen, newlen, flags, newaddr);
  } else {
    return; /* the kernel might have found room outside the window */
  }
  compare_result(vm, FL_SYS_MREMAP, a, model, real);
  if (model < 0 && real >= 0 && (uintptr_t)real != old && !(flags & MREMAP_FIXED))
    fl_sys_munmap((uintptr_t)real, newlen);
}

void fl_shadow_brk(fl_vm_t *vm, uintptr_t oldbrk, uintptr_t newbrk) {
  if (newbrk > oldbrk) {
    intptr_t r = fl_sys_mmap(oldbrk, newbrk - oldbrk, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (r != (intptr_t)oldbrk)
      fl_vm_record(vm, FL_MM_ERRNO, oldbrk, "brk growth [%#lx, %#lx) as mmap: kernel %ld",
                   (unsigned long)oldbrk, (unsigned long)newbrk, (long)r);
  } else if (newbrk < oldbrk) {
    int r = fl_sys_munmap(newbrk, oldbrk - newbrk);
    if (r) fl_vm_record(vm, FL_MM_ERRNO, newbrk, "brk shrink [%#lx, %#lx) as munmap: kernel %d",
                        (unsigned long)newbrk, (unsigned long)oldbrk, r);
  }
}

/* ---- comparisons ------------------------------------------------------------ */
static const char *prot_str(int prot, char buf[4]) {
  buf[0] = prot & PROT_READ ? 'r' : '-';
  buf[1] = prot & PROT_WRITE ? 'w' : '-';
  buf[2] = prot & PROT_EXEC ? 'x' : '-';
  buf[3] = '\0';
  return buf;
}

/* Both sides as lists, for the mismatch text. */
static void describe_maps(fl_vm_t *vm, const fl_maps_entry_t *k, long nk, char *out, size_t cap) {
  size_t used = 0;
  char p[4];
  used += (size_t)snprintf(out + used, cap - used, "model:");
  for (fl_vnode_t *n = vm->vmas.first; n && used < cap; n = n->next)
    used += (size_t)snprintf(out + used, cap - used, " [%#lx-%#lx %s]", (unsigned long)n->v.start,
                             (unsigned long)n->v.end, prot_str(n->v.prot, p));
  if (used < cap) used += (size_t)snprintf(out + used, cap - used, "\nkernel:");
  for (long i = 0; i < nk && used < cap; i++)
    used += (size_t)snprintf(out + used, cap - used, " [%#lx-%#lx %s]", (unsigned long)k[i].start,
                             (unsigned long)k[i].end, prot_str(k[i].prot, p));
}

/* Both sides drawn over the same span, tools/testing/vma style: a letter
 * per VMA in address order (uppercase in the model where pages are
 * present), ' ' for holes, at most 64 columns. */
static void draw_both(fl_vm_t *vm, const fl_maps_entry_t *k, long nk, char *out, size_t cap) {
  uintptr_t lo = vm->hi, hi = vm->lo;
  if (vm->vmas.first) lo = vm->vmas.first->v.start, hi = vm->vmas.last->v.end;
  if (nk > 0 && k[0].start < lo) lo = k[0].start;
  if (nk > 0 && k[nk - 1].end > hi) hi = k[nk - 1].end;
  if (lo >= hi) return;
  size_t unit = ((hi - lo) / 64 + FL_PAGE - 1) & FL_PAGE_MASK;
  if (unit < FL_PAGE) unit = FL_PAGE;
  char model[80] = "";
  FILE *f = fmemopen(model, sizeof model, "w");
  if (f) {
    fl_vm_draw(vm, lo, hi, unit, f);
    fclose(f);
  }
  char kern[80];
  size_t c = 0;
  for (uintptr_t a = lo; a < hi && c < sizeof kern - 1; a += unit, c++) {
    kern[c] = ' ';
    for (long i = 0; i < nk; i++)
      if (k[i].start < a + unit && k[i].end > a) {
        kern[c] = (char)('a' + i % 26);
        break;
      }
  }
  kern[c] = '\0';
  snprintf(out, cap, "from %#lx, %zu KiB per column:\nmodel  [%.*s]\nkernel [%s]", (unsigned long)lo,
           unit / 1024, (int)strcspn(model, "\n"), model, kern);
}

static int compare_maps(fl_vm_t *vm) {
  size_t cap = vm->vmas.count + 64;
  fl_maps_entry_t *k = malloc(cap * sizeof *k);
  if (!k) return 0;
  long nk = fl_maps_read(vm->lo, vm->hi, k, cap);
  bool same = nk == (long)vm->vmas.count;
  long i = 0;
  for (fl_vnode_t *n = vm->vmas.first; same && n; n = n->next, i++)
    same = k[i].start == n->v.start && k[i].end == n->v.end && k[i].prot == n->v.prot;
  if (!same) {
    char text[640], drawing[256] = "";
    long shown = nk < 0 ? 0 : nk > (long)cap ? (long)cap : nk;
    describe_maps(vm, k, shown, text, sizeof text);
    draw_both(vm, k, shown, drawing, sizeof drawing);
    fl_vm_record(vm, FL_MM_MAPS, vm->lo, "window VMAs differ (%zu in the model, %ld in the kernel)\n%s\n%s",
                 vm->vmas.count, nk, drawing, text);
  }
  free(k);
  return !same;
}

static const char *kind_name(unsigned k) {
  static const char *names[] = {"absent", "zero page", "private", "other"};
  return names[k & 3];
}

/* Model state -> the pagemap kind(s) the kernel may show for it. A lazily
 * freed page may have been reclaimed; THP may back more than was touched. */
static bool page_agrees(unsigned model, unsigned kernel, bool thp_may) {
  switch (model) {
  case FL_PTE_NONE: return kernel == FL_PAGE_ABSENT || (thp_may && kernel == FL_PAGE_PRIVATE);
  case FL_PTE_ZERO: return kernel == FL_PAGE_ZERO || (thp_may && kernel == FL_PAGE_PRIVATE);
  case FL_PTE_ANON: return kernel == FL_PAGE_PRIVATE;
  default: return kernel == FL_PAGE_PRIVATE || kernel == FL_PAGE_ABSENT;
  }
}

static bool thp_may(const fl_vm_t *vm, const fl_vma_t *v) {
  return vm->cfg.thp && fl_kprofile_thp_allowed(&vm->prof, v->flags & FL_VMA_HUGEPAGE, v->flags & FL_VMA_NOHUGEPAGE);
}

static int compare_vma_pages(fl_vm_t *vm, const fl_vma_t *v) {
  size_t npages = fl_pages(v->end - v->start);
  if (npages > vm->kinds_cap) {
    uint8_t *k = realloc(vm->kinds, npages);
    if (!k) return 0;
    vm->kinds = k;
    vm->kinds_cap = npages;
  }
  if (fl_pagemap_read(vm->pm, v->start, npages, vm->kinds) != FL_OK) {
    fl_vm_record(vm, FL_MM_PAGES, v->start, "pagemap unreadable: %s", fl_error_message());
    return 1;
  }
  bool may = thp_may(vm, v);
  for (size_t i = 0; i < npages; i++) {
    unsigned m = fl_pt_get(&vm->pt, v->start + i * FL_PAGE) & FL_PT_STATE;
    if (page_agrees(m, vm->kinds[i], may)) continue;
    fl_vm_record(vm, FL_MM_PAGES, v->start + i * FL_PAGE, "page %#lx: model %s, kernel %s",
                 (unsigned long)(v->start + i * FL_PAGE),
                 m == FL_PTE_NONE ? "absent" : m == FL_PTE_ZERO ? "zero page" : m == FL_PTE_ANON ? "private" : "lazily freed",
                 kind_name(vm->kinds[i]));
    return 1; /* one per VMA is enough to read */
  }
  return 0;
}

static int compare_rss(fl_vm_t *vm) {
  long kib = fl_smaps_rss_kib(vm->lo, vm->hi);
  uint64_t model = vm->st.rss_pages * 4;
  if (kib < 0) {
    fl_vm_record(vm, FL_MM_RSS, vm->lo, "smaps unreadable: %s", fl_error_message());
    return 1;
  }
  bool may_thp = false;
  for (fl_vnode_t *n = vm->vmas.first; n && !may_thp; n = n->next) may_thp = thp_may(vm, &n->v);
  if ((uint64_t)kib == model || (may_thp && (uint64_t)kib > model)) return 0;
  fl_vm_record(vm, FL_MM_RSS, vm->lo, "Rss of the window: model %llu KiB, kernel (smaps) %ld KiB",
               (unsigned long long)model, kib);
  return 1;
}

static int compare_minflt(fl_vm_t *vm) {
  long now = fl_minflt();
  uint64_t real = (uint64_t)(now - vm->minflt_base);
  uint64_t lo = vm->st.minflt_min - vm->model_min_base, hi = vm->st.minflt_max - vm->model_max_base;
  uint64_t slack = FL_MINFLT_SLACK + hi / 32;
  if (real >= lo && real <= hi + slack) return 0;
  fl_vm_record(vm, FL_MM_MINFLT, vm->lo,
               "minor faults since the last comparison: model [%llu, %llu] (+%llu slack), kernel %llu",
               (unsigned long long)lo, (unsigned long long)hi, (unsigned long long)slack, (unsigned long long)real);
  return 1;
}

int fl_vm_compare(fl_vm_t *vm, unsigned what) {
  if (!fl_vm_shadow(vm)) return 0;
  int found = 0;
  /* Faults first: reading /proc below faults pages of the harness's own.
   * Under valgrind the count is valgrind's (translations, its own heap):
   * no bound on it means anything there. */
  if ((what & FL_CMP_MINFLT) && !vm->prof.under_valgrind) found += compare_minflt(vm);
  if (what & FL_CMP_MAPS) found += compare_maps(vm);
  if (what & FL_CMP_PAGES)
    for (fl_vnode_t *n = vm->vmas.first; n; n = n->next) found += compare_vma_pages(vm, &n->v);
  if (what & FL_CMP_RSS) found += compare_rss(vm);
  vm->minflt_base = fl_minflt();
  vm->model_min_base = vm->st.minflt_min;
  vm->model_max_base = vm->st.minflt_max;
  return found;
}
