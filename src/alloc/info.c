/* info.c — __malloc_info of glibc 2.36: the XML report, byte for byte. */
#include <errno.h>
#include <stdio.h>

#include "alloc/chunk.h"

typedef struct {
  size_t from, to, total, count;
} isize_t;

#define NSIZES (NFASTBINS + NBINS - 1)

typedef struct {
  size_t nblocks, nfastblocks, avail, fastavail;
  size_t heap_size, heap_mprotect_size, heap_count;
  isize_t sizes[NSIZES];
} iarena_t;

static void info_fastbins(fl_rm_t *rm, rm_arena_t *av, iarena_t *ia) {
  for (unsigned i = 0; i < NFASTBINS; ++i) {
    isize_t *s = &ia->sizes[i];
    mchunk p = fastbin(av, i);
    if (p != 0) {
      size_t nthissize = 0, thissize = chunksize(av, p);
      while (p != 0) {
        if (misaligned_chunk(p)) rm_printerr(rm, "__malloc_info(): unaligned fastbin chunk detected");
        ++nthissize;
        p = protect_ptr(p + 16, fd(av, p));
      }
      ia->fastavail += nthissize * thissize;
      ia->nfastblocks += nthissize;
      s->from = thissize - (MALLOC_ALIGNMENT - 1);
      s->to = thissize;
      s->count = nthissize;
    } else {
      s->from = s->to = s->count = 0;
    }
    s->total = s->count * s->to;
  }
}

static void info_bins(fl_rm_t *rm, rm_arena_t *av, iarena_t *ia) {
  for (unsigned i = 1; i < NBINS; ++i) {
    mchunk bin = bin_at(av, i);
    mchunk r = fd(av, bin);
    isize_t *s = &ia->sizes[NFASTBINS - 1 + i];
    s->from = ~(size_t)0;
    s->to = s->total = s->count = 0;
    if (r != 0)
      while (r != bin) {
        size_t r_size = chunksize_nomask(av, r);
        ++s->count;
        s->total += r_size;
        s->from = s->from < r_size ? s->from : r_size;
        s->to = s->to > r_size ? s->to : r_size;
        r = fd(av, r);
      }
    if (s->count == 0) s->from = 0;
    ia->nblocks += s->count;
    ia->avail += s->total;
  }
  (void)rm;
}

static void info_arena(fl_rm_t *rm, rm_arena_t *av, iarena_t *ia) {
  ia->avail = chunksize(av, av_top(av));
  ia->nblocks = 1;
  info_fastbins(rm, av, ia);
  info_bins(rm, av, ia);
  if (av != &rm->main_arena) {
    uintptr_t heap = heap_for_ptr(av_top(av));
    do {
      ia->heap_size += rm_heap_size(rm, heap);
      ia->heap_mprotect_size += rm_heap_mprotect_size(rm, heap);
      heap = rm_heap_prev(rm, heap);
      ++ia->heap_count;
    } while (heap != 0);
  }
}

typedef struct {
  size_t nblocks, nfastblocks, avail, fastavail, system, max_system, aspace, aspace_mprotect;
} itotal_t;

static void print_arena(fl_rm_t *rm, rm_arena_t *av, const iarena_t *ia, itotal_t *t, FILE *fp) {
  for (size_t i = 0; i < NSIZES; ++i)
    if (ia->sizes[i].count != 0 && i != NFASTBINS)
      fprintf(fp, "  <size from=\"%zu\" to=\"%zu\" total=\"%zu\" count=\"%zu\"/>\n", ia->sizes[i].from,
              ia->sizes[i].to, ia->sizes[i].total, ia->sizes[i].count);
  if (ia->sizes[NFASTBINS].count != 0)
    fprintf(fp, "  <unsorted from=\"%zu\" to=\"%zu\" total=\"%zu\" count=\"%zu\"/>\n",
            ia->sizes[NFASTBINS].from, ia->sizes[NFASTBINS].to, ia->sizes[NFASTBINS].total,
            ia->sizes[NFASTBINS].count);
  t->system += av->system_mem;
  t->max_system += av->max_system_mem;
  fprintf(fp,
          "</sizes>\n<total type=\"fast\" count=\"%zu\" size=\"%zu\"/>\n"
          "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n"
          "<system type=\"current\" size=\"%zu\"/>\n"
          "<system type=\"max\" size=\"%zu\"/>\n",
          ia->nfastblocks, ia->fastavail, ia->nblocks, ia->avail, av->system_mem, av->max_system_mem);
  if (av != &rm->main_arena) {
    fprintf(fp,
            "<aspace type=\"total\" size=\"%zu\"/>\n"
            "<aspace type=\"mprotect\" size=\"%zu\"/>\n"
            "<aspace type=\"subheaps\" size=\"%zu\"/>\n",
            ia->heap_size, ia->heap_mprotect_size, ia->heap_count);
    t->aspace += ia->heap_size;
    t->aspace_mprotect += ia->heap_mprotect_size;
  } else {
    fprintf(fp, "<aspace type=\"total\" size=\"%zu\"/>\n<aspace type=\"mprotect\" size=\"%zu\"/>\n",
            av->system_mem, av->system_mem);
    t->aspace += av->system_mem;
    t->aspace_mprotect += av->system_mem;
  }
  fputs("</heap>\n", fp);
}

/* __malloc_info */
static int malloc_info_(fl_rm_t *rm, int options, FILE *fp) {
  if (options != 0) return EINVAL;
  itotal_t t = {0};
  int n = 0;
  if (!rm->malloc_initialized) rm_ptmalloc_init(rm);
  fputs("<malloc version=\"1\">\n", fp);
  rm_arena_t *ar_ptr = &rm->main_arena;
  do {
    fprintf(fp, "<heap nr=\"%d\">\n<sizes>\n", n++);
    iarena_t ia = {0};
    info_arena(rm, ar_ptr, &ia);
    t.nfastblocks += ia.nfastblocks;
    t.fastavail += ia.fastavail;
    t.nblocks += ia.nblocks;
    t.avail += ia.avail;
    print_arena(rm, ar_ptr, &ia, &t, fp);
    ar_ptr = ar_ptr->next;
  } while (ar_ptr != &rm->main_arena);
  fprintf(fp,
          "<total type=\"fast\" count=\"%zu\" size=\"%zu\"/>\n"
          "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n"
          "<total type=\"mmap\" count=\"%d\" size=\"%zu\"/>\n"
          "<system type=\"current\" size=\"%zu\"/>\n"
          "<system type=\"max\" size=\"%zu\"/>\n"
          "<aspace type=\"total\" size=\"%zu\"/>\n"
          "<aspace type=\"mprotect\" size=\"%zu\"/>\n"
          "</malloc>\n",
          t.nfastblocks, t.fastavail, t.nblocks, t.avail, rm->mp.n_mmaps, rm->mp.mmapped_mem, t.system,
          t.max_system, t.aspace, t.aspace_mprotect);
  return 0;
}

/* malloc_info returns EINVAL itself (not -1 with errno) for options != 0. */
int fl_rm_malloc_info(fl_rm_t *rm, int options, FILE *fp) {
  int r = 0;
  RM_CALL(rm, FL_RM_OP_MALLOC_INFO, (uint64_t)options, 0, 0, -1, r = malloc_info_(rm, options, fp));
  return r;
}
