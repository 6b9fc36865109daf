/* glibc.h — ops against the real process allocator, in a traced helper.
 *
 * fl_glibc_open() starts the faultline-glibc helper (src/helper) in a child
 * with ASLR off, a clean environment and a seccomp-bpf filter that stops the
 * memory system calls (brk, mmap, munmap, mremap, mprotect, madvise) and the
 * end-of-op marker (getppid) for this process, its ptrace tracer. Each
 * fl_glibc_op() sends one op and returns the helper's reply together with
 * the system calls the allocator made for it, as the kernel answered them.
 *
 * The wire protocol (both ends compiled from this header):
 *   fd 3, parent -> helper: one fl_op_t per request, as laid out in memory.
 *   fd 4, helper -> parent: one fl_glibc_hello_t at start-up, then one
 *   fl_glibc_reply_t per request.
 *   After writing each reply the helper calls getppid(): the tracer sees that
 *   seccomp stop and knows the op, and all its system calls, are over. The
 *   helper makes the same call once before its first read ("ready"): every
 *   call before it is glibc's own start-up (ld.so, libc init), kept apart.
 *   fd 2 of the helper is a pipe: glibc's abort messages are read from it.
 *   The helper keeps its blocks in a static slot table (the executor's slot
 *   semantics, exec.h) and allocates nothing of its own.
 *
 * inject ops never reach the helper: the tracer fails the chosen system call
 * (skips it at the seccomp stop and writes -errno, or for brk the unchanged
 * break, into the result at the exit stop), like fl_vm_inject on the model.
 *
 * A helper that dies of a signal or hangs (per-op timeout) is a finding:
 * fl_glibc_op returns FL_FINDING and fl_glibc_death() says what happened. */
#ifndef FL_OPS_GLIBC_H
#define FL_OPS_GLIBC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ops/op.h"
#include "util/err.h"
#include "vm/vm.h"

/* What became of one op in the helper. */
typedef enum fl_glibc_status {
  FL_GLIBC_OK,
  FL_GLIBC_EMPTY_SLOT,   /* skipped: the slot it reads is empty */
  FL_GLIBC_OUT_OF_BLOCK, /* skipped: write/verify past the block */
  FL_GLIBC_UNSUPPORTED,  /* thread, check: not (yet) run in the helper */
  FL_GLIBC_DIED,         /* the helper died or hung during this op */
} fl_glibc_status_t;

/* The reply, exactly as it crosses the pipe. */
typedef struct fl_glibc_reply {
  uint64_t ptr;      /* the pointer returned (raw); usable_size: the slot's block */
  uint64_t usable;   /* malloc_usable_size(ptr), 0 for NULL */
  int32_t err;       /* errno after the call (set to 0 before it) */
  int32_t ret;       /* posix_memalign, mallopt, malloc_trim */
  uint8_t status;    /* fl_glibc_status_t */
  uint8_t verify_ok; /* verify: every byte matched */
  uint8_t pad[6];
  /* Nanoseconds the helper spent running the op (vDSO clock, no system
   * call): glibc's own time, plus the tracer's stops at its system calls. */
  uint64_t ns;
} fl_glibc_reply_t;

_Static_assert(sizeof(fl_glibc_reply_t) == 40, "the reply crosses a pipe");

/* The helper's first message, before its ready marker: what its
 * pthread_create will do, so that the model can do the same (diff.c). */
typedef struct fl_glibc_hello {
  uint64_t dtv_entries, dtv_entry_size; /* the DTV: calloc(entries, size) */
  uint64_t stack_size, guard_size;      /* the default thread attributes */
} fl_glibc_hello_t;

#define FL_GLIBC_FD_REQ 3
#define FL_GLIBC_FD_REP 4

/* One system call the allocator made, as the kernel saw it. */
typedef struct fl_sysrec {
  fl_sysno_t no;
  uint64_t args[6];
  int64_t ret;       /* rax at the exit stop: a value, or -errno */
  bool query;        /* brk(0): compared by nobody (both sides ask) */
  bool injected;     /* failed by an inject op */
} fl_sysrec_t;

typedef struct fl_glibc_opts {
  /* The faultline-glibc executable; NULL: $FAULTLINE_GLIBC_HELPER, else
   * next to the running executable, else $FAULTLINE_BUILD_DIR. */
  const char *helper;
  const char *preload;  /* an allocator .so for LD_PRELOAD, or NULL */
  const char *tunables; /* GLIBC_TUNABLES for the helper, or NULL */
  unsigned timeout_ms;  /* per op; 0 = 60 s (some legal ops touch GiBs) */
} fl_glibc_opts_t;

/* How the helper ended, when fl_glibc_op returned FL_FINDING. */
typedef struct fl_glibc_death {
  bool dead;
  int signal;          /* 0 if it exited or hung */
  int exit_code;       /* -1 unless it exited */
  bool timeout;        /* it hung: killed after timeout_ms */
  size_t op_index;     /* the op it was running (counted from 0) */
  char message[512];   /* what it wrote to stderr (glibc's abort message) */
} fl_glibc_death_t;

typedef struct fl_glibc fl_glibc_t;

/* Starts the helper and runs it to its ready marker. FL_EENV with a clear
 * message if it cannot be found, started or traced. opts may be NULL. */
fl_status_t fl_glibc_open(fl_glibc_t **out, const fl_glibc_opts_t *opts);
/* Kills the helper (if alive) and frees h. NULL is fine. */
void fl_glibc_close(fl_glibc_t *h);

/* Runs one op. calls receives up to cap system calls (*ncalls counts all,
 * even those that did not fit). FL_OK, FL_FINDING (death: out->status is
 * FL_GLIBC_DIED), FL_EENV (ptrace failed), FL_EUSAGE (op not canonical). */
fl_status_t fl_glibc_op(fl_glibc_t *h, const fl_op_t *op, fl_glibc_reply_t *out,
                        fl_sysrec_t *calls, size_t cap, size_t *ncalls);

const fl_glibc_death_t *fl_glibc_death(const fl_glibc_t *h);
/* The helper's start-up message. */
const fl_glibc_hello_t *fl_glibc_hello(const fl_glibc_t *h);
/* The calls glibc's start-up made before the ready marker. */
const fl_sysrec_t *fl_glibc_startup(const fl_glibc_t *h, size_t *n);
/* The break as the tracer last saw the kernel report it. */
uint64_t fl_glibc_cur_brk(const fl_glibc_t *h);
pid_t fl_glibc_pid(const fl_glibc_t *h);
/* The helper's address space after start-up, so that a model can mirror
 * it: the initial break, the mappings above it (ld.so, libc, vdso: where
 * top-down mmap placement must find the same holes) and mmap_base, where
 * top-down placement starts (the end of the highest of them: ld.so is the
 * first mapping the kernel places top-down). The stack and [vsyscall] are
 * not listed: placement never reaches them. */
#define FL_GLIBC_LAYOUT_MAX 256
typedef struct fl_glibc_layout {
  uint64_t brk0, mmap_base;
  size_t n;            /* mappings listed in map[] */
  size_t vmas;         /* the helper's VMAs in all ([vsyscall] excepted) */
  struct {
    uint64_t lo, hi;
  } map[FL_GLIBC_LAYOUT_MAX];
} fl_glibc_layout_t;

/* FL_EENV if /proc/<pid>/maps cannot be read or holds more mappings above
 * the break than FL_GLIBC_LAYOUT_MAX. */
fl_status_t fl_glibc_layout(const fl_glibc_t *h, fl_glibc_layout_t *out);

const char *fl_sysno_name(fl_sysno_t no);

#endif
