/* oracle.c — the parent side of the black-box oracle (see oracle.h).
 *
 * One helper process at a time: forked, given its channels (wire.h),
 * ASLR off so that a run replays at the same addresses, no core dumps, and
 * exec'd with an environment of exactly LD_PRELOAD and LIBC_FATAL_STDERR_.
 * While a run goes on the parent polls the command socket and watches the
 * helper's progress counter: a counter that stands still for the timeout
 * is a hang, an end of file is a death. */
#include "oracle/oracle.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ops/gen.h"
#include "ops/text.h"
#include "util/paths.h"

static const char *const id_names[FL_ORACLE_ID_COUNT] = {
    "ORACLE-ALIGN",          "ORACLE-ALIGN-EXPLICIT", "ORACLE-NO-OVERLAP", "ORACLE-USABLE",
    "ORACLE-CONTENTS",       "ORACLE-REALLOC-PREFIX", "ORACLE-CALLOC-ZERO", "ORACLE-IMPOSSIBLE",
    "ORACLE-FREE-NULL",      "ORACLE-ZERO-SIZE",      "ORACLE-ENOMEM",     "ORACLE-EINVAL",
    "ORACLE-GIVE-BACK",      "ORACLE-CRASH",          "ORACLE-HANG",
};

static const char *const fn_names[FL_ORACLE_FN_COUNT] = {
    "memalign", "aligned_alloc", "posix_memalign", "valloc", "pvalloc", "malloc_usable_size",
    "mallopt", "malloc_trim", "mallctl", "MallocExtension_ReleaseFreeMemory", "mi_collect",
};

const char *fl_oracle_id_name(unsigned id) { return id < FL_ORACLE_ID_COUNT ? id_names[id] : NULL; }

int fl_oracle_id_lookup(const char *name) {
  for (unsigned i = 0; i < FL_ORACLE_ID_COUNT; i++)
    if (!strcmp(id_names[i], name)) return (int)i;
  return -1;
}

fl_status_t fl_oracle_allow(uint32_t allow[FL_ORACLE_ID_COUNT], const char *spec) {
  const char *colon = strchr(spec, ':');
  char id[64];
  snprintf(id, sizeof id, "%.*s", colon ? (int)(colon - spec) : (int)strlen(spec), spec);
  int i = fl_oracle_id_lookup(id);
  if (i < 0) return fl_error(FL_EUSAGE, "unknown promise '%s' (faultline check --list names them)", id);
  if (!colon) {
    allow[i] = FL_ORACLE_ALLOW_ALL;
    return FL_OK;
  }
  int kind = strcmp(colon + 1, "end") ? fl_op_kind_lookup(colon + 1, strlen(colon + 1)) : FL_OP_KIND_COUNT;
  if (kind < 0)
    return fl_error(FL_EUSAGE, "unknown op kind '%s' in '%s' (malloc, calloc, ... or end)", colon + 1, spec);
  allow[i] |= FL_ORACLE_KIND_BIT((unsigned)kind);
  return FL_OK;
}

const char *fl_oracle_fn_name(unsigned fn) { return fn < FL_ORACLE_FN_COUNT ? fn_names[fn] : NULL; }

struct fl_oracle {
  fl_oracle_opts_t o;
  char allocator[PATH_MAX], helper[PATH_MAX], provider[256];
  uint32_t provided;
  pid_t pid;        /* 0: no helper */
  int sock, errfd, shm;
  fl_oracle_hdr_t *hdr;
  size_t shm_bytes;
};

/* ------------------------------------------------------------ the helper */

/* After fork: async-signal-safe calls only. */
static void child(const fl_oracle_t *o, int sock, int errw, int devnull, char *const envp[]) {
  int s = fcntl(sock, F_DUPFD, 10), m = fcntl(o->shm, F_DUPFD, 10), e = fcntl(errw, F_DUPFD, 10);
  if (s < 0 || m < 0 || e < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(e, 2) < 0 ||
      dup2(s, FL_ORACLE_FD_CMD) < 0 || dup2(m, FL_ORACLE_FD_SHM) < 0)
    _exit(126);
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core); /* a crashing allocator is expected here */
  personality(ADDR_NO_RANDOMIZE);
  char *const argv[] = {(char *)o->helper, NULL};
  execve(o->helper, argv, envp);
  _exit(127);
}

