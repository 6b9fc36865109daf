/* registry.c — the one table of invariants. `faultline check --list` prints
 * it, the spec test compares spec/invariants.md with it, and fl_check_one
 * runs an entry's function. IDs are stable: never rename or reuse one. */
#include <string.h>

#include "check/internal.h"
#include "util/json.h"

#define OP FL_COST_OP
#define TOUCHED FL_COST_TOUCHED
#define WALK FL_COST_WALK
#define E(id, fam, lvl, cost, fn, mirrors, stmt) {id, fam, stmt, mirrors, lvl, cost, #fn, fn}
/* The black-box promises run whenever the oracle runs (level 1: always on). */
#define O(id, cost, fn_name, mirrors, stmt) {id, "ORACLE", stmt, mirrors, 1, cost, fn_name, NULL}

static int chk_mallinfo(fl_check_t *c) { return fl_chk_mallinfo_fn(c); }

static const fl_invariant_t table[] = {
    /* ---- BIN: refmalloc's metadata ---- */
    E("BIN-HEADER", "BIN", 1, OP, fl_chk_heap, "do_check_chunk, misaligned_chunk",
      "every chunk a heap walk meets is 16-byte aligned, its size a multiple of 16 and >= MINSIZE, IS_MMAPPED clear (fenceposts excepted)"),
    E("BIN-TILE", "BIN", 2, WALK, fl_chk_heap, "sysmalloc, do_check_malloc_state",
      "the chunks of each heap tile it from its first chunk to top (old heaps: to their fenceposts), none crossing top or the heap end"),
    E("BIN-TOP-LAST", "BIN", 1, OP, fl_chk_top, "sysmalloc, systrim, heap_trim",
      "top is the last chunk of its heap: top + size(top) = __curbrk (main) or heap + heap->size"),
    E("BIN-TOP-MIN", "BIN", 1, OP, fl_chk_top, "sysmalloc (assert old_size >= MINSIZE)",
      "an initialised arena's top is at least MINSIZE"),
    E("BIN-PREV-INUSE", "BIN", 1, OP, fl_chk_heap, "_int_free, do_check_inuse_chunk",
      "PREV_INUSE of a chunk is clear iff its predecessor is a binned free chunk; a heap's first chunk has it set"),
    E("BIN-FOOTER", "BIN", 2, WALK, fl_chk_heap, "set_foot, unlink_chunk (corrupted size vs. prev_size)",
      "the prev_size of a free chunk's successor equals the free chunk's size"),
    E("BIN-NO-ADJ-FREE", "BIN", 2, WALK, fl_chk_heap, "_int_free, malloc_consolidate",
      "no two binned free chunks are adjacent, and none is followed by top (outside tcache and fastbins)"),
    E("BIN-FREE-LISTED", "BIN", 2, WALK, fl_chk_heap, "_int_free (unsorted insertion)",
      "a chunk whose successor says it is free is on a bin"),
    E("BIN-ONE-LIST", "BIN", 2, WALK, fl_chk_heap, "tcache_put (double free), _int_free (double free or corruption (fasttop))",
      "every listed chunk is on exactly one list, once"),
    E("BIN-LIST-MEMBER", "BIN", 2, WALK, fl_chk_heap, "unlink_chunk, tcache_get, _int_malloc",
      "every chunk on a tcache, fastbin or bin is a chunk boundary of a heap walk"),
    E("BIN-LIVE-REACHED", "BIN", 2, WALK, fl_chk_heap, "__libc_malloc (the chunk handed out)",
      "every live non-mapped chunk the allocator handed out is reached by the heap walk"),
    E("BIN-INUSE-ACCOUNTED", "BIN", 2, WALK, fl_chk_heap, "__libc_free, tcache_init",
      "every in-use chunk of a walk is live, in a tcache or fastbin, or a tcache_perthread_struct (no leak)"),
    E("BIN-LIVE-SIZE", "BIN", 1, OP, fl_chk_op, "checked_request2size, musable",
      "a live chunk's usable size is at least the request"),
    E("BIN-ARENA-BIT", "BIN", 1, OP, fl_chk_heap, "set_non_main_arena, arena_for_chunk",
      "in-use and cached chunks carry NON_MAIN_ARENA iff they are not in the main arena"),
    E("BIN-LINKS", "BIN", 2, WALK, fl_chk_heap, "unlink_chunk (corrupted double-linked list)",
      "every bin is a doubly linked ring through its header: fd->bk = p and bk->fd = p"),
    E("BIN-SMALL-CLASS", "BIN", 2, WALK, fl_chk_heap, "smallbin_index, _int_malloc",
      "a chunk in small bin i has size 16 i"),
    E("BIN-LARGE-CLASS", "BIN", 2, WALK, fl_chk_heap, "largebin_index, _int_malloc",
      "a chunk in large bin i has largebin_index (size) = i"),
    E("BIN-LARGE-ORDER", "BIN", 2, WALK, fl_chk_heap, "_int_malloc (large bin insertion)",
      "large bins are sorted by size, largest first along fd"),
    E("BIN-NEXTSIZE", "BIN", 2, WALK, fl_chk_heap, "_int_malloc, unlink_chunk (corrupted double-linked list (not small))",
      "the first chunk of each size in a large bin is on a consistent fd_nextsize/bk_nextsize ring; other large chunks (and unsorted ones) have NULL there"),
    E("BIN-BINMAP", "BIN", 2, WALK, fl_chk_heap, "mark_bin, _int_malloc (binmap search)",
      "the binmap bit of every non-empty bin is set"),
    E("BIN-FAST-CLASS", "BIN", 2, WALK, fl_chk_heap, "fastbin_index, _int_malloc (memory corruption (fast))",
      "a chunk in fastbin i has fastbin_index (size) = i"),
    E("BIN-FAST-PINUSE", "BIN", 2, WALK, fl_chk_heap, "_int_free (fastbin path), tcache_put",
      "the successor of a fastbin or tcache chunk keeps PREV_INUSE set"),
    E("BIN-TCACHE-COUNT", "BIN", 2, TOUCHED, fl_chk_heap, "tcache_put, tcache_get",
      "tcache counts[i] equals the length of entries[i] and is at most tcache_count"),
    E("BIN-TCACHE-KEY", "BIN", 2, TOUCHED, fl_chk_heap, "tcache_put (e->key = tcache_key)",
      "every tcache entry carries the tcache key"),
    E("BIN-TCACHE-CLASS", "BIN", 2, TOUCHED, fl_chk_heap, "csize2tidx, tcache_put",
      "a chunk in tcache bin i has csize2tidx (size) = i"),
    E("BIN-SAFE-LINK", "BIN", 2, TOUCHED, fl_chk_heap, "REVEAL_PTR, tcache_get (unaligned tcache chunk detected)",
      "every tcache and fastbin link decodes to NULL or an aligned chunk inside a heap"),
    E("BIN-MMAP-ALIGN", "BIN", 1, OP, fl_chk_heap, "sysmalloc_mmap, munmap_chunk (invalid pointer)",
      "a live mapped chunk has IS_MMAPPED and its mapping [p - prev_size, p + size) is page-aligned"),
    E("BIN-MMAP-UNLISTED", "BIN", 2, WALK, fl_chk_heap, "__libc_free (mapped chunks bypass the bins)",
      "no IS_MMAPPED chunk is on any tcache, fastbin or bin"),
    E("BIN-MMAP-VMA", "BIN", 1, OP, fl_chk_heap, "sysmalloc_mmap",
      "a live mapped chunk's whole mapping lies inside one read-write VMA"),
    E("BIN-MMAP-COUNT", "BIN", 2, WALK, fl_chk_heap, "sysmalloc_mmap, munmap_chunk (mp_.n_mmaps, mp_.mmapped_mem)",
      "mp_.n_mmaps and mp_.mmapped_mem equal the live mapped chunks' count and bytes"),
    E("BIN-HEAP-INFO", "BIN", 2, WALK, fl_chk_heap, "new_heap, grow_heap, shrink_heap",
      "a heap is HEAP_MAX_SIZE-aligned, points at its arena, and size <= mprotect_size <= HEAP_MAX_SIZE, size page-aligned"),
    E("BIN-SYSMEM", "BIN", 2, WALK, fl_chk_heap, "sysmalloc, systrim, heap_trim (av->system_mem)",
      "system_mem = __curbrk - sbrk_base (main) or the sum of the arena's heap sizes"),
    E("BIN-MALLINFO", "BIN", 2, WALK, chk_mallinfo, "int_mallinfo, __libc_mallinfo2",
      "mallinfo2's totals equal those of the heap walk (arena, ordblks, smblks, hblks, hblkhd, fsmblks, fordblks, uordblks, keepcost)"),
    /* ---- VMA: the address space ---- */
    E("VMA-SORTED", "VMA", 2, WALK, fl_chk_vmas, "the maple tree (mm->mm_mt)",
      "the model's VMAs are sorted and do not overlap"),
    E("VMA-WINDOW", "VMA", 2, WALK, fl_chk_vmas, "(the model's window)",
      "every VMA lies inside the window"),
    E("VMA-ALIGN", "VMA", 2, WALK, fl_chk_vmas, "do_mmap, __split_vma",
      "every VMA starts and ends on a page boundary, start < end"),
    E("VMA-MERGED", "VMA", 2, WALK, fl_chk_vmas, "vma_merge_new_range, vma_merge_existing_range, is_mergeable_anon_vma",
      "no two adjacent VMAs have equal prot and flags, continuing pgoffs and compatible anon_vmas (the kernel would have merged them)"),
    E("VMA-COUNTERS", "VMA", 2, WALK, fl_chk_vmas, "vm_stat_account (total_vm, data_vm), mm->map_count",
      "VmSize, VmData and the VMA count equal the sums over VMAs"),
    E("VMA-BRK", "VMA", 2, WALK, fl_chk_vmas, "sys_brk, do_brk_flags, __sbrk",
      "[start_brk, PAGE_ALIGN (brk)) is mapped read-write, and refmalloc's __curbrk is the break"),
    E("VMA-RW", "VMA", 2, WALK, fl_chk_owned, "sysmalloc, new_heap, grow_heap",
      "every byte of an arena's memory ([sbrk_base, __curbrk), heap + mprotect_size) lies in a read-write VMA"),
    E("VMA-HEAP-GUARD", "VMA", 2, WALK, fl_chk_owned, "new_heap (PROT_NONE reservation), shrink_heap",
      "the rest of a heap's HEAP_MAX_SIZE reservation is mapped PROT_NONE"),
    E("VMA-STRAY", "VMA", 2, WALK, fl_chk_owned, "munmap_chunk, heap_trim (delete_heap), new_heap",
      "every VMA of the window belongs to the brk area, a heap reservation or a live mapped chunk"),
    E("VMA-FREED", "VMA", 1, TOUCHED, fl_chk_freed, "munmap_chunk, mremap_chunk",
      "a mapped chunk released by free or realloc is no longer mapped"),
    /* ---- PT / RSS: pages ---- */
    E("PT-IN-VMA", "PT", 2, WALK, fl_chk_pages, "do_vmi_munmap (zap), do_user_addr_fault",
      "present pages lie only inside VMAs"),
    E("PT-ANON", "PT", 2, WALK, fl_chk_pages, "do_anonymous_page, anon_vma_prepare",
      "a private page lies only in a VMA that has an anon_vma"),
    E("PT-HEAP-TAIL", "PT", 2, WALK, fl_chk_pages, "shrink_heap (MADV_DONTNEED), new_heap",
      "no page of a heap's reservation past its size is present"),
    E("PT-FREED-MMAP", "PT", 1, TOUCHED, fl_chk_freed, "munmap_chunk -> zap_page_range",
      "no page of a released mapped chunk is present"),
    E("RSS-COUNT", "RSS", 2, WALK, fl_chk_pages, "mm_counter (MM_ANONPAGES), smaps Rss",
      "the RSS counter equals the private and lazily freed pages inside VMAs"),
    E("RSS-ZERO", "RSS", 2, WALK, fl_chk_pages, "do_anonymous_page (zero page)",
      "the zero-page counter equals the zero-page entries, which exist only where the profile reads the zero page"),
    E("RSS-MINFLT", "RSS", 1, OP, fl_chk_minflt, "mm_account_fault",
      "minflt_min <= minflt_max"),
    /* ---- KERNEL: the model against the real kernel (shadow mode) ---- */
    E("KERNEL-MAPS", "KERNEL", 2, WALK, fl_chk_kernel_maps, "/proc/self/maps (show_map_vma)",
      "the window's VMAs equal /proc/self/maps (start, end, protection)"),
    E("KERNEL-PAGES", "KERNEL", 2, WALK, fl_chk_kernel_pages, "/proc/self/pagemap, PAGEMAP_SCAN",
      "the model's present set equals pagemap's"),
    E("KERNEL-PAGE-STATE", "KERNEL", 2, WALK, fl_chk_kernel_pages, "pagemap PM_MMAP_EXCLUSIVE, PAGE_IS_PFNZERO",
      "a present page is the zero page or exclusive in the model and in pagemap alike"),
    E("KERNEL-RSS", "KERNEL", 2, WALK, fl_chk_kernel_rss, "smaps Rss",
      "the model's RSS equals the window's smaps Rss"),
    E("KERNEL-MINFLT", "KERNEL", 2, WALK, fl_chk_kernel_minflt, "getrusage ru_minflt",
      "the kernel's minor faults lie within the model's bounds (plus slack)"),
    E("KERNEL-ERRNO", "KERNEL", 2, TOUCHED, fl_chk_kernel_errno, "the system calls' return values",
      "every modelled system call returns what the kernel returned"),
    E("KERNEL-ACCESS", "KERNEL", 2, TOUCHED, fl_chk_kernel_access, "do_user_addr_fault, access_error",
      "the kernel faults exactly the accesses the model refuses"),
    /* ---- ORACLE: what C and POSIX promise of any malloc, checked by the
     * black-box oracle (faultline verify --allocator) in its helper process,
     * src/helper/faultline-oracle.c, or from its death (src/oracle/oracle.c):
     * not on refmalloc's state, so no fl_check_fn runs them. ---- */
    O("ORACLE-ALIGN", OP, "judge_alignment",
      "C23 7.24.3p1 (suitably aligned for any object of fundamental alignment that fits the size)",
      "malloc, calloc and realloc return pointers aligned to min(16, the largest power of two <= the size)"),
    O("ORACLE-ALIGN-EXPLICIT", OP, "judge_alignment",
      "C23 7.24.3.1 aligned_alloc; POSIX posix_memalign (a multiple of alignment); valloc(3)",
      "aligned_alloc, memalign and posix_memalign results are multiples of every power-of-two alignment (probed up to 2 MiB); valloc and pvalloc results of the page size"),
    O("ORACLE-NO-OVERLAP", TOUCHED, "judge_overlap",
      "C23 7.24.3p1 (a pointer to an object disjoint from any other object)",
      "no two live blocks share a byte of their usable sizes"),
    O("ORACLE-USABLE", OP, "judge_block",
      "malloc_usable_size(3) (at least the requested size)",
      "malloc_usable_size of a live block is at least its request"),
    O("ORACLE-CONTENTS", TOUCHED, "check_contents",
      "C23 7.24.3p1 (lifetime from allocation to deallocation), 6.2.4p2 (an object retains its last-stored value)",
      "every byte of a block's usable size keeps what was last written there until free or realloc"),
    O("ORACLE-REALLOC-PREFIX", TOUCHED, "run_realloc",
      "C23 7.24.3.7 (the same contents up to the lesser of the new and old sizes)",
      "realloc's result holds the old block's first min(old, new) bytes, growing and shrinking, small and mapped"),
    O("ORACLE-CALLOC-ZERO", TOUCHED, "run_alloc",
      "C23 7.24.3.2 (the space is initialized to all bits zero)",
      "every byte calloc returns is zero, recycled memory included"),
    O("ORACLE-IMPOSSIBLE", OP, "run_alloc, run_realloc",
      "C23 7.24.3p1 (a null pointer if the space cannot be allocated), 7.24.3.2 (calloc: nmemb * size wraps)",
      "requests above PTRDIFF_MAX, calloc products that overflow and alignments above PTRDIFF_MAX return NULL (posix_memalign: an error)"),
    O("ORACLE-FREE-NULL", OP, "run_free, judge_death",
      "C23 7.24.3.3 (if ptr is a null pointer, no action occurs)",
      "free(NULL) returns and does nothing"),
    O("ORACLE-ZERO-SIZE", OP, "judge_overlap, judge_death",
      "C17 7.22.3p1, C23 7.24.3p1 (size zero: a null pointer or a unique pointer), C17 7.22.3.5 (realloc(p, 0))",
      "malloc(0), calloc(0, n) and realloc(p, 0) return NULL or a pointer no live block holds, which free accepts"),
    O("ORACLE-ENOMEM", OP, "judge_failure",
      "POSIX.1-2017 malloc, calloc, realloc, posix_memalign: ERRORS [ENOMEM]",
      "(posix) malloc, calloc and realloc that return NULL for a non-zero size set errno to ENOMEM; posix_memalign with a valid alignment fails with ENOMEM"),
    O("ORACLE-EINVAL", OP, "judge_failure, run_alloc",
      "POSIX.1-2017 posix_memalign: ERRORS [EINVAL]",
      "(posix) posix_memalign returns EINVAL, and no block, for an alignment that is not a power of two multiple of sizeof(void *)"),
    O("ORACLE-GIVE-BACK", WALK, "judge_give_back",
      "malloc_trim(3); jemalloc arena.<i>.purge; tcmalloc ReleaseFreeMemory; mi_collect (no standard: a quality promise)",
      "after every block is freed and the purge calls are made, smaps Rss is at most its value before the run + 16 MiB + peak live / 8"),
    O("ORACLE-CRASH", OP, "judge_death",
      "C23 7.24.3 (every call of the stream has defined behaviour)",
      "no op of a valid stream kills the process"),
    O("ORACLE-HANG", OP, "judge_death",
      "C23 7.24.3 (the functions return)",
      "every op returns within the timeout (default 10 s; no generated op touches more than 32 MiB)"),
};

