#include "view/strace.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

typedef struct bit_name {
  uint64_t bit;
  const char *name;
} bit_name_t;

static const bit_name_t prot_bits[] = {
    {PROT_READ, "PROT_READ"}, {PROT_WRITE, "PROT_WRITE"}, {PROT_EXEC, "PROT_EXEC"}};
static const bit_name_t map_bits[] = {
    {MAP_FIXED, "MAP_FIXED"},       {MAP_ANONYMOUS, "MAP_ANONYMOUS"},
    {MAP_NORESERVE, "MAP_NORESERVE"}, {MAP_FIXED_NOREPLACE, "MAP_FIXED_NOREPLACE"},
    {MAP_POPULATE, "MAP_POPULATE"}, {MAP_STACK, "MAP_STACK"}, {MAP_HUGETLB, "MAP_HUGETLB"}};
static const bit_name_t mremap_bits[] = {{1, "MREMAP_MAYMOVE"}, {2, "MREMAP_FIXED"}, {4, "MREMAP_DONTUNMAP"}};

/* The appending writer: every piece lands after the last, cut at cap. */
typedef struct sbuf {
  char *p;
  size_t cap, len;
} sbuf_t;

static void put(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf_t *b, const char *fmt, ...) {
  if (b->len >= b->cap) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  if (n > 0) b->len += (size_t)n;
}

/* "A|B|0x40" the way strace joins flag names, unknown bits in hex. */
static void put_bits(sbuf_t *b, uint64_t v, const bit_name_t *t, size_t n, const char *none) {
  bool first = true;
  for (size_t i = 0; i < n; i++)
    if (v & t[i].bit) {
      put(b, "%s%s", first ? "" : "|", t[i].name);
      v &= ~t[i].bit;
      first = false;
    }
  if (v) put(b, "%s%#lx", first ? "" : "|", (unsigned long)v);
  else if (first) put(b, "%s", none);
}

static void put_addr(sbuf_t *b, uint64_t a) {
  if (a) put(b, "%#lx", (unsigned long)a);
  else put(b, "NULL");
}

static const char *advice_name(uint64_t a) {
  switch (a) {
  case MADV_NORMAL: return "MADV_NORMAL";
  case MADV_DONTNEED: return "MADV_DONTNEED";
  case MADV_FREE: return "MADV_FREE";
  case MADV_HUGEPAGE: return "MADV_HUGEPAGE";
  case MADV_NOHUGEPAGE: return "MADV_NOHUGEPAGE";
  case MADV_WILLNEED: return "MADV_WILLNEED";
  default: return NULL;
  }
}

static void put_args(sbuf_t *b, fl_sysno_t no, const uint64_t *a) {
  switch (no) {
  case FL_SYS_MMAP:
    put(b, "mmap(");
    put_addr(b, a[0]);
    put(b, ", %lu, ", (unsigned long)a[1]);
    put_bits(b, a[2], prot_bits, 3, "PROT_NONE");
    put(b, ", MAP_PRIVATE|");
    put_bits(b, a[3] & ~(uint64_t)MAP_PRIVATE, map_bits, sizeof map_bits / sizeof map_bits[0], "0");
    put(b, ", -1, 0)");
    return;
  case FL_SYS_MUNMAP: put(b, "munmap(%#lx, %lu)", (unsigned long)a[0], (unsigned long)a[1]); return;
  case FL_SYS_MPROTECT:
    put(b, "mprotect(%#lx, %lu, ", (unsigned long)a[0], (unsigned long)a[1]);
    put_bits(b, a[2], prot_bits, 3, "PROT_NONE");
    put(b, ")");
    return;
  case FL_SYS_MREMAP:
    put(b, "mremap(%#lx, %lu, %lu, ", (unsigned long)a[0], (unsigned long)a[1], (unsigned long)a[2]);
    put_bits(b, a[3], mremap_bits, 3, "0");
    if (a[3] & 2) put(b, ", %#lx", (unsigned long)a[4]);
    put(b, ")");
    return;
  case FL_SYS_MADVISE: {
    const char *adv = advice_name(a[2]);
    put(b, "madvise(%#lx, %lu, ", (unsigned long)a[0], (unsigned long)a[1]);
    if (adv) put(b, "%s)", adv);
    else put(b, "%lu)", (unsigned long)a[2]);
    return;
  }
  case FL_SYS_BRK: put(b, "brk("); put_addr(b, a[0]); put(b, ")"); return;
  default: put(b, "syscall_%d(...)", (int)no); return;
  }
}

/* " = 0x7f..." for addresses, " = 0" for the rest, " = -1 ENOMEM (...)". */
static void put_ret(sbuf_t *b, fl_sysno_t no, int64_t ret) {
  if (ret < 0 && ret > -4096) {
    const char *name = strerrorname_np((int)-ret);
    put(b, " = -1 %s (%s)", name ? name : "E?", strerror((int)-ret));
  } else if (no == FL_SYS_MMAP || no == FL_SYS_MREMAP || no == FL_SYS_BRK) {
    put(b, " = %#lx", (unsigned long)ret);
  } else {
    put(b, " = %ld", (long)ret);
  }
}

char *fl_strace_format(char *buf, size_t cap, fl_sysno_t no, const uint64_t *args, int64_t ret) {
  sbuf_t b = {buf, cap, 0};
  if (cap) buf[0] = '\0';
  put_args(&b, no, args);
  put_ret(&b, no, ret);
  return buf;
}
