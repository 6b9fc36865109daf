/* refmalloc.c — the public entry points: glibc 2.36's __libc_malloc,
 * __libc_free, __libc_realloc, __libc_calloc, _mid_memalign and friends,
 * ptmalloc_init with the GLIBC_TUNABLES malloc tunables, mallopt, and the
 * event machinery that stands in for malloc_printerr's abort. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/chunk.h"
#include "util/err.h"

/* ------------------------------------------------------------------ events */

static const char *const op_names[] = {
    "none", "malloc", "free", "calloc", "realloc", "memalign", "aligned_alloc",
    "posix_memalign", "valloc", "pvalloc", "malloc_usable_size", "mallopt",
    "malloc_trim", "mallinfo2", "malloc_info", "thread_exit",
};

const char *fl_rm_op_name(fl_rm_op_t op) {
  return (unsigned)op < sizeof op_names / sizeof op_names[0] ? op_names[op] : "?";
}

static _Noreturn void rm_raise(fl_rm_t *rm, fl_rm_event_kind_t kind, const char *msg, uintptr_t addr) {
  fl_rm_event_t *ev = &rm->ev;
  memset(ev, 0, sizeof *ev);
  ev->kind = kind;
  snprintf(ev->message, sizeof ev->message, "%s", msg);
  ev->op = rm->op;
  memcpy(ev->args, rm->op_args, sizeof ev->args);
  ev->op_index = rm->op_index++;
  ev->tid = rm->tid;
  ev->addr = addr;
  rm->aborted = true;
  if (rm->ev_fn) rm->ev_fn(rm->ev_ctx, ev);
  jmp_buf *jb = rm->jb;
  rm->jb = NULL;
  if (!jb) abort(); /* an access outside an API call: a refmalloc bug */
  longjmp(*jb, 1);
}

/* malloc_printerr */
_Noreturn void rm_printerr(fl_rm_t *rm, const char *msg) { rm_raise(rm, FL_RM_EV_PRINTERR, msg, 0); }

/* __malloc_assert */
_Noreturn void rm_assert_fail(fl_rm_t *rm, const char *func, const char *expr) {
  char buf[512];
  snprintf(buf, sizeof buf, "Fatal glibc error: malloc assertion failure in %s: %s", func, expr);
  rm_raise(rm, FL_RM_EV_ASSERT, buf, 0);
}

static _Noreturn void on_segv(void *ctx, uintptr_t addr, bool write) {
  fl_rm_t *rm = ctx;
  char buf[96];
  snprintf(buf, sizeof buf, "SIGSEGV: %s at 0x%lx", write ? "write" : "read", (unsigned long)addr);
  rm_raise(rm, FL_RM_EV_SEGV, buf, addr);
}

void fl_rm_set_event_hook(fl_rm_t *rm, fl_rm_event_fn fn, void *ctx) {
  rm->ev_fn = fn;
  rm->ev_ctx = ctx;
}
bool fl_rm_aborted(const fl_rm_t *rm) { return rm->aborted; }
const fl_rm_event_t *fl_rm_last_event(const fl_rm_t *rm) { return rm->aborted ? &rm->ev : NULL; }
int fl_rm_errno(const fl_rm_t *rm) { return rm->err; }
void fl_rm_set_errno(fl_rm_t *rm, int err) { rm->err = err; }
fl_vm_t *fl_rm_vm(const fl_rm_t *rm) { return rm->vm; }

bool rm_enter_(fl_rm_t *rm, fl_rm_op_t op, uint64_t a0, uint64_t a1, uint64_t a2) {
  if (rm->aborted) return false;
  rm->op = op;
  rm->op_args[0] = a0;
  rm->op_args[1] = a1;
  rm->op_args[2] = a2;
  rm->op_result = 0;
  rm->op_mallinfo = NULL;
  return true;
}

void rm_leave_(fl_rm_t *rm) {
  rm->jb = NULL;
  fl_rm_call_t c = {.op = rm->op, .result = rm->op_result, .op_index = rm->op_index,
                    .tid = rm->tid, .mallinfo = rm->op_mallinfo};
  memcpy(c.args, rm->op_args, sizeof c.args);
  if (rm->call_fn) rm->call_fn(rm->call_ctx, &c);
  for (int i = 0; i < FL_RM_MORE_CALL_HOOKS; i++)
    if (rm->more_calls[i].fn) rm->more_calls[i].fn(rm->more_calls[i].ctx, &c);
  rm->op = FL_RM_OP_NONE;
  rm->op_index++;
}

void fl_rm_set_call_hook(fl_rm_t *rm, fl_rm_call_fn fn, void *ctx) {
  rm->call_fn = fn;
  rm->call_ctx = ctx;
}

bool fl_rm_add_call_hook(fl_rm_t *rm, fl_rm_call_fn fn, void *ctx) {
  for (int i = 0; i < FL_RM_MORE_CALL_HOOKS; i++)
    if (!rm->more_calls[i].fn) {
      rm->more_calls[i].fn = fn;
      rm->more_calls[i].ctx = ctx;
      return true;
    }
  return false;
}

void fl_rm_remove_call_hook(fl_rm_t *rm, fl_rm_call_fn fn, void *ctx) {
  for (int i = 0; i < FL_RM_MORE_CALL_HOOKS; i++)
    if (rm->more_calls[i].fn == fn && rm->more_calls[i].ctx == ctx) rm->more_calls[i].fn = NULL;
}

/* ------------------------------------------------------------- lifetime */

