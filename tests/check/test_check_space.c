/* test_check_space.c — VMA-*, PT-*, RSS-* and KERNEL-*: each holds on a
 * valid state and fires, alone, on a corrupted model. */
#include "check/cktest.h"

#define OPEN(level) FL_CHECK_MSG(ckt_open(level, NULL), "open: %s", fl_error_message())
#define RW (PROT_READ | PROT_WRITE)
#define ANONP (MAP_PRIVATE | MAP_ANONYMOUS)

static fl_vnode_t *node_at(uintptr_t a) {
  for (fl_vnode_t *n = T.vm->vmas.first; n; n = n->next)
    if (n->v.start <= a && a < n->v.end) return n;
  return NULL;
}

/* Two adjacent VMAs of 4 pages, B (rw) above A (read-only). */
static bool two_vmas(uintptr_t *a, uintptr_t *b) {
  if (!ckt_open(2, NULL)) return false;
  fl_check_set_exclusive(T.c, false);
  intptr_t x = fl_vm_mmap(T.vm, 0, 4 * 4096, RW, ANONP);
  intptr_t y = fl_vm_mmap(T.vm, 0, 4 * 4096, PROT_READ, ANONP);
  *b = (uintptr_t)x;
  *a = (uintptr_t)y;
  return x > 0 && y > 0 && *a + 4 * 4096 == *b;
}

FL_TEST(vma_sorted) {
  uintptr_t a, b;
  FL_CHECK(two_vmas(&a, &b));
  CKT_CLEAN_FULL();
  fl_vnode_t *n = node_at(b);
  n->v.start -= 4096;
  n->v.end -= 4096;
  CKT_ONLY_FULL("VMA-SORTED");
}

FL_TEST(vma_window) {
  uintptr_t a, b;
  FL_CHECK(two_vmas(&a, &b));
  CKT_CLEAN_FULL();
  fl_vnode_t *n = node_at(b);
  uintptr_t d = T.vm->hi - n->v.end + 4096;
  n->v.start += d;
  n->v.end += d;
  n->v.pgoff += d >> 12;
  CKT_ONLY_FULL("VMA-WINDOW");
}

FL_TEST(vma_align) {
  uintptr_t a, b;
  FL_CHECK(two_vmas(&a, &b));
  CKT_CLEAN_FULL();
  node_at(a)->v.start -= 8;
  CKT_ONLY_FULL("VMA-ALIGN");
}

FL_TEST(vma_merged) {
  uintptr_t a, b;
  FL_CHECK(two_vmas(&a, &b));
  CKT_CLEAN_FULL();
  node_at(a)->v.prot = RW;
  node_at(a)->v.flags = node_at(b)->v.flags;
  T.vm->st.data_vm_pages += 4;
  CKT_ONLY_FULL("VMA-MERGED");
}

FL_TEST(vma_counters) {
  OPEN(2);
  fl_rm_malloc(T.rm, 24);
  CKT_CLEAN_FULL();
  T.vm->st.total_vm_pages++;
  CKT_ONLY_FULL("VMA-COUNTERS");
}

FL_TEST(vma_brk) {
  OPEN(2);
  fl_rm_malloc(T.rm, 24);
  CKT_CLEAN_FULL();
  T.vm->brk += 4 * 4096;
  CKT_ONLY_FULL("VMA-BRK");
}

static uintptr_t thread_heap(void) {
  fl_rm_malloc(T.rm, 24);
  fl_rm_set_thread(T.rm, 1);
  uintptr_t p = fl_rm_malloc(T.rm, 24);
  return p & ~(((uintptr_t)64 << 20) - 1);
}

FL_TEST(vma_rw) {
  OPEN(2);
  uintptr_t h = thread_heap();
  CKT_CLEAN_FULL();
  FL_CHECK_EQ(fl_vm_mprotect(T.vm, h + 4096, 4096, PROT_READ), 0);
  CKT_ONLY_FULL("VMA-RW");
}

FL_TEST(vma_heap_guard) {
  OPEN(2);
  uintptr_t h = thread_heap();
  CKT_CLEAN_FULL();
  FL_CHECK_EQ(fl_vm_mprotect(T.vm, h + (32 << 20), 4096, PROT_READ), 0);
  CKT_ONLY_FULL("VMA-HEAP-GUARD");
}

