/* fault.c — the page-table side of the model: the anonymous page-fault
 * handler behind every observed access (handle_mm_fault ->
 * do_anonymous_page / do_wp_page), and the operations that drop, free
 * lazily, move or populate pages. */
#include "vm/internal.h"

#include <string.h>
#include <sys/mman.h>

#include "host/sys.h"
#include "util/mutant.h"

/* ---- real memory ---------------------------------------------------------
 * Fast mode and peek copy with memcpy: the window is plain mapped memory
 * that AddressSanitizer never poisons. Shadow mode copies through the host's
 * guarded, uninstrumented copies instead, so that a fault the model did not
 * predict is caught and the sanitizer's own shadow faults stay out of the
 * counts being compared. */
static void raw_copy(void *dst, const void *src, size_t n) { memcpy(dst, src, n); }

static void raw_set(void *dst, int c, size_t n) { memset(dst, c, n); }

/* ---- page-table entries and the counters they drive --------------------- */
static bool is_private(unsigned s) { return s == FL_PTE_ANON || s == FL_PTE_LAZYFREE; }

static void account(fl_vm_t *vm, unsigned before, unsigned after) {
  vm->st.rss_pages += FL_MUT(37, is_private(after) - is_private(before),
                             (after == FL_PTE_ANON) - (before == FL_PTE_ANON));
  vm->st.zero_pages += (after == FL_PTE_ZERO) - (before == FL_PTE_ZERO);
}

static void set_entry(fl_vm_t *vm, uintptr_t addr, uint8_t e) {
  int old = fl_pt_set(&vm->pt, addr, e);
  if (old >= 0) account(vm, (unsigned)old & FL_PT_STATE, e & FL_PT_STATE);
}

/* In fast mode a page the kernel would hand out fresh (zero-filled) may still
 * hold what the model's earlier life of that address wrote: clear it. */
static void make_fresh(fl_vm_t *vm, uintptr_t page, uint8_t e) {
  if (!fl_vm_shadow(vm) && (e & FL_PT_STALE)) raw_set((void *)page, 0, FL_PAGE);
}

/* anon_vma_prepare -> find_mergeable_anon_vma: a VMA's first private page
 * reuses the anon_vma of an adjacent VMA that differs only in rwx and
 * continues its pgoff (anon_vma_compatible), trying the next VMA first;
 * otherwise a new one is allocated. */
static bool anon_compatible(const fl_vma_t *a, const fl_vma_t *b) {
  return a->end == b->start && a->flags == b->flags &&
         b->pgoff == a->pgoff + fl_pages(b->start - a->start);
}

static void anon_prepare(fl_vm_t *vm, fl_vnode_t *n) {
  if (n->v.anon) return;
  if (n->next && n->next->v.anon && anon_compatible(&n->v, &n->next->v)) n->v.anon = n->next->v.anon;
  else if (n->prev && n->prev->v.anon && anon_compatible(&n->prev->v, &n->v)) n->v.anon = n->prev->v.anon;
  else n->v.anon = ++vm->next_anon;
}

static void fault_one(fl_vm_t *vm, fl_vnode_t *n, uintptr_t page, bool write) {
  uint8_t e = fl_pt_get(&vm->pt, page);
  unsigned s = e & FL_PT_STATE, after = s;
  uint64_t faults_min = 1, faults_max = FL_MUT(38, 1, 0);
  if (!write) {
    if (s != FL_PTE_NONE) return;
    /* do_anonymous_page: a read maps the shared zero page where the profile
     * says this kernel does, without preparing an anon_vma. */
    if (FL_MUT(45, vm->prof.zero_page_on_read != FL_NO, vm->prof.zero_page_on_read == FL_NO)) {
      after = FL_PTE_ZERO;
    } else {
      anon_prepare(vm, n);
      after = FL_PTE_ANON;
    }
  } else if (s == FL_PTE_ANON) {
    return;
  } else if (s == FL_PTE_LAZYFREE) {
    /* The pte stayed writable (madvise_free_pte_range only cleans and ages
     * it): the write re-dirties the page without a fault. */
    set_entry(vm, page, FL_PTE_ANON);
    return;
  } else {
    anon_prepare(vm, n);
    after = FL_PTE_ANON;
    /* do_wp_page on the zero page; seen counted once or twice here. */
    if (s == FL_PTE_ZERO) faults_max = 2;
  }
  make_fresh(vm, page, e);
  set_entry(vm, page, (uint8_t)after);
  vm->st.minflt_min += faults_min;
  vm->st.minflt_max += faults_max;
  if (vm->hooks.fault) vm->hooks.fault(vm->hooks.ctx, page, write, (fl_pte_t)s, (fl_pte_t)after);
}

