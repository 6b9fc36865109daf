/* op.c — the op model: the growable array, canonical form, names. */
#include "ops/op.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- array */

void fl_ops_init(fl_ops_t *ops) { memset(ops, 0, sizeof *ops); }

void fl_ops_free(fl_ops_t *ops) {
  free(ops->v);
  fl_ops_init(ops);
}

void fl_ops_clear(fl_ops_t *ops) { ops->n = 0; }

fl_status_t fl_ops_push(fl_ops_t *ops, const fl_op_t *op) {
  if (ops->n == ops->cap) {
    size_t cap = ops->cap ? ops->cap * 2 : 64;
    fl_op_t *v = realloc(ops->v, cap * sizeof *v);
    if (!v) return fl_error(FL_EENV, "out of memory growing an op array to %zu ops", cap);
    ops->v = v;
    ops->cap = cap;
  }
  ops->v[ops->n++] = *op;
  return FL_OK;
}

bool fl_op_equal(const fl_op_t *x, const fl_op_t *y) {
  /* Field by field: padding bytes must not decide equality. */
  return x->kind == y->kind && x->byte == y->byte && x->dst == y->dst &&
         x->src == y->src && x->aux == y->aux && x->a == y->a && x->b == y->b;
}

size_t fl_ops_first_diff(const fl_ops_t *x, const fl_ops_t *y) {
  size_t n = x->n < y->n ? x->n : y->n;
  for (size_t i = 0; i < n; i++)
    if (!fl_op_equal(&x->v[i], &y->v[i])) return i;
  return n;
}

bool fl_ops_equal(const fl_ops_t *x, const fl_ops_t *y) {
  return x->n == y->n && fl_ops_first_diff(x, y) == x->n;
}

/* ---------------------------------------------------------------- kinds */

bool fl_op_kind_allocates(fl_op_kind_t kind) {
  switch (kind) {
  case FL_OP_MALLOC: case FL_OP_CALLOC: case FL_OP_REALLOC:
  case FL_OP_MEMALIGN: case FL_OP_ALIGNED_ALLOC: case FL_OP_POSIX_MEMALIGN:
  case FL_OP_VALLOC: case FL_OP_PVALLOC:
    return true;
  default:
    return false;
  }
}

bool fl_op_kind_reads_slot(fl_op_kind_t kind) {
  switch (kind) {
  case FL_OP_REALLOC: case FL_OP_FREE: case FL_OP_USABLE_SIZE:
  case FL_OP_WRITE: case FL_OP_VERIFY:
  case FL_OP_FREE_AT: case FL_OP_POKE: case FL_OP_POKE_PTR:
    return true;
  default:
    return false;
  }
}

bool fl_op_kind_hostile(fl_op_kind_t kind) {
  return kind == FL_OP_FREE_AT || kind == FL_OP_POKE || kind == FL_OP_POKE_PTR;
}

/* The op's byte field: a fill byte, a poke width or a poke_ptr mode. */
static bool uses_byte(fl_op_kind_t k) {
  return k == FL_OP_WRITE || k == FL_OP_VERIFY || k == FL_OP_POKE || k == FL_OP_POKE_PTR;
}

/* Which of a and b a kind uses (bit 0: a, bit 1: b). */
static unsigned kind_fields(fl_op_kind_t kind) {
  switch (kind) {
  case FL_OP_CALLOC: case FL_OP_MEMALIGN: case FL_OP_ALIGNED_ALLOC:
  case FL_OP_POSIX_MEMALIGN: case FL_OP_WRITE: case FL_OP_VERIFY:
  case FL_OP_MALLOPT: case FL_OP_INJECT: case FL_OP_POKE: case FL_OP_POKE_PTR:
    return 3;
  case FL_OP_FREE: case FL_OP_USABLE_SIZE:
    return 0;
  default:
    return 1;
  }
}

/* Range rules beyond "unused fields are zero". */
static bool fields_in_range(const fl_op_t *op) {
  switch ((fl_op_kind_t)op->kind) {
  case FL_OP_THREAD:
    return op->a < FL_OP_THREADS;
  case FL_OP_MALLOPT:
    /* value is an int: b holds it sign-extended to 64 bits. */
    return op->a < FL_OP_M_PARAM_COUNT && (uint64_t)(int64_t)(int32_t)op->b == op->b;
  case FL_OP_INJECT:
    return op->a < FL_OP_SYS_KIND_COUNT && op->b >= 1 && op->b <= FL_OP_INJECT_NTH_MAX &&
           fl_op_errno_index(op->aux) >= 0;
  case FL_OP_CHECK:
    return op->a <= FL_OP_CHECK_MAX;
  case FL_OP_POKE: /* the value fits the width */
    return (op->byte == 1 || op->byte == 2 || op->byte == 4 || op->byte == 8) &&
           (op->byte == 8 || op->b >> (8 * op->byte) == 0);
  case FL_OP_POKE_PTR:
    return op->byte <= FL_OP_POKE_PROTECT;
  default:
    return true;
  }
}

