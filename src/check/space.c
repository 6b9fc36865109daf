/* space.c — VMA-*, PT-*, RSS-* and KERNEL-*: the address space and the
 * pages, as the model keeps them, against the kernel's rules (spec/model.md),
 * against what refmalloc owns, and (shadow mode) against the kernel. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "check/internal.h"

#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uintptr_t)(a) - 1))

static fl_vma_t *vmas(fl_check_t *c, size_t *n) {
  size_t k = fl_vm_vma_count(c->vm);
  fl_vma_t *v = malloc((k ? k : 1) * sizeof *v);
  if (!v) {
    *n = 0;
    return NULL;
  }
  *n = fl_vm_vmas(c->vm, v, k);
  if (*n > k) *n = k;
  return v;
}

static const char *vma_str(const fl_vma_t *v) {
  return ck_str("[%#lx-%#lx %c%c%c flags %#x pgoff %#lx anon %u]", (unsigned long)v->start,
                (unsigned long)v->end, v->prot & PROT_READ ? 'r' : '-', v->prot & PROT_WRITE ? 'w' : '-',
                v->prot & PROT_EXEC ? 'x' : '-', v->flags, (unsigned long)v->pgoff, v->anon);
}

/* Would vma_merge_new_range / vma_merge_existing_range have merged a and b
 * (a just below b)? Same prot and tracked flags, pgoffs continue, and
 * anon_vmas compatible (is_mergeable_anon_vma with singular chains: one
 * absent, or equal). */
static bool mergeable(const fl_vma_t *a, const fl_vma_t *b) {
  return a->end == b->start && a->prot == b->prot && a->flags == b->flags &&
         a->pgoff + ((a->end - a->start) >> 12) == b->pgoff && (!a->anon || !b->anon || a->anon == b->anon);
}

int fl_chk_vmas(fl_check_t *c) {
  size_t before = c->ntotal, n;
  fl_vma_t *v = vmas(c, &n);
  if (!v) return 0;
  const fl_vm_config_t *cfg = fl_vm_config(c->vm);
  uintptr_t lo = cfg->base, hi = cfg->base + cfg->size;
  uint64_t total = 0, data = 0;
  for (size_t i = 0; i < n; i++) {
    if ((v[i].start | v[i].end) & (CK_PAGE - 1) || v[i].start >= v[i].end)
      ck_fail(c, "VMA-ALIGN", v[i].start, CK_DRAW_VMAS, ck_str("page-aligned, start < end"), vma_str(&v[i]));
    if (v[i].start < lo || v[i].end > hi)
      ck_fail(c, "VMA-WINDOW", v[i].start, CK_DRAW_VMAS, ck_str("inside [%#lx, %#lx)", (unsigned long)lo, (unsigned long)hi),
              vma_str(&v[i]));
    if (i && v[i - 1].end > v[i].start)
      ck_fail(c, "VMA-SORTED", v[i].start, CK_DRAW_VMAS, ck_str("after %s", vma_str(&v[i - 1])), vma_str(&v[i]));
    else if (i && mergeable(&v[i - 1], &v[i]))
      ck_fail(c, "VMA-MERGED", v[i].start, CK_DRAW_VMAS, ck_str("merged with %s", vma_str(&v[i - 1])),
              vma_str(&v[i]));
    if (v[i].end > v[i].start) {
      total += (v[i].end - v[i].start) >> 12;
      if (v[i].prot & PROT_WRITE) data += (v[i].end - v[i].start) >> 12;
    }
  }
  fl_vm_stats_t st;
  fl_vm_stats(c->vm, &st);
  if (st.total_vm_pages != total || st.data_vm_pages != data || st.nr_vmas != n)
    ck_fail(c, "VMA-COUNTERS", lo, CK_DRAW_NONE,
            ck_str("VmSize %lu, VmData %lu pages, %zu VMAs (sums over VMAs)", (unsigned long)total,
                   (unsigned long)data, n),
            ck_str("VmSize %lu, VmData %lu pages, %lu VMAs", (unsigned long)st.total_vm_pages,
                   (unsigned long)st.data_vm_pages, (unsigned long)st.nr_vmas));
  /* sys_brk: [start_brk, PAGE_ALIGN(brk)) is mapped; refmalloc's
   * __curbrk is the kernel's break. */
  uintptr_t sb = fl_vm_start_brk(c->vm), b = fl_vm_cur_brk(c->vm);
  fl_rm_params_t mp;
  fl_rm_params(c->rm, &mp);
  for (uintptr_t a = sb; a < ALIGN_UP(b, CK_PAGE);) {
    fl_vma_t x;
    if (!fl_vm_find(c->vm, a, &x) || x.start > a || (x.prot & 3) != 3) {
      ck_fail(c, "VMA-BRK", a, CK_DRAW_VMAS,
              ck_str("[%#lx, %#lx) mapped rw", (unsigned long)sb, (unsigned long)ALIGN_UP(b, CK_PAGE)),
              ck_str("nothing rw at %#lx", (unsigned long)a));
      break;
    }
    a = x.end;
  }
  if (mp.curbrk && mp.curbrk != b)
    ck_fail(c, "VMA-BRK", b, CK_DRAW_VMAS, ck_str("__curbrk = brk %#lx", (unsigned long)b),
            ck_str("__curbrk %#lx", (unsigned long)mp.curbrk));
  free(v);
  return (int)(c->ntotal - before);
}