static fl_vnode_t *lookup(fl_vm_t *vm, uintptr_t addr) {
  fl_vnode_t *n = vm->cache;
  if (n && n->v.start <= addr && addr < n->v.end) return n;
  n = fl_vset_find(&vm->vmas, addr);
  if (!n || n->v.start > addr) return NULL;
  vm->cache = n;
  return n;
}

/* x86-64 has no write-only or (without protection keys) execute-only
 * pages: any of rwx makes a page readable. */
static bool permitted(const fl_vma_t *v, bool write) {
  return write ? (v->prot & FL_MUT(39, PROT_WRITE, PROT_READ | PROT_WRITE)) != 0
               : (v->prot & (PROT_READ | PROT_WRITE | PROT_EXEC)) != 0;
}

static int segv(fl_vm_t *vm, uintptr_t addr, bool write) {
  vm->st.segv++;
  if (fl_vm_shadow(vm) && fl_sys_probe_access(addr, write) == 0)
    fl_vm_record(vm, FL_MM_ACCESS, addr, "model: SIGSEGV on %s of %#lx; kernel: the access succeeded",
                 write ? "write" : "read", (unsigned long)addr);
  if (vm->hooks.segv) vm->hooks.segv(vm->hooks.ctx, addr, write);
  return -1;
}

/* Faults every page of [addr, addr + n) as the access would; -1 (after the
 * segv hook) if the kernel would deliver SIGSEGV. */
static int fault_range(fl_vm_t *vm, uintptr_t addr, size_t n, bool write) {
  if (n == 0) return 0;
  if (addr + n < addr) return segv(vm, addr, write);
  for (uintptr_t page = addr & FL_PAGE_MASK; page < addr + n; page += FL_PAGE) {
    fl_vnode_t *v = lookup(vm, page);
    uintptr_t at = page < addr ? addr : page;
    if (!v || !permitted(&v->v, write)) {
      /* The access got this far before the signal: in shadow mode the
       * kernel must take the faults of the pages before, too. */
      if (fl_vm_shadow(vm))
        for (uintptr_t p = addr; p < at; p = (p & FL_PAGE_MASK) + FL_PAGE) fl_sys_probe_access(p, write);
      return segv(vm, at, write);
    }
    fault_one(vm, v, page, write);
  }
  return 0;
}

static void shadow_access_failed(fl_vm_t *vm, uintptr_t addr, bool write, int sig) {
  fl_vm_record(vm, FL_MM_ACCESS, addr, "model: %s of %#lx allowed; kernel: signal %d",
               write ? "write" : "read", (unsigned long)addr, sig);
}

int fl_vm_load(fl_vm_t *vm, uintptr_t addr, void *dst, size_t n) {
  if (fault_range(vm, addr, n, false)) return -1;
  if (!fl_vm_shadow(vm)) {
    raw_copy(dst, (const void *)addr, n);
  } else {
    int sig = fl_sys_guarded_copy(dst, (const void *)addr, n);
    if (sig) shadow_access_failed(vm, addr, false, sig);
  }
  return 0;
}

int fl_vm_store(fl_vm_t *vm, uintptr_t addr, const void *src, size_t n) {
  if (fault_range(vm, addr, n, true)) return -1;
  if (!fl_vm_shadow(vm)) {
    raw_copy((void *)addr, src, n);
  } else {
    int sig = fl_sys_guarded_copy((void *)addr, src, n);
    if (sig) shadow_access_failed(vm, addr, true, sig);
  }
  return 0;
}

int fl_vm_fill(fl_vm_t *vm, uintptr_t addr, int byte, size_t n) {
  if (fault_range(vm, addr, n, true)) return -1;
  if (!fl_vm_shadow(vm)) {
    raw_set((void *)addr, byte, n);
  } else {
    int sig = fl_sys_guarded_set((void *)addr, byte, n);
    if (sig) shadow_access_failed(vm, addr, true, sig);
  }
  return 0;
}

int fl_vm_touch(fl_vm_t *vm, uintptr_t addr, size_t n, bool write) {
  if (fault_range(vm, addr, n, write)) return -1;
  if (!fl_vm_shadow(vm)) return 0;
  /* One real access per page makes the kernel take the same faults. */
  for (uintptr_t page = addr & FL_PAGE_MASK; page < addr + n; page += FL_PAGE) {
    uintptr_t at = page < addr ? addr : page;
    int sig = fl_sys_probe_access(at, write);
    if (sig) shadow_access_failed(vm, at, write, sig);
  }
  return 0;
}

