/* params.c — ptmalloc_init with the glibc.malloc.* tunables (ld.so's
 * parse_tunables and tunable_initialize, elf/dl-tunables.c), mallopt,
 * mallinfo2 and malloc_info of glibc 2.36. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "alloc/chunk.h"

/* ---------------------------------------------------------------- tunables */

typedef enum { T_SIZE, T_INT32 } ttype_t;

typedef struct {
  const char *name;
  ttype_t type;
  int64_t min, max; /* for T_SIZE compared unsigned */
  bool set;
  uint64_t val;
} tunable_t;

/* Only the glibc.malloc.* entries of elf/dl-tunables.list, in the order
 * ptmalloc_init applies them. */
enum { TU_CHECK, TU_TOP_PAD, TU_PERTURB, TU_MMAP_THRESHOLD, TU_TRIM_THRESHOLD, TU_MMAP_MAX,
       TU_ARENA_MAX, TU_ARENA_TEST, TU_TCACHE_MAX, TU_TCACHE_COUNT, TU_TCACHE_UNSORTED_LIMIT,
       TU_MXFAST, TU_HUGETLB, TU_N };

static void tunables_table(tunable_t t[TU_N]) {
  const int64_t smax = -1; /* SIZE_MAX as a signed tunable_num_t */
  const tunable_t init[TU_N] = {
      [TU_CHECK] = {"glibc.malloc.check", T_INT32, 0, 3, false, 0},
      [TU_TOP_PAD] = {"glibc.malloc.top_pad", T_SIZE, 0, smax, false, 0},
      [TU_PERTURB] = {"glibc.malloc.perturb", T_INT32, 0, 0xff, false, 0},
      [TU_MMAP_THRESHOLD] = {"glibc.malloc.mmap_threshold", T_SIZE, 0, smax, false, 0},
      [TU_TRIM_THRESHOLD] = {"glibc.malloc.trim_threshold", T_SIZE, 0, smax, false, 0},
      [TU_MMAP_MAX] = {"glibc.malloc.mmap_max", T_INT32, 0, INT32_MAX, false, 0},
      [TU_ARENA_MAX] = {"glibc.malloc.arena_max", T_SIZE, 1, smax, false, 0},
      [TU_ARENA_TEST] = {"glibc.malloc.arena_test", T_SIZE, 1, smax, false, 0},
      [TU_TCACHE_MAX] = {"glibc.malloc.tcache_max", T_SIZE, 0, smax, false, 0},
      [TU_TCACHE_COUNT] = {"glibc.malloc.tcache_count", T_SIZE, 0, smax, false, 0},
      [TU_TCACHE_UNSORTED_LIMIT] = {"glibc.malloc.tcache_unsorted_limit", T_SIZE, 0, smax, false, 0},
      [TU_MXFAST] = {"glibc.malloc.mxfast", T_SIZE, 0, smax, false, 0},
      [TU_HUGETLB] = {"glibc.malloc.hugetlb", T_SIZE, 0, smax, false, 0},
  };
  memcpy(t, init, sizeof init);
}

/* _dl_strtoul (elf/dl-misc.c): decimal, 0x hex, 0 octal, optional sign. */
static uint64_t dl_strtoul(const char *s, size_t len) {
  const char *end = s + len;
  uint64_t result = 0;
  bool positive = true;
  unsigned max_digit = 9, base = 10;
  while (s < end && (*s == ' ' || *s == '\t')) ++s;
  if (s < end && *s == '-') {
    positive = false;
    ++s;
  } else if (s < end && *s == '+') {
    ++s;
  }
  if (s >= end || *s < '0' || *s > '9') return 0;
  if (*s == '0') {
    if (s + 1 < end && (s[1] == 'x' || s[1] == 'X')) {
      base = 16;
      s += 2;
    } else {
      base = 8;
      max_digit = 7;
    }
  }
  for (; s < end; ++s) {
    unsigned d;
    if (*s >= '0' && *s <= (char)('0' + max_digit))
      d = (unsigned)(*s - '0');
    else if (base == 16 && *s >= 'a' && *s <= 'f')
      d = (unsigned)(*s - 'a' + 10);
    else if (base == 16 && *s >= 'A' && *s <= 'F')
      d = (unsigned)(*s - 'A' + 10);
    else
      break;
    if (result >= (UINT64_MAX - d) / base) return UINT64_MAX;
    result = result * base + d;
  }
  return positive ? result : -result;
}

/* tunable_initialize / do_tunable_update_val: out-of-range values are dropped. */
static void tunable_init(tunable_t *t, const char *v, size_t len) {
  uint64_t val = dl_strtoul(v, len);
  bool bad = t->type == T_SIZE ? (val < (uint64_t)t->min || val > (uint64_t)t->max)
                               : ((int64_t)val < t->min || (int64_t)val > t->max);
  if (bad) return;
  t->val = val;
  t->set = true;
}

