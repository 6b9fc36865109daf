/* vm.h — the user-mode model of the kernel's memory management.
 *
 * One model instance owns an address-space window [base, base + size): its
 * VMAs (merged and split by the kernel's rules), an emulated brk, top-down
 * mmap placement, a page table with the anonymous fault handler, and the
 * counters the kernel keeps (RSS, minor faults, VmSize, VmData).
 *
 * Two modes (see spec/model.md):
 *  - FL_VM_SHADOW: every modelled system call is also performed for real at
 *    the model's address inside the window (brk as MAP_FIXED mappings), and
 *    every modelled access is a real load/store, so that fl_vm_compare()
 *    can hold the model against /proc/self/maps, pagemap and smaps.
 *  - FL_VM_FAST: one real mapping backs the whole window, made once; calls are
 *    bookkeeping only, and pages the kernel would hand out fresh are zeroed
 *    so memory contents are exactly those of shadow mode.
 *
 * System calls return what the kernel returns: a value >= 0, or -errno.
 * A range not wholly inside the window is outside the model: such calls
 * return -FL_VM_ENOTMODELLED and nothing is performed. */
#ifndef FL_VM_VM_H
#define FL_VM_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "host/profile.h"

#define FL_VM_DEFAULT_BASE ((uintptr_t)0x300000000000ULL)
#define FL_VM_DEFAULT_SIZE ((size_t)1 << 40)
/* Not an errno: the call's range leaves the window. */
#define FL_VM_ENOTMODELLED 10001

typedef struct fl_vm fl_vm_t;

typedef enum fl_vm_mode { FL_VM_FAST = 0, FL_VM_SHADOW = 1 } fl_vm_mode_t;

typedef struct fl_vm_config {
  uintptr_t base;                 /* window start, page aligned */
  size_t size;                    /* window length, page multiple */
  fl_vm_mode_t mode;
  const fl_kprofile_t *profile;   /* the kernel being modelled (required) */
  /* RLIMIT_DATA for the window's private writable mappings, in bytes
   * (may_expand_vm); 0 = unlimited. */
  size_t data_limit;
  /* sysctl_max_map_count as seen by the window; 0 = the profile's limit minus
   * the VMAs the process has outside the window when the model opens. */
  size_t map_limit;
  /* Leave THP alone (default false: the process has PR_SET_THP_DISABLE and
   * the model predicts small pages only). */
  bool thp;
} fl_vm_config_t;

/* Page-table entry states of the model (per 4 KiB page). */
typedef enum fl_pte {
  FL_PTE_NONE = 0,      /* not present */
  FL_PTE_ZERO = 1,      /* the shared zero page, read-only */
  FL_PTE_ANON = 2,      /* an exclusive anonymous page */
  FL_PTE_LAZYFREE = 3,  /* MADV_FREE'd: present until reclaim or next write */
} fl_pte_t;

/* vm_flags the model tracks beyond PROT_* (they decide merging). */
enum {
  FL_VMA_ACCOUNT = 1u << 0,    /* VM_ACCOUNT: charged private writable */
  FL_VMA_NORESERVE = 1u << 1,  /* VM_NORESERVE */
  FL_VMA_HUGEPAGE = 1u << 2,   /* VM_HUGEPAGE (MADV_HUGEPAGE) */
  FL_VMA_NOHUGEPAGE = 1u << 3, /* VM_NOHUGEPAGE */
};

typedef struct fl_vma {
  uintptr_t start, end;
  int prot;            /* PROT_READ | PROT_WRITE | PROT_EXEC */
  unsigned flags;      /* FL_VMA_* */
  uint64_t pgoff;      /* vm_pgoff, in pages (addr >> 12 at creation) */
  uint32_t anon;       /* anon_vma identity, 0 until the first fault */
} fl_vma_t;

typedef enum fl_sysno {
  FL_SYS_MMAP, FL_SYS_MUNMAP, FL_SYS_MPROTECT, FL_SYS_MREMAP, FL_SYS_MADVISE,
  FL_SYS_BRK, FL_SYS_COUNT
} fl_sysno_t;

typedef struct fl_vm_syscall {
  fl_sysno_t no;
  uint64_t args[5];
  int64_t ret;         /* result or -errno */
  bool injected;       /* failed by fl_vm_inject() */
} fl_vm_syscall_t;

typedef struct fl_vm_stats {
  uint64_t rss_pages;        /* ANON + LAZYFREE pages (smaps Rss) */
  uint64_t zero_pages;       /* zero-page mappings (not in Rss) */
  uint64_t minflt_min;       /* minor faults, lower bound */
  uint64_t minflt_max;       /* minor faults, upper bound (retries counted twice) */
  uint64_t total_vm_pages;   /* VmSize of the window */
  uint64_t data_vm_pages;    /* VmData of the window */
  uint64_t nr_vmas;
  uint64_t segv;             /* accesses the kernel would have killed */
  uint64_t syscalls[FL_SYS_COUNT];
  uint64_t failed_syscalls;  /* of those, the ones that returned an error */
} fl_vm_stats_t;

/* Observers, called after the fact. segv may longjmp out of the accessor. */
typedef struct fl_vm_hooks {
  void *ctx;
  void (*syscall)(void *ctx, const fl_vm_syscall_t *call);
  void (*fault)(void *ctx, uintptr_t page, bool write, fl_pte_t before, fl_pte_t after);
  void (*segv)(void *ctx, uintptr_t addr, bool write);
} fl_vm_hooks_t;

