/* broken.c — deliberately broken allocators for the black-box oracle's
 * falsifying tests (tests/oracle/test_oracle.c). Each one is glibc's malloc
 * (through its exported __libc_* entry points) with exactly one promise
 * broken, chosen at compile time: tests/oracle/oracle.cmake builds
 * libbroken-<name>.so with -DBROKEN_<NAME>. Loaded with LD_PRELOAD into the
 * oracle's helper; never sanitized.
 *
 *   MISALIGN        malloc results sit 8 bytes off 16-byte alignment   ORACLE-ALIGN
 *   IGNORE_ALIGN    the memalign family ignores alignments above 64    ORACLE-ALIGN-EXPLICIT
 *   OVERLAP         every 50th small malloc lands inside a live block  ORACLE-NO-OVERLAP
 *   SHORT_USABLE    malloc_usable_size reports 24 bytes too few        ORACLE-USABLE
 *   SCRIBBLE        every 7th free flips a byte of a live block        ORACLE-CONTENTS
 *   LOSE_PREFIX     a growing realloc copies half of the old block     ORACLE-REALLOC-PREFIX
 *   DIRTY_CALLOC    calloc does not clear recycled memory              ORACLE-CALLOC-ZERO
 *   HUGE_OK         malloc(n > PTRDIFF_MAX) returns a block            ORACLE-IMPOSSIBLE
 *   FREE_NULL       free(NULL) reads *NULL once start-up is over       ORACLE-FREE-NULL
 *   ZERO_SHARED     malloc(0) returns the same static address always   ORACLE-ZERO-SIZE
 *   NO_ERRNO        a failing malloc leaves errno 0                    ORACLE-ENOMEM
 *   ANY_ALIGN       posix_memalign accepts any alignment (3, 24 ...)   ORACLE-EINVAL
 *   HOARD           free keeps every block under 1 MiB, forever        ORACLE-GIVE-BACK
 *   CRASH           the 3000th malloc dereferences an invalid pointer  ORACLE-CRASH
 *   HANG            the 3000th malloc never returns                    ORACLE-HANG */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

void *__libc_malloc(size_t);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);
void __libc_free(void *);
void *__libc_memalign(size_t, size_t);
void *__libc_valloc(size_t);
void *__libc_pvalloc(size_t);

#define EXPORT __attribute__((visibility("default")))

/* glibc 2.36's musable() for an in-use chunk, read from its size field:
 * calling glibc's malloc_usable_size would need dlsym, which allocates, from
 * inside free. */
static size_t glibc_usable(const void *p) {
  size_t field = ((const size_t *)p)[-1];
  return (field & ~(size_t)7) - (field & 2 ? 16 : 8); /* IS_MMAPPED: two header words */
}

EXPORT int malloc_trim(size_t pad) {
  static int (*fn)(size_t);
  if (!fn) fn = (int (*)(size_t))dlsym(RTLD_NEXT, "malloc_trim");
  return fn(pad);
}

/* ------------------------------------------------------------ state */

#ifdef BROKEN_MISALIGN
/* A shifted block carries this word just below the pointer, where a glibc
 * chunk keeps its size (never this value: no chunk is that large). */
#define SHIFTED 0x5eed5eed5eed5ee0ull
static int shifted(const void *p) { return p && ((const uint64_t *)p)[-1] == SHIFTED; }
#endif
#if defined(BROKEN_OVERLAP) || defined(BROKEN_SCRIBBLE)
static void *last_live; /* the last small block malloc returned, while it is live */
#endif
#ifdef BROKEN_ZERO_SHARED
static char zero_block[16];
#endif

static unsigned long mallocs;
#ifdef BROKEN_CRASH
/* A wild pointer the compiler cannot see through: the crash is a real SIGSEGV. */
static volatile char *volatile nowhere = (volatile char *)(uintptr_t)16;
#endif

/* ------------------------------------------------------------ malloc, free */