FL_TEST(vma_stray) {
  OPEN(2);
  fl_rm_malloc(T.rm, 24);
  CKT_CLEAN_FULL();
  FL_CHECK(fl_vm_mmap(T.vm, 0, 4096, RW, ANONP) > 0);
  CKT_ONLY_FULL("VMA-STRAY");
}

/* A mapping comes back in the munmap's place, as if the kernel had kept it. */
static void keep_mapped(void *ctx, const fl_vm_syscall_t *call) {
  (void)ctx;
  if (call->no == FL_SYS_MUNMAP && call->ret == 0)
    fl_vm_mmap(T.vm, call->args[0], 4096, RW, ANONP | MAP_FIXED);
}

FL_TEST(vma_freed) {
  OPEN(1);
  uintptr_t m = fl_rm_malloc(T.rm, 200000);
  FL_CHECK(ckt_clean());
  fl_vm_hooks_t hk = {.syscall = keep_mapped};
  fl_vm_set_hooks(T.vm, &hk);
  fl_check_clear(T.c);
  fl_rm_free(T.rm, m);
  FL_CHECK(ckt_only("VMA-FREED"));
  ckt_close();
}

/* glibc's munmap_chunk ignores a failed munmap: the mapping stays, and that
 * is not a violation (it was one before the checker looked at failures). */
FL_TEST(vma_freed_not_after_a_failed_munmap) {
  OPEN(1);
  uintptr_t m = fl_rm_malloc(T.rm, 200000);
  FL_CHECK(ckt_clean());
  fl_vm_inject(T.vm, FL_SYS_MUNMAP, 1, EINVAL);
  fl_check_clear(T.c);
  fl_rm_free(T.rm, m);
  FL_CHECK(ckt_clean());
  ckt_close();
}

static void remap_page(void *ctx, const fl_vm_syscall_t *call) {
  (void)ctx;
  if (call->no == FL_SYS_MUNMAP && call->ret == 0) fl_pt_set(&T.vm->pt, call->args[0], FL_PTE_ANON);
}

FL_TEST(pt_freed_mmap) {
  OPEN(1);
  uintptr_t m = fl_rm_malloc(T.rm, 200000);
  FL_CHECK(ckt_clean());
  fl_vm_hooks_t hk = {.syscall = remap_page};
  fl_vm_set_hooks(T.vm, &hk); /* a page survives the munmap */
  fl_check_clear(T.c);
  fl_rm_free(T.rm, m);
  FL_CHECK(ckt_only("PT-FREED-MMAP"));
  ckt_close();
}

FL_TEST(pt_in_vma) {
  OPEN(2);
  fl_rm_malloc(T.rm, 24);
  CKT_CLEAN_FULL();
  fl_pt_set(&T.vm->pt, T.vm->lo + ((uintptr_t)1 << 36), FL_PTE_ANON);
  CKT_ONLY_FULL("PT-IN-VMA");
}

FL_TEST(pt_anon) {
  uintptr_t a, b;
  FL_CHECK(two_vmas(&a, &b));
  CKT_CLEAN_FULL();
  fl_pt_set(&T.vm->pt, b, FL_PTE_ANON);
  T.vm->st.rss_pages++;
  CKT_ONLY_FULL("PT-ANON");
}

FL_TEST(pt_heap_tail) {
  OPEN(2);
  uintptr_t h = thread_heap();
  CKT_CLEAN_FULL();
  uintptr_t pg = h + (16 << 20);
  fl_pt_set(&T.vm->pt, pg, FL_PTE_ANON);
  T.vm->st.rss_pages++;
  node_at(pg)->v.anon = node_at(h)->v.anon;
  CKT_ONLY_FULL("PT-HEAP-TAIL");
}

FL_TEST(rss_count) {
  OPEN(2);
  fl_rm_malloc(T.rm, 24);
  CKT_CLEAN_FULL();
  T.vm->st.rss_pages++;
  CKT_ONLY_FULL("RSS-COUNT");
}

