/* refmalloc: one scenario per bin transition of glibc 2.36 — tcache fill,
 * fastbin, consolidation, unsorted sort, small and large bins, top, trim,
 * and the mmap threshold with its dynamic raise. */
#include "alloc/rmtest.h"

static fl_rm_arena_info_t main_info(fl_rm_t *rm) {
  fl_rm_arena_info_t a;
  fl_rm_arena(rm, 0, &a);
  return a;
}

/* Seven frees of one size fill its tcache bin (LIFO); the eighth goes to
 * the fastbin; mallocs take the tcache first, then the fastbin. */
FL_TEST(tcache_then_fastbin) {
  OPEN_RM(rm, NULL);
  uintptr_t p[9];
  for (int i = 0; i < 9; i++) p[i] = fl_rm_malloc(rm, 24);
  for (int i = 0; i < 8; i++) fl_rm_free(rm, p[i]);
  fl_rm_tcache_info_t tc;
  FL_CHECK(fl_rm_tcache(rm, 0, &tc));
  FL_CHECK_EQ(tc.counts[0], 7);
  FL_CHECK_EQ(tc.entries[0], p[6]);
  fl_rm_arena_info_t a = main_info(rm);
  FL_CHECK_EQ(a.fastbins[0], p[7] - 16);
  FL_CHECK(a.have_fastchunks);
  /* safe-linking: the tcache entry's next is protected with its own address */
  FL_CHECK_EQ(fl_rm_reveal(p[6], ld64(p[6])), p[5]);
  for (int i = 6; i >= 0; i--) FL_CHECK_EQ(fl_rm_malloc(rm, 24), p[i]);
  FL_CHECK_EQ(fl_rm_malloc(rm, 24), p[7]);
  FL_CHECK_EQ(main_info(rm).fastbins[0], 0);
}

/* A fastbin hit refills the tcache from the rest of that fastbin. */
FL_TEST(fastbin_refills_tcache) {
  OPEN_RM(rm, NULL);
  uintptr_t p[10];
  for (int i = 0; i < 10; i++) p[i] = fl_rm_malloc(rm, 40);
  for (int i = 0; i < 10; i++) fl_rm_free(rm, p[i]); /* 7 tcache, 3 fastbin */
  for (int i = 0; i < 7; i++) fl_rm_malloc(rm, 40);   /* empty the tcache */
  FL_CHECK_EQ(fl_rm_malloc(rm, 40), p[9]);            /* fastbin head */
  fl_rm_tcache_info_t tc;
  fl_rm_tcache(rm, 0, &tc);
  FL_CHECK_EQ(tc.counts[1], 2);                       /* p[8], p[7] moved */
  FL_CHECK_EQ(tc.entries[1], p[7]);
  FL_CHECK_EQ(main_info(rm).fastbins[1], 0);
}

/* Non-fast frees coalesce into the unsorted bin; an exact fit is taken
 * from it. */
FL_TEST(coalesce_unsorted_exact_fit) {
  OPEN_RM(rm, "glibc.malloc.tcache_count=0");
  uintptr_t a = fl_rm_malloc(rm, 0x100);
  uintptr_t b = fl_rm_malloc(rm, 0x100);
  uintptr_t guard = fl_rm_malloc(rm, 0x10);
  FL_CHECK_EQ(b - a, 0x110);
  fl_rm_free(rm, a);
  fl_rm_free(rm, b); /* coalesces backwards with a: one 0x220 chunk */
  FL_CHECK_EQ(ld64(a - 8), 0x221);
  FL_CHECK_EQ(fl_rm_word(rm, 0, fl_rm_bin_at(rm, 0, 1) + 16), a - 16); /* unsorted fd */
  FL_CHECK_EQ(fl_rm_malloc(rm, 0x218), a);
  FL_CHECK_NE(guard, 0);
}

/* A chunk that does not fit is sorted out of the unsorted bin into its
 * small bin (binmap marked) and later split by the binmap scan; the
 * remainder becomes last_remainder. */