size_t fl_invariant_count(void) { return sizeof table / sizeof table[0]; }

const fl_invariant_t *fl_invariant_at(size_t i) { return i < fl_invariant_count() ? &table[i] : NULL; }

const fl_invariant_t *fl_invariant_find(const char *id) {
  for (size_t i = 0; i < fl_invariant_count(); i++)
    if (strcmp(table[i].id, id) == 0) return &table[i];
  return NULL;
}

const char *fl_check_cost_name(fl_check_cost_t cost) {
  switch (cost) {
  case FL_COST_OP: return "O(1) per op";
  case FL_COST_TOUCHED: return "O(touched)";
  default: return "full walk";
  }
}

void fl_check_list(FILE *out, bool json) {
  if (!json) {
    for (size_t i = 0; i < fl_invariant_count(); i++)
      fprintf(out, "%-20s L%d  %-12s %s\n", table[i].id, table[i].level, fl_check_cost_name(table[i].cost),
              table[i].statement);
    return;
  }
  fl_json_t j;
  fl_json_init(&j, out, true);
  fl_json_begin_array(&j);
  for (size_t i = 0; i < fl_invariant_count(); i++) {
    fl_json_begin_object(&j);
    fl_json_key(&j, "id");
    fl_json_string(&j, table[i].id);
    fl_json_key(&j, "family");
    fl_json_string(&j, table[i].family);
    fl_json_key(&j, "level");
    fl_json_int(&j, table[i].level);
    fl_json_key(&j, "cost");
    fl_json_string(&j, fl_check_cost_name(table[i].cost));
    fl_json_key(&j, "function");
    fl_json_string(&j, table[i].fn_name);
    fl_json_key(&j, "mirrors");
    fl_json_string(&j, table[i].mirrors);
    fl_json_key(&j, "statement");
    fl_json_string(&j, table[i].statement);
    fl_json_end_object(&j);
  }
  fl_json_end_array(&j);
  fl_json_finish(&j);
}