static void read_stderr(fl_oracle_t *o, char *m, size_t cap) {
  size_t n = strlen(m);
  for (ssize_t k; n + 1 < cap && (k = read(o->errfd, m + n, cap - 1 - n)) > 0;) n += (size_t)k;
  m[n] = 0;
  while (n && (m[n - 1] == '\n' || m[n - 1] == '\r')) m[--n] = 0;
}

static void stop(fl_oracle_t *o) {
  if (o->pid > 0) {
    kill(o->pid, SIGKILL);
    while (waitpid(o->pid, NULL, 0) < 0 && errno == EINTR) {}
  }
  o->pid = 0;
  if (o->sock >= 0) close(o->sock);
  if (o->errfd >= 0) close(o->errfd);
  o->sock = o->errfd = -1;
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Waits for one answer word. 1: got it; 0: the helper died (its status in
 * *st); -1: progress stood still for the timeout (the helper is killed). */
static int await(fl_oracle_t *o, uint32_t *word, int *st) {
  uint64_t seen = __atomic_load_n(&o->hdr->progress, __ATOMIC_ACQUIRE), since = now_ms();
  size_t got = 0;
  for (;;) {
    struct pollfd p = {.fd = o->sock, .events = POLLIN};
    int r = poll(&p, 1, 50);
    if (r > 0) {
      ssize_t k = recv(o->sock, (char *)word + got, sizeof *word - got, 0);
      if (k > 0 && (got += (size_t)k) == sizeof *word) return 1;
      if (k == 0 || (k < 0 && errno != EINTR)) {
        while (waitpid(o->pid, st, 0) < 0 && errno == EINTR) {}
        o->pid = 0;
        return 0;
      }
      continue;
    }
    uint64_t cur = __atomic_load_n(&o->hdr->progress, __ATOMIC_ACQUIRE);
    if (cur != seen) {
      seen = cur;
      since = now_ms();
    } else if (now_ms() - since >= o->o.timeout_ms) {
      return -1;
    }
  }
}

static fl_status_t shm_open_header(fl_oracle_t *o) {
  o->shm = memfd_create("faultline-oracle", MFD_CLOEXEC);
  if (o->shm < 0) return fl_error(FL_EENV, "memfd_create: %s", strerror(errno));
  o->shm_bytes = FL_ORACLE_HDR_BYTES;
  if (ftruncate(o->shm, (off_t)o->shm_bytes)) return fl_error(FL_EENV, "ftruncate: %s", strerror(errno));
  void *h = mmap(NULL, FL_ORACLE_HDR_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, o->shm, 0);
  if (h == MAP_FAILED) return fl_error(FL_EENV, "mmap of the oracle's header: %s", strerror(errno));
  o->hdr = h;
  o->hdr->magic = FL_ORACLE_MAGIC;
  return FL_OK;
}

/* The helper's malloc must come from the allocator: ld.so only warns when
 * a preload fails, and a .so without malloc leaves glibc's in place. */
static fl_status_t check_provider(fl_oracle_t *o, const char *stderr_text) {
  char want[PATH_MAX], got[PATH_MAX];
  snprintf(o->provider, sizeof o->provider, "%s", o->hdr->malloc_object);
  o->provided = o->hdr->provided;
  if (realpath(o->allocator, want) && realpath(o->provider, got) && !strcmp(want, got)) return FL_OK;
  if (*stderr_text) return fl_error(FL_EUSAGE, "%s was not loaded: %s", o->allocator, stderr_text);
  return fl_error(FL_EUSAGE, "%s does not define malloc (the helper's malloc comes from %s)", o->allocator,
                  o->provider);
}

static fl_status_t start(fl_oracle_t *o) {
  char pre[PATH_MAX + 16];
  snprintf(pre, sizeof pre, "LD_PRELOAD=%s", o->allocator);
  char *const envp[] = {pre, "LIBC_FATAL_STDERR_=1", NULL}; /* abort messages on fd 2 */
  int sv[2], ep[2], devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) return fl_error(FL_EENV, "/dev/null: %s", strerror(errno));
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) || pipe2(ep, O_CLOEXEC)) {
    close(devnull);
    return fl_error(FL_EENV, "socketpair/pipe: %s", strerror(errno));
  }
  o->hdr->progress = 0;
  o->pid = fork();
  if (o->pid == 0) child(o, sv[1], ep[1], devnull, envp);
  close(sv[1]);
  close(ep[1]);
  close(devnull);
  o->sock = sv[0];
  o->errfd = ep[0];
  if (o->pid < 0) {
    o->pid = 0;
    return fl_error(FL_EENV, "fork: %s", strerror(errno));
  }
  fcntl(o->errfd, F_SETFL, O_NONBLOCK);
  uint32_t word = 0;
  int st = 0, r = await(o, &word, &st);
  char err[512] = "";
  read_stderr(o, err, sizeof err);
  if (r == 1 && word == FL_ORACLE_ANS_READY) return check_provider(o, err);
  fl_status_t s = r < 0 ? fl_error(FL_EENV, "the oracle helper %s hung at start-up", o->helper)
                  : WIFEXITED(st) && WEXITSTATUS(st) == 127
                      ? fl_error(FL_EENV, "the oracle helper %s could not be executed", o->helper)
                      : fl_error(FL_EUSAGE, "%s: the oracle helper did not start under it (%s%s%s)", o->allocator,
                                 WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "exited", *err ? ": " : "", err);
  stop(o);
  return s;
}

