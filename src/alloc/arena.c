/* arena.c — glibc 2.36 malloc/arena.c: heaps for non-main arenas and the
 * per-thread arena choice.
 *
 * A non-main arena lives in HEAP_MAX_SIZE-aligned heaps made with
 * mmap(PROT_NONE, MAP_NORESERVE) and opened with mprotect. heap_info is kept
 * in model memory (its writes touch the heap's first page as in glibc); the
 * arena's malloc_state sits right after it at a model address, but its
 * contents are kept host-side (chunk.h), its pages touched on creation. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "alloc/chunk.h"
#include "util/mutant.h"

/* heap_info: ar_ptr 0, prev 8, size 16, mprotect_size 24, pagesize 32. */
uintptr_t rm_heap_ar_ptr(fl_rm_t *rm, uintptr_t h) { return mem_ld64(&rm->mem, h); }
uintptr_t rm_heap_prev(fl_rm_t *rm, uintptr_t h) { return mem_ld64(&rm->mem, h + 8); }
size_t rm_heap_size(fl_rm_t *rm, uintptr_t h) { return mem_ld64(&rm->mem, h + 16); }
size_t rm_heap_mprotect_size(fl_rm_t *rm, uintptr_t h) { return mem_ld64(&rm->mem, h + 24); }
static size_t heap_pagesize(fl_rm_t *rm, uintptr_t h) { return mem_ld64(&rm->mem, h + 32); }
void rm_heap_set_ar_ptr(fl_rm_t *rm, uintptr_t h, rm_arena_t *av) { mem_st64(&rm->mem, h, av->addr); }
void rm_heap_set_prev(fl_rm_t *rm, uintptr_t h, uintptr_t prev) { mem_st64(&rm->mem, h + 8, prev); }
static void heap_set_size(fl_rm_t *rm, uintptr_t h, size_t v) { mem_st64(&rm->mem, h + 16, v); }
static void heap_set_mprotect_size(fl_rm_t *rm, uintptr_t h, size_t v) { mem_st64(&rm->mem, h + 24, v); }

static size_t heap_min_size(const fl_rm_t *rm) {
  return rm->mp.hp_pagesize == 0 ? HEAP_MIN_SIZE : rm->mp.hp_pagesize;
}
static size_t heap_max_size(const fl_rm_t *rm) {
  return rm->mp.hp_pagesize == 0 ? HEAP_MAX_SIZE : rm->mp.hp_pagesize * 4;
}

rm_arena_t *rm_arena_by_addr(fl_rm_t *rm, uintptr_t addr) {
  rm_arena_t *a = &rm->main_arena;
  do {
    if (a->addr == addr) return a;
    a = a->next;
  } while (a != &rm->main_arena);
  return NULL;
}

/* arena_for_chunk */
rm_arena_t *rm_arena_for_chunk(fl_rm_t *rm, mchunk p) {
  if (chunk_main_arena(&rm->main_arena, p)) return &rm->main_arena;
  uintptr_t h = heap_for_ptr(p);
  uintptr_t a = rm_heap_ar_ptr(rm, h);
  rm_arena_t *av = rm_arena_by_addr(rm, a);
  /* glibc would follow a wild ar_ptr and crash (or worse). */
  if (!av) rm->mem.segv(rm->mem.ctx, a, false);
  return av;
}

/* alloc_new_heap */
static uintptr_t alloc_new_heap(fl_rm_t *rm, size_t size, size_t top_pad, size_t pagesize, int mmap_flags) {
  size_t min_size = heap_min_size(rm), max_size = heap_max_size(rm);
  uintptr_t p1, p2;
  if (size + top_pad < min_size)
    size = min_size;
  else if (size + top_pad <= max_size)
    size += top_pad;
  else if (size > max_size)
    return 0;
  else
    size = max_size;
  size = ALIGN_UP(size, pagesize);
  p2 = MAP_FAILED_;
  if (rm->aligned_heap_area) {
    p2 = rm_mmap(rm, rm->aligned_heap_area, max_size, PROT_NONE, mmap_flags);
    rm->aligned_heap_area = 0;
    if (p2 != MAP_FAILED_ && (p2 & (max_size - 1))) {
      rm_munmap(rm, p2, max_size);
      p2 = MAP_FAILED_;
    }
  }
  if (p2 == MAP_FAILED_) {
    p1 = rm_mmap(rm, 0, max_size << 1, PROT_NONE, mmap_flags);
    if (p1 != MAP_FAILED_) {
      p2 = (p1 + (max_size - 1)) & ~(max_size - 1);
      uintptr_t ul = p2 - p1;
      if (ul)
        rm_munmap(rm, p1, ul);
      else
        rm->aligned_heap_area = p2 + max_size;
      rm_munmap(rm, p2 + max_size, max_size - ul);
    } else {
      p2 = rm_mmap(rm, 0, max_size, PROT_NONE, mmap_flags);
      if (p2 == MAP_FAILED_) return 0;
      if (p2 & (max_size - 1)) {
        rm_munmap(rm, p2, max_size);
        return 0;
      }
    }
  }
  if (rm_mprotect(rm, p2, size, PROT_READ | PROT_WRITE) != 0) {
    rm_munmap(rm, p2, max_size);
    return 0;
  }
  rm_madvise_thp(rm, p2, size);
  heap_set_size(rm, p2, size);
  heap_set_mprotect_size(rm, p2, size);
  mem_st64(&rm->mem, p2 + 32, pagesize);
  return p2;
}

