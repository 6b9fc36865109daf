/* recorder.c — libfaultline-record.so: every malloc-family call a program
 * makes, written to a file as it happens, for `faultline record`.
 *
 *   FAULTLINE_RECORD_DIR=DIR LD_PRELOAD=libfaultline-record.so CMD ...
 *
 * Each process writes DIR/<pid>-<n>.flrec (n counts exec'd images of the
 * same pid); a forked child opens its own file. The recorder allocates
 * nothing: records go to a static buffer, written out with write(2) when it
 * fills, at fork and at exit. Calls are forwarded to glibc's own
 * __libc_* entry points (or, for the few without one, to the next
 * definition found at start-up), so the program behaves as without it.
 * The format is spec/record.md's: a 16-byte header, then 40-byte records. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record/record.h"

#define EXPORT __attribute__((visibility("default")))

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

static int (*next_posix_memalign)(void **, size_t, size_t);
static void *(*next_aligned_alloc)(size_t, size_t);
static size_t (*next_usable_size)(void *);
static int (*next_mallopt)(int, int);
static int (*next_malloc_trim)(size_t);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int fd = -1;
static int opened; /* open_log was tried in this process image */
static fl_rec_t buf[4096];
static size_t nbuf;
static atomic_uint next_tid;
static _Thread_local unsigned my_tid; /* 1 + id, 0 = not yet */

static void flush_locked(void) {
  size_t off = 0, len = nbuf * sizeof buf[0];
  while (fd >= 0 && off < len) {
    ssize_t w = write(fd, (char *)buf + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  nbuf = 0;
}

/* DIR/<pid>-<n>.flrec, the first n not taken. */
static void open_log(void) {
  opened = 1;
  const char *dir = getenv("FAULTLINE_RECORD_DIR");
  if (!dir) return;
  char path[4096];
  for (int n = 0; n < 1000 && fd < 0; n++) {
    snprintf(path, sizeof path, "%s/%d-%d.flrec", dir, (int)getpid(), n);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  }
  if (fd < 0) return;
  fl_rec_header_t h = {.magic = FL_REC_MAGIC, .version = FL_REC_VERSION, .pid = (uint32_t)getpid()};
  if (write(fd, &h, sizeof h) != (ssize_t)sizeof h) {
    close(fd);
    fd = -1;
  }
}

static void fork_prepare(void) {
  pthread_mutex_lock(&lock);
  flush_locked();
}
static void fork_parent(void) { pthread_mutex_unlock(&lock); }
static void fork_child(void) {
  if (fd >= 0) close(fd);
  fd = -1;
  open_log();
  pthread_mutex_unlock(&lock);
}

__attribute__((constructor)) static void start(void) {
  next_posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
  next_aligned_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
  next_usable_size = (size_t(*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
  next_mallopt = (int (*)(int, int))dlsym(RTLD_NEXT, "mallopt");
  next_malloc_trim = (int (*)(size_t))dlsym(RTLD_NEXT, "malloc_trim");
  pthread_mutex_lock(&lock);
  if (!opened) open_log();
  pthread_mutex_unlock(&lock);
  pthread_atfork(fork_prepare, fork_parent, fork_child);
}

__attribute__((destructor)) static void finish(void) {
  pthread_mutex_lock(&lock);
  flush_locked();
  pthread_mutex_unlock(&lock);
}

static void record(uint8_t kind, uint64_t a, uint64_t b, uint64_t result, int err) {
  if (!my_tid) my_tid = 1 + atomic_fetch_add(&next_tid, 1);
  pthread_mutex_lock(&lock);
  if (!opened) open_log(); /* a call before our constructor ran */
  if (fd >= 0) {
    buf[nbuf++] = (fl_rec_t){.kind = kind, .tid = my_tid - 1, .err = (uint32_t)err, .a = a, .b = b, .result = result};
    if (nbuf == sizeof buf / sizeof buf[0]) flush_locked();
  }
  pthread_mutex_unlock(&lock);
}

/* Records with errno as the call left it, and leaves errno that way. */
#define RECORD(kind, a, b, result)                                   \
  do {                                                               \
    int e_ = errno;                                                  \
    record(kind, (uint64_t)(a), (uint64_t)(b), (uint64_t)(result), e_); \
    errno = e_;                                                      \
  } while (0)

EXPORT void *malloc(size_t n) {
  void *p = __libc_malloc(n);
  RECORD(FL_REC_MALLOC, n, 0, (uintptr_t)p);
  return p;
}

EXPORT void free(void *p) {
  if (p) RECORD(FL_REC_FREE, (uintptr_t)p, 0, 0);
  __libc_free(p);
}

EXPORT void *calloc(size_t n, size_t size) {
  void *p = __libc_calloc(n, size);
  RECORD(FL_REC_CALLOC, n, size, (uintptr_t)p);
  return p;
}

EXPORT void *realloc(void *old, size_t n) {
  void *p = __libc_realloc(old, n);
  RECORD(FL_REC_REALLOC, (uintptr_t)old, n, (uintptr_t)p);
  return p;
}

EXPORT void *memalign(size_t align, size_t n) {
  void *p = __libc_memalign(align, n);
  RECORD(FL_REC_MEMALIGN, align, n, (uintptr_t)p);
  return p;
}

EXPORT void *aligned_alloc(size_t align, size_t n) {
  void *p = next_aligned_alloc ? next_aligned_alloc(align, n) : __libc_memalign(align, n);
  RECORD(FL_REC_ALIGNED_ALLOC, align, n, (uintptr_t)p);
  return p;
}

EXPORT int posix_memalign(void **out, size_t align, size_t n) {
  void *p = NULL;
  int r = next_posix_memalign ? next_posix_memalign(&p, align, n) : ENOSYS;
  if (r == 0) *out = p;
  int e = errno;
  record(FL_REC_POSIX_MEMALIGN, align, n, (uintptr_t)p, r);
  errno = e;
  return r;
}

EXPORT void *valloc(size_t n) {
  void *p = __libc_valloc(n);
  RECORD(FL_REC_VALLOC, n, 0, (uintptr_t)p);
  return p;
}

EXPORT void *pvalloc(size_t n) {
  void *p = __libc_pvalloc(n);
  RECORD(FL_REC_PVALLOC, n, 0, (uintptr_t)p);
  return p;
}

EXPORT size_t malloc_usable_size(void *p) {
  size_t r = next_usable_size ? next_usable_size(p) : 0;
  RECORD(FL_REC_USABLE_SIZE, (uintptr_t)p, 0, r);
  return r;
}

EXPORT int mallopt(int param, int value) {
  int r = next_mallopt ? next_mallopt(param, value) : 0;
  RECORD(FL_REC_MALLOPT, (int64_t)param, (int64_t)value, (int64_t)r);
  return r;
}

EXPORT int malloc_trim(size_t pad) {
  int r = next_malloc_trim ? next_malloc_trim(pad) : 0;
  RECORD(FL_REC_TRIM, pad, 0, (int64_t)r);
  return r;
}
