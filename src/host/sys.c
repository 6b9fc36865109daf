/* sys.c — the mmap family called raw, and guarded access to user memory.
 *
 * Wrappers go through syscall(2), not the glibc wrappers: glibc's mremap is
 * variadic, its mmap may be intercepted (ASan, valgrind) and all of them
 * report through errno. Here every call returns the kernel's answer, a value
 * >= 0 or -errno, so the model can compare results value for value. */
#include "host/sys.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Loads and stores the model performs must reach the kernel unchanged: no
 * ASan shadow check (its shadow page faults would be counted as ours) and no
 * UBSan alignment check. */
#define FL_NOSAN __attribute__((no_sanitize("address", "undefined"), noinline))

/* ------------------------------------------------------------------------ */
/* Raw system calls                                                          */
/* ------------------------------------------------------------------------ */

static long raw_result(long r) { return r == -1 ? -(long)errno : r; }

intptr_t fl_sys_mmap(uintptr_t addr, size_t len, int prot, int flags, int fd, long off) {
  return (intptr_t)raw_result(syscall(SYS_mmap, addr, len, prot, flags, fd, off));
}

int fl_sys_munmap(uintptr_t addr, size_t len) {
  return (int)raw_result(syscall(SYS_munmap, addr, len));
}

int fl_sys_mprotect(uintptr_t addr, size_t len, int prot) {
  return (int)raw_result(syscall(SYS_mprotect, addr, len, prot));
}

intptr_t fl_sys_mremap(uintptr_t old, size_t oldlen, size_t newlen, int flags, uintptr_t newaddr) {
  return (intptr_t)raw_result(syscall(SYS_mremap, old, oldlen, newlen, flags, newaddr));
}

int fl_sys_madvise(uintptr_t addr, size_t len, int advice) {
  return (int)raw_result(syscall(SYS_madvise, addr, len, advice));
}

int fl_sys_disable_thp(void) {
  /* PR_SET_THP_DISABLE sets MMF_DISABLE_THP on the mm: every VMA of the
   * process is then refused THP (see thp_disabled_by_hw/vma_thp_disabled). */
  return (int)raw_result(syscall(SYS_prctl, PR_SET_THP_DISABLE, 1L, 0L, 0L, 0L));
}

int fl_sys_thp_disabled(void) {
  return (int)raw_result(syscall(SYS_prctl, PR_GET_THP_DISABLE, 0L, 0L, 0L, 0L));
}

int fl_sys_enable_thp(void) {
  return (int)raw_result(syscall(SYS_prctl, PR_SET_THP_DISABLE, 0L, 0L, 0L, 0L));
}

/* ------------------------------------------------------------------------ */
/* Uninstrumented access                                                     */
/* ------------------------------------------------------------------------ */

FL_NOSAN uint8_t fl_sys_peek(uintptr_t addr) { return *(volatile uint8_t *)addr; }

FL_NOSAN void fl_sys_poke(uintptr_t addr, uint8_t v) { *(volatile uint8_t *)addr = v; }

FL_NOSAN static void raw_copy(void *dst, const void *src, size_t n) {
#if defined(__x86_64__)
  /* rep movsb: one instruction ASan cannot see and that faults precisely on
   * the first inaccessible byte; fast for large n on ERMS CPUs. */
  __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
#else
  volatile uint8_t *d = dst;
  const volatile uint8_t *s = src;
  for (size_t i = 0; i < n; i++) d[i] = s[i];
#endif
}

FL_NOSAN static void raw_set(void *dst, int c, size_t n) {
#if defined(__x86_64__)
  __asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(c) : "memory");
#else
  volatile uint8_t *d = dst;
  for (size_t i = 0; i < n; i++) d[i] = (uint8_t)c;
#endif
}

/* valgrind's client request numbers (valgrind.h, Vg_ClientRequest); the
 * request itself is at the end of this file. */
#define VG_RUNNING_ON_VALGRIND 0x1001
#define VG_CHANGE_ERR_DISABLEMENT 0x1801
static unsigned long vg_request(unsigned long req, unsigned long arg1);

/* ------------------------------------------------------------------------ */
/* The SIGSEGV/SIGBUS guard                                                  */
/* ------------------------------------------------------------------------ */

/* The handler is installed only while some thread is inside a guarded
 * access (depth > 0), then the previous actions (ASan's, the test's, SIG_DFL)
 * come back. A fault in a thread that is not guarding is passed on to the
 * saved action, so other threads see the handler they installed. */
static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;
static int guard_depth;
static struct sigaction guard_old_segv, guard_old_bus;
static _Thread_local sigjmp_buf guard_env;
static _Thread_local volatile sig_atomic_t guard_armed;

static void guard_chain(int sig, siginfo_t *si, void *uc) {
  const struct sigaction *old = sig == SIGBUS ? &guard_old_bus : &guard_old_segv;
  if (old->sa_flags & SA_SIGINFO) {
    if (old->sa_sigaction) old->sa_sigaction(sig, si, uc);
    return;
  }
  if (old->sa_handler == SIG_IGN) return;
  if (old->sa_handler == SIG_DFL) {
    /* Return and re-execute the faulting instruction with the default
     * action in place: the process dies of the real signal, as it would
     * have without us. */
    signal(sig, SIG_DFL);
    return;
  }
  old->sa_handler(sig);
}

