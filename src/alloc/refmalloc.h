/* refmalloc.h — the reference allocator: glibc 2.36 ptmalloc2 on the vm model.
 *
 * refmalloc mirrors glibc 2.36's malloc/malloc.c and malloc/arena.c (as
 * shipped by Debian 2.36, i.e. with the 2.36 branch updates): the same
 * algorithms, constants, order of operations and integrity messages. It
 * makes no system call of its own: memory is the kernel model's (vm.h), and
 * every chunk header and user byte is read and written through the model so
 * that page faults and RSS are predicted exactly.
 *
 * Pointers are model addresses (uintptr_t, 0 = NULL). errno is emulated:
 * fl_rm_errno() is what `errno` would read after the last call, exactly as
 * glibc leaves it (calls that succeed leave it untouched, like glibc).
 *
 * Threads are logical: fl_rm_set_thread() selects the calling thread; each
 * thread has its own tcache and arena pointer, as glibc's TLS would. No
 * locking is modelled (only one logical thread runs at a time).
 *
 * Where glibc would call malloc_printerr() (print and abort) or fail a
 * malloc assertion, refmalloc records an event, abandons the current call
 * (its return value is then 0 / -1) and refuses every later call: the state
 * is "aborted". A model SIGSEGV (glibc would crash) is handled the same way. */
#ifndef FL_ALLOC_REFMALLOC_H
#define FL_ALLOC_REFMALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vm/vm.h"

typedef struct fl_rm fl_rm_t;

/* mallopt() parameter numbers, as <malloc.h>. */
enum {
  FL_M_MXFAST = 1,
  FL_M_TRIM_THRESHOLD = -1,
  FL_M_TOP_PAD = -2,
  FL_M_MMAP_THRESHOLD = -3,
  FL_M_MMAP_MAX = -4,
  FL_M_CHECK_ACTION = -5,
  FL_M_PERTURB = -6,
  FL_M_ARENA_TEST = -7,
  FL_M_ARENA_MAX = -8,
};

typedef struct fl_rm_config {
  /* Page size (GLRO(dl_pagesize)); 0 = the vm profile's. */
  size_t page_size;
  /* What arena_get2 gets from __get_nprocs(): Debian's 2.36 reads
   * /sys/devices/system/cpu/online. 0 = the profile's nprocs_online. */
  unsigned nprocs;
  /* vm.overcommit_memory as shrink_heap's check_may_shrink_heap() reads
   * it; -1 = the profile's. */
  int overcommit_memory;
  /* THP "enabled" mode for glibc.malloc.hugetlb=1 (__malloc_thp_mode);
   * NULL = the profile's. */
  const char *thp_enabled;
  /* THP PMD size (__malloc_default_thp_pagesize), 0 = 2 MiB. */
  size_t thp_pagesize;
  /* The value of GLIBC_TUNABLES (only glibc.malloc.* is read), or NULL. */
  const char *tunables;
  /* tcache_key: glibc draws it from getrandom; it never affects layout. */
  uint64_t tcache_key;
  /* Where libc's main_arena would live: bin headers of the main arena have
   * this address (chunks in bins point at them). Must lie outside the
   * window. */
  uintptr_t main_arena_addr;
} fl_rm_config_t;

void fl_rm_config_default(fl_rm_config_t *cfg);

/* FL_OK, or FL_EUSAGE with a message. The vm must outlive the allocator;
 * nothing is mapped until the first allocation (like glibc). */
int fl_rm_open(fl_rm_t **out, fl_vm_t *vm, const fl_rm_config_t *cfg);
void fl_rm_close(fl_rm_t *rm);
fl_vm_t *fl_rm_vm(const fl_rm_t *rm);

/* ---- threads (logical) --------------------------------------------------
 * Thread 0 is the main thread. Selecting a new thread id creates it (like
 * pthread_create: from then on SINGLE_THREAD_P is false, for good). */
void fl_rm_set_thread(fl_rm_t *rm, unsigned tid);
unsigned fl_rm_thread(const fl_rm_t *rm);
/* The thread exits: tcache_thread_shutdown + arena_thread_freeres. */
void fl_rm_thread_exit(fl_rm_t *rm, unsigned tid);

/* ---- the malloc API ------------------------------------------------------ */
uintptr_t fl_rm_malloc(fl_rm_t *rm, size_t n);
void fl_rm_free(fl_rm_t *rm, uintptr_t p);
uintptr_t fl_rm_calloc(fl_rm_t *rm, size_t n, size_t size);
uintptr_t fl_rm_realloc(fl_rm_t *rm, uintptr_t p, size_t n);
uintptr_t fl_rm_memalign(fl_rm_t *rm, size_t align, size_t n);
uintptr_t fl_rm_aligned_alloc(fl_rm_t *rm, size_t align, size_t n);
/* Returns 0 or an errno value, like posix_memalign. */
int fl_rm_posix_memalign(fl_rm_t *rm, uintptr_t *out, size_t align, size_t n);
uintptr_t fl_rm_valloc(fl_rm_t *rm, size_t n);
uintptr_t fl_rm_pvalloc(fl_rm_t *rm, size_t n);
size_t fl_rm_usable_size(fl_rm_t *rm, uintptr_t p);
int fl_rm_mallopt(fl_rm_t *rm, int param, int value);
int fl_rm_trim(fl_rm_t *rm, size_t pad);