fl_status_t fl_oracle_open(fl_oracle_t **out, const fl_oracle_opts_t *opts) {
  *out = NULL;
  if (!opts || !opts->allocator) return fl_error(FL_EUSAGE, "no allocator given");
  if (access(opts->allocator, R_OK))
    return fl_error(FL_EUSAGE, "%s: %s", opts->allocator, strerror(errno));
  if (strpbrk(opts->allocator, " :")) /* LD_PRELOAD's separators */
    return fl_error(FL_EUSAGE, "%s: LD_PRELOAD cannot name a path with a space or a colon", opts->allocator);
  fl_oracle_t *o = calloc(1, sizeof *o);
  if (!o) return fl_error(FL_EENV, "out of memory");
  o->o = *opts;
  o->sock = o->errfd = o->shm = -1;
  if (!o->o.timeout_ms) o->o.timeout_ms = FL_ORACLE_DEFAULT_TIMEOUT_MS;
  if (!o->o.budget) o->o.budget = FL_ORACLE_DEFAULT_BUDGET;
  snprintf(o->allocator, sizeof o->allocator, "%s", opts->allocator);
  fl_status_t s = FL_OK;
  if (!fl_path_find_helper("faultline-oracle", opts->helper, "FAULTLINE_ORACLE_HELPER", o->helper, sizeof o->helper) ||
      access(o->helper, X_OK))
    s = fl_error(FL_EENV, "cannot find the oracle helper faultline-oracle (build it, or set FAULTLINE_ORACLE_HELPER)");
  if (s == FL_OK) s = shm_open_header(o);
  if (s == FL_OK) s = start(o);
  if (s != FL_OK) {
    fl_oracle_close(o);
    return s;
  }
  *out = o;
  return FL_OK;
}

void fl_oracle_close(fl_oracle_t *o) {
  if (!o) return;
  stop(o);
  if (o->hdr) munmap(o->hdr, FL_ORACLE_HDR_BYTES);
  if (o->shm >= 0) close(o->shm);
  free(o);
}