FL_TEST(unsorted_to_smallbin_and_split) {
  OPEN_RM(rm, "glibc.malloc.tcache_count=0");
  uintptr_t a = fl_rm_malloc(rm, 0x200);  /* chunk 0x210 */
  fl_rm_malloc(rm, 0x10);
  fl_rm_free(rm, a);
  uintptr_t big = fl_rm_malloc(rm, 0x300); /* from top; a sorted to bin 0x21 */
  FL_CHECK_GT(big, a);
  fl_rm_arena_info_t ai = main_info(rm);
  FL_CHECK(ai.binmap[1] & (1u << (0x21 - 32)));
  uintptr_t bin = fl_rm_bin_at(rm, 0, 0x21);
  FL_CHECK_EQ(fl_rm_word(rm, 0, bin + 16), a - 16);
  uintptr_t c = fl_rm_malloc(rm, 0x80); /* smallbin 0x90 empty: binmap scan splits a */
  FL_CHECK_EQ(c, a);
  ai = main_info(rm);
  FL_CHECK_EQ(ai.last_remainder, a - 16 + 0x90);
  FL_CHECK_EQ(ld64(ai.last_remainder + 8), (0x210 - 0x90) | 1);
  /* the next small request is cut from last_remainder */
  FL_CHECK_EQ(fl_rm_malloc(rm, 0x20), a + 0x90);
}

/* Large chunks keep the nextsize ring; a large request takes the best fit
 * in its bin and puts the remainder in the unsorted bin. */
FL_TEST(largebin_best_fit) {
  OPEN_RM(rm, NULL);
  uintptr_t x = fl_rm_malloc(rm, 0x500);
  fl_rm_malloc(rm, 0x10);
  uintptr_t y = fl_rm_malloc(rm, 0x520);
  fl_rm_malloc(rm, 0x10);
  fl_rm_free(rm, x);                 /* > tcache range: unsorted */
  fl_rm_free(rm, y);
  fl_rm_malloc(rm, 0x600);           /* sorts both into large bin 0x44+ */
  unsigned idx = 48 + (0x510 >> 6);  /* largebin_index_64 (0x510) = 68 */
  uintptr_t bin = fl_rm_bin_at(rm, 0, idx);
  uintptr_t first = fl_rm_word(rm, 0, bin + 16);
  FL_CHECK_EQ(first, y - 16);        /* larger first */
  FL_CHECK_EQ(ld64(first + 32), x - 16); /* fd_nextsize */
  FL_CHECK_EQ(fl_rm_malloc(rm, 0x4f0), x); /* best fit: the 0x510 one */
}

/* malloc_consolidate: a large request merges fastbin chunks first. */
FL_TEST(consolidate_on_large_request) {
  OPEN_RM(rm, "glibc.malloc.tcache_count=0");
  uintptr_t p[4];
  for (int i = 0; i < 4; i++) p[i] = fl_rm_malloc(rm, 0x40);
  fl_rm_malloc(rm, 0x10);
  for (int i = 0; i < 4; i++) fl_rm_free(rm, p[i]);
  FL_CHECK(main_info(rm).have_fastchunks);
  /* 4 x 0x50 = 0x140 merged; a large request (>= 0x400) consolidates */
  fl_rm_malloc(rm, 0x400);
  fl_rm_arena_info_t ai = main_info(rm);
  FL_CHECK(!ai.have_fastchunks);
  FL_CHECK_EQ(ai.fastbins[3], 0);
  FL_CHECK_EQ(ld64(p[0] - 8), 0x141);
  FL_CHECK_EQ(fl_rm_malloc(rm, 0x138), p[0]);
}

/* Freeing into top beyond trim_threshold (128 KiB) shrinks the heap with
 * sbrk(-extra), keeping top_pad. */
FL_TEST(systrim_on_free) {
  OPEN_RM(rm, NULL);
  uintptr_t a = fl_rm_malloc(rm, 100000);
  uintptr_t b = fl_rm_malloc(rm, 100000);
  CLEAR();
  fl_rm_free(rm, b); /* top grows past 128 KiB: first trim */
  CHECK_NCALLS(1);
  FL_CHECK_EQ(CALL(0).no, FL_SYS_BRK);
  CLEAR();
  fl_rm_free(rm, a); /* and again */
  CHECK_NCALLS(1);
  FL_CHECK_EQ(CALL(0).no, FL_SYS_BRK);
  fl_rm_arena_info_t ai = main_info(rm);
  /* top_size - released = what is left, page aligned end at the break */
  fl_rm_params_t mp;
  fl_rm_params(rm, &mp);
  FL_CHECK_EQ(ai.top + ai.top_size, mp.curbrk);
  FL_CHECK_EQ(CALL(0).args[0], mp.curbrk);
  FL_CHECK_LE(ai.top_size, 0x20000 + 0x1000 + 32);
  FL_CHECK_GT(ai.top_size, 0x20000);
}