int fl_vm_peek(fl_vm_t *vm, uintptr_t addr, void *dst, size_t n) {
  int status = 0;
  uint8_t *out = dst;
  while (n) {
    uintptr_t page = addr & FL_PAGE_MASK;
    size_t chunk = page + FL_PAGE - addr < n ? page + FL_PAGE - addr : n;
    bool present = addr >= vm->lo && addr < vm->hi && (fl_pt_get(&vm->pt, page) & FL_PT_STATE) != FL_PTE_NONE;
    if (!lookup(vm, addr)) status = -1;
    if (present && !fl_vm_shadow(vm)) raw_copy(out, (const void *)addr, chunk);
    else if (!present || fl_sys_guarded_copy(out, (const void *)addr, chunk)) raw_set(out, 0, chunk);
    out += chunk;
    addr += chunk;
    n -= chunk;
  }
  return status;
}

/* ---- operations on ranges of pages ------------------------------------- */
struct zap_ctx {
  fl_vm_t *vm;
  uint64_t private_pages;
};

static void zap_visit(void *ctx, uintptr_t addr, uint8_t e) {
  struct zap_ctx *z = ctx;
  unsigned s = e & FL_PT_STATE;
  z->private_pages += is_private(s);
  /* Fast mode keeps the stale bytes until the page is handed out again. */
  bool stale = !fl_vm_shadow(z->vm) && (is_private(s) || (e & FL_PT_STALE));
  set_entry(z->vm, addr, stale ? FL_PT_STALE : 0);
}

static void unstale_visit(void *ctx, uintptr_t addr, uint8_t e) {
  set_entry(ctx, addr, e & FL_PT_STATE);
}

/* Above this many private pages, fast mode asks the kernel to drop the
 * backing (one madvise) instead of clearing pages one by one on reuse. */
#define FL_ZAP_BULK 64

void fl_vm_zap(fl_vm_t *vm, uintptr_t lo, uintptr_t hi) {
  struct zap_ctx z = {vm, 0};
  fl_pt_visit(&vm->pt, lo, hi, zap_visit, &z);
  if (!fl_vm_shadow(vm) && z.private_pages >= FL_ZAP_BULK) {
    fl_sys_madvise(lo, hi - lo, MADV_DONTNEED);
    fl_pt_visit(&vm->pt, lo, hi, unstale_visit, vm);
  }
}

static void lazyfree_visit(void *ctx, uintptr_t addr, uint8_t e) {
  if ((e & FL_PT_STATE) == FL_PTE_ANON) set_entry(ctx, addr, (uint8_t)((e & ~FL_PT_STATE) | FL_PTE_LAZYFREE));
}

void fl_vm_lazyfree(fl_vm_t *vm, uintptr_t lo, uintptr_t hi) {
  fl_pt_visit(&vm->pt, lo, hi, lazyfree_visit, vm);
}

void fl_vm_move_pages(fl_vm_t *vm, uintptr_t from, uintptr_t to, size_t len) {
  bool fast = !fl_vm_shadow(vm);
  for (size_t off = 0; off < len; off += FL_PAGE) {
    uint8_t ef = fl_pt_get(&vm->pt, from + off), et = fl_pt_get(&vm->pt, to + off);
    unsigned s = ef & FL_PT_STATE;
    if (!ef && !(et & FL_PT_STALE)) continue;
    uint8_t nt = (uint8_t)(s | (et & FL_PT_STALE));
    if (fast && is_private(s)) {
      raw_copy((void *)(to + off), (const void *)(from + off), FL_PAGE);
      nt = (uint8_t)s;
    } else if (fast && s == FL_PTE_ZERO && (et & FL_PT_STALE)) {
      raw_set((void *)(to + off), 0, FL_PAGE);
      nt = (uint8_t)s;
    }
    set_entry(vm, to + off, nt);
    set_entry(vm, from + off, fast && (is_private(s) || (ef & FL_PT_STALE)) ? FL_PT_STALE : 0);
  }
}

void fl_vm_populate(fl_vm_t *vm, fl_vnode_t *v, uintptr_t lo, uintptr_t hi) {
  /* populate_vma_page_range: write faults for private writable mappings,
   * read faults otherwise; nothing for PROT_NONE (not accessible). */
  if (!(v->v.prot & (PROT_READ | PROT_WRITE | PROT_EXEC))) return;
  bool write = (v->v.prot & PROT_WRITE) != 0;
  for (uintptr_t page = lo; page < hi; page += FL_PAGE) fault_one(vm, v, page, write);
}

static void count_visit(void *ctx, uintptr_t addr, uint8_t e) {
  (void)addr;
  *(uint64_t *)ctx += is_private(e & FL_PT_STATE);
}

uint64_t fl_vm_count_private(fl_vm_t *vm, uintptr_t lo, uintptr_t hi) {
  uint64_t n = 0;
  fl_pt_visit(&vm->pt, lo, hi, count_visit, &n);
  return n;
}
