/* test_check_bin.c — every BIN-* invariant holds on a valid heap and fires,
 * alone, when the heap is corrupted on purpose. */
#include "check/cktest.h"

#define OPEN(level, tun) FL_CHECK_MSG(ckt_open(level, tun), "open: %s", fl_error_message())

FL_TEST(bin_header) {
  OPEN(2, NULL);
  uintptr_t a = fl_rm_malloc(T.rm, 24), b = fl_rm_malloc(T.rm, 24);
  (void)a;
  CKT_CLEAN_FULL();
  wr(hdr(b) + 8, 0x28 | 1);
  CKT_ONLY_FULL("BIN-HEADER");
}

FL_TEST(bin_tile) {
  OPEN(2, NULL);
  uintptr_t b = fl_rm_malloc(T.rm, 24);
  fl_rm_malloc(T.rm, 24);
  CKT_CLEAN_FULL();
  wr(hdr(b) + 8, 0x1000000 | 1);
  CKT_ONLY_FULL("BIN-TILE");
}

FL_TEST(bin_top_last) {
  OPEN(2, NULL);
  fl_rm_malloc(T.rm, 24);
  CKT_CLEAN_FULL();
  uintptr_t top = av_top(&T.rm->main_arena);
  wr(top + 8, rd(top + 8) + 0x10);
  CKT_ONLY_FULL("BIN-TOP-LAST");
}

FL_TEST(bin_top_min) {
  OPEN(2, NULL);
  fl_rm_malloc(T.rm, 24);
  CKT_CLEAN_FULL();
  uintptr_t top = av_top(&T.rm->main_arena);
  wr(top + 8, 0x10 | 1);
  CKT_ONLY_FULL("BIN-TOP-MIN");
}

FL_TEST(bin_prev_inuse) {
  OPEN(2, NULL);
  fl_rm_malloc(T.rm, 24);
  uintptr_t b = fl_rm_malloc(T.rm, 24);
  fl_rm_malloc(T.rm, 24);
  CKT_CLEAN_FULL();
  wr(hdr(b) + 8, rd(hdr(b) + 8) & ~1UL);
  CKT_ONLY_FULL("BIN-PREV-INUSE");
}

FL_TEST(bin_footer) {
  OPEN(2, NULL);
  uintptr_t a = fl_rm_malloc(T.rm, 0x500), g = fl_rm_malloc(T.rm, 24);
  fl_rm_free(T.rm, a);
  CKT_CLEAN_FULL();
  wr(hdr(g), 0x400);
  CKT_ONLY_FULL("BIN-FOOTER");
}

FL_TEST(bin_no_adj_free) {
  OPEN(2, NULL);
  uintptr_t a = fl_rm_malloc(T.rm, 0x500), g = fl_rm_malloc(T.rm, 0x500), h = fl_rm_malloc(T.rm, 24);
  fl_rm_free(T.rm, a);
  CKT_CLEAN_FULL();
  /* link g into the unsorted bin behind a, as if it were free */
  uintptr_t G = hdr(g), A = hdr(a);
  uint64_t gs = rd(G + 8) & ~7UL;
  wrw(A + 16, G);
  wrw(G + 24, A);
  wrw(G + 16, bin(1));
  wrw(bin(1) + 24, G);
  wr(hdr(h), gs);
  wr(hdr(h) + 8, rd(hdr(h) + 8) & ~1UL);
  CKT_ONLY_FULL("BIN-NO-ADJ-FREE");
}

FL_TEST(bin_free_listed) {
  OPEN(2, NULL);
  uintptr_t a = fl_rm_malloc(T.rm, 0x500);
  fl_rm_malloc(T.rm, 24);
  fl_rm_free(T.rm, a);
  CKT_CLEAN_FULL();
  wrw(bin(1) + 16, bin(1));
  wrw(bin(1) + 24, bin(1));
  CKT_ONLY_FULL("BIN-FREE-LISTED");
}

FL_TEST(bin_one_list) {
  OPEN(2, NULL);
  uintptr_t a = fl_rm_malloc(T.rm, 24), b = fl_rm_malloc(T.rm, 24);
  fl_rm_malloc(T.rm, 24);
  fl_rm_free(T.rm, a);
  fl_rm_free(T.rm, b); /* tcache[0]: b -> a */
  CKT_CLEAN_FULL();
  wr(a, fl_rm_reveal(a, b)); /* a -> b: a cycle */
  CKT_ONLY_FULL("BIN-ONE-LIST");
}