/* mmap threshold: 128 KiB requests are mmapped; freeing one raises the
 * threshold to its size and trim_threshold to twice that. */
FL_TEST(mmap_threshold_dynamic_raise) {
  OPEN_RM(rm, NULL);
  fl_rm_free(rm, fl_rm_malloc(rm, 1));
  CLEAR();
  uintptr_t m = fl_rm_malloc(rm, 200000);
  CHECK_NCALLS(1);
  FL_CHECK_EQ(CALL(0).no, FL_SYS_MMAP);
  FL_CHECK_EQ(CALL(0).args[1], 0x31000); /* 200000 + 8, 16-aligned, + 8, page */
  CLEAR();
  fl_rm_free(rm, m);
  FL_CHECK_EQ(CALL(0).no, FL_SYS_MUNMAP);
  fl_rm_params_t mp;
  fl_rm_params(rm, &mp);
  FL_CHECK_EQ(mp.mmap_threshold, 0x31000);
  FL_CHECK_EQ(mp.trim_threshold, 0x62000);
  CLEAR();
  uintptr_t h = fl_rm_malloc(rm, 200000); /* now from the brk heap */
  FL_CHECK_EQ(CALL(0).no, FL_SYS_BRK);
  FL_CHECK_LT(h - rmt.heap, 0x100000);
}

/* mallopt(M_MMAP_THRESHOLD) fixes the threshold: no dynamic raise. */
FL_TEST(mallopt_mmap_threshold) {
  OPEN_RM(rm, NULL);
  FL_CHECK_EQ(fl_rm_mallopt(rm, FL_M_MMAP_THRESHOLD, 64 * 1024), 1);
  /* top (0x20d70 after the tcache) serves 70000 bytes: the threshold is
   * only consulted in sysmalloc */
  CLEAR();
  uintptr_t t = fl_rm_malloc(rm, 70000);
  CHECK_NCALLS(2); /* brk(0), brk(+0x21000) for the tcache */
  FL_CHECK_LT(t - rmt.heap, 0x21000);
  uintptr_t m = fl_rm_malloc(rm, 70000);
  FL_CHECK_EQ(CALL(NCALLS() - 1).no, FL_SYS_MMAP);
  FL_CHECK_EQ(CALL(NCALLS() - 1).args[1], 0x12000);
  fl_rm_free(rm, m);
  fl_rm_params_t mp;
  fl_rm_params(rm, &mp);
  FL_CHECK_EQ(mp.mmap_threshold, 64 * 1024);
  FL_CHECK_EQ(mp.no_dyn_threshold, 1);
  /* M_MMAP_MAX 0: no mmap at all, the heap grows instead */
  FL_CHECK_EQ(fl_rm_mallopt(rm, FL_M_MMAP_MAX, 0), 1);
  CLEAR();
  fl_rm_malloc(rm, 300000);
  FL_CHECK_EQ(CALL(0).no, FL_SYS_BRK);
  /* M_MXFAST above MAX_FAST_SIZE is refused; 0 disables fastbins */
  FL_CHECK_EQ(fl_rm_mallopt(rm, FL_M_MXFAST, 161), 0);
  FL_CHECK_EQ(fl_rm_mallopt(rm, FL_M_MXFAST, 0), 1);
  fl_rm_params(rm, &mp);
  FL_CHECK_EQ(mp.global_max_fast, 16);
  FL_CHECK_EQ(fl_rm_mallopt(rm, FL_M_TOP_PAD, 0), 1);
  FL_CHECK_EQ(fl_rm_mallopt(rm, FL_M_TRIM_THRESHOLD, 4096), 1);
  FL_CHECK_EQ(fl_rm_mallopt(rm, FL_M_ARENA_MAX, 0), 1); /* value <= 0: ignored, still 1 */
  FL_CHECK_EQ(fl_rm_mallopt(rm, 12345, 1), 1);
}

