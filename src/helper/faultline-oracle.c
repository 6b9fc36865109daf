/* faultline-oracle — the black-box oracle's helper: runs op streams against
 * whatever allocator this process has (glibc's, or the one LD_PRELOAD
 * brought) and checks what the C standard and POSIX promise about it.
 *
 * Started by fl_oracle_open (src/oracle/oracle.c) with a clean environment;
 * the channels and the shared header are in src/oracle/wire.h. This program
 * must not disturb the allocator it measures: no stdio, no malloc of its
 * own. Its bookkeeping lives in static tables and in mappings it makes per
 * run (the block records and the sorted set of live blocks), which it
 * unmaps before measuring how much memory the allocator gave back.
 *
 * Content discipline: every block is filled over its whole usable size
 * (malloc_usable_size where the allocator exports it, else the request)
 * with a pattern picked by a per-block tag, so that a block that moves
 * (realloc) or is overwritten by another (overlap) shows it; a write op
 * lays its byte over one range of the block, which the next write op
 * restores. Blocks are verified in full when they are freed or realloc'ed,
 * over the op's range by verify, and all survivors at the end of a run.
 *
 * Slot semantics are the executor's (src/ops/exec.h), with one addition:
 * free of an empty slot calls free(NULL), which C makes a no-op. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ops/text.h"
#include "oracle/wire.h"

/* ------------------------------------------------------------ the allocator */

typedef struct api {
  void *(*malloc)(size_t);
  void *(*calloc)(size_t, size_t);
  void *(*realloc)(void *, size_t);
  void (*free)(void *);
  void *(*memalign)(size_t, size_t);
  void *(*aligned_alloc)(size_t, size_t);
  int (*posix_memalign)(void **, size_t, size_t);
  void *(*valloc)(size_t);
  void *(*pvalloc)(size_t);
  size_t (*usable_size)(void *);
  int (*mallopt)(int, int);
  int (*malloc_trim)(size_t);
  int (*mallctl)(const char *, void *, size_t *, void *, size_t);
  void (*tc_release)(void);
  void (*mi_collect)(bool);
} api_t;

static api_t A;
static fl_oracle_hdr_t *H;
static size_t page_size;

/* A function of the allocator under test: defined in the object that
 * defines its malloc. Calls go through pointers, so the compiler cannot
 * fold a malloc/free pair or a malloc+memset into something else. */
static void *own(const char *name, const void *base, fl_oracle_fn_t fn) {
  void *f = dlsym(RTLD_DEFAULT, name);
  Dl_info info;
  if (!f || !dladdr(f, &info) || info.dli_fbase != base) return NULL;
  H->provided |= 1u << fn;
  return f;
}

static bool resolve(void) {
  Dl_info info;
  void *m = dlsym(RTLD_DEFAULT, "malloc");
  if (!m || !dladdr(m, &info)) return false;
  snprintf(H->malloc_object, sizeof H->malloc_object, "%s", info.dli_fname ? info.dli_fname : "?");
  A.malloc = (void *(*)(size_t))m;
  A.calloc = (void *(*)(size_t, size_t))dlsym(RTLD_DEFAULT, "calloc");
  A.realloc = (void *(*)(void *, size_t))dlsym(RTLD_DEFAULT, "realloc");
  A.free = (void (*)(void *))dlsym(RTLD_DEFAULT, "free");
  if (!A.calloc || !A.realloc || !A.free) return false;
  const void *b = info.dli_fbase;
  A.memalign = (void *(*)(size_t, size_t))own("memalign", b, FL_ORACLE_FN_MEMALIGN);
  A.aligned_alloc = (void *(*)(size_t, size_t))own("aligned_alloc", b, FL_ORACLE_FN_ALIGNED_ALLOC);
  A.posix_memalign = (int (*)(void **, size_t, size_t))own("posix_memalign", b, FL_ORACLE_FN_POSIX_MEMALIGN);
  A.valloc = (void *(*)(size_t))own("valloc", b, FL_ORACLE_FN_VALLOC);
  A.pvalloc = (void *(*)(size_t))own("pvalloc", b, FL_ORACLE_FN_PVALLOC);
  A.usable_size = (size_t (*)(void *))own("malloc_usable_size", b, FL_ORACLE_FN_USABLE_SIZE);
  A.mallopt = (int (*)(int, int))own("mallopt", b, FL_ORACLE_FN_MALLOPT);
  A.malloc_trim = (int (*)(size_t))own("malloc_trim", b, FL_ORACLE_FN_MALLOC_TRIM);
  A.mallctl = (int (*)(const char *, void *, size_t *, void *, size_t))own("mallctl", b, FL_ORACLE_FN_MALLCTL);
  A.tc_release = (void (*)(void))own("MallocExtension_ReleaseFreeMemory", b, FL_ORACLE_FN_TC_RELEASE);
  A.mi_collect = (void (*)(bool))own("mi_collect", b, FL_ORACLE_FN_MI_COLLECT);
  return true;
}