/* new_heap */
uintptr_t rm_new_heap(fl_rm_t *rm, size_t size, size_t top_pad) {
  if (rm->mp.hp_pagesize != 0) {
    uintptr_t h = alloc_new_heap(rm, size, top_pad, rm->mp.hp_pagesize, rm->mp.hp_flags);
    if (h) return h;
  }
  return alloc_new_heap(rm, size, top_pad, rm->pagesize, MAP_NORESERVE);
}

/* grow_heap */
int rm_grow_heap(fl_rm_t *rm, uintptr_t h, long diff) {
  size_t pagesize = heap_pagesize(rm, h);
  size_t max_size = heap_max_size(rm);
  /* glibc adds in long, which wraps for a diff near LONG_MAX (sysmalloc's
   * MINSIZE + nb - old_size for an impossible nb) and is then refused as
   * too large; unsigned arithmetic wraps the same way without the UB. */
  size_t new_size = rm_heap_size(rm, h) + ALIGN_UP((unsigned long)diff, pagesize);
  if (new_size > max_size) return -1;
  if (new_size > rm_heap_mprotect_size(rm, h)) {
    size_t mps = rm_heap_mprotect_size(rm, h);
    if (rm_mprotect(rm, h + mps, new_size - mps, PROT_READ | PROT_WRITE) != 0) return -2;
    FL_MUT_SKIP(24) heap_set_mprotect_size(rm, h, new_size);
  }
  heap_set_size(rm, h, new_size);
  return 0;
}

/* check_may_shrink_heap (sysdeps/unix/sysv/linux/malloc-sysdep.h) */
static bool check_may_shrink_heap(const fl_rm_t *rm) { return rm->cfg.overcommit_memory == 2; }

/* shrink_heap */
static int shrink_heap(fl_rm_t *rm, uintptr_t h, long diff) {
  long new_size = (long)rm_heap_size(rm, h) - diff;
  if (new_size < (long)HEAP_INFO_SIZE) return -1;
  if (check_may_shrink_heap(rm)) {
    if (rm_mmap(rm, h + (uintptr_t)new_size, (size_t)diff, PROT_NONE, MAP_FIXED) == MAP_FAILED_) return -2;
    heap_set_mprotect_size(rm, h, (size_t)new_size);
  } else {
    FL_MUT_SKIP(23) rm_madvise(rm, h + (uintptr_t)new_size, (size_t)diff, MADV_DONTNEED);
  }
  heap_set_size(rm, h, (size_t)new_size);
  return 0;
}