FL_TEST(bin_list_member) {
  OPEN(2, NULL);
  uintptr_t a = fl_rm_malloc(T.rm, 0x40), b = fl_rm_malloc(T.rm, 24);
  fl_rm_malloc(T.rm, 24);
  fl_rm_free(T.rm, b);
  CKT_CLEAN_FULL();
  /* a fake tcache entry inside a's user bytes, in front of b */
  uintptr_t e = a + 32;
  wr(e - 8, 0x21);
  wr(e, fl_rm_reveal(e, b));
  wr(e + 8, T.rm->tcache_key);
  wr(tcache() + 128, e);
  uint16_t two = 2;
  fl_vm_store(T.vm, tcache(), &two, 2);
  CKT_ONLY_FULL("BIN-LIST-MEMBER");
}

FL_TEST(bin_live_reached) {
  OPEN(2, NULL);
  uintptr_t a = fl_rm_malloc(T.rm, 24);
  fl_rm_malloc(T.rm, 24);
  fl_rm_malloc(T.rm, 24);
  CKT_CLEAN_FULL();
  wr(hdr(a) + 8, 0x40 | 1); /* a swallows the next live chunk */
  CKT_ONLY_FULL("BIN-LIVE-REACHED");
}

FL_TEST(bin_inuse_accounted) {
  OPEN(2, NULL);
  uintptr_t a = fl_rm_malloc(T.rm, 24);
  fl_rm_malloc(T.rm, 24);
  fl_rm_free(T.rm, a);
  CKT_CLEAN_FULL();
  wr(tcache() + 128, 0);
  uint16_t zero = 0;
  fl_vm_store(T.vm, tcache(), &zero, 2);
  CKT_ONLY_FULL("BIN-INUSE-ACCOUNTED");
}

FL_TEST(bin_live_size) {
  OPEN(1, NULL);
  uintptr_t a = fl_rm_malloc(T.rm, 100);
  FL_CHECK(ckt_clean());
  /* the op record lies about the request: 1000 bytes in a 0x70 chunk */
  fl_rm_call_t call = {.op = FL_RM_OP_MALLOC, .args = {1000}, .result = a, .op_index = 99};
  fl_check_clear(T.c);
  fl_check_after_op(T.c, 99, &call);
  FL_CHECK(ckt_only("BIN-LIVE-SIZE"));
  ckt_close();
}

FL_TEST(bin_arena_bit) {
  OPEN(2, NULL);
  uintptr_t a = fl_rm_malloc(T.rm, 24);
  fl_rm_malloc(T.rm, 24);
  CKT_CLEAN_FULL();
  wr(hdr(a) + 8, rd(hdr(a) + 8) | 4);
  CKT_ONLY_FULL("BIN-ARENA-BIT");
}

FL_TEST(bin_links) {
  OPEN(2, NULL);
  uintptr_t a = fl_rm_malloc(T.rm, 0x500), g = fl_rm_malloc(T.rm, 24), b = fl_rm_malloc(T.rm, 0x500);
  fl_rm_malloc(T.rm, 24);
  fl_rm_free(T.rm, a);
  fl_rm_free(T.rm, b);
  CKT_CLEAN_FULL();
  wr(hdr(b) + 24, hdr(g));
  CKT_ONLY_FULL("BIN-LINKS");
}

FL_TEST(bin_small_class) {
  OPEN(2, NOTC);
  uintptr_t a = fl_rm_malloc(T.rm, 0x100);
  fl_rm_malloc(T.rm, 24);
  fl_rm_free(T.rm, a); /* unsorted */
  CKT_CLEAN_FULL();
  relink(hdr(a), 1, 20); /* a 0x110 chunk belongs in bin 17 */
  CKT_ONLY_FULL("BIN-SMALL-CLASS");
}