EXPORT void *malloc(size_t n) {
  mallocs++;
#if defined(BROKEN_CRASH)
  if (mallocs == 3000) return (void *)(uintptr_t)*nowhere;
#elif defined(BROKEN_HANG)
  if (mallocs == 3000)
    for (;;) pause();
#elif defined(BROKEN_HUGE_OK)
  if (n > PTRDIFF_MAX) return __libc_malloc(16);
#elif defined(BROKEN_ZERO_SHARED)
  if (n == 0) return zero_block;
#elif defined(BROKEN_MISALIGN)
  uint64_t *q = n < PTRDIFF_MAX ? __libc_malloc(n + 8) : NULL;
  if (!q) return __libc_malloc(n); /* fails as glibc fails */
  q[0] = SHIFTED;
  return q + 1;
#elif defined(BROKEN_OVERLAP)
  if (n <= 64 && mallocs % 50 == 0 && last_live) return (char *)last_live + 16;
#endif
  void *p = __libc_malloc(n);
#if defined(BROKEN_NO_ERRNO)
  if (!p) errno = 0;
#elif defined(BROKEN_OVERLAP) || defined(BROKEN_SCRIBBLE)
  if (p && n >= 32 && n <= 64) last_live = p;
#endif
  return p;
}

EXPORT void free(void *p) {
#if defined(BROKEN_FREE_NULL)
  if (!p && mallocs > 50) (void)*(volatile char *)p; /* ld.so and libc start-up free(NULL) too */
#elif defined(BROKEN_ZERO_SHARED)
  if (p == zero_block) return;
#elif defined(BROKEN_HOARD)
  if (p && glibc_usable(p) < (1u << 20)) return;
#elif defined(BROKEN_MISALIGN)
  if (shifted(p)) p = (char *)p - 8;
#elif defined(BROKEN_OVERLAP) || defined(BROKEN_SCRIBBLE)
  if (p == last_live) last_live = NULL;
#endif
#if defined(BROKEN_SCRIBBLE)
  static unsigned long frees;
  if (++frees % 7 == 0 && last_live) *(volatile char *)last_live ^= 0x55;
#endif
  __libc_free(p);
}

EXPORT size_t malloc_usable_size(void *p) {
#if defined(BROKEN_MISALIGN)
  if (shifted(p)) return glibc_usable((char *)p - 8) - 8;
#elif defined(BROKEN_SHORT_USABLE)
  size_t u = p ? glibc_usable(p) : 0;
  return u > 24 ? u - 24 : 0;
#endif
  return p ? glibc_usable(p) : 0;
}

/* ------------------------------------------------------------ calloc, realloc */

EXPORT void *calloc(size_t n, size_t size) {
#if defined(BROKEN_DIRTY_CALLOC)
  size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) {
    errno = ENOMEM;
    return NULL;
  }
  return __libc_malloc(bytes);
#else
  return __libc_calloc(n, size);
#endif
}

EXPORT void *realloc(void *p, size_t n) {
#if defined(BROKEN_OVERLAP) || defined(BROKEN_SCRIBBLE)
  if (p == last_live) last_live = NULL; /* glibc may move it */
#endif
#if defined(BROKEN_MISALIGN) || defined(BROKEN_LOSE_PREFIX)
  size_t old = p ? malloc_usable_size(p) : 0;
#if defined(BROKEN_MISALIGN)
  int moving = shifted(p);
#else
  int moving = p && n > old;
  old /= 2;
#endif
  if (moving && n > PTRDIFF_MAX) {
    errno = ENOMEM;
    return NULL;
  }
  if (moving) {
    void *q = malloc(n);
    if (!q) return NULL;
    memcpy(q, p, old < n ? old : n);
    free(p);
    return q;
  }
#endif
  return __libc_realloc(p, n);
}

/* ------------------------------------------------------------ the memalign family */

static void *aligned(size_t align, size_t n) {
#if defined(BROKEN_IGNORE_ALIGN)
  if (align > 64 && align <= PTRDIFF_MAX) return __libc_malloc(n);
#endif
  return __libc_memalign(align, n);
}

EXPORT void *memalign(size_t align, size_t n) { return aligned(align, n); }
EXPORT void *aligned_alloc(size_t align, size_t n) { return aligned(align, n); }
EXPORT void *valloc(size_t n) { return __libc_valloc(n); }
EXPORT void *pvalloc(size_t n) { return __libc_pvalloc(n); }

EXPORT int posix_memalign(void **out, size_t align, size_t n) {
  if (!align || (align & (align - 1)) || align % sizeof(void *)) {
#if defined(BROKEN_ANY_ALIGN)
    size_t a = 16;
    while (a < align && a < ((size_t)1 << 62)) a <<= 1;
    align = a;
#else
    return EINVAL;
#endif
  }
  int saved = errno;
  void *p = aligned(align, n);
  errno = saved;
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