/* parse_tunables */
static void parse_tunables(const char *p, tunable_t t[TU_N]) {
  if (!p || !*p) return;
  for (;;) {
    const char *name = p;
    size_t len = 0;
    while (p[len] != '=' && p[len] != ':' && p[len] != '\0') len++;
    if (p[len] == '\0') break;
    if (p[len] == ':') {
      p += len + 1;
      continue;
    }
    size_t nlen = len;
    p += len + 1;
    const char *value = p;
    len = 0;
    while (p[len] != ':' && p[len] != '\0') len++;
    for (int i = 0; i < TU_N; i++)
      if (strlen(t[i].name) == nlen && memcmp(t[i].name, name, nlen) == 0) {
        tunable_init(&t[i], value, len);
        break;
      }
    if (p[len] == '\0') break;
    p += len + 1;
  }
}

/* --------------------------------------------------------- do_set_* (mallopt) */

static int do_set_trim_threshold(fl_rm_t *rm, size_t v) {
  rm->mp.trim_threshold = v;
  rm->mp.no_dyn_threshold = 1;
  return 1;
}
static int do_set_top_pad(fl_rm_t *rm, size_t v) {
  rm->mp.top_pad = v;
  rm->mp.no_dyn_threshold = 1;
  return 1;
}
static int do_set_mmap_threshold(fl_rm_t *rm, size_t v) {
  rm->mp.mmap_threshold = v;
  rm->mp.no_dyn_threshold = 1;
  return 1;
}
static int do_set_mmaps_max(fl_rm_t *rm, int32_t v) {
  rm->mp.n_mmaps_max = v;
  rm->mp.no_dyn_threshold = 1;
  return 1;
}
static int do_set_perturb_byte(fl_rm_t *rm, int32_t v) {
  rm->perturb_byte = v;
  return 1;
}
static int do_set_arena_test(fl_rm_t *rm, size_t v) {
  rm->mp.arena_test = v;
  return 1;
}
static int do_set_arena_max(fl_rm_t *rm, size_t v) {
  rm->mp.arena_max = v;
  return 1;
}
static int do_set_tcache_max(fl_rm_t *rm, size_t v) {
  if (v <= MAX_TCACHE_SIZE) {
    rm->mp.tcache_max_bytes = v;
    rm->mp.tcache_bins = csize2tidx(request2size(v)) + 1;
    return 1;
  }
  return 0;
}
static int do_set_tcache_count(fl_rm_t *rm, size_t v) {
  if (v <= MAX_TCACHE_COUNT) {
    rm->mp.tcache_count = v;
    return 1;
  }
  return 0;
}
static int do_set_mxfast(fl_rm_t *rm, size_t v) {
  if (v <= MAX_FAST_SIZE) {
    set_max_fast(rm, v);
    return 1;
  }
  return 0;
}
/* do_set_hugetlb: 1 = madvise(MADV_HUGEPAGE) when THP is in madvise mode.
 * Values >= 2 (explicit hugetlb pages) are not modelled: ignored. */
static int do_set_hugetlb(fl_rm_t *rm, size_t v) {
  if (v == 1 && rm->cfg.thp_enabled && strcmp(rm->cfg.thp_enabled, "madvise") == 0)
    rm->mp.thp_pagesize = rm->cfg.thp_pagesize;
  return 0;
}

/* ptmalloc_init */
void rm_ptmalloc_init(fl_rm_t *rm) {
  if (rm->malloc_initialized) return;
  rm->malloc_initialized = true;
  cur_thread(rm)->arena = &rm->main_arena;
  rm_init_state(rm, &rm->main_arena);
  tunable_t t[TU_N];
  tunables_table(t);
  parse_tunables(rm->cfg.tunables, t);
  if (t[TU_TOP_PAD].set) do_set_top_pad(rm, t[TU_TOP_PAD].val);
  if (t[TU_PERTURB].set) do_set_perturb_byte(rm, (int32_t)t[TU_PERTURB].val);
  if (t[TU_MMAP_THRESHOLD].set) do_set_mmap_threshold(rm, t[TU_MMAP_THRESHOLD].val);
  if (t[TU_TRIM_THRESHOLD].set) do_set_trim_threshold(rm, t[TU_TRIM_THRESHOLD].val);
  if (t[TU_MMAP_MAX].set) do_set_mmaps_max(rm, (int32_t)t[TU_MMAP_MAX].val);
  if (t[TU_ARENA_MAX].set) do_set_arena_max(rm, t[TU_ARENA_MAX].val);
  if (t[TU_ARENA_TEST].set) do_set_arena_test(rm, t[TU_ARENA_TEST].val);
  if (t[TU_TCACHE_MAX].set) do_set_tcache_max(rm, t[TU_TCACHE_MAX].val);
  if (t[TU_TCACHE_COUNT].set) do_set_tcache_count(rm, t[TU_TCACHE_COUNT].val);
  if (t[TU_TCACHE_UNSORTED_LIMIT].set) rm->mp.tcache_unsorted_limit = t[TU_TCACHE_UNSORTED_LIMIT].val;
  if (t[TU_MXFAST].set) do_set_mxfast(rm, t[TU_MXFAST].val);
  if (t[TU_HUGETLB].set) do_set_hugetlb(rm, t[TU_HUGETLB].val);
}