FL_TEST(bin_large_class) {
  OPEN(2, NOTC);
  uintptr_t a = fl_rm_malloc(T.rm, 0x508);
  fl_rm_malloc(T.rm, 24);
  fl_rm_free(T.rm, a);
  CKT_CLEAN_FULL();
  relink(hdr(a), 1, 70); /* 0x510 belongs in bin 68 */
  wr(hdr(a) + 32, hdr(a));
  wr(hdr(a) + 40, hdr(a));
  CKT_ONLY_FULL("BIN-LARGE-CLASS");
}

/* Two chunks (0x520 and 0x510) sorted into large bin 68. */
static bool two_large(uintptr_t *A, uintptr_t *B) {
  if (!ckt_open(2, NOTC)) return false;
  uintptr_t a = fl_rm_malloc(T.rm, 0x508);
  fl_rm_malloc(T.rm, 24);
  uintptr_t b = fl_rm_malloc(T.rm, 0x518);
  fl_rm_malloc(T.rm, 24);
  fl_rm_free(T.rm, a);
  fl_rm_free(T.rm, b);
  fl_rm_malloc(T.rm, 0x600); /* sorts the unsorted bin */
  *A = hdr(a);
  *B = hdr(b);
  return rdw(bin(68) + 16) == *B && rdw(bin(68) + 24) == *A;
}

FL_TEST(bin_large_order) {
  uintptr_t A, B;
  FL_CHECK(two_large(&A, &B));
  CKT_CLEAN_FULL();
  wrw(bin(68) + 16, A);
  wrw(A + 16, B);
  wrw(B + 16, bin(68));
  wrw(bin(68) + 24, B);
  wrw(B + 24, A);
  wrw(A + 24, bin(68));
  CKT_ONLY_FULL("BIN-LARGE-ORDER");
}

FL_TEST(bin_nextsize) {
  uintptr_t A, B;
  FL_CHECK(two_large(&A, &B));
  CKT_CLEAN_FULL();
  wr(A + 32, 0);
  CKT_ONLY_FULL("BIN-NEXTSIZE");
}

FL_TEST(bin_binmap) {
  uintptr_t A, B;
  FL_CHECK(two_large(&A, &B));
  CKT_CLEAN_FULL();
  T.rm->main_arena.binmap[68 >> 5] &= ~(1u << (68 & 31));
  CKT_ONLY_FULL("BIN-BINMAP");
}

FL_TEST(bin_fast_class) {
  OPEN(2, NOTC);
  uintptr_t a = fl_rm_malloc(T.rm, 24);
  fl_rm_malloc(T.rm, 24);
  fl_rm_free(T.rm, a);
  FL_CHECK_EQ(fastbin(&T.rm->main_arena, 0), hdr(a));
  CKT_CLEAN_FULL();
  set_fastbin(&T.rm->main_arena, 0, 0);
  set_fastbin(&T.rm->main_arena, 1, hdr(a));
  CKT_ONLY_FULL("BIN-FAST-CLASS");
}

FL_TEST(bin_fast_pinuse) {
  OPEN(2, NOTC);
  uintptr_t a = fl_rm_malloc(T.rm, 24), g = fl_rm_malloc(T.rm, 24);
  fl_rm_malloc(T.rm, 24);
  fl_rm_free(T.rm, a);
  CKT_CLEAN_FULL();
  wr(hdr(g) + 8, rd(hdr(g) + 8) & ~1UL);
  wr(hdr(g), 0x20);
  CKT_ONLY_FULL("BIN-FAST-PINUSE");
}

FL_TEST(bin_tcache_count) {
  OPEN(2, NULL);
  uintptr_t a = fl_rm_malloc(T.rm, 24);
  fl_rm_malloc(T.rm, 24);
  fl_rm_free(T.rm, a);
  CKT_CLEAN_FULL();
  uint16_t two = 2;
  fl_vm_store(T.vm, tcache(), &two, 2);
  CKT_ONLY_FULL("BIN-TCACHE-COUNT");
}

FL_TEST(bin_tcache_key) {
  OPEN(2, NULL);
  uintptr_t a = fl_rm_malloc(T.rm, 24);
  fl_rm_malloc(T.rm, 24);
  fl_rm_free(T.rm, a);
  CKT_CLEAN_FULL();
  wr(a + 8, 0x1234);
  CKT_ONLY_FULL("BIN-TCACHE-KEY");
}

