/* vm.c — the model's lifetime, observers, queries and drawing. The system
 * calls are in map.c, the page-fault side in fault.c, the comparison with
 * the real kernel in shadow.c. */
#include "vm/internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "host/procfs.h"
#include "host/sys.h"
#include "util/err.h"

void fl_vm_config_default(fl_vm_config_t *cfg, const fl_kprofile_t *profile) {
  memset(cfg, 0, sizeof *cfg);
  cfg->base = FL_VM_DEFAULT_BASE;
  cfg->size = FL_VM_DEFAULT_SIZE;
  cfg->mode = FL_VM_FAST;
  cfg->profile = profile;
}

static int check_config(const fl_vm_config_t *cfg) {
  if (!cfg->profile) return fl_error(FL_EENV, "vm: no kernel profile");
  if (cfg->profile->page_size != FL_PAGE)
    return fl_error(FL_EENV, "vm: the model supports 4 KiB pages only (this kernel: %zu)",
                    cfg->profile->page_size);
  if (cfg->base & (FL_PMD - 1) || cfg->size & (FL_PMD - 1) || cfg->size == 0)
    return fl_error(FL_EUSAGE, "vm: window base and size must be multiples of 2 MiB");
  if (cfg->base < (1UL << 32) || cfg->base + cfg->size > FL_TASK_SIZE || cfg->base + cfg->size < cfg->base)
    return fl_error(FL_EUSAGE, "vm: window [%#lx, %#lx) is outside the user address space",
                    (unsigned long)cfg->base, (unsigned long)(cfg->base + cfg->size));
  return FL_OK;
}

/* The window must be free: nothing of the process may live there, or the
 * model's addresses would not be the kernel's. */
static int check_window_free(const fl_vm_config_t *cfg) {
  fl_maps_entry_t e;
  long n = fl_maps_read(cfg->base, cfg->base + cfg->size, &e, 1);
  if (n < 0) return fl_error(FL_EENV, "vm: cannot read /proc/self/maps: %s", fl_error_message());
  if (n > 0)
    return fl_error(FL_EENV, "vm: window [%#lx, %#lx) is taken: %#lx-%#lx %s is mapped there "
                    "(choose another base)", (unsigned long)cfg->base,
                    (unsigned long)(cfg->base + cfg->size), (unsigned long)e.start,
                    (unsigned long)e.end, e.name);
  return FL_OK;
}

static int open_backing(fl_vm_t *vm) {
  /* Fast mode: one mapping for the whole window, never split by the model,
   * NOHUGEPAGE so that the kernel's own behaviour cannot vary under it. */
  intptr_t r = fl_sys_mmap(vm->lo, vm->hi - vm->lo, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  if (r < 0) return fl_error(FL_EENV, "vm: cannot map the window at %#lx: %s",
                             (unsigned long)vm->lo, strerror((int)-r));
  fl_sys_madvise(vm->lo, vm->hi - vm->lo, MADV_NOHUGEPAGE);
  return FL_OK;
}

long fl_vm_process_vmas(void) {
  /* [vsyscall] is listed in maps but is the gate area, not a VMA of the mm:
   * it does not count against max_map_count. */
  fl_maps_entry_t e;
  long n = fl_maps_count();
  if (n > 0 && fl_maps_read(0xffffffffff600000UL, 0xffffffffff601000UL, &e, 1) > 0) n--;
  return n;
}

int fl_vm_open(fl_vm_t **out, const fl_vm_config_t *cfg) {
  *out = NULL;
  int st = check_config(cfg);
  if (st == FL_OK) st = check_window_free(cfg);
  if (st != FL_OK) return st;
  fl_vm_t *vm = calloc(1, sizeof *vm);
  if (!vm) return fl_error(FL_EENV, "vm: out of memory");
  vm->cfg = *cfg;
  vm->prof = *cfg->profile;
  vm->cfg.profile = &vm->prof;
  vm->lo = cfg->base;
  vm->hi = cfg->base + cfg->size;
  vm->start_brk = vm->brk = vm->lo;
  vm->data_limit_pages = fl_pages(cfg->data_limit);
  vm->map_limit = cfg->map_limit;
  if (!vm->map_limit) {
    long outside = fl_vm_process_vmas();
    long lim = (long)vm->prof.max_map_count - (outside > 0 ? outside : 0);
    vm->map_limit = lim > 0 ? (size_t)lim : 1;
  }
  fl_vset_init(&vm->vmas, vm->lo);
  if (fl_pt_init(&vm->pt, vm->lo, cfg->size) != 0) {
    free(vm);
    return fl_error(FL_EENV, "vm: out of memory for the page table");
  }
  st = fl_vm_shadow(vm) ? fl_shadow_open(vm) : open_backing(vm);
  if (st != FL_OK) {
    fl_pt_destroy(&vm->pt);
    free(vm);
    return st;
  }
  *out = vm;
  return FL_OK;
}

void fl_vm_close(fl_vm_t *vm) {
  if (!vm) return;
  if (fl_vm_shadow(vm)) {
    for (fl_vnode_t *n = vm->vmas.first; n; n = n->next) fl_sys_munmap(n->v.start, n->v.end - n->v.start);
    fl_shadow_close(vm);
  } else {
    fl_sys_munmap(vm->lo, vm->hi - vm->lo);
  }
  fl_vset_destroy(&vm->vmas);
  fl_pt_destroy(&vm->pt);
  free(vm->mm);
  free(vm);
}

const fl_vm_config_t *fl_vm_config(const fl_vm_t *vm) { return &vm->cfg; }

void fl_vm_set_hooks(fl_vm_t *vm, const fl_vm_hooks_t *hooks) {
  if (hooks) vm->hooks = *hooks;
  else memset(&vm->hooks, 0, sizeof vm->hooks);
}

uintptr_t fl_vm_start_brk(const fl_vm_t *vm) { return vm->start_brk; }
uintptr_t fl_vm_cur_brk(const fl_vm_t *vm) { return vm->brk; }

void fl_vm_inject(fl_vm_t *vm, fl_sysno_t no, unsigned nth, int err) {
  if ((unsigned)no >= FL_SYS_COUNT) return;
  vm->inject[no].nth = nth;
  vm->inject[no].err = err;
}

int fl_vm_take_injection(fl_vm_t *vm, fl_sysno_t no) {
  if (!vm->inject[no].nth) return 0;
  if (--vm->inject[no].nth) return 0;
  return -vm->inject[no].err;
}

void fl_vm_report_call(fl_vm_t *vm, fl_sysno_t no, const uint64_t *args, int64_t ret, bool injected) {
  vm->st.syscalls[no]++;
  if (ret < 0 && ret >= -4095) vm->st.failed_syscalls++;
  vm->cache = NULL;
  if (!vm->hooks.syscall) return;
  fl_vm_syscall_t call = {.no = no, .ret = ret, .injected = injected};
  memcpy(call.args, args, sizeof call.args);
  vm->hooks.syscall(vm->hooks.ctx, &call);
}

void fl_vm_record(fl_vm_t *vm, fl_vm_mismatch_kind_t kind, uintptr_t addr, const char *fmt, ...) {
  if (vm->nmm == vm->capmm) {
    size_t cap = vm->capmm ? vm->capmm * 2 : 16;
    fl_vm_mismatch_t *m = realloc(vm->mm, cap * sizeof *m);
    if (!m) return;
    vm->mm = m;
    vm->capmm = cap;
  }
  fl_vm_mismatch_t *m = &vm->mm[vm->nmm++];
  m->kind = kind;
  m->addr = addr;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m->text, sizeof m->text, fmt, ap);
  va_end(ap);
}