/* __libc_mallopt */
static int mallopt_(fl_rm_t *rm, int param_number, int value) {
  int res = 1;
  if (!rm->malloc_initialized) rm_ptmalloc_init(rm);
  rm_malloc_consolidate(rm, &rm->main_arena);
  switch (param_number) {
    case FL_M_MXFAST: res = do_set_mxfast(rm, (size_t)(long)value); break;
    case FL_M_TRIM_THRESHOLD: res = do_set_trim_threshold(rm, (size_t)(long)value); break;
    case FL_M_TOP_PAD: res = do_set_top_pad(rm, (size_t)(long)value); break;
    case FL_M_MMAP_THRESHOLD: res = do_set_mmap_threshold(rm, (size_t)(long)value); break;
    case FL_M_MMAP_MAX: res = do_set_mmaps_max(rm, value); break;
    case FL_M_CHECK_ACTION: res = 1; break;
    case FL_M_PERTURB: res = do_set_perturb_byte(rm, value); break;
    case FL_M_ARENA_TEST:
      if (value > 0) res = do_set_arena_test(rm, (size_t)value);
      break;
    case FL_M_ARENA_MAX:
      if (value > 0) res = do_set_arena_max(rm, (size_t)value);
      break;
    default: break;
  }
  return res;
}

int fl_rm_mallopt(fl_rm_t *rm, int param, int value) {
  int r = 0;
  RM_CALL(rm, FL_RM_OP_MALLOPT, (uint64_t)(int64_t)param, (uint64_t)(int64_t)value, 0, 0,
          r = mallopt_(rm, param, value));
  return r;
}

/* ---------------------------------------------------------------- mallinfo2 */

/* int_mallinfo */
static void int_mallinfo(fl_rm_t *rm, rm_arena_t *av, fl_rm_mallinfo2_t *m) {
  size_t avail = chunksize(av, av_top(av)), fastavail = 0;
  int nblocks = 1, nfastblocks = 0;
  for (unsigned i = 0; i < NFASTBINS; ++i)
    for (mchunk p = fastbin(av, i); p != 0; p = protect_ptr(p + 16, fd(av, p))) {
      if (misaligned_chunk(p)) rm_printerr(rm, "int_mallinfo(): unaligned fastbin chunk detected");
      ++nfastblocks;
      fastavail += chunksize(av, p);
    }
  avail += fastavail;
  for (unsigned i = 1; i < NBINS; ++i) {
    mchunk b = bin_at(av, i);
    for (mchunk p = last(av, b); p != b; p = bk(av, p)) {
      ++nblocks;
      avail += chunksize(av, p);
    }
  }
  m->smblks += (size_t)nfastblocks;
  m->ordblks += (size_t)nblocks;
  m->fordblks += avail;
  m->uordblks += av->system_mem - avail;
  m->arena += av->system_mem;
  m->fsmblks += fastavail;
  if (av == &rm->main_arena) {
    m->hblks = (size_t)rm->mp.n_mmaps;
    m->hblkhd = rm->mp.mmapped_mem;
    m->usmblks = 0;
    m->keepcost = chunksize(av, av_top(av));
  }
}

static void mallinfo2_(fl_rm_t *rm, fl_rm_mallinfo2_t *m) {
  if (!rm->malloc_initialized) rm_ptmalloc_init(rm);
  memset(m, 0, sizeof *m);
  rm_arena_t *ar_ptr = &rm->main_arena;
  do {
    int_mallinfo(rm, ar_ptr, m);
    ar_ptr = ar_ptr->next;
  } while (ar_ptr != &rm->main_arena);
}

fl_rm_mallinfo2_t fl_rm_mallinfo2(fl_rm_t *rm) {
  fl_rm_mallinfo2_t m;
  memset(&m, 0, sizeof m);
  RM_CALL(rm, FL_RM_OP_MALLINFO, 0, 0, 0, m, mallinfo2_(rm, &m); rm->op_mallinfo = &m);
  return m;
}