/* Is [lo, hi) wholly mapped with protection `prot` (-1: rw at least)?
 * Returns 0, or the first address where it is not. */
static uintptr_t covered(fl_check_t *c, uintptr_t lo, uintptr_t hi, int prot) {
  for (uintptr_t a = lo; a < hi;) {
    fl_vma_t x;
    if (!fl_vm_find(c->vm, a, &x) || x.start > a) return a ? a : 1;
    if (prot < 0 ? (x.prot & 3) != 3 : x.prot != prot) return a;
    a = x.end;
  }
  return 0;
}

typedef struct { uintptr_t lo, hi; } range_t;
static int range_cmp(const void *a, const void *b) {
  const range_t *x = a, *y = b;
  return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* What refmalloc owns, against the VMAs. */
int fl_chk_owned(fl_check_t *c) {
  size_t before = c->ntotal;
  fl_rm_params_t mp;
  fl_rm_params(c->rm, &mp);
  bool complete = ck_segments(c);
  uintptr_t bad;
  size_t cap = c->nsegs + c->live_mm.n + fl_rm_thread_count(c->rm) + 2, nr = 0;
  range_t *own = malloc(cap * sizeof *own);
  if (!own) return 0;
  uintptr_t sb = fl_vm_start_brk(c->vm), b = fl_vm_cur_brk(c->vm);
  if (b > sb) own[nr++] = (range_t){sb, ALIGN_UP(b, CK_PAGE)};
  for (size_t i = 0; i < c->nsegs; i++) {
    const ck_seg_t *s = &c->segs[i];
    if (!s->heap) {
      if ((bad = covered(c, mp.sbrk_base, mp.curbrk, -1)))
        ck_fail(c, "VMA-RW", bad, CK_DRAW_VMAS, ck_str("main arena [%#lx, %#lx) rw", (unsigned long)mp.sbrk_base,
                                                      (unsigned long)mp.curbrk), ck_str("not rw at %#lx", (unsigned long)bad));
      continue;
    }
    uintptr_t h = s->heap;
    uint64_t mps = ck_word(c, h + 24);
    if (mps > CK_HEAP_MAX) mps = CK_HEAP_MAX;
    if ((bad = covered(c, h, h + mps, -1)))
      ck_fail(c, "VMA-RW", bad, CK_DRAW_VMAS, ck_str("heap [%#lx, %#lx) rw", (unsigned long)h, (unsigned long)(h + mps)),
              ck_str("not rw at %#lx", (unsigned long)bad));
    if ((bad = covered(c, h + mps, h + CK_HEAP_MAX, PROT_NONE)))
      ck_fail(c, "VMA-HEAP-GUARD", bad, CK_DRAW_VMAS,
              ck_str("[%#lx, %#lx) reserved PROT_NONE", (unsigned long)(h + mps), (unsigned long)(h + CK_HEAP_MAX)),
              ck_str("not PROT_NONE at %#lx", (unsigned long)bad));
    own[nr++] = (range_t){h, h + CK_HEAP_MAX};
  }
  for (unsigned tid = 0; tid < fl_rm_thread_count(c->rm); tid++) {
    uintptr_t lo, hi;
    if (ck_tcache_mapping(c, tid, &lo, &hi)) own[nr++] = (range_t){lo, hi};
  }
  for (size_t i = 0; i < c->live_mm.cap && nr < cap; i++) {
    const ck_live_t *e = &c->live_mm.t[i];
    if (e->mem > 1) own[nr++] = (range_t){e->map_lo, e->map_hi};
  }
  /* glibc ignores failed munmaps (munmap_chunk, new_heap's trimming of its
   * aligned reservation, heap_trim): once a call has failed, a mapping may
   * rightly be nobody's. */
  if (c->exclusive && c->tracking && complete && ck_failed_syscalls(c->vm) == 0) {
    qsort(own, nr, sizeof *own, range_cmp);
    size_t n;
    fl_vma_t *v = vmas(c, &n);
    size_t j = 0;
    for (size_t i = 0; v && i < n; i++) {
      uintptr_t a = v[i].start;
      while (a < v[i].end) {
        while (j < nr && own[j].hi <= a) j++;
        /* ranges may overlap (a heap inside the brk area cannot, but be safe) */
        size_t k = j;
        uintptr_t reach = 0;
        for (; k < nr && own[k].lo <= a; k++)
          if (own[k].hi > reach) reach = own[k].hi;
        if (reach <= a) {
          ck_fail(c, "VMA-STRAY", a, CK_DRAW_VMAS, ck_str("every VMA byte belongs to brk, a heap or a mapped chunk"),
                  ck_str("%s: %#lx is nobody's", vma_str(&v[i]), (unsigned long)a));
          a = v[i].end;
          break;
        }
        a = reach;
      }
    }
    free(v);
  }
  free(own);
  return (int)(c->ntotal - before);
}

/* ---------------------------------------------------------------- pages */

typedef struct page_ctx {
  fl_check_t *c;
  const fl_vma_t *v;
  size_t nv, j;
  uint64_t priv, zero, outside;
  uintptr_t first_outside;
  bool anon_reported;
} page_ctx_t;

static void in_vma_page(void *ctx, uintptr_t page, fl_pte_t pte) {
  page_ctx_t *p = ctx;
  if (pte == FL_PTE_ZERO) {
    p->zero++;
    return;
  }
  p->priv++;
  /* do_anonymous_page installs a private page only after anon_vma_prepare */
  if (!p->v->anon && !p->anon_reported) {
    p->anon_reported = true;
    ck_fail(p->c, "PT-ANON", page, CK_DRAW_VMAS, ck_str("private pages only in a VMA with an anon_vma"),
            ck_str("page %#lx private in %s", (unsigned long)page, vma_str(p->v)));
  }
}

static void any_page(void *ctx, uintptr_t page, fl_pte_t pte) {
  page_ctx_t *p = ctx;
  (void)pte;
  while (p->j < p->nv && p->v[p->j].end <= page) p->j++;
  if (p->j < p->nv && p->v[p->j].start <= page) return;
  if (!p->outside++) p->first_outside = page;
}

static void tail_page(void *ctx, uintptr_t page, fl_pte_t pte) {
  page_ctx_t *p = ctx;
  (void)pte;
  if (!p->outside++) p->first_outside = page;
}

int fl_chk_minflt(fl_check_t *c) {
  fl_vm_stats_t st;
  fl_vm_stats(c->vm, &st);
  if (st.minflt_min > st.minflt_max)
    ck_fail(c, "RSS-MINFLT", 0, CK_DRAW_NONE, ck_str("minflt_min <= minflt_max"),
            ck_str("%lu > %lu", (unsigned long)st.minflt_min, (unsigned long)st.minflt_max));
  return 0;
}

int fl_chk_pages(fl_check_t *c) {
  size_t before = c->ntotal, n;
  fl_vma_t *v = vmas(c, &n);
  if (!v) return 0;
  page_ctx_t pc = {.c = c};
  for (size_t i = 0; i < n; i++) {
    pc.v = &v[i];
    pc.anon_reported = false;
    fl_vm_visit_pages(c->vm, v[i].start, v[i].end, in_vma_page, &pc);
  }
  fl_vm_stats_t st;
  fl_vm_stats(c->vm, &st);
  if (st.rss_pages != pc.priv)
    ck_fail(c, "RSS-COUNT", 0, CK_DRAW_NONE, ck_str("RSS %lu pages (private + lazily freed in VMAs)", (unsigned long)pc.priv),
            ck_str("rss_pages %lu", (unsigned long)st.rss_pages));
  const fl_kprofile_t *prof = fl_vm_config(c->vm)->profile;
  if (st.zero_pages != pc.zero || (pc.zero && prof && prof->zero_page_on_read == FL_NO))
    ck_fail(c, "RSS-ZERO", 0, CK_DRAW_NONE,
            ck_str("zero_pages %lu (zero-page entries; none unless the profile reads the zero page)", (unsigned long)pc.zero),
            ck_str("zero_pages %lu", (unsigned long)st.zero_pages));
  const fl_vm_config_t *cfg = fl_vm_config(c->vm);
  page_ctx_t any = {.c = c, .v = v, .nv = n};
  fl_vm_visit_pages(c->vm, cfg->base, cfg->base + cfg->size, any_page, &any);
  if (any.outside)
    ck_fail(c, "PT-IN-VMA", any.first_outside, CK_DRAW_VMAS, ck_str("present pages only inside VMAs"),
            ck_str("%lu present page(s) outside, the first %#lx", (unsigned long)any.outside,
                   (unsigned long)any.first_outside));
  ck_segments(c);
  /* shrink_heap ignores a failed madvise/mmap: pages past the size may stay */
  for (size_t i = 0; i < c->nsegs && ck_failed_syscalls(c->vm) == 0; i++) {
    uintptr_t h = c->segs[i].heap;
    if (!h) continue;
    page_ctx_t t = {.c = c};
    uintptr_t from = h + ALIGN_UP(ck_word(c, h + 16), CK_PAGE);
    fl_vm_visit_pages(c->vm, from, h + CK_HEAP_MAX, tail_page, &t);
    if (t.outside)
      ck_fail(c, "PT-HEAP-TAIL", t.first_outside, CK_DRAW_VMAS,
              ck_str("no present page in heap %#lx past its size (%#lx)", (unsigned long)h, (unsigned long)(from - h)),
              ck_str("%lu, the first %#lx", (unsigned long)t.outside, (unsigned long)t.first_outside));
  }
  fl_chk_minflt(c);
  free(v);
  return (int)(c->ntotal - before);
}

/* The mapping of the chunk the last op released: unmapped, and its pages
 * gone (munmap_chunk -> do_vmi_munmap -> zap). */
int fl_chk_freed(fl_check_t *c) {
  size_t before = c->ntotal;
  if (!c->last.freed_valid || !c->last.freed.map_hi) return 0;
  /* glibc ignores a failed munmap (munmap_chunk) and a failed mremap falls
   * back to malloc-copy-free: after a failed call the range may stay. */
  if (ck_failed_syscalls(c->vm) != c->last_failed_syscalls) return 0;
  uintptr_t lo = c->last.freed.map_lo, hi = c->last.freed.map_hi;
  range_t parts[2] = {{lo, hi}, {0, 0}};
  size_t np = 1;
  if (c->last.new_valid && c->last.added.map_hi) { /* realloc: the new mapping may reuse part */
    uintptr_t nlo = c->last.added.map_lo, nhi = c->last.added.map_hi;
    if (nlo < hi && nhi > lo) {
      np = 0;
      if (lo < nlo) parts[np++] = (range_t){lo, nlo};
      if (nhi < hi) parts[np++] = (range_t){nhi, hi};
    }
  }
  for (size_t i = 0; i < np; i++) {
    fl_vma_t v;
    if (fl_vm_find(c->vm, parts[i].lo, &v) && v.start < parts[i].hi) {
      ck_fail(c, "VMA-FREED", v.start < parts[i].lo ? parts[i].lo : v.start, CK_DRAW_VMAS,
              ck_str("[%#lx, %#lx) unmapped after the chunk was released", (unsigned long)parts[i].lo,
                     (unsigned long)parts[i].hi),
              ck_str("still mapped: %s", vma_str(&v)));
      continue;
    }
    page_ctx_t t = {.c = c};
    fl_vm_visit_pages(c->vm, parts[i].lo, parts[i].hi, tail_page, &t);
    if (t.outside)
      ck_fail(c, "PT-FREED-MMAP", t.first_outside, CK_DRAW_VMAS,
              ck_str("no present page in the released [%#lx, %#lx)", (unsigned long)parts[i].lo, (unsigned long)parts[i].hi),
              ck_str("%lu present, the first %#lx", (unsigned long)t.outside, (unsigned long)t.first_outside));
  }
  return (int)(c->ntotal - before);
}

/* --------------------------------------------------------------- kernel */

static int kernel_scan(fl_check_t *c, fl_vm_mismatch_kind_t kind, unsigned cmp) {
  if (fl_vm_config(c->vm)->mode != FL_VM_SHADOW) return 0;
  size_t before = c->ntotal;
  if (cmp) fl_vm_compare(c->vm, cmp);
  size_t n = fl_vm_mismatch_count(c->vm);
  for (size_t i = c->mm_cursor[kind]; i < n; i++) {
    const fl_vm_mismatch_t *m = fl_vm_mismatch(c->vm, i);
    if (!m || m->kind != kind) continue;
    const char *id = "KERNEL-ERRNO";
    switch (kind) {
    case FL_MM_MAPS: id = "KERNEL-MAPS"; break;
    case FL_MM_PAGES:
      /* both present but zero page vs exclusive: the state; else the set */
      id = strstr(m->text, "model absent") || strstr(m->text, "kernel absent") || strstr(m->text, "unreadable") ||
                   strstr(m->text, "lazily freed")
               ? "KERNEL-PAGES"
               : "KERNEL-PAGE-STATE";
      break;
    case FL_MM_RSS: id = "KERNEL-RSS"; break;
    case FL_MM_MINFLT: id = "KERNEL-MINFLT"; break;
    case FL_MM_ACCESS: id = "KERNEL-ACCESS"; break;
    default: break;
    }
    ck_fail(c, id, m->addr, kind == FL_MM_MAPS ? CK_DRAW_NONE : CK_DRAW_VMAS, ck_str("the kernel agrees with the model"),
            ck_str("%.180s", m->text));
  }
  c->mm_cursor[kind] = n;
  return (int)(c->ntotal - before);
}

int fl_chk_kernel_maps(fl_check_t *c) { return kernel_scan(c, FL_MM_MAPS, FL_CMP_MAPS); }
int fl_chk_kernel_pages(fl_check_t *c) { return kernel_scan(c, FL_MM_PAGES, FL_CMP_PAGES); }
int fl_chk_kernel_rss(fl_check_t *c) { return kernel_scan(c, FL_MM_RSS, FL_CMP_RSS); }
int fl_chk_kernel_minflt(fl_check_t *c) { return kernel_scan(c, FL_MM_MINFLT, FL_CMP_MINFLT); }
int fl_chk_kernel_errno(fl_check_t *c) { return kernel_scan(c, FL_MM_ERRNO, 0); }
int fl_chk_kernel_access(fl_check_t *c) { return kernel_scan(c, FL_MM_ACCESS, 0); }