/* M_PERTURB: malloc fills with perturb ^ 0xff, free with perturb. */
FL_TEST(mallopt_perturb) {
  OPEN_RM(rm, NULL);
  FL_CHECK_EQ(fl_rm_mallopt(rm, FL_M_PERTURB, 0x5a), 1);
  uintptr_t p = fl_rm_malloc(rm, 0x100);
  unsigned char b[4];
  fl_vm_load(rmt.vm, p, b, 4);
  FL_CHECK_EQ(b[0], 0xa5);
  FL_CHECK_EQ(b[3], 0xa5);
  uintptr_t q = fl_rm_calloc(rm, 1, 0x100); /* calloc clears even with perturb */
  fl_vm_load(rmt.vm, q, b, 4);
  FL_CHECK_EQ(b[0], 0);
}

/* Tunables are parsed like ld.so: bad values dropped, last one wins. */
FL_TEST(tunables_parse) {
  OPEN_RM(rm, "glibc.malloc.mmap_threshold=0x10000:glibc.malloc.perturb=300:"
              "foo=1:glibc.malloc.tcache_count=3:glibc.malloc.tcache_count=010:glibc.malloc.arena_max=0");
  fl_rm_malloc(rm, 1);
  fl_rm_params_t mp;
  fl_rm_params(rm, &mp);
  FL_CHECK_EQ(mp.mmap_threshold, 0x10000);
  FL_CHECK_EQ(mp.no_dyn_threshold, 1);
  FL_CHECK_EQ(mp.perturb_byte, 0); /* > 0xff: dropped */
  FL_CHECK_EQ(mp.tcache_count, 8); /* octal 010, last wins */
  FL_CHECK_EQ(mp.arena_max, 0);    /* below minval 1: dropped */
}

/* malloc_trim: madvise(MADV_DONTNEED) of whole free pages inside free
 * chunks, then systrim. */
FL_TEST(malloc_trim_madvise) {
  OPEN_RM(rm, NULL);
  uintptr_t a = fl_rm_malloc(rm, 0x8000);
  fl_rm_malloc(rm, 0x10);
  fl_rm_free(rm, a);
  CLEAR();
  FL_CHECK_EQ(fl_rm_trim(rm, 0), 1);
  FL_CHECK_GE(NCALLS(), 1);
  FL_CHECK_EQ(CALL(0).no, FL_SYS_MADVISE);
  uintptr_t c = a - 16;
  uintptr_t start = (c + 48 + 4095) & ~4095UL;
  FL_CHECK_EQ(CALL(0).args[0], start);
  FL_CHECK_EQ(CALL(0).args[1], (0x8010 - (start - c)) & ~4095UL);
  FL_CHECK_EQ(CALL(0).args[2], MADV_DONTNEED);
}

/* realloc grows in place into top, shrinks in place, and moves mmapped
 * chunks with mremap(MREMAP_MAYMOVE). */
FL_TEST(realloc_paths) {
  OPEN_RM(rm, NULL);
  uintptr_t p = fl_rm_malloc(rm, 100);
  fl_vm_fill(rmt.vm, p, 0x77, 100);
  uintptr_t q = fl_rm_realloc(rm, p, 1000); /* next is top: in place */
  FL_CHECK_EQ(q, p);
  FL_CHECK_EQ(fl_rm_usable_size(rm, q), 1000);
  FL_CHECK_EQ(fl_rm_realloc(rm, q, 10), p); /* shrink: split, remainder freed */
  uintptr_t m = fl_rm_malloc(rm, 300000);
  CLEAR();
  uintptr_t m2 = fl_rm_realloc(rm, m, 600000);
  CHECK_NCALLS(1);
  FL_CHECK_EQ(CALL(0).no, FL_SYS_MREMAP);
  FL_CHECK_EQ(CALL(0).args[1], 0x4a000);
  FL_CHECK_EQ(CALL(0).args[2], 0x93000);
  FL_CHECK_EQ(CALL(0).args[3], MREMAP_MAYMOVE);
  FL_CHECK_EQ(fl_rm_usable_size(rm, m2), 0x93000 - 16);
  unsigned char b = 0;
  fl_vm_load(rmt.vm, p, &b, 1);
  FL_CHECK_EQ(b, 0x77);
}