FL_TEST(bin_tcache_class) {
  OPEN(2, NULL);
  uintptr_t a = fl_rm_malloc(T.rm, 24);
  fl_rm_malloc(T.rm, 24);
  fl_rm_free(T.rm, a);
  CKT_CLEAN_FULL();
  uint16_t counts[2] = {0, 1};
  fl_vm_store(T.vm, tcache(), counts, 4);
  wr(tcache() + 128, 0);
  wr(tcache() + 136, a);
  CKT_ONLY_FULL("BIN-TCACHE-CLASS");
}

FL_TEST(bin_safe_link) {
  OPEN(2, NULL);
  uintptr_t a = fl_rm_malloc(T.rm, 24), b = fl_rm_malloc(T.rm, 24);
  fl_rm_malloc(T.rm, 24);
  fl_rm_free(T.rm, a);
  fl_rm_free(T.rm, b); /* b -> a */
  CKT_CLEAN_FULL();
  wr(a, fl_rm_reveal(a, b + 8)); /* a's next decodes to a misaligned pointer */
  CKT_ONLY_FULL("BIN-SAFE-LINK");
}

FL_TEST(bin_mmap_align) {
  OPEN(2, NULL);
  uintptr_t m = fl_rm_malloc(T.rm, 200000);
  CKT_CLEAN_FULL();
  wr(hdr(m), 8);
  CKT_ONLY_FULL("BIN-MMAP-ALIGN");
}

FL_TEST(bin_mmap_unlisted) {
  OPEN(2, NULL);
  uintptr_t m = fl_rm_malloc(T.rm, 200000);
  CKT_CLEAN_FULL();
  set_fastbin(&T.rm->main_arena, 3, hdr(m));
  CKT_ONLY_FULL("BIN-MMAP-UNLISTED");
}

FL_TEST(bin_mmap_vma) {
  OPEN(2, NULL);
  uintptr_t m = fl_rm_malloc(T.rm, 200000);
  CKT_CLEAN_FULL();
  FL_CHECK_EQ(fl_vm_mprotect(T.vm, (m & ~4095UL) + 4096, 4096, PROT_READ), 0);
  CKT_ONLY_FULL("BIN-MMAP-VMA");
}

FL_TEST(bin_mmap_count) {
  OPEN(2, NULL);
  fl_rm_malloc(T.rm, 200000);
  CKT_CLEAN_FULL();
  T.rm->mp.n_mmaps++;
  CKT_ONLY_FULL("BIN-MMAP-COUNT");
}

/* A second thread gets a non-main arena with its own heap. */
static uintptr_t thread_heap(void) {
  fl_rm_malloc(T.rm, 24);
  fl_rm_set_thread(T.rm, 1);
  uintptr_t p = fl_rm_malloc(T.rm, 24);
  fl_rm_malloc(T.rm, 5000);
  return p & ~(((uintptr_t)64 << 20) - 1);
}

FL_TEST(bin_heap_info) {
  OPEN(2, NULL);
  uintptr_t h = thread_heap();
  FL_CHECK(T.rm->narenas == 2);
  CKT_CLEAN_FULL();
  wr(h, 0x1234560);
  CKT_ONLY_FULL("BIN-HEAP-INFO");
}

FL_TEST(bin_sysmem) {
  OPEN(2, NULL);
  fl_rm_malloc(T.rm, 24);
  CKT_CLEAN_FULL();
  T.rm->main_arena.system_mem += 4096;
  CKT_ONLY_FULL("BIN-SYSMEM");
}

FL_TEST(bin_mallinfo) {
  OPEN(2, NULL);
  uintptr_t a = fl_rm_malloc(T.rm, 0x500);
  fl_rm_malloc(T.rm, 24);
  fl_rm_free(T.rm, a);
  fl_check_clear(T.c);
  fl_rm_mallinfo2_t mi = fl_rm_mallinfo2(T.rm); /* the hook compares it */
  FL_CHECK(ckt_clean());
  mi.fordblks += 16;
  fl_check_clear(T.c);
  fl_check_mallinfo(T.c, &mi);
  FL_CHECK(ckt_only("BIN-MALLINFO"));
  ckt_close();
}
