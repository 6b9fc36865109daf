/* strace.h — one memory system call as `strace` prints it:
 *   mmap(NULL, 104861696, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7efaff1ff000
 *   munmap(0x7efaff1ff000, 104861696) = 0
 *   brk(NULL) = 0x555555559000
 * so that the model's calls, the kernel's and the real glibc's read alike
 * and can be compared with strace output by eye. */
#ifndef FL_VIEW_STRACE_H
#define FL_VIEW_STRACE_H

#include <stddef.h>
#include <stdint.h>

#include "vm/vm.h"

/* Formats the call into buf (always NUL-terminated); returns buf. args as
 * fl_vm_syscall_t (the model) or fl_sysrec_t (the traced glibc) hold them:
 * mmap (addr, len, prot, flags), munmap (addr, len), mprotect (addr, len,
 * prot), mremap (old, oldlen, newlen, flags, newaddr), madvise (addr, len,
 * advice), brk (addr). ret is the value or -errno. */
char *fl_strace_format(char *buf, size_t cap, fl_sysno_t no, const uint64_t *args, int64_t ret);

#endif