/* ---- lifetime ---------------------------------------------------------- */
void fl_vm_config_default(fl_vm_config_t *cfg, const fl_kprofile_t *profile);
/* FL_OK, or FL_EENV with a message (window range taken, bad config). */
int fl_vm_open(fl_vm_t **out, const fl_vm_config_t *cfg);
void fl_vm_close(fl_vm_t *vm);
const fl_vm_config_t *fl_vm_config(const fl_vm_t *vm);
void fl_vm_set_hooks(fl_vm_t *vm, const fl_vm_hooks_t *hooks);

/* ---- system calls (anonymous private memory) --------------------------- */
intptr_t fl_vm_mmap(fl_vm_t *vm, uintptr_t addr, size_t len, int prot, int flags);
int fl_vm_munmap(fl_vm_t *vm, uintptr_t addr, size_t len);
int fl_vm_mprotect(fl_vm_t *vm, uintptr_t addr, size_t len, int prot);
intptr_t fl_vm_mremap(fl_vm_t *vm, uintptr_t old, size_t oldlen, size_t newlen,
                      int flags, uintptr_t newaddr);
int fl_vm_madvise(fl_vm_t *vm, uintptr_t addr, size_t len, int advice);
/* sys_brk: returns the new break, or the unchanged one on failure; 0 asks. */
uintptr_t fl_vm_brk(fl_vm_t *vm, uintptr_t newbrk);
uintptr_t fl_vm_start_brk(const fl_vm_t *vm);
/* The current break, without a system call (for checkers). */
uintptr_t fl_vm_cur_brk(const fl_vm_t *vm);
/* The next `nth`-th (1 = the very next) call of `no` fails with -err
 * without being performed. */
void fl_vm_inject(fl_vm_t *vm, fl_sysno_t no, unsigned nth, int err);

/* ---- accesses ------------------------------------------------------------
 * Observed loads and stores: fault the pages as the kernel would, then
 * perform the access on real memory. Return 0, or -1 if the kernel would
 * deliver SIGSEGV (nothing is performed; the segv hook runs). */
int fl_vm_load(fl_vm_t *vm, uintptr_t addr, void *dst, size_t n);
int fl_vm_store(fl_vm_t *vm, uintptr_t addr, const void *src, size_t n);
int fl_vm_fill(fl_vm_t *vm, uintptr_t addr, int byte, size_t n);
/* Touch without changing contents (read, or write of the same bytes). */
int fl_vm_touch(fl_vm_t *vm, uintptr_t addr, size_t n, bool write);
/* What a load would read, without faulting or counting anything: for
 * checkers and introspection. Pages never touched read as zeros. Returns
 * -1 if part of the range lies outside every VMA (zeros there). */
int fl_vm_peek(fl_vm_t *vm, uintptr_t addr, void *dst, size_t n);

/* ---- queries --------------------------------------------------------- */
void fl_vm_stats(const fl_vm_t *vm, fl_vm_stats_t *out);
size_t fl_vm_vma_count(const fl_vm_t *vm);
/* Copies up to cap VMAs in address order; returns the total count. */
size_t fl_vm_vmas(const fl_vm_t *vm, fl_vma_t *out, size_t cap);
/* The VMA containing addr, if any. */
bool fl_vm_find(const fl_vm_t *vm, uintptr_t addr, fl_vma_t *out);
fl_pte_t fl_vm_pte(const fl_vm_t *vm, uintptr_t addr);
/* Calls fn for every page of [lo, hi) whose entry is not FL_PTE_NONE, in
 * address order, without faulting or counting anything: for checkers. */
typedef void (*fl_vm_page_fn)(void *ctx, uintptr_t page, fl_pte_t pte);
void fl_vm_visit_pages(const fl_vm_t *vm, uintptr_t lo, uintptr_t hi, fl_vm_page_fn fn, void *ctx);
/* Draws [lo, hi) one character per `unit` bytes, tools/testing/vma style:
 * a letter per VMA (A, B, ...), '*' where a VMA has present pages, ' ' for
 * holes. */
void fl_vm_draw(const fl_vm_t *vm, uintptr_t lo, uintptr_t hi, size_t unit, FILE *out);

/* ---- the model against the kernel (shadow mode) -------------------------- */
typedef enum fl_vm_mismatch_kind {
  FL_MM_ERRNO,     /* a system call's result differs */
  FL_MM_MAPS,      /* /proc/self/maps of the window differs */
  FL_MM_PAGES,     /* pagemap present set or zero/exclusive state differs */
  FL_MM_RSS,       /* smaps Rss differs */
  FL_MM_MINFLT,    /* getrusage minflt outside the model's bound */
  FL_MM_ACCESS,    /* the kernel faulted an access the model allowed, or not */
  FL_MM_PLACEMENT, /* mmap placement differs from the kernel's probe */
} fl_vm_mismatch_kind_t;

typedef struct fl_vm_mismatch {
  fl_vm_mismatch_kind_t kind;
  uintptr_t addr;
  char text[1024];   /* both sides, and an ASCII drawing where useful */
} fl_vm_mismatch_t;

enum {
  FL_CMP_MAPS = 1u << 0, FL_CMP_PAGES = 1u << 1, FL_CMP_RSS = 1u << 2,
  FL_CMP_MINFLT = 1u << 3, FL_CMP_ALL = 0xf,
};
/* Compares the window with the kernel now (shadow mode only; a no-op
 * returning 0 in fast mode). Returns the number of new mismatches. */
int fl_vm_compare(fl_vm_t *vm, unsigned what);
/* Mismatches recorded so far (errno and access ones as they happen). */
size_t fl_vm_mismatch_count(const fl_vm_t *vm);
const fl_vm_mismatch_t *fl_vm_mismatch(const fl_vm_t *vm, size_t i);
void fl_vm_mismatch_clear(fl_vm_t *vm);

#endif