const char *fl_oracle_provider(const fl_oracle_t *o) { return o->provider; }
uint32_t fl_oracle_provided(const fl_oracle_t *o) { return o->provided; }

/* ------------------------------------------------------------ a run */

static fl_status_t load(fl_oracle_t *o, const fl_ops_t *ops) {
  size_t bytes = ops->n * sizeof(fl_op_t);
  if (FL_ORACLE_HDR_BYTES + bytes > o->shm_bytes) {
    if (ftruncate(o->shm, (off_t)(FL_ORACLE_HDR_BYTES + bytes)))
      return fl_error(FL_EENV, "ftruncate: %s", strerror(errno));
    o->shm_bytes = FL_ORACLE_HDR_BYTES + bytes;
  }
  for (size_t done = 0; done < bytes;) {
    ssize_t k = pwrite(o->shm, (const char *)ops->v + done, bytes - done, (off_t)(FL_ORACLE_HDR_BYTES + done));
    if (k <= 0) return fl_error(FL_EENV, "writing the ops for the oracle helper: %s", strerror(errno));
    done += (size_t)k;
  }
  fl_oracle_hdr_t *h = o->hdr;
  h->nops = ops->n;
  h->budget = o->o.budget;
  h->check = (FL_ORACLE_BIT(FL_ORACLE_ID_COUNT) - 1) &
             ~(o->o.promises == FL_ORACLE_PROMISES_C ? FL_ORACLE_POSIX_ONLY : 0u);
  memcpy(h->allow, o->o.allow, sizeof h->allow);
  return FL_OK;
}

/* Stores one violation; fired[] is counted by the callers. */
static void add_violation(fl_oracle_result_t *r, fl_oracle_id_t id, bool allowed, uint64_t op, const char *detail) {
  if (!allowed) r->finding = true;
  fl_oracle_violation_t *v = &r->viol[r->nviol++];
  *v = (fl_oracle_violation_t){.id = id, .allowed = allowed, .op_index = op};
  snprintf(v->detail, sizeof v->detail, "%s", detail);
}

/* The helper died or hung during op death_op: which promise that breaks. */
static void judge_death(fl_oracle_t *o, const fl_ops_t *ops, fl_oracle_result_t *r, int st, bool timeout) {
  fl_oracle_hdr_t *h = o->hdr;
  uint64_t progress = __atomic_load_n(&h->progress, __ATOMIC_ACQUIRE);
  uint32_t note = __atomic_load_n(&h->note, __ATOMIC_ACQUIRE);
  r->died = true;
  r->timeout = timeout;
  r->signal = !timeout && WIFSIGNALED(st) ? WTERMSIG(st) : 0;
  r->exit_code = !timeout && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r->death_op = note == FL_ORACLE_NOTE_TEARDOWN || !progress ? h->nops : progress - 1;
  read_stderr(o, r->message, sizeof r->message);
  fl_oracle_id_t id = note == FL_ORACLE_NOTE_FREE_NULL ? FL_ORACLE_FREE_NULL
                      : note == FL_ORACLE_NOTE_FREE_ZERO ? FL_ORACLE_ZERO_SIZE
                      : timeout                          ? FL_ORACLE_HANG
                                                         : FL_ORACLE_CRASH;
  char op[96] = "the end of the run", what[FL_ORACLE_TEXT + 64];
  if (r->death_op < ops->n) fl_op_format(&ops->v[r->death_op], op, sizeof op);
  if (timeout)
    snprintf(what, sizeof what, "`%s`: no progress for %u ms", op, o->o.timeout_ms);
  else if (r->signal)
    snprintf(what, sizeof what, "`%s`: killed by SIG%s (%s)", op,
             sigabbrev_np(r->signal) ? sigabbrev_np(r->signal) : "?", strsignal(r->signal));
  else
    snprintf(what, sizeof what, "`%s`: exited with status %d", op, r->exit_code);
  r->fired[id]++;
  unsigned kind = r->death_op < ops->n ? ops->v[r->death_op].kind : FL_OP_KIND_COUNT;
  add_violation(r, id, o->o.allow[id] & FL_ORACLE_KIND_BIT(kind), r->death_op, what);
}