/* heap_trim: drop whole heaps whose only content is top, then shrink. */
int rm_heap_trim(fl_rm_t *rm, uintptr_t heap, size_t pad) {
  rm_arena_t *ar_ptr = rm_arena_by_addr(rm, rm_heap_ar_ptr(rm, heap));
  if (!ar_ptr) rm->mem.segv(rm->mem.ctx, rm_heap_ar_ptr(rm, heap), false);
  mchunk top_chunk = av_top(ar_ptr), p;
  size_t max_size = heap_max_size(rm);
  rm_arena_t *av = ar_ptr;
  while (top_chunk == heap + HEAP_INFO_SIZE) {
    uintptr_t prev_heap = rm_heap_prev(rm, heap);
    long prev_size_ = (long)rm_heap_size(rm, prev_heap) - (long)(MINSIZE - 2 * SIZE_SZ);
    p = prev_heap + (uintptr_t)prev_size_;
    long misalign = (long)(p & MALLOC_ALIGN_MASK);
    p = prev_heap + (uintptr_t)(prev_size_ - misalign);
    RM_ASSERT(rm, "heap_trim", chunksize_nomask(av, p) == (0 | PREV_INUSE), "chunksize_nomask (p) == (0 | PREV_INUSE)");
    p = prev_chunk(av, p);
    long new_size = (long)chunksize(av, p) + (long)(MINSIZE - 2 * SIZE_SZ) + misalign;
    RM_ASSERT(rm, "heap_trim", new_size > 0 && new_size < (long)(2 * MINSIZE),
              "new_size > 0 && new_size < (long) (2 * MINSIZE)");
    if (!prev_inuse(av, p)) new_size += (long)prev_size(av, p);
    RM_ASSERT(rm, "heap_trim", new_size > 0 && (unsigned long)new_size < max_size,
              "new_size > 0 && new_size < max_size");
    if ((size_t)new_size + (max_size - rm_heap_size(rm, prev_heap)) < pad + MINSIZE + heap_pagesize(rm, heap))
      break;
    ar_ptr->system_mem -= rm_heap_size(rm, heap);
    if (heap + max_size == rm->aligned_heap_area) rm->aligned_heap_area = 0;
    rm_munmap(rm, heap, max_size);
    heap = prev_heap;
    if (!prev_inuse(av, p)) {
      p = prev_chunk(av, p);
      rm_unlink_chunk(rm, av, p);
    }
    RM_ASSERT(rm, "heap_trim", ((p + (uintptr_t)new_size) & (heap_pagesize(rm, heap) - 1)) == 0,
              "((unsigned long) ((char *) p + new_size) & (heap->pagesize - 1)) == 0");
    RM_ASSERT(rm, "heap_trim", p + (uintptr_t)new_size == heap + rm_heap_size(rm, heap),
              "((char *) p + new_size) == ((char *) heap + heap->size)");
    top_chunk = p;
    set_av_top(av, p);
    set_head(av, top_chunk, (uint64_t)new_size | PREV_INUSE);
  }
  long top_size = (long)chunksize(av, top_chunk);
  if ((unsigned long)top_size < rm->mp.trim_threshold) return 0;
  long top_area = top_size - (long)MINSIZE - 1;
  if (top_area < 0 || (size_t)top_area <= pad) return 0;
  long extra = (long)ALIGN_DOWN((unsigned long)(top_area - (long)pad), heap_pagesize(rm, heap));
  if (extra == 0) return 0;
  if (shrink_heap(rm, heap, extra) != 0) return 0;
  FL_MUT_SKIP(25) ar_ptr->system_mem -= (size_t)extra;
  set_head(av, top_chunk, (uint64_t)(top_size - extra) | PREV_INUSE);
  return 1;
}

/* detach_arena */
static void detach_arena(fl_rm_t *rm, rm_arena_t *replaced) {
  if (replaced != NULL) {
    RM_ASSERT(rm, "detach_arena", replaced->attached_threads > 0, "replaced_arena->attached_threads > 0");
    --replaced->attached_threads;
  }
}

/* _int_new_arena */
static rm_arena_t *int_new_arena(fl_rm_t *rm, size_t size) {
  uintptr_t h = rm_new_heap(rm, size + (HEAP_INFO_SIZE + MS_SIZE + MALLOC_ALIGNMENT), rm->mp.top_pad);
  if (!h) {
    h = rm_new_heap(rm, HEAP_INFO_SIZE + MS_SIZE + MALLOC_ALIGNMENT, rm->mp.top_pad);
    if (!h) return NULL;
  }
  rm_arena_t *a = calloc(1, sizeof *a);
  if (!a) rm->mem.segv(rm->mem.ctx, h, true); /* host out of memory: give up the call */
  a->mem = &rm->mem;
  a->addr = h + HEAP_INFO_SIZE;
  a->index = rm->next_arena_index++;
  rm_heap_set_ar_ptr(rm, h, a);
  /* malloc_init_state writes the whole malloc_state: touch its pages. */
  mem_touch(&rm->mem, a->addr, MS_SIZE, true);
  rm_init_state(rm, a);
  a->attached_threads = 1;
  a->system_mem = a->max_system_mem = rm_heap_size(rm, h);
  uintptr_t ptr = a->addr + MS_SIZE;
  uintptr_t misalign = chunk2mem(ptr) & MALLOC_ALIGN_MASK;
  if (misalign > 0) ptr += MALLOC_ALIGNMENT - misalign;
  set_av_top(a, ptr);
  set_head(a, ptr, (h + rm_heap_size(rm, h) - ptr) | PREV_INUSE);
  rm_thread_t *t = cur_thread(rm);
  rm_arena_t *replaced = t->arena;
  t->arena = a;
  a->next = rm->main_arena.next;
  rm->main_arena.next = a;
  detach_arena(rm, replaced);
  return a;
}