size_t fl_vm_mismatch_count(const fl_vm_t *vm) { return vm->nmm; }
const fl_vm_mismatch_t *fl_vm_mismatch(const fl_vm_t *vm, size_t i) {
  return i < vm->nmm ? &vm->mm[i] : NULL;
}
void fl_vm_mismatch_clear(fl_vm_t *vm) { vm->nmm = 0; }

void fl_vm_stats(const fl_vm_t *vm, fl_vm_stats_t *out) {
  *out = vm->st;
  out->nr_vmas = vm->vmas.count;
}

size_t fl_vm_vma_count(const fl_vm_t *vm) { return vm->vmas.count; }

size_t fl_vm_vmas(const fl_vm_t *vm, fl_vma_t *out, size_t cap) {
  size_t i = 0;
  for (const fl_vnode_t *n = vm->vmas.first; n; n = n->next, i++)
    if (i < cap) out[i] = n->v;
  return i;
}

bool fl_vm_find(const fl_vm_t *vm, uintptr_t addr, fl_vma_t *out) {
  const fl_vnode_t *n = fl_vset_find(&vm->vmas, addr);
  if (!n || n->v.start > addr) return false;
  if (out) *out = n->v;
  return true;
}

fl_pte_t fl_vm_pte(const fl_vm_t *vm, uintptr_t addr) {
  if (addr < vm->lo || addr >= vm->hi) return FL_PTE_NONE;
  return (fl_pte_t)(fl_pt_get(&vm->pt, addr) & FL_PT_STATE);
}

struct visit_pages_ctx {
  fl_vm_page_fn fn;
  void *ctx;
};

static void visit_pages_one(void *ctx, uintptr_t addr, uint8_t e) {
  struct visit_pages_ctx *v = ctx;
  if (e & FL_PT_STATE) v->fn(v->ctx, addr, (fl_pte_t)(e & FL_PT_STATE));
}

void fl_vm_visit_pages(const fl_vm_t *vm, uintptr_t lo, uintptr_t hi, fl_vm_page_fn fn, void *ctx) {
  if (lo < vm->lo) lo = vm->lo;
  if (hi > vm->hi) hi = vm->hi;
  if (lo >= hi) return;
  struct visit_pages_ctx v = {fn, ctx};
  fl_pt_visit((fl_pt_t *)&vm->pt, lo & FL_PAGE_MASK, hi, visit_pages_one, &v);
}

static bool any_present(const fl_vm_t *vm, uintptr_t lo, uintptr_t hi) {
  for (uintptr_t a = lo & FL_PAGE_MASK; a < hi; a += FL_PAGE)
    if (fl_pt_get(&vm->pt, a) & FL_PT_STATE) return true;
  return false;
}

void fl_vm_draw(const fl_vm_t *vm, uintptr_t lo, uintptr_t hi, size_t unit, FILE *out) {
  if (unit < FL_PAGE) unit = FL_PAGE;
  if (lo < vm->lo) lo = vm->lo;
  if (hi > vm->hi) hi = vm->hi;
  /* Letters follow the VMAs' order in the window, so the same VMA keeps its
   * letter in every drawing of one report. */
  for (uintptr_t a = lo; a < hi; a += unit) {
    const fl_vnode_t *n = fl_vset_find(&vm->vmas, a);
    char c = ' ';
    if (n && n->v.start < a + unit) {
      size_t idx = 0;
      for (const fl_vnode_t *p = vm->vmas.first; p != n; p = p->next) idx++;
      c = (char)('a' + idx % 26);
      uintptr_t cl = a > n->v.start ? a : n->v.start, ch = a + unit < n->v.end ? a + unit : n->v.end;
      if (any_present(vm, cl, ch)) c = (char)(c - 'a' + 'A');
    }
    fputc(c, out);
  }
  fputc('\n', out);
}