typedef struct fl_rm_mallinfo2 {
  size_t arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks,
      fordblks, keepcost;
} fl_rm_mallinfo2_t;
fl_rm_mallinfo2_t fl_rm_mallinfo2(fl_rm_t *rm);
/* malloc_info(options, fp): the XML glibc prints. Returns 0, or EINVAL
 * (as the value, like glibc) when options != 0; -1 when aborted. */
int fl_rm_malloc_info(fl_rm_t *rm, int options, FILE *fp);

/* errno as glibc would leave it; the caller may reset it (errno = 0). */
int fl_rm_errno(const fl_rm_t *rm);
void fl_rm_set_errno(fl_rm_t *rm, int err);

/* ---- integrity events ---------------------------------------------------- */
typedef enum fl_rm_op {
  FL_RM_OP_NONE, FL_RM_OP_MALLOC, FL_RM_OP_FREE, FL_RM_OP_CALLOC,
  FL_RM_OP_REALLOC, FL_RM_OP_MEMALIGN, FL_RM_OP_ALIGNED_ALLOC,
  FL_RM_OP_POSIX_MEMALIGN, FL_RM_OP_VALLOC, FL_RM_OP_PVALLOC,
  FL_RM_OP_USABLE_SIZE, FL_RM_OP_MALLOPT, FL_RM_OP_TRIM, FL_RM_OP_MALLINFO,
  FL_RM_OP_MALLOC_INFO, FL_RM_OP_THREAD_EXIT,
} fl_rm_op_t;
const char *fl_rm_op_name(fl_rm_op_t op);

typedef enum fl_rm_event_kind {
  FL_RM_EV_PRINTERR = 1, /* malloc_printerr(msg): glibc prints and aborts */
  FL_RM_EV_ASSERT = 2,   /* __malloc_assert: "Fatal glibc error: ..." */
  FL_RM_EV_SEGV = 3,     /* the model says the access would SIGSEGV */
} fl_rm_event_kind_t;

typedef struct fl_rm_event {
  fl_rm_event_kind_t kind;
  /* For PRINTERR the message exactly as glibc passes it to
   * malloc_printerr (glibc prints it followed by "\n"); for ASSERT the
   * whole line glibc prints without the "\n". */
  char message[512];
  fl_rm_op_t op;         /* the API call that was running */
  uint64_t args[3];      /* its arguments */
  uint64_t op_index;     /* how many API calls came before it */
  unsigned tid;          /* the logical thread */
  uintptr_t addr;        /* SEGV: the faulting address */
} fl_rm_event_t;

typedef void (*fl_rm_event_fn)(void *ctx, const fl_rm_event_t *ev);
void fl_rm_set_event_hook(fl_rm_t *rm, fl_rm_event_fn fn, void *ctx);
bool fl_rm_aborted(const fl_rm_t *rm);
/* The event that aborted the allocator, or NULL. */
const fl_rm_event_t *fl_rm_last_event(const fl_rm_t *rm);

/* ---- call observer (for src/check) ----------------------------------------
 * Called once after each API call that returned normally (not after one
 * that aborted the allocator: the event hook reports those), with the
 * call, its arguments and its result. The observer may read the state
 * (introspect.h, fl_vm_peek) but must not call into the allocator. */
typedef struct fl_rm_call {
  fl_rm_op_t op;
  uint64_t args[3];      /* as fl_rm_event_t.args */
  uint64_t result;       /* the pointer or value returned; posix_memalign:
                            the pointer stored on success, else 0 */
  uint64_t op_index;     /* how many API calls came before it */
  unsigned tid;
  const fl_rm_mallinfo2_t *mallinfo; /* FL_RM_OP_MALLINFO: the result */
} fl_rm_call_t;
typedef void (*fl_rm_call_fn)(void *ctx, const fl_rm_call_t *call);
void fl_rm_set_call_hook(fl_rm_t *rm, fl_rm_call_fn fn, void *ctx);
/* More observers beside that one (the views' trace), called after it:
 * false when all FL_RM_MORE_CALL_HOOKS are taken. remove takes the pair
 * added. */
#define FL_RM_MORE_CALL_HOOKS 2
bool fl_rm_add_call_hook(fl_rm_t *rm, fl_rm_call_fn fn, void *ctx);
void fl_rm_remove_call_hook(fl_rm_t *rm, fl_rm_call_fn fn, void *ctx);

#endif