bool fl_op_is_canonical(const fl_op_t *op) {
  if (op->kind >= FL_OP_KIND_COUNT) return false;
  fl_op_kind_t k = (fl_op_kind_t)op->kind;
  unsigned f = kind_fields(k);
  if (!(f & 1) && op->a) return false;
  if (!(f & 2) && op->b) return false;
  if (!fl_op_kind_allocates(k) && k != FL_OP_POKE_PTR && op->dst) return false;
  if (!fl_op_kind_reads_slot(k) && op->src) return false;
  if (!uses_byte(k) && op->byte) return false;
  if (k != FL_OP_INJECT && op->aux) return false;
  return fields_in_range(op);
}

/* ---------------------------------------------------------------- names */

static const char *const kind_names[FL_OP_KIND_COUNT] = {
    "malloc", "calloc", "realloc", "free", "memalign", "aligned_alloc",
    "posix_memalign", "valloc", "pvalloc", "usable_size", "write", "verify",
    "thread", "mallopt", "malloc_trim", "inject", "check", "free_at", "poke", "poke_ptr",
};

static const char *const mallopt_names[FL_OP_M_PARAM_COUNT] = {
    "M_MXFAST", "M_TRIM_THRESHOLD", "M_TOP_PAD", "M_MMAP_THRESHOLD",
    "M_MMAP_MAX", "M_ARENA_MAX", "M_PERTURB",
};

/* <malloc.h> values (glibc 2.36 malloc/malloc.h); spelled out so that the
 * op language does not depend on which libc the tool was built against. */
static const int mallopt_glibc[FL_OP_M_PARAM_COUNT] = {1, -1, -2, -3, -4, -8, -6};

static const char *const sys_names[FL_OP_SYS_KIND_COUNT] = {
    "mmap", "munmap", "mprotect", "mremap", "madvise", "brk",
};

/* The errnos the kernel really returns from the mmap family and brk
 * (mmap(2), mremap(2), madvise(2)); ENOMEM first because it is the one an
 * allocator must survive. */
static const int errno_values[FL_OP_ERRNO_COUNT] = {
    ENOMEM, EAGAIN, EINVAL, EFAULT, EPERM, EACCES, EBADF, EOVERFLOW,
};
static const char *const errno_names[FL_OP_ERRNO_COUNT] = {
    "ENOMEM", "EAGAIN", "EINVAL", "EFAULT", "EPERM", "EACCES", "EBADF", "EOVERFLOW",
};

static int lookup(const char *const *names, unsigned n, const char *name, size_t len) {
  for (unsigned i = 0; i < n; i++)
    if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0) return (int)i;
  return -1;
}

const char *fl_op_kind_name(unsigned kind) {
  return kind < FL_OP_KIND_COUNT ? kind_names[kind] : NULL;
}
int fl_op_kind_lookup(const char *name, size_t len) {
  return lookup(kind_names, FL_OP_KIND_COUNT, name, len);
}
const char *fl_op_mallopt_name(unsigned param) {
  return param < FL_OP_M_PARAM_COUNT ? mallopt_names[param] : NULL;
}
int fl_op_mallopt_lookup(const char *name, size_t len) {
  return lookup(mallopt_names, FL_OP_M_PARAM_COUNT, name, len);
}
int fl_op_mallopt_glibc(unsigned param) {
  return param < FL_OP_M_PARAM_COUNT ? mallopt_glibc[param] : 0;
}
const char *fl_op_sys_name(unsigned sys) {
  return sys < FL_OP_SYS_KIND_COUNT ? sys_names[sys] : NULL;
}
int fl_op_sys_lookup(const char *name, size_t len) {
  return lookup(sys_names, FL_OP_SYS_KIND_COUNT, name, len);
}
int fl_op_errno_at(unsigned index) { return errno_values[index % FL_OP_ERRNO_COUNT]; }
int fl_op_errno_index(int err) {
  for (int i = 0; i < FL_OP_ERRNO_COUNT; i++)
    if (errno_values[i] == err) return i;
  return -1;
}
const char *fl_op_errno_name(int err) {
  int i = fl_op_errno_index(err);
  return i < 0 ? NULL : errno_names[i];
}
int fl_op_errno_lookup(const char *name, size_t len) {
  int i = lookup(errno_names, FL_OP_ERRNO_COUNT, name, len);
  return i < 0 ? -1 : errno_values[i];
}

bool fl_ops_version_readable(unsigned long v) {
  return v >= FL_OPS_OLDEST_VERSION && v <= FL_OPS_FORMAT_VERSION;
}

fl_status_t fl_ops_version_error(const char *name, unsigned long v) {
  if (v < FL_OPS_OLDEST_VERSION)
    return fl_error(FL_EUSAGE,
                    "%s: format v%lu is older than this faultline (v%d): its ops would decode "
                    "differently; convert it with the faultline release that wrote it",
                    name, v, FL_OPS_FORMAT_VERSION);
  return fl_error(FL_EUSAGE,
                  "%s: format v%lu is newer than this faultline (v%d): use a newer faultline",
                  name, v, FL_OPS_FORMAT_VERSION);
}