/* calloc clears recycled memory but not fresh sbrk memory (MORECORE_CLEARS). */
FL_TEST(calloc_clearing) {
  OPEN_RM(rm, "glibc.malloc.tcache_count=0");
  uintptr_t p = fl_rm_malloc(rm, 0x200);
  fl_rm_malloc(rm, 0x10);
  fl_vm_fill(rmt.vm, p, 0xee, 0x200);
  fl_rm_free(rm, p);
  uintptr_t c = fl_rm_calloc(rm, 0x10, 0x20);
  FL_CHECK_EQ(c, p);
  unsigned char b[0x200];
  fl_vm_load(rmt.vm, c, b, sizeof b);
  for (int i = 0; i < 0x200; i++) FL_CHECK_EQ(b[i], 0);
  /* A calloc that needs new sbrk memory clears only up to the old end of
   * the heap (oldtopsize): the fresh pages stay untouched. */
  FL_CHECK_EQ(fl_rm_mallopt(rm, FL_M_MMAP_THRESHOLD, 1 << 20), 1);
  fl_vm_stats_t s0, s1;
  fl_vm_stats(rmt.vm, &s0);
  uintptr_t big = fl_rm_calloc(rm, 1, 500000);
  fl_vm_stats(rmt.vm, &s1);
  FL_CHECK_NE(big, 0);
  FL_CHECK_LT(s1.rss_pages - s0.rss_pages, 0x21000 / 4096 + 2);
}

/* memalign family: alignment, glibc 2.36's lax aligned_alloc, the
 * posix_memalign EINVAL rules, valloc/pvalloc page rounding. */
FL_TEST(memalign_family) {
  OPEN_RM(rm, NULL);
  uintptr_t a = fl_rm_memalign(rm, 64, 100);
  FL_CHECK_EQ(a % 64, 0);
  uintptr_t b = fl_rm_aligned_alloc(rm, 3, 10); /* not rejected: rounded to 32 */
  FL_CHECK_NE(b, 0);
  FL_CHECK_EQ(b % 16, 0);
  uintptr_t out = 0;
  FL_CHECK_EQ(fl_rm_posix_memalign(rm, &out, 3, 10), EINVAL);
  FL_CHECK_EQ(fl_rm_posix_memalign(rm, &out, 0, 10), EINVAL);
  FL_CHECK_EQ(fl_rm_posix_memalign(rm, &out, 24, 10), EINVAL);
  FL_CHECK_EQ(fl_rm_posix_memalign(rm, &out, 4096, 10), 0);
  FL_CHECK_EQ(out % 4096, 0);
  uintptr_t v = fl_rm_valloc(rm, 1);
  FL_CHECK_EQ(v % 4096, 0);
  uintptr_t pv = fl_rm_pvalloc(rm, 1);
  FL_CHECK_EQ(pv % 4096, 0);
  FL_CHECK_GE(fl_rm_usable_size(rm, pv), 4096);
  fl_rm_set_errno(rm, 0);
  FL_CHECK_EQ(fl_rm_memalign(rm, SIZE_MAX / 2 + 2, 1), 0);
  FL_CHECK_EQ(fl_rm_errno(rm), EINVAL);
  FL_CHECK_EQ(fl_rm_pvalloc(rm, SIZE_MAX), 0);
  FL_CHECK_EQ(fl_rm_errno(rm), ENOMEM);
  FL_CHECK(!fl_rm_aborted(rm));
}

/* mallinfo2 and malloc_info agree with the heap. */
FL_TEST(mallinfo2_and_info) {
  OPEN_RM(rm, NULL);
  uintptr_t p = fl_rm_malloc(rm, 100);
  uintptr_t m = fl_rm_malloc(rm, 200000);
  fl_rm_mallinfo2_t mi = fl_rm_mallinfo2(rm);
  FL_CHECK_EQ(mi.arena, 0x21000);
  FL_CHECK_EQ(mi.hblks, 1);
  FL_CHECK_EQ(mi.hblkhd, 0x31000);
  FL_CHECK_EQ(mi.ordblks, 1);
  FL_CHECK_EQ(mi.uordblks, 0x290 + 0x70);
  FL_CHECK_EQ(mi.keepcost, 0x21000 - 0x290 - 0x70);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  FL_CHECK_EQ(fl_rm_malloc_info(rm, 0, f), 0);
  fclose(f);
  FL_CHECK(strstr(buf, "<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n</sizes>\n") == buf);
  FL_CHECK(strstr(buf, "<total type=\"mmap\" count=\"1\" size=\"200704\"/>") != NULL);
  free(buf);
  FL_CHECK_EQ(fl_rm_malloc_info(rm, 1, stderr), EINVAL);
  fl_rm_free(rm, p);
  fl_rm_free(rm, m);
}