static void collect(fl_oracle_t *o, fl_oracle_result_t *r) {
  const fl_oracle_hdr_t *h = o->hdr;
  for (uint32_t i = 0; i < h->nviol && i < FL_ORACLE_VIOL_MAX; i++) {
    const fl_oracle_wire_viol_t *v = &h->viol[i];
    if (v->id >= FL_ORACLE_ID_COUNT) continue;
    add_violation(r, (fl_oracle_id_t)v->id, v->allowed, v->op_index, v->detail);
  }
  for (unsigned i = 0; i < FL_ORACLE_ID_COUNT; i++) r->fired[i] += h->fired[i];
  if (h->unallowed) r->finding = true; /* also when more kinds broke than viol[] keeps */
  r->ops_run = h->ops_run;
  r->skipped = h->skipped;
  r->unsupported = h->unsupported;
  r->nulls = h->nulls;
  r->peak_live = h->peak_live;
  r->purged = h->purged;
}

/* ORACLE-GIVE-BACK, decided here from what the helper measured. */
static void judge_give_back(fl_oracle_t *o, fl_oracle_result_t *r) {
  const fl_oracle_hdr_t *h = o->hdr;
  if (!h->rss_after || !h->rss_before) return; /* smaps_rollup unreadable: not measured */
  r->measured = true;
  r->rss_before = h->rss_before;
  r->rss_after = h->rss_after;
  r->rss_peak = h->rss_peak;
  r->rss_bound = h->rss_before + FL_ORACLE_GIVE_BACK_SLACK + h->peak_live / FL_ORACLE_GIVE_BACK_DIV;
  if (r->rss_after <= r->rss_bound) return;
  char d[FL_ORACLE_TEXT + 64];
  snprintf(d, sizeof d,
           "Rss %llu KiB after everything was freed and purged: over the bound %llu KiB "
           "(%llu KiB before, peak live %llu KiB)",
           (unsigned long long)(r->rss_after >> 10), (unsigned long long)(r->rss_bound >> 10),
           (unsigned long long)(r->rss_before >> 10), (unsigned long long)(h->peak_live >> 10));
  r->fired[FL_ORACLE_GIVE_BACK]++;
  bool allowed = o->o.allow[FL_ORACLE_GIVE_BACK] & FL_ORACLE_KIND_BIT(FL_OP_KIND_COUNT);
  add_violation(r, FL_ORACLE_GIVE_BACK, allowed, h->nops, d);
}

fl_status_t fl_oracle_run(fl_oracle_t *o, const fl_ops_t *ops, fl_oracle_result_t *r) {
  memset(r, 0, sizeof *r);
  r->exit_code = -1;
  fl_status_t s = o->pid ? FL_OK : start(o);
  if (s == FL_OK) s = load(o, ops);
  if (s != FL_OK) return s;
  uint32_t word = FL_ORACLE_CMD_RUN;
  if (send(o->sock, &word, sizeof word, MSG_NOSIGNAL) != (ssize_t)sizeof word)
    return fl_error(FL_EENV, "writing to the oracle helper: %s", strerror(errno));
  int st = 0, w = await(o, &word, &st);
  if (w <= 0) {
    if (w < 0) { /* hung: stop it here so that its stderr is complete */
      kill(o->pid, SIGKILL);
      while (waitpid(o->pid, &st, 0) < 0 && errno == EINTR) {}
      o->pid = 0;
    }
    collect(o, r);
    judge_death(o, ops, r, st, w < 0);
    stop(o);
    return FL_FINDING;
  }
  if (word != FL_ORACLE_ANS_DONE) {
    stop(o);
    return fl_error(FL_EENV, "the oracle helper answered 0x%x, not DONE", word);
  }
  collect(o, r);
  if (!o->hdr->stopped) judge_give_back(o, r);
  if (o->hdr->stopped || o->o.fresh) stop(o);
  return r->finding ? FL_FINDING : FL_OK;
}