/* ------------------------------------------------------------ blocks */

typedef struct block {
  uintptr_t p;
  uint64_t req;    /* the request: bounds write/verify and realloc's promise */
  uint64_t ext;    /* the bytes the oracle fills: usable size, else req */
  uint64_t tag;    /* picks the pattern */
  uint64_t ow_off, ow_len; /* the last write op's range ... */
  uint8_t ow_byte;         /* ... and its byte */
} block_t;

#define NONE UINT32_MAX

static block_t *blk;        /* every block of the run, in allocation order */
static uint32_t *live;      /* indices into blk of the live blocks, sorted by address */
static size_t nblk, nlive, cap;
static uint32_t slot_blk[FL_OP_SLOTS]; /* the slot's block, or NONE */
static uint64_t live_req, live_ext;

static uint64_t end_of(const block_t *b) { return b->p + (b->ext ? b->ext : 1); }

/* The first live entry whose block starts at or after p. */
static size_t lower_bound(uintptr_t p) {
  size_t lo = 0, hi = nlive;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (blk[live[mid]].p < p) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* A live block sharing a byte with b (a zero-size block counts as one
 * byte: its pointer must be unique too), or NONE. */
static uint32_t overlapping(const block_t *b) {
  size_t i = lower_bound(b->p);
  if (i < nlive && blk[live[i]].p < end_of(b)) return live[i];
  if (i > 0 && end_of(&blk[live[i - 1]]) > b->p) return live[i - 1];
  return NONE;
}

static void live_insert(uint32_t k) {
  size_t i = lower_bound(blk[k].p);
  memmove(&live[i + 1], &live[i], (nlive - i) * sizeof *live);
  live[i] = k;
  nlive++;
  live_req += blk[k].req;
  live_ext += blk[k].ext;
  if (live_ext > H->peak_live) H->peak_live = live_ext;
}

static void live_remove(uint32_t k) {
  for (size_t i = lower_bound(blk[k].p); i < nlive; i++)
    if (live[i] == k) {
      memmove(&live[i], &live[i + 1], (nlive - i - 1) * sizeof *live);
      nlive--;
      live_req -= blk[k].req;
      live_ext -= blk[k].ext;
      return;
    }
}

/* Per-run tables, sized for the run's allocating ops. */
static bool tables_map(size_t n) {
  cap = n + 1;
  blk = mmap(NULL, cap * sizeof *blk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  live = mmap(NULL, cap * sizeof *live, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  nblk = nlive = 0;
  live_req = live_ext = 0;
  memset(slot_blk, 0xff, sizeof slot_blk);
  return blk != MAP_FAILED && live != MAP_FAILED;
}

static void tables_unmap(void) {
  if (blk != MAP_FAILED) munmap(blk, cap * sizeof *blk);
  if (live != MAP_FAILED) munmap(live, cap * sizeof *live);
  blk = NULL;
  live = NULL;
}

/* ------------------------------------------------------------ contents */

#define PLEN 65536u
static uint8_t pat[2 * PLEN]; /* doubled: any PLEN-byte window is contiguous */

static void pattern_init(void) {
  uint64_t x = 0x6f7261636c65ull;
  for (size_t i = 0; i < PLEN; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    pat[i] = pat[i + PLEN] = (uint8_t)(x >> 56);
  }
}

static size_t pat_pos(const block_t *b, uint64_t off) {
  return (size_t)(((b->tag * 0x9e3779b97f4a7c15ull) >> 48) + off) % PLEN;
}

static void fill(const block_t *b, uint64_t from, uint64_t to) {
  while (from < to) {
    size_t n = to - from < PLEN ? (size_t)(to - from) : PLEN;
    memcpy((uint8_t *)b->p + from, pat + pat_pos(b, from), n);
    from += n;
  }
}

static uint8_t expected(const block_t *b, uint64_t off) {
  if (off >= b->ow_off && off - b->ow_off < b->ow_len) return b->ow_byte;
  return pat[pat_pos(b, off)];
}

/* The first offset in [from, to) not holding what the oracle put there
 * (pattern, or the last write's byte), or UINT64_MAX. */
static uint64_t first_bad(const block_t *b, uint64_t from, uint64_t to) {
  const uint8_t *m = (const uint8_t *)b->p;
  uint64_t ow_end = b->ow_off + b->ow_len;
  for (uint64_t off = from; off < to;) {
    bool in_ow = off >= b->ow_off && off < ow_end;
    uint64_t seg_end = in_ow ? ow_end : off < b->ow_off && b->ow_len ? b->ow_off : to;
    if (seg_end > to) seg_end = to;
    size_t n = seg_end - off < PLEN ? (size_t)(seg_end - off) : PLEN;
    bool same = true;
    if (in_ow) {
      for (size_t i = 0; i < n && same; i++) same = m[off + i] == b->ow_byte;
    } else {
      same = memcmp(m + off, pat + pat_pos(b, off), n) == 0;
    }
    if (!same)
      for (size_t i = 0; i < n; i++)
        if (m[off + i] != expected(b, off + i)) return off + i;
    off += n;
  }
  return UINT64_MAX;
}

/* ------------------------------------------------------------ findings */

static uint64_t cur_op;
static const fl_op_t *cur; /* the op at cur_op; NULL during the teardown */

static const char *ename(int e) {
  const char *n = e ? strerrorname_np(e) : "0";
  return n ? n : "?";
}

/* Records a broken promise: "`op`: what happened". Returns true when the
 * run must stop: the promise is not allowed and breaking it leaves the heap
 * untrustworthy (overlap, lost contents, a block of impossible size). */
__attribute__((format(printf, 2, 3))) static bool broke(fl_oracle_id_t id, const char *fmt, ...) {
  if (!(H->check & FL_ORACLE_BIT(id))) return false;
  H->fired[id]++;
  unsigned kind = cur ? cur->kind : FL_OP_KIND_COUNT;
  bool allowed = H->allow[id] & FL_ORACLE_KIND_BIT(kind);
  H->unallowed += !allowed;
  bool stored = false; /* the first of each promise and op kind is kept */
  for (uint32_t i = 0; i < H->nviol; i++) stored |= H->viol[i].id == id && H->viol[i].kind == kind;
  if (!stored && H->nviol < FL_ORACLE_VIOL_MAX) {
    fl_oracle_wire_viol_t *v = &H->viol[H->nviol++];
    v->id = id;
    v->kind = (uint16_t)kind;
    v->allowed = allowed;
    v->op_index = cur_op;
    char op[96] = "the end of the run";
    if (cur) fl_op_format(cur, op, sizeof op);
    int n = snprintf(v->detail, sizeof v->detail, "`%s`: ", op);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof v->detail) vsnprintf(v->detail + n, sizeof v->detail - (size_t)n, fmt, ap);
    va_end(ap);
  }
  const uint32_t soft = FL_ORACLE_BIT(FL_ORACLE_ALIGN) | FL_ORACLE_BIT(FL_ORACLE_ALIGN_EXPLICIT) |
                        FL_ORACLE_BIT(FL_ORACLE_CALLOC_ZERO) | FL_ORACLE_POSIX_ONLY;
  if (allowed || (soft & FL_ORACLE_BIT(id))) return false;
  H->stopped = 1;
  return true;
}

static bool check_contents(const block_t *b, uint64_t from, uint64_t to, const char *when) {
  uint64_t off = first_bad(b, from, to);
  if (off == UINT64_MAX) return false;
  return broke(FL_ORACLE_CONTENTS, "%s, byte %llu of the %llu-byte block %#llx (usable %llu) is 0x%02x, was 0x%02x",
               when, (unsigned long long)off, (unsigned long long)b->req, (unsigned long long)b->p,
               (unsigned long long)b->ext, ((const uint8_t *)b->p)[off], expected(b, off));
}

/* ------------------------------------------------------------ allocation */

static bool pow2(uint64_t x) { return x && !(x & (x - 1)); }

static bool posix_alignment_valid(uint64_t a) { return pow2(a) && a % sizeof(void *) == 0; }

/* The request in bytes; *impossible when no allocator can honour it. */
static uint64_t request_of(const fl_op_t *op, bool *impossible) {
  uint64_t n;
  switch ((fl_op_kind_t)op->kind) {
  case FL_OP_CALLOC:
    if (__builtin_mul_overflow(op->a, op->b, &n)) n = UINT64_MAX;
    break;
  case FL_OP_MEMALIGN: case FL_OP_ALIGNED_ALLOC: case FL_OP_POSIX_MEMALIGN:
    /* No user address is a multiple of an alignment above PTRDIFF_MAX. */
    *impossible = op->b > PTRDIFF_MAX || op->a > PTRDIFF_MAX;
    return op->b;
  default:
    n = op->a;
  }
  *impossible = n > PTRDIFF_MAX;
  return n;
}

/* The bytes a request may make the allocator touch: an aligned request can
 * take size + alignment (glibc's _int_memalign does, and M_PERTURB fills
 * them), so the budget counts both. */
static uint64_t footprint(const fl_op_t *op, uint64_t req) {
  bool aligned = op->kind == FL_OP_MEMALIGN || op->kind == FL_OP_ALIGNED_ALLOC || op->kind == FL_OP_POSIX_MEMALIGN;
  return aligned ? req + op->a : req;
}

static bool kind_supported(fl_op_kind_t k) {
  switch (k) {
  case FL_OP_MEMALIGN: return A.memalign;
  case FL_OP_ALIGNED_ALLOC: return A.aligned_alloc;
  case FL_OP_POSIX_MEMALIGN: return A.posix_memalign;
  case FL_OP_VALLOC: return A.valloc;
  case FL_OP_PVALLOC: return A.pvalloc;
  case FL_OP_USABLE_SIZE: return A.usable_size;
  case FL_OP_MALLOPT: return A.mallopt;
  case FL_OP_TRIM: return A.malloc_trim;
  default: return true;
  }
}

/* Calls the allocating op; *err is errno after it, *ret posix_memalign's result. */
static void *call_alloc(const fl_op_t *op, int *err, int *ret) {
  void *p = NULL;
  *ret = 0;
  errno = 0;
  switch ((fl_op_kind_t)op->kind) {
  case FL_OP_MALLOC: p = A.malloc(op->a); break;
  case FL_OP_CALLOC: p = A.calloc(op->a, op->b); break;
  case FL_OP_MEMALIGN: p = A.memalign(op->a, op->b); break;
  case FL_OP_ALIGNED_ALLOC: p = A.aligned_alloc(op->a, op->b); break;
  case FL_OP_POSIX_MEMALIGN:
    *ret = A.posix_memalign(&p, op->a, op->b);
    if (*ret) p = NULL; /* *memptr is unspecified on failure */
    break;
  case FL_OP_VALLOC: p = A.valloc(op->a); break;
  case FL_OP_PVALLOC: p = A.pvalloc(op->a); break;
  default: break;
  }
  *err = errno;
  return p;
}

/* A NULL result (or posix_memalign's error): only POSIX says how to fail. */
static void judge_failure(const fl_op_t *op, uint64_t req, bool impossible, int err, int ret) {
  H->nulls++;
  if (op->kind == FL_OP_POSIX_MEMALIGN) {
    if (!posix_alignment_valid(op->a)) {
      if (ret != EINVAL) broke(FL_ORACLE_EINVAL, "returned %s, not EINVAL", ename(ret));
    } else if (ret && ret != ENOMEM) {
      broke(FL_ORACLE_ENOMEM, "failed with %s, not ENOMEM", ename(ret));
    }
    return;
  }
  bool posix_errno = op->kind == FL_OP_MALLOC || op->kind == FL_OP_CALLOC || op->kind == FL_OP_REALLOC;
  /* Size 0 may give NULL without failing (C23 7.24.3p1). */
  if (posix_errno && (req || impossible) && err != ENOMEM)
    broke(FL_ORACLE_ENOMEM, "returned NULL with errno %s, not ENOMEM", ename(err));
}

/* Alignment promises for a new block; soft (the run goes on). */
static void judge_alignment(const fl_op_t *op, uintptr_t p, uint64_t req) {
  uint64_t need = 1;
  fl_oracle_id_t id = FL_ORACLE_ALIGN_EXPLICIT;
  switch ((fl_op_kind_t)op->kind) {
  case FL_OP_MEMALIGN: case FL_OP_ALIGNED_ALLOC: case FL_OP_POSIX_MEMALIGN:
    if (pow2(op->a)) need = op->a;
    break;
  case FL_OP_VALLOC: case FL_OP_PVALLOC:
    need = page_size;
    break;
  default: /* C23: aligned for any object of fundamental alignment that fits */
    id = FL_ORACLE_ALIGN;
    while (need < 16 && need * 2 <= req) need *= 2;
  }
  if (p % need)
    broke(id, "returned %#llx, not a multiple of %llu", (unsigned long long)p, (unsigned long long)need);
}

static bool judge_overlap(const block_t *b) {
  uint32_t o = overlapping(b);
  if (o == NONE) return false;
  return broke(b->req ? FL_ORACLE_NO_OVERLAP : FL_ORACLE_ZERO_SIZE,
               "returned [%#llx, %#llx), which overlaps the live block [%#llx, %#llx)", (unsigned long long)b->p,
               (unsigned long long)end_of(b), (unsigned long long)blk[o].p, (unsigned long long)end_of(&blk[o]));
}

/* Overlap and usable size of a block that is about to become live. The
 * requested bytes are checked first: an allocator that hands out a pointer
 * into a live block may crash in its own malloc_usable_size on it. */
static bool judge_block(block_t *b) {
  if (judge_overlap(b)) return true;
  if (A.usable_size) {
    b->ext = A.usable_size((void *)b->p);
    if (b->ext < b->req)
      return broke(FL_ORACLE_USABLE, "returned %#llx whose malloc_usable_size is %llu, less than %llu",
                   (unsigned long long)b->p, (unsigned long long)b->ext, (unsigned long long)b->req);
  }
  return b->ext > b->req && judge_overlap(b);
}

/* C23 7.24.3.2: all bits zero, whatever the block held before. */
static void judge_calloc_zero(const block_t *b) {
  const uint8_t *m = (const uint8_t *)b->p;
  for (uint64_t i = 0; i < b->req; i++)
    if (m[i]) {
      broke(FL_ORACLE_CALLOC_ZERO, "returned %#llx whose byte %llu is 0x%02x", (unsigned long long)b->p,
            (unsigned long long)i, m[i]);
      return;
    }
}

static bool run_alloc(const fl_op_t *op) {
  bool impossible;
  uint64_t req = request_of(op, &impossible);
  if (!impossible && live_req + footprint(op, req) > H->budget) {
    H->skipped++;
    return true;
  }
  int err, ret;
  void *p = call_alloc(op, &err, &ret);
  H->ops_run++;
  if (op->kind == FL_OP_POSIX_MEMALIGN && !posix_alignment_valid(op->a) && !ret)
    broke(FL_ORACLE_EINVAL, "returned 0 (success) for an alignment that is not a power of two multiple of %zu",
          sizeof(void *));
  if (!p) {
    judge_failure(op, req, impossible, err, ret);
    slot_blk[op->dst] = NONE;
    return true;
  }
  if (impossible)
    return !broke(FL_ORACLE_IMPOSSIBLE, "returned %#llx for an impossible request",
                  (unsigned long long)(uintptr_t)p);
  judge_alignment(op, (uintptr_t)p, req);
  block_t *b = &blk[nblk];
  *b = (block_t){.p = (uintptr_t)p, .req = req, .ext = req, .tag = nblk + 1};
  if (judge_block(b)) return false;
  if (op->kind == FL_OP_CALLOC) judge_calloc_zero(b);
  fill(b, 0, b->ext);
  live_insert((uint32_t)nblk);
  slot_blk[op->dst] = (uint32_t)nblk++; /* a block still there stays live (leaked) until the teardown */
  return true;
}

/* exec.h: non-NULL moves s to d; NULL with n == 0 freed s; NULL otherwise
 * leaves s alone and d empty unless d == s. */
static bool run_realloc(const fl_op_t *op) {
  uint32_t k = slot_blk[op->src];
  bool impossible = op->a > PTRDIFF_MAX;
  if (k == NONE) {
    H->skipped++;
    return true;
  }
  block_t old = blk[k];
  if (!impossible && live_req - old.req + op->a > H->budget) {
    H->skipped++;
    return true;
  }
  if (check_contents(&old, 0, old.ext, "before realloc")) return false;
  errno = 0;
  void *q = A.realloc((void *)old.p, op->a);
  int err = errno;
  H->ops_run++;
  if (!q) {
    if (op->a == 0) { /* realloc(p, 0) freed p (C17 7.22.3.5: either convention) */
      live_remove(k);
      slot_blk[op->src] = NONE;
    } else {
      judge_failure(op, op->a, impossible, err, 0);
    }
    if (op->dst != op->src) slot_blk[op->dst] = NONE;
    return true;
  }
  if (impossible)
    return !broke(FL_ORACLE_IMPOSSIBLE, "returned %#llx for an impossible size", (unsigned long long)(uintptr_t)q);
  live_remove(k);
  slot_blk[op->src] = NONE;
  uint64_t keep = old.req < op->a ? old.req : op->a;
  block_t *b = &blk[nblk];
  *b = old;
  b->p = (uintptr_t)q;
  b->req = b->ext = op->a;
  uint64_t bad = first_bad(b, 0, keep);
  if (bad != UINT64_MAX)
    return !broke(FL_ORACLE_REALLOC_PREFIX, "moved %llu bytes from %#llx to %#llx: byte %llu is 0x%02x, was 0x%02x",
                  (unsigned long long)old.req, (unsigned long long)old.p, (unsigned long long)(uintptr_t)q,
                  (unsigned long long)bad, ((const uint8_t *)q)[bad], expected(b, bad));
  if (b->ow_off >= keep) b->ow_len = 0;
  else if (b->ow_len > keep - b->ow_off) b->ow_len = keep - b->ow_off;
  judge_alignment(op, b->p, b->req);
  if (judge_block(b)) return false;
  fill(b, keep, b->ext);
  live_insert((uint32_t)nblk);
  slot_blk[op->dst] = (uint32_t)nblk++;
  return true;
}

static bool run_free(const fl_op_t *op) {
  uint32_t k = slot_blk[op->src];
  H->ops_run++;
  if (k == NONE) {
    __atomic_store_n(&H->note, FL_ORACLE_NOTE_FREE_NULL, __ATOMIC_RELEASE);
    A.free(NULL);
    return true;
  }
  if (check_contents(&blk[k], 0, blk[k].ext, "before free")) return false;
  if (!blk[k].req) __atomic_store_n(&H->note, FL_ORACLE_NOTE_FREE_ZERO, __ATOMIC_RELEASE);
  A.free((void *)blk[k].p);
  live_remove(k);
  slot_blk[op->src] = NONE;
  return true;
}

/* write/verify, clipped to the request as the executor clips them. */
static bool run_memory(const fl_op_t *op) {
  uint32_t k = slot_blk[op->src];
  if (k == NONE || op->a >= blk[k].req) {
    H->skipped++;
    return true;
  }
  block_t *b = &blk[k];
  uint64_t len = op->b < b->req - op->a ? op->b : b->req - op->a;
  H->ops_run++;
  if (op->kind == FL_OP_VERIFY) return !check_contents(b, op->a, op->a + len, "verify");
  uint64_t ow_off = b->ow_off, ow_len = b->ow_len;
  b->ow_len = 0;
  fill(b, ow_off, ow_off + ow_len); /* the previous write's range gets its pattern back */
  memset((uint8_t *)b->p + op->a, op->byte, len);
  b->ow_off = op->a;
  b->ow_len = len;
  b->ow_byte = op->byte;
  return true;
}

static bool run_op(const fl_op_t *op) {
  fl_op_kind_t k = (fl_op_kind_t)op->kind;
  if (!kind_supported(k)) {
    H->unsupported++;
    return true;
  }
  switch (k) {
  case FL_OP_REALLOC: return run_realloc(op);
  case FL_OP_FREE: return run_free(op);
  case FL_OP_WRITE: case FL_OP_VERIFY: return run_memory(op);
  case FL_OP_USABLE_SIZE: {
    uint32_t b = slot_blk[op->src];
    if (b == NONE) break;
    H->ops_run++;
    size_t u = A.usable_size((void *)blk[b].p);
    return u >= blk[b].req ||
           !broke(FL_ORACLE_USABLE, "malloc_usable_size(%#llx) of a %llu-byte block is %llu",
                  (unsigned long long)blk[b].p, (unsigned long long)blk[b].req, (unsigned long long)u);
  }
  case FL_OP_MALLOPT:
    H->ops_run++;
    A.mallopt(fl_op_mallopt_glibc((unsigned)op->a), (int)(int64_t)op->b);
    return true;
  case FL_OP_TRIM:
    H->ops_run++;
    A.malloc_trim(op->a);
    return true;
  default:
    if (fl_op_kind_allocates(k)) return run_alloc(op);
    H->unsupported++; /* thread, check, inject, hostile ops: not for a black box */
    return true;
  }
  H->skipped++;
  return true;
}

/* ------------------------------------------------------------ give-back */

/* A "Key:   N kB" line of a /proc file, in bytes; 0 if absent. Read with
 * read(2) into the stack: stdio would allocate. */
static uint64_t proc_kb(const char *path, const char *key) {
  char buf[4096];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  const char *s = strstr(buf, key);
  if (!s) return 0;
  s += strlen(key);
  while (*s == ' ' || *s == '\t') s++;
  uint64_t kb = 0;
  while (*s >= '0' && *s <= '9') kb = kb * 10 + (uint64_t)(*s++ - '0');
  return kb * 1024;
}

/* What the allocator exports to hand memory back: called after everything
 * was freed, as a program that wants its memory returned would. */
static void purge(void) {
  if (A.malloc_trim) A.malloc_trim(0), H->purged |= 1u << FL_ORACLE_FN_MALLOC_TRIM;
  if (A.mallctl) {
    A.mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
    A.mallctl("arena.4096.purge", NULL, NULL, NULL, 0); /* MALLCTL_ARENAS_ALL */
    H->purged |= 1u << FL_ORACLE_FN_MALLCTL;
  }
  if (A.tc_release) A.tc_release(), H->purged |= 1u << FL_ORACLE_FN_TC_RELEASE;
  if (A.mi_collect) A.mi_collect(true), H->purged |= 1u << FL_ORACLE_FN_MI_COLLECT;
}

/* Frees what is left (checking it first), unmaps the oracle's own tables,
 * purges and measures. progress keeps moving, so the timeout stays per op. */
static void teardown(void) {
  __atomic_store_n(&H->note, FL_ORACLE_NOTE_TEARDOWN, __ATOMIC_RELEASE);
  cur_op = H->nops;
  cur = NULL;
  for (size_t i = nlive; i-- > 0;) {
    const block_t *b = &blk[live[i]];
    __atomic_add_fetch(&H->progress, 1, __ATOMIC_RELEASE);
    if (check_contents(b, 0, b->ext, "at the end of the run")) {
      tables_unmap();
      return;
    }
    A.free((void *)b->p);
  }
  tables_unmap();
  purge();
  H->rss_after = proc_kb("/proc/self/smaps_rollup", "Rss:");
  H->rss_peak = proc_kb("/proc/self/status", "VmHWM:");
}

/* ------------------------------------------------------------ the run */

static void clear_results(void) {
  H->stopped = H->unallowed = H->nviol = H->purged = 0;
  memset(H->fired, 0, sizeof H->fired);
  H->ops_run = H->skipped = H->unsupported = H->nulls = H->peak_live = 0;
  H->rss_after = H->rss_peak = 0;
  H->progress = 0;
}

static void run(void) {
  clear_results();
  H->rss_before = proc_kb("/proc/self/smaps_rollup", "Rss:");
  size_t bytes = H->nops * sizeof(fl_op_t);
  const fl_op_t *ops = bytes ? mmap(NULL, bytes, PROT_READ, MAP_SHARED, FL_ORACLE_FD_SHM, FL_ORACLE_HDR_BYTES)
                             : NULL;
  if (ops == MAP_FAILED) _exit(4);
  size_t nalloc = 0;
  for (size_t i = 0; i < H->nops; i++) nalloc += fl_op_kind_allocates((fl_op_kind_t)ops[i].kind);
  if (!tables_map(nalloc)) _exit(4);
  for (size_t i = 0; i < H->nops; i++) {
    cur_op = i;
    cur = &ops[i];
    __atomic_store_n(&H->note, FL_ORACLE_NOTE_OP, __ATOMIC_RELAXED);
    __atomic_store_n(&H->progress, i + 1, __ATOMIC_RELEASE);
    if (!run_op(&ops[i])) break;
  }
  if (ops) munmap((void *)ops, bytes);
  if (H->stopped) { /* the heap is suspect: leave it to the parent's SIGKILL */
    tables_unmap();
    return;
  }
  teardown();
}

static bool xfer(int fd, void *buf, size_t len, bool in) {
  unsigned char *b = buf;
  while (len) {
    ssize_t k = in ? read(fd, b, len) : write(fd, b, len);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    b += k;
    len -= (size_t)k;
  }
  return true;
}

int main(void) {
  H = mmap(NULL, FL_ORACLE_HDR_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, FL_ORACLE_FD_SHM, 0);
  if (H == MAP_FAILED || H->magic != FL_ORACLE_MAGIC) _exit(2);
  page_size = (size_t)sysconf(_SC_PAGESIZE);
  if (!resolve()) _exit(3);
  pattern_init();
  uint32_t word = FL_ORACLE_ANS_READY;
  if (!xfer(FL_ORACLE_FD_CMD, &word, sizeof word, false)) _exit(1);
  for (;;) {
    if (!xfer(FL_ORACLE_FD_CMD, &word, sizeof word, true)) _exit(0);
    if (word != FL_ORACLE_CMD_RUN) _exit(5);
    run();
    word = FL_ORACLE_ANS_DONE;
    if (!xfer(FL_ORACLE_FD_CMD, &word, sizeof word, false)) _exit(1);
  }
}
