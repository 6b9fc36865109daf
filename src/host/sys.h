/* sys.h — the mmap family, called raw.
 *
 * Every wrapper returns what the system call returns: a result >= 0, or
 * -errno. Only src/host touches the kernel's memory interfaces; the model
 * (src/vm) performs its shadow calls through these. */
#ifndef FL_HOST_SYS_H
#define FL_HOST_SYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

intptr_t fl_sys_mmap(uintptr_t addr, size_t len, int prot, int flags, int fd, long off);
int fl_sys_munmap(uintptr_t addr, size_t len);
int fl_sys_mprotect(uintptr_t addr, size_t len, int prot);
intptr_t fl_sys_mremap(uintptr_t old, size_t oldlen, size_t newlen, int flags, uintptr_t newaddr);
int fl_sys_madvise(uintptr_t addr, size_t len, int advice);

/* Performs one real load (write=false) or store of one byte at addr under a
 * SIGSEGV/SIGBUS guard. Returns 0 if it completed, or the signal number.
 * A store writes back the byte it read, so contents do not change. */
int fl_sys_probe_access(uintptr_t addr, bool write);

/* Copies under the same guard: returns 0, or the signal number if the kernel
 * faulted the access (the copy is then partial). */
int fl_sys_guarded_copy(void *dst, const void *src, size_t n);
int fl_sys_guarded_set(void *dst, int c, size_t n);

/* One unguarded, uninstrumented load or store (no ASan shadow access, so no
 * shadow page faults disturb fault counts). The caller knows the page is
 * accessible, or wants the real signal. */
uint8_t fl_sys_peek(uintptr_t addr);
void fl_sys_poke(uintptr_t addr, uint8_t v);

/* Keep the guard's handler installed until the matching release, so that
 * guarded accesses in between cost no sigaction calls (shadow mode holds it
 * while a model is open). Faults outside a guarded access still reach the
 * handler that was installed before. */
void fl_sys_guard_keep(void);
void fl_sys_guard_release(void);

/* RUNNING_ON_VALGRIND, without requiring valgrind headers at build time. */
bool fl_sys_under_valgrind(void);

/* Turns THP off for this process (prctl PR_SET_THP_DISABLE): the model's
 * window then never gets huge pages, without changing any VMA's flags. */
int fl_sys_disable_thp(void);
/* PR_GET_THP_DISABLE: 1 if THP is off for this process, 0 if not, -errno. */
int fl_sys_thp_disabled(void);
int fl_sys_enable_thp(void);

#endif