/* ------------------------------------------------------------ streams */

/* The fixed part of the probes; the alignment sweep is built in code. */
static const char probe_script[] =
    "; impossible sizes: NULL (POSIX: errno ENOMEM)\n"
    "#0 = malloc SIZE_MAX\n"
    "#0 = malloc PTRDIFF_MAX+1\n"
    "#0 = calloc 4294967296 4294967296\n"
    "#0 = calloc 1152921504606846976 16\n"
    "#0 = calloc 1 PTRDIFF_MAX+1\n"
    "#0 = aligned_alloc 16 SIZE_MAX\n"
    "#0 = memalign 64 PTRDIFF_MAX+1\n"
    "#0 = posix_memalign 16 SIZE_MAX\n"
    "#0 = valloc SIZE_MAX\n"
    "#0 = pvalloc PTRDIFF_MAX+1\n"
    "; ... also where the alignment is not a power of two (a naive round-up wraps)\n"
    "#0 = aligned_alloc 100 SIZE_MAX-16\n"
    "#0 = aligned_alloc 3 SIZE_MAX\n"
    "#0 = memalign 100 SIZE_MAX-16\n"
    "#1 = malloc 100\n"
    "#1 = realloc #1 SIZE_MAX\n"
    "#2 = realloc #1 PTRDIFF_MAX+1\n"
    "free #1\n"
    "; posix_memalign: EINVAL unless a power of two multiple of sizeof(void *)\n"
    "#3 = posix_memalign 0 64\n"
    "#3 = posix_memalign 1 64\n"
    "#3 = posix_memalign 2 64\n"
    "#3 = posix_memalign 4 64\n"
    "#3 = posix_memalign 3 64\n"
    "#3 = posix_memalign 12 64\n"
    "#3 = posix_memalign 24 64\n"
    "#3 = posix_memalign 48 64\n"
    "#3 = posix_memalign 4097 64\n"
    "free #3\n"
    "; free(NULL): slot 4 is empty\n"
    "free #4\n"
    "; zero sizes: NULL or unique blocks that free accepts\n"
    "#5 = malloc 0\n"
    "#6 = malloc 0\n"
    "#7 = calloc 0 16\n"
    "#8 = malloc 24\n"
    "#8 = realloc #8 0\n"
    "#9 = malloc 40\n"
    "#9 = realloc #9 0\n"
    "free #5\n"
    "free #6\n"
    "free #7\n"
    "free #8\n"
    "free #9\n"
    "; calloc over recycled memory, small, large and mapped\n"
    "#10 = malloc 48\n"
    "free #10\n"
    "#10 = calloc 3 16\n"
    "free #10\n"
    "#10 = malloc 4000\n"
    "#11 = malloc 16\n"
    "free #10\n"
    "#10 = calloc 1 4000\n"
    "free #10\n"
    "free #11\n"
    "#10 = malloc 1048576\n"
    "free #10\n"
    "#10 = calloc 1024 1024\n"
    "free #10\n"
    "; realloc keeps the prefix, growing and shrinking, small and mapped\n"
    "#12 = malloc 100\n"
    "write #12 10 50 0x5a\n"
    "#12 = realloc #12 5000\n"
    "#12 = realloc #12 300000\n"
    "#12 = realloc #12 4000000\n"
    "verify #12 10 50 0x5a\n"
    "#12 = realloc #12 200000\n"
    "#12 = realloc #12 60\n"
    "#12 = realloc #12 30\n"
    "verify #12 10 20 0x5a\n"
    "free #12\n";

static fl_status_t push(fl_ops_t *out, fl_op_kind_t kind, uint16_t slot, uint64_t a, uint64_t b) {
  fl_op_t op = {.kind = (uint8_t)kind, .a = a, .b = b};
  if (fl_op_kind_allocates(kind)) op.dst = slot;
  else op.src = slot;
  return fl_ops_push(out, &op);
}