FL_TEST(rss_zero) {
  OPEN(2);
  fl_rm_malloc(T.rm, 24);
  CKT_CLEAN_FULL();
  T.vm->st.zero_pages++;
  CKT_ONLY_FULL("RSS-ZERO");
}

FL_TEST(rss_minflt) {
  OPEN(2);
  fl_rm_malloc(T.rm, 24);
  CKT_CLEAN_FULL();
  T.vm->st.minflt_min = T.vm->st.minflt_max + 1;
  CKT_ONLY_FULL("RSS-MINFLT");
}

/* ---- KERNEL-*: shadow mode ---------------------------------------------- */

static bool shadow(void) {
  if (!ckt_open_mode(2, NULL, FL_VM_SHADOW)) return false;
  fl_check_set_exclusive(T.c, false);
  return true;
}
#define SHADOW()                                                     \
  do {                                                               \
    if (!shadow()) {                                                 \
      ckt_close();                                                   \
      fl_test_skip("shadow mode unavailable");                       \
      return;                                                        \
    }                                                                \
  } while (0)

FL_TEST(kernel_maps) {
  SHADOW();
  fl_rm_malloc(T.rm, 24);
  CKT_CLEAN_FULL();
  uintptr_t m = (uintptr_t)fl_vm_mmap(T.vm, 0, 4096, PROT_READ, ANONP);
  FL_CHECK(ckt_clean());
  node_at(m)->v.prot = PROT_READ | PROT_EXEC;
  CKT_ONLY_ONE("KERNEL-MAPS");
}

FL_TEST(kernel_pages) {
  SHADOW();
  uintptr_t m = (uintptr_t)fl_vm_mmap(T.vm, 0, 4096, RW, ANONP);
  CKT_CLEAN_FULL();
  volatile unsigned char *raw = (volatile unsigned char *)m;
  raw[0] = 1; /* behind the model's back */
  CKT_ONLY_ONE("KERNEL-PAGES");
}

FL_TEST(kernel_page_state) {
  SHADOW();
  uintptr_t m = (uintptr_t)fl_vm_mmap(T.vm, 0, 4096, RW, ANONP);
  CKT_CLEAN_FULL();
  volatile unsigned char *raw = (volatile unsigned char *)m;
  raw[0] = 1;
  fl_pt_set(&T.vm->pt, m, FL_PTE_ZERO); /* the model thinks: zero page */
  CKT_ONLY_ONE("KERNEL-PAGE-STATE");
}

FL_TEST(kernel_rss) {
  SHADOW();
  fl_rm_malloc(T.rm, 24);
  CKT_CLEAN_FULL();
  T.vm->st.rss_pages++;
  CKT_ONLY_ONE("KERNEL-RSS");
}

FL_TEST(kernel_minflt) {
  SHADOW();
  fl_rm_malloc(T.rm, 24);
  CKT_CLEAN_FULL();
  T.vm->st.minflt_min += 100000;
  T.vm->st.minflt_max += 100000;
  CKT_ONLY_ONE("KERNEL-MINFLT");
}

FL_TEST(kernel_errno) {
  SHADOW();
  CKT_CLEAN_FULL();
  /* a VMA only the model has: mprotect succeeds there, ENOMEM in the kernel */
  fl_vma_t v = {.start = T.vm->lo + ((uintptr_t)1 << 36), .prot = PROT_READ};
  v.end = v.start + 4096;
  v.pgoff = v.start >> 12;
  FL_CHECK(fl_vset_insert(&T.vm->vmas, &v) != NULL);
  fl_vm_mprotect(T.vm, v.start, 4096, RW);
  CKT_ONLY_ONE("KERNEL-ERRNO");
}

FL_TEST(kernel_access) {
  SHADOW();
  uintptr_t m = (uintptr_t)fl_vm_mmap(T.vm, 0, 4096, PROT_NONE, ANONP);
  CKT_CLEAN_FULL();
  node_at(m)->v.prot = RW; /* the model allows what the kernel refuses */
  uint64_t x = 1;
  fl_vm_store(T.vm, m, &x, 8);
  CKT_ONLY_ONE("KERNEL-ACCESS");
}