/* get_free_list */
static rm_arena_t *get_free_list(fl_rm_t *rm) {
  rm_thread_t *t = cur_thread(rm);
  rm_arena_t *replaced = t->arena;
  rm_arena_t *result = rm->free_list;
  if (result != NULL) {
    rm->free_list = result->next_free;
    RM_ASSERT(rm, "get_free_list", result->attached_threads == 0, "result->attached_threads == 0");
    result->attached_threads = 1;
    detach_arena(rm, replaced);
    t->arena = result;
  }
  return result;
}

/* remove_from_free_list */
static void remove_from_free_list(fl_rm_t *rm, rm_arena_t *arena) {
  rm_arena_t **previous = &rm->free_list;
  for (rm_arena_t *p = rm->free_list; p != NULL; p = p->next_free) {
    RM_ASSERT(rm, "remove_from_free_list", p->attached_threads == 0, "p->attached_threads == 0");
    if (p == arena) {
      *previous = p->next_free;
      break;
    }
    previous = &p->next_free;
  }
}

/* reused_arena: with no contention, the trylock of next_to_use succeeds. */
static rm_arena_t *reused_arena(fl_rm_t *rm, rm_arena_t *avoid_arena) {
  (void)avoid_arena; /* only matters when every arena is locked */
  if (rm->next_to_use == NULL) rm->next_to_use = &rm->main_arena;
  rm_arena_t *result = rm->next_to_use;
  rm_thread_t *t = cur_thread(rm);
  detach_arena(rm, t->arena);
  remove_from_free_list(rm, result);
  ++result->attached_threads;
  t->arena = result;
  rm->next_to_use = result->next;
  return result;
}

/* arena_get2 */
static rm_arena_t *arena_get2(fl_rm_t *rm, size_t size, rm_arena_t *avoid_arena) {
  rm_arena_t *a = get_free_list(rm);
  if (a != NULL) return a;
  if (rm->narenas_limit == 0) {
    if (rm->mp.arena_max != 0)
      rm->narenas_limit = rm->mp.arena_max;
    else if (rm->narenas > rm->mp.arena_test) {
      int n = (int)rm->cfg.nprocs;
      rm->narenas_limit = n >= 1 ? NARENAS_FROM_NCORES(n) : NARENAS_FROM_NCORES(2);
    }
  }
  size_t n = rm->narenas;
  if (n <= rm->narenas_limit - 1) {
    rm->narenas = n + 1;
    a = int_new_arena(rm, size);
    if (a == NULL) rm->narenas--;
  } else {
    a = reused_arena(rm, avoid_arena);
  }
  return a;
}

/* arena_get (ptr = thread_arena; arena_lock) */
rm_arena_t *rm_arena_get(fl_rm_t *rm, size_t size) {
  rm_arena_t *a = cur_thread(rm)->arena;
  if (a) return a;
  return arena_get2(rm, size, NULL);
}

/* arena_get_retry */
rm_arena_t *rm_arena_get_retry(fl_rm_t *rm, rm_arena_t *ar_ptr, size_t bytes) {
  if (ar_ptr != &rm->main_arena) return &rm->main_arena;
  return arena_get2(rm, bytes, ar_ptr);
}

/* __malloc_arena_thread_freeres, after tcache_thread_shutdown */
void rm_arena_thread_freeres(fl_rm_t *rm) {
  rm_thread_t *t = cur_thread(rm);
  rm_arena_t *a = t->arena;
  t->arena = NULL;
  if (a != NULL) {
    RM_ASSERT(rm, "__malloc_arena_thread_freeres", a->attached_threads > 0, "a->attached_threads > 0");
    if (--a->attached_threads == 0) {
      a->next_free = rm->free_list;
      rm->free_list = a;
    }
  }
}