#define SWEEP_SLOT 100 /* the alignment sweep's blocks: slots 100.. */

/* Every power-of-two alignment up to 2 MiB for each aligned kind, with
 * sizes 0, 100, the alignment and one more (allocators have special paths
 * for each: mimalloc 2.0.9 misaligns size == alignment, jemalloc 5.3
 * misaligns memalign(a, 0)), all kept live until the kind is done so that
 * equal requests cannot get the same block back. */
static fl_status_t alignment_sweep(fl_ops_t *out) {
  static const fl_op_kind_t kinds[] = {FL_OP_ALIGNED_ALLOC, FL_OP_MEMALIGN, FL_OP_POSIX_MEMALIGN};
  fl_status_t s = FL_OK;
  for (unsigned k = 0; k < 3 && s == FL_OK; k++) {
    uint16_t slot = SWEEP_SLOT;
    for (unsigned sh = kinds[k] == FL_OP_POSIX_MEMALIGN ? 3 : 0; sh <= 21 && s == FL_OK; sh++) {
      uint64_t align = (uint64_t)1 << sh, sizes[] = {0, 100, align, align + 1};
      for (unsigned z = 0; z < 4 && s == FL_OK; z++) s = push(out, kinds[k], slot++, align, sizes[z]);
    }
    while (slot > SWEEP_SLOT && s == FL_OK) s = push(out, FL_OP_FREE, --slot, 0, 0);
  }
  return s;
}

/* valloc and pvalloc: sizes 0 (three live at once), 100, and the sizes
 * whose rounding up to a page wraps around. */
static fl_status_t page_sweep(fl_ops_t *out) {
  static const struct {
    fl_op_kind_t kind;
    uint64_t size;
  } calls[] = {
      {FL_OP_VALLOC, 0},      {FL_OP_VALLOC, 0},           {FL_OP_VALLOC, 0},
      {FL_OP_VALLOC, 100},    {FL_OP_VALLOC, SIZE_MAX - 16}, {FL_OP_PVALLOC, 0},
      {FL_OP_PVALLOC, 100},   {FL_OP_PVALLOC, SIZE_MAX - 16}, {FL_OP_PVALLOC, SIZE_MAX},
  };
  const unsigned n = sizeof calls / sizeof calls[0];
  fl_status_t s = FL_OK;
  for (unsigned i = 0; i < n && s == FL_OK; i++)
    s = push(out, calls[i].kind, (uint16_t)(SWEEP_SLOT + i), calls[i].size, 0);
  for (unsigned i = 0; i < n && s == FL_OK; i++) s = push(out, FL_OP_FREE, (uint16_t)(SWEEP_SLOT + i), 0, 0);
  return s;
}

fl_status_t fl_oracle_probes(fl_ops_t *out) {
  fl_status_t s = fl_ops_parse_text(probe_script, sizeof probe_script - 1, "oracle probes", out);
  if (s == FL_OK) s = alignment_sweep(out);
  if (s == FL_OK) s = page_sweep(out);
  return s;
}

fl_status_t fl_oracle_stream(uint64_t seed, size_t n, fl_ops_t *out) {
  fl_status_t s = fl_oracle_probes(out);
  if (s != FL_OK || !n) return s;
  fl_gen_options_t g;
  fl_gen_options_default(&g);
  /* One thread (the helper runs one); no check or inject (refmalloc's). */
  g.kinds = FL_GEN_ALL_KINDS & ~(FL_GEN_KIND(FL_OP_THREAD) | FL_GEN_KIND(FL_OP_CHECK) | FL_GEN_KIND(FL_OP_INJECT));
  g.budget = FL_ORACLE_DEFAULT_BUDGET;
  g.slots = 256;
  return fl_ops_generate(seed, n, &g, out);
}