static void guard_handler(int sig, siginfo_t *si, void *uc) {
  if (guard_armed) {
    guard_armed = 0;
    /* sigsetjmp(env, 0) saved no mask; SA_NODEFER left sig unblocked, so the
     * jump needs no sigprocmask to undo anything. */
    siglongjmp(guard_env, sig);
  }
  guard_chain(sig, si, uc);
}

/* memcheck reports the faulting access itself as "Invalid read/write"
 * before the signal arrives; these faults are the point of the guard, so
 * error reporting is off for this thread while it is armed
 * (VALGRIND_DISABLE_ERROR_REPORTING; a no-op natively). */
static void guard_begin(void) {
  vg_request(VG_CHANGE_ERR_DISABLEMENT, 1);
  pthread_mutex_lock(&guard_lock);
  if (guard_depth++ == 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = guard_handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &guard_old_segv);
    sigaction(SIGBUS, &sa, &guard_old_bus);
  }
  pthread_mutex_unlock(&guard_lock);
}

static void guard_end(void) {
  pthread_mutex_lock(&guard_lock);
  if (--guard_depth == 0) {
    sigaction(SIGSEGV, &guard_old_segv, NULL);
    sigaction(SIGBUS, &guard_old_bus, NULL);
  }
  pthread_mutex_unlock(&guard_lock);
  vg_request(VG_CHANGE_ERR_DISABLEMENT, (unsigned long)-1);
}

/* Keeping the handler installed between guarded accesses saves the two
 * sigaction calls of each (most of a guarded access's cost). */
void fl_sys_guard_keep(void) {
  pthread_mutex_lock(&guard_lock);
  if (guard_depth == 0) {
    pthread_mutex_unlock(&guard_lock);
    guard_begin();
    vg_request(VG_CHANGE_ERR_DISABLEMENT, -1);
    return;
  }
  guard_depth++;
  pthread_mutex_unlock(&guard_lock);
}

void fl_sys_guard_release(void) {
  vg_request(VG_CHANGE_ERR_DISABLEMENT, 1);
  guard_end();
}

/* A write probe must fault as a write from the start (a load first would
 * map the zero page where the kernel then refuses the store): one locked
 * read-modify-write that adds nothing is a write access to the MMU. */
FL_NOSAN static void touch(uintptr_t addr, bool write) {
  volatile uint8_t *p = (volatile uint8_t *)addr;
  if (write) __asm__ volatile("lock orb $0, %0" : "+m"(*p) : : "memory");
  else (void)*p;
}

int fl_sys_probe_access(uintptr_t addr, bool write) {
  guard_begin();
  int sig = sigsetjmp(guard_env, 0);
  if (sig == 0) {
    guard_armed = 1;
    touch(addr, write);
    guard_armed = 0;
  }
  guard_end();
  return sig;
}

int fl_sys_guarded_copy(void *dst, const void *src, size_t n) {
  guard_begin();
  int sig = sigsetjmp(guard_env, 0);
  if (sig == 0) {
    guard_armed = 1;
    raw_copy(dst, src, n);
    guard_armed = 0;
  }
  guard_end();
  return sig;
}

int fl_sys_guarded_set(void *dst, int c, size_t n) {
  guard_begin();
  int sig = sigsetjmp(guard_env, 0);
  if (sig == 0) {
    guard_armed = 1;
    raw_set(dst, c, n);
    guard_armed = 0;
  }
  guard_end();
  return sig;
}

/* ------------------------------------------------------------------------ */
/* valgrind detection                                                        */
/* ------------------------------------------------------------------------ */

#if defined(__x86_64__)
/* valgrind's client request ABI on amd64 (valgrind.h, VALGRIND_DO_CLIENT_
 * REQUEST_EXPR): four rotations of %rdi that sum to 128 bits (a no-op on a
 * real CPU), then `xchg %rbx,%rbx`. Under valgrind's JIT the sequence is
 * recognised, the request at *%rax is served and the answer lands in %rdx;
 * natively %rdx keeps the default (0). Robust: no file, no environment
 * variable (a child can inherit LD_PRELOAD without running under valgrind),
 * and a few cycles natively. */
static unsigned long vg_request(unsigned long req, unsigned long arg1) {
  volatile unsigned long args[6] = {req, arg1, 0, 0, 0, 0};
  unsigned long res = 0;
  __asm__ volatile("rolq $3, %%rdi\n\trolq $13, %%rdi\n\t"
                   "rolq $61, %%rdi\n\trolq $51, %%rdi\n\t"
                   "xchgq %%rbx, %%rbx"
                   : "=d"(res)
                   : "a"(&args[0]), "0"(res)
                   : "cc", "memory");
  return res;
}

static unsigned long vg_running(void) { return vg_request(VG_RUNNING_ON_VALGRIND, 0); }
#else
static unsigned long vg_request(unsigned long req, unsigned long arg1) { return 0; }

/* Elsewhere: valgrind preloads vgpreload_core-<arch>.so into every client. */
static unsigned long vg_running(void) {
  FILE *f = fopen("/proc/self/maps", "re");
  if (!f) return 0;
  char line[512];
  unsigned long found = 0;
  while (!found && fgets(line, sizeof line, f)) found = strstr(line, "vgpreload") != NULL;
  fclose(f);
  return found;
}
#endif

bool fl_sys_under_valgrind(void) {
  static int cached = -1;
  if (cached < 0) cached = vg_running() != 0;
  return cached;
}