void fl_rm_config_default(fl_rm_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->overcommit_memory = -1;
  cfg->tcache_key = 0x5a17c0de5eed1e55ULL;
  /* Where Debian's libc.so.6 puts main_arena with ASLR off; any address
   * outside the window does. */
  cfg->main_arena_addr = 0x7ffff7e19c80ULL;
}

static void par_defaults(rm_par_t *mp) {
  memset(mp, 0, sizeof *mp);
  mp->top_pad = DEFAULT_TOP_PAD;
  mp->n_mmaps_max = DEFAULT_MMAP_MAX;
  mp->mmap_threshold = DEFAULT_MMAP_THRESHOLD;
  mp->trim_threshold = DEFAULT_TRIM_THRESHOLD;
  mp->arena_test = NARENAS_FROM_NCORES(1);
  mp->tcache_count = TCACHE_FILL_COUNT;
  mp->tcache_bins = TCACHE_MAX_BINS;
  mp->tcache_max_bytes = tidx2usize(TCACHE_MAX_BINS - 1);
  mp->tcache_unsorted_limit = 0;
}

int fl_rm_open(fl_rm_t **out, fl_vm_t *vm, const fl_rm_config_t *cfg_in) {
  fl_rm_config_t cfg;
  if (cfg_in)
    cfg = *cfg_in;
  else
    fl_rm_config_default(&cfg);
  const fl_vm_config_t *vc = fl_vm_config(vm);
  const fl_kprofile_t *prof = vc->profile;
  if (cfg.main_arena_addr - vc->base < vc->size)
    return fl_error(FL_EUSAGE, "refmalloc: main_arena_addr 0x%lx lies inside the vm window",
                    (unsigned long)cfg.main_arena_addr);
  if (cfg.tunables && strlen(cfg.tunables) >= sizeof ((fl_rm_t *)0)->tunables)
    return fl_error(FL_EUSAGE, "refmalloc: tunables string too long");
  fl_rm_t *rm = calloc(1, sizeof *rm);
  if (!rm) return fl_error(FL_EENV, "refmalloc: out of memory");
  rm->vm = vm;
  rm->mem.vm = vm;
  rm->mem.segv = on_segv;
  rm->mem.ctx = rm;
  if (cfg.page_size == 0) cfg.page_size = prof ? prof->page_size : 4096;
  if (cfg.nprocs == 0) cfg.nprocs = prof && prof->nprocs_online ? prof->nprocs_online : 1;
  if (cfg.overcommit_memory < 0) cfg.overcommit_memory = prof ? prof->overcommit_memory : 0;
  if (!cfg.thp_enabled) cfg.thp_enabled = prof ? prof->thp_enabled : "never";
  if (cfg.thp_pagesize == 0) cfg.thp_pagesize = 2UL << 20;
  if (cfg.tunables) {
    snprintf(rm->tunables, sizeof rm->tunables, "%s", cfg.tunables);
    cfg.tunables = rm->tunables;
  }
  rm->cfg = cfg;
  rm->pagesize = cfg.page_size;
  rm->tcache_key = cfg.tcache_key;
  par_defaults(&rm->mp);
  rm->main_arena.mem = &rm->mem;
  rm->main_arena.addr = cfg.main_arena_addr;
  rm->main_arena.next = &rm->main_arena;
  rm->main_arena.attached_threads = 1;
  rm->narenas = 1;
  rm->next_arena_index = 1;
  rm->nthreads = 8;
  rm->threads = calloc(rm->nthreads, sizeof *rm->threads);
  if (!rm->threads) {
    free(rm);
    return fl_error(FL_EENV, "refmalloc: out of memory");
  }
  rm->threads[0].exists = true;
  *out = rm;
  return FL_OK;
}

void fl_rm_close(fl_rm_t *rm) {
  if (!rm) return;
  rm_arena_t *a = rm->main_arena.next;
  while (a != &rm->main_arena) {
    rm_arena_t *n = a->next;
    free(a);
    a = n;
  }
  free(rm->threads);
  free(rm);
}

/* ---------------------------------------------------------------- threads */

void fl_rm_set_thread(fl_rm_t *rm, unsigned tid) {
  if (tid >= rm->nthreads) {
    unsigned n = rm->nthreads;
    while (n <= tid) n *= 2;
    rm_thread_t *t = realloc(rm->threads, n * sizeof *t);
    if (!t) abort();
    memset(t + rm->nthreads, 0, (n - rm->nthreads) * sizeof *t);
    rm->threads = t;
    rm->nthreads = n;
  }
  if (!rm->threads[tid].exists) {
    memset(&rm->threads[tid], 0, sizeof rm->threads[tid]);
    rm->threads[tid].exists = true;
    /* pthread_create: the process is no longer single-threaded, for good. */
    if (tid != 0) rm->multiple_threads = true;
  }
  rm->tid = tid;
}

unsigned fl_rm_thread(const fl_rm_t *rm) { return rm->tid; }

static void rm_thread_exit_(fl_rm_t *rm) {
  RM_CALL(rm, FL_RM_OP_THREAD_EXIT, rm->tid, 0, 0, , {
    rm_tcache_thread_shutdown(rm);
    rm_arena_thread_freeres(rm);
  });
}

void fl_rm_thread_exit(fl_rm_t *rm, unsigned tid) {
  unsigned prev = rm->tid;
  fl_rm_set_thread(rm, tid);
  rm_thread_exit_(rm);
  rm->threads[tid].exists = false;
  rm->tid = prev == tid ? 0 : prev;
}
