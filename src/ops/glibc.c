/* glibc.c — the tracer side of the real-glibc helper (see glibc.h).
 *
 * One child per handle: forked, filtered (seccomp-bpf: the memory calls and
 * the marker trace, the rest is allowed), traced (PTRACE_TRACEME), then
 * exec'd into faultline-glibc. At each seccomp stop the call's number and
 * arguments are read; PTRACE_SYSCALL then runs it to its exit stop for the
 * result. SIGCHLD is blocked around waits so that sigtimedwait can bound
 * them: a helper that stops answering is killed and reported, never waited
 * on forever. */
#include "ops/glibc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/paths.h"

#define STARTUP_MAX 256
#define DEFAULT_TIMEOUT_MS 60000 /* M_PERTURB + memalign(4 GiB) memsets 4 GiB: ~20 s here */

/* Exit codes of the child before execve, for the FL_EENV message. */
enum { CHILD_SECCOMP = 120, CHILD_PTRACE = 121, CHILD_FDS = 122, CHILD_EXEC = 127 };

struct fl_glibc {
  pid_t pid;
  int sock;        /* our end of the request/reply socket */
  int errfd;       /* the helper's stderr, non-blocking */
  unsigned timeout_ms;
  uint64_t cur_brk;
  size_t ops;      /* ops sent so far */
  struct {
    unsigned nth; /* 0: none armed */
    int err;
  } inject[FL_SYS_COUNT];
  fl_sysrec_t startup[STARTUP_MAX];
  size_t nstartup;
  fl_glibc_death_t death;
  fl_glibc_hello_t hello;
  char path[PATH_MAX];
};

const char *fl_sysno_name(fl_sysno_t no) {
  static const char *const names[FL_SYS_COUNT] = {"mmap", "munmap", "mprotect",
                                                  "mremap", "madvise", "brk"};
  return (unsigned)no < FL_SYS_COUNT ? names[no] : "?";
}

static int sysno_of(long nr) {
  switch (nr) {
  case SYS_mmap: return FL_SYS_MMAP;
  case SYS_munmap: return FL_SYS_MUNMAP;
  case SYS_mprotect: return FL_SYS_MPROTECT;
  case SYS_mremap: return FL_SYS_MREMAP;
  case SYS_madvise: return FL_SYS_MADVISE;
  case SYS_brk: return FL_SYS_BRK;
  default: return -1;
  }
}

/* ------------------------------------------------------------ the child */

#define TRACE_NR(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
                     BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE)

static int install_filter(void) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      TRACE_NR(SYS_brk), TRACE_NR(SYS_mmap), TRACE_NR(SYS_munmap),
      TRACE_NR(SYS_mremap), TRACE_NR(SYS_mprotect), TRACE_NR(SYS_madvise),
      TRACE_NR(SYS_getppid),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) return -1;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* After fork: only async-signal-safe calls. fds moves to 3/4 and 2. */
static void child(int sock, int errw, int devnull, const char *path, char *const envp[]) {
  int s = fcntl(sock, F_DUPFD, 10), e = fcntl(errw, F_DUPFD, 10);
  if (s < 0 || e < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(e, 2) < 0 ||
      dup2(s, FL_GLIBC_FD_REQ) < 0 || dup2(s, FL_GLIBC_FD_REP) < 0)
    _exit(CHILD_FDS);
  setpgid(0, 0); /* wait_child waits for this group only */
  if (install_filter()) _exit(CHILD_SECCOMP);
  personality(ADDR_NO_RANDOMIZE);
  if (ptrace(PTRACE_TRACEME, 0, 0, 0)) _exit(CHILD_PTRACE);
  raise(SIGSTOP);
  char *const argv[] = {(char *)path, NULL};
  execve(path, argv, envp);
  _exit(CHILD_EXEC);
}

/* ------------------------------------------------------------ waiting */

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* 1: *st has the next stop or end of one of the helper's threads (*who);
 * 0: timed out; -1: waitpid failed. The helper leads its own process group,
 * so that waiting for it never reaps another child of ours. The caller has
 * SIGCHLD blocked, but in a process with other threads (libFuzzer's RSS
 * thread, say) the kernel may hand SIGCHLD to one that does not block it,
 * which discards it: the helper sat in a ptrace stop while this thread slept
 * out the whole timeout. So no sleep is longer than WAIT_SLICE_MS. */
#define WAIT_SLICE_MS 5
static int wait_child(fl_glibc_t *h, pid_t *who, int *st, uint64_t deadline) {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  for (;;) {
    pid_t r = waitpid(-h->pid, st, WNOHANG | __WALL);
    if (r > 0) {
      *who = r;
      return 1;
    }
    if (r < 0 && errno != EINTR) return -1;
    uint64_t t = now_ms();
    if (t >= deadline) return 0;
    uint64_t left = deadline - t < WAIT_SLICE_MS ? deadline - t : WAIT_SLICE_MS;
    struct timespec ts = {0, (long)left * 1000000L};
    sigtimedwait(&chld, NULL, &ts);
  }
}

static void read_stderr(fl_glibc_t *h) {
  char *m = h->death.message;
  size_t n = strlen(m);
  for (;;) {
    ssize_t k = read(h->errfd, m + n, sizeof h->death.message - 1 - n);
    if (k <= 0) break;
    n += (size_t)k;
  }
  m[n] = 0;
  while (n && (m[n - 1] == '\n' || m[n - 1] == '\r')) m[--n] = 0;
}

/* Kills the helper and waits for all its threads. */
static void reap(fl_glibc_t *h) {
  int s;
  kill(h->pid, SIGKILL);
  while (waitpid(-h->pid, &s, __WALL) > 0 || errno == EINTR) {}
}

/* The helper ended (st from waitpid) or hung (st == NULL): a finding. */
static fl_status_t died(fl_glibc_t *h, const int *st) {
  fl_glibc_death_t *d = &h->death;
  d->dead = true;
  d->exit_code = -1;
  d->op_index = h->ops ? h->ops - 1 : 0;
  if (!st) d->timeout = true;
  else if (WIFSIGNALED(*st)) d->signal = WTERMSIG(*st);
  else if (WIFEXITED(*st)) d->exit_code = WEXITSTATUS(*st);
  reap(h); /* the hung helper, or the threads of a dead one */
  h->pid = 0;
  read_stderr(h);
  return FL_FINDING;
}

/* ------------------------------------------------------------ tracing */

typedef struct sink {
  fl_sysrec_t *v;
  size_t cap, n;
} sink_t;

static bool take_injection(fl_glibc_t *h, int no) {
  if (!h->inject[no].nth || --h->inject[no].nth) return false;
  return true;
}

/* The signal to deliver when resuming from stop st: none for the tracer's
 * own stops (exec, clone, syscall, a new thread's first SIGSTOP). */
static int passed_signal(int st) {
  int sig = WSTOPSIG(st);
  return sig == SIGTRAP || sig == (SIGTRAP | 0x80) || sig == SIGSTOP ? 0 : sig;
}

/* From a seccomp stop of a memory call to its exit stop and on. */
static fl_status_t trace_call(fl_glibc_t *h, pid_t tid, struct user_regs_struct *regs, int no,
                              sink_t *out, uint64_t deadline) {
  fl_sysrec_t rec = {.no = (fl_sysno_t)no};
  uint64_t a[6] = {regs->rdi, regs->rsi, regs->rdx, regs->r10, regs->r8, regs->r9};
  memcpy(rec.args, a, sizeof a);
  rec.query = no == FL_SYS_BRK && a[0] == 0;
  rec.injected = take_injection(h, no);
  int err = h->inject[no].err;
  if (rec.injected) {
    regs->orig_rax = (unsigned long long)-1; /* skip: the kernel runs nothing */
    if (ptrace(PTRACE_SETREGS, tid, 0, regs)) return fl_error(FL_EENV, "PTRACE_SETREGS: %s", strerror(errno));
  }
  int st;
  if (ptrace(PTRACE_SYSCALL, tid, 0, 0)) return fl_error(FL_EENV, "PTRACE_SYSCALL: %s", strerror(errno));
  for (;;) {
    pid_t who;
    int w = wait_child(h, &who, &st, deadline);
    if (w < 0) return fl_error(FL_EENV, "waitpid: %s", strerror(errno));
    if (w == 0) return died(h, NULL);
    if (!WIFSTOPPED(st)) {
      if (who == h->pid) return died(h, &st);
      continue; /* another thread ended: the process is going down */
    }
    if (who == tid && WSTOPSIG(st) == (SIGTRAP | 0x80)) break;
    /* a signal on the way, or another thread's stop: resume it */
    if (ptrace(who == tid ? PTRACE_SYSCALL : PTRACE_CONT, who, 0, (void *)(intptr_t)passed_signal(st)))
      return fl_error(FL_EENV, "PTRACE_SYSCALL: %s", strerror(errno));
  }
  if (ptrace(PTRACE_GETREGS, tid, 0, regs)) return fl_error(FL_EENV, "PTRACE_GETREGS: %s", strerror(errno));
  if (rec.injected) {
    /* sys_brk fails by returning the break unchanged; the rest by -errno. */
    regs->rax = no == FL_SYS_BRK ? h->cur_brk : (unsigned long long)(int64_t)-err;
    if (ptrace(PTRACE_SETREGS, tid, 0, regs)) return fl_error(FL_EENV, "PTRACE_SETREGS: %s", strerror(errno));
  }
  rec.ret = (int64_t)regs->rax;
  if (no == FL_SYS_BRK) h->cur_brk = (uint64_t)rec.ret;
  if (out->n < out->cap) out->v[out->n] = rec;
  out->n++;
  return FL_OK;
}

/* Runs the helper to its next marker, recording the memory calls. */
static fl_status_t trace_to_marker(fl_glibc_t *h, sink_t *out) {
  uint64_t deadline = now_ms() + h->timeout_ms;
  for (;;) {
    pid_t who;
    int st, w = wait_child(h, &who, &st, deadline);
    if (w < 0) return fl_error(FL_EENV, "waitpid: %s", strerror(errno));
    if (w == 0) return died(h, NULL);
    if (!WIFSTOPPED(st)) {
      if (who == h->pid) return died(h, &st);
      continue; /* a thread ended: the process is going down */
    }
    int sig = passed_signal(st);
    if (WSTOPSIG(st) == SIGTRAP && st >> 16 == PTRACE_EVENT_SECCOMP) {
      struct user_regs_struct regs;
      if (ptrace(PTRACE_GETREGS, who, 0, &regs))
        return fl_error(FL_EENV, "PTRACE_GETREGS: %s", strerror(errno));
      long nr = (long)regs.orig_rax;
      int no = sysno_of(nr);
      if (nr == SYS_getppid) {
        if (ptrace(PTRACE_CONT, who, 0, 0)) return fl_error(FL_EENV, "PTRACE_CONT: %s", strerror(errno));
        return FL_OK;
      }
      if (no >= 0) {
        fl_status_t s = trace_call(h, who, &regs, no, out, deadline);
        if (s != FL_OK) return s;
      }
    }
    if (ptrace(PTRACE_CONT, who, 0, (void *)(intptr_t)sig))
      return fl_error(FL_EENV, "PTRACE_CONT: %s", strerror(errno));
  }
}

/* ------------------------------------------------------------ open/close */

static const char *child_failure(int code) {
  switch (code) {
  case CHILD_SECCOMP: return "could not install its seccomp filter (PR_SET_SECCOMP refused)";
  case CHILD_PTRACE: return "could not be traced (PTRACE_TRACEME refused)";
  case CHILD_FDS: return "could not set up its descriptors";
  case CHILD_EXEC: return "could not be executed";
  default: return "exited before its first op";
  }
}

static fl_status_t start(fl_glibc_t *h, const fl_glibc_opts_t *o) {
  char tun[4096], pre[PATH_MAX + 16]; /* the child execs from this frame */
  char *envp[4];
  int ne = 0;
  envp[ne++] = "LIBC_FATAL_STDERR_=1"; /* abort messages on fd 2, not the tty */
  if (o && o->tunables) snprintf(tun, sizeof tun, "GLIBC_TUNABLES=%s", o->tunables), envp[ne++] = tun;
  if (o && o->preload) snprintf(pre, sizeof pre, "LD_PRELOAD=%s", o->preload), envp[ne++] = pre;
  envp[ne] = NULL;
  int sv[2], ep[2], devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) return fl_error(FL_EENV, "/dev/null: %s", strerror(errno));
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) || pipe2(ep, O_CLOEXEC)) {
    close(devnull);
    return fl_error(FL_EENV, "socketpair/pipe: %s", strerror(errno));
  }
  h->pid = fork();
  if (h->pid == 0) child(sv[1], ep[1], devnull, h->path, envp);
  close(sv[1]);
  close(ep[1]);
  close(devnull);
  h->sock = sv[0];
  h->errfd = ep[0];
  if (h->pid < 0) {
    h->pid = 0;
    return fl_error(FL_EENV, "fork: %s", strerror(errno));
  }
  fcntl(h->errfd, F_SETFL, O_NONBLOCK);
  int st;
  while (waitpid(h->pid, &st, __WALL) < 0)
    if (errno != EINTR) return fl_error(FL_EENV, "waitpid: %s", strerror(errno));
  if (!WIFSTOPPED(st)) {
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    h->pid = 0;
    return fl_error(FL_EENV, "the glibc helper %s %s", h->path, child_failure(code));
  }
  long opts = PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXEC |
              PTRACE_O_TRACECLONE; /* the helper's threads: traced from birth */
  if (ptrace(PTRACE_SETOPTIONS, h->pid, 0, (void *)opts) || ptrace(PTRACE_CONT, h->pid, 0, 0))
    return fl_error(FL_EENV, "ptrace on the glibc helper: %s", strerror(errno));
  return FL_OK;
}

fl_status_t fl_glibc_open(fl_glibc_t **out, const fl_glibc_opts_t *opts) {
  *out = NULL;
  fl_glibc_t *h = calloc(1, sizeof *h);
  if (!h) return fl_error(FL_EENV, "out of memory");
  h->sock = h->errfd = -1;
  h->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
  if (!fl_path_find_helper("faultline-glibc", opts ? opts->helper : NULL, "FAULTLINE_GLIBC_HELPER", h->path,
                           sizeof h->path) ||
      access(h->path, X_OK) != 0) {
    fl_status_t s = fl_error(FL_EENV,
                             "cannot find the glibc helper '%s' (build the faultline-glibc target, "
                             "or set FAULTLINE_GLIBC_HELPER)", h->path);
    fl_glibc_close(h);
    return s;
  }
  sigset_t chld, old;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &chld, &old);
  fl_status_t s = start(h, opts);
  if (s == FL_OK) {
    sink_t sk = {h->startup, STARTUP_MAX, 0};
    s = trace_to_marker(h, &sk);
    h->nstartup = sk.n < STARTUP_MAX ? sk.n : STARTUP_MAX;
    if (s == FL_OK && recv(h->sock, &h->hello, sizeof h->hello, MSG_DONTWAIT | MSG_WAITALL) != sizeof h->hello)
      s = fl_error(FL_EENV, "the glibc helper %s sent no start-up message", h->path);
    if (s == FL_FINDING && h->death.timeout)
      s = fl_error(FL_EENV, "the glibc helper %s did not reach its first op within %u ms", h->path, h->timeout_ms);
    else if (s == FL_FINDING)
      s = fl_error(FL_EENV, "the glibc helper %s died before its first op (%s, status %d%s%s)", h->path,
                   h->death.signal ? strsignal(h->death.signal) : child_failure(h->death.exit_code),
                   h->death.signal ? h->death.signal : h->death.exit_code, *h->death.message ? ": " : "",
                   h->death.message);
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (s != FL_OK) {
    fl_glibc_close(h);
    return s;
  }
  *out = h;
  return FL_OK;
}

void fl_glibc_close(fl_glibc_t *h) {
  if (!h) return;
  if (h->sock >= 0) close(h->sock);
  if (h->pid > 0) reap(h);
  if (h->errfd >= 0) close(h->errfd);
  free(h);
}

/* ------------------------------------------------------------ ops */

static fl_status_t exchange(fl_glibc_t *h, const fl_op_t *op, fl_glibc_reply_t *out, sink_t *sk) {
  if (send(h->sock, op, sizeof *op, MSG_NOSIGNAL) != (ssize_t)sizeof *op)
    return fl_error(FL_EENV, "writing to the glibc helper: %s", strerror(errno));
  h->ops++;
  fl_status_t s = trace_to_marker(h, sk);
  if (s != FL_OK) return s;
  size_t got = 0;
  while (got < sizeof *out) {
    ssize_t k = recv(h->sock, (char *)out + got, sizeof *out - got, MSG_DONTWAIT);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return fl_error(FL_EENV, "the glibc helper's reply is missing (op %zu)", h->ops - 1);
    got += (size_t)k;
  }
  return FL_OK;
}

fl_status_t fl_glibc_op(fl_glibc_t *h, const fl_op_t *op, fl_glibc_reply_t *out,
                        fl_sysrec_t *calls, size_t cap, size_t *ncalls) {
  memset(out, 0, sizeof *out);
  *ncalls = 0;
  if (!fl_op_is_canonical(op)) return fl_error(FL_EUSAGE, "op (kind %u) is not canonical", op->kind);
  if (h->death.dead) {
    out->status = FL_GLIBC_DIED;
    return FL_FINDING;
  }
  if (op->kind == FL_OP_INJECT) { /* the tracer's, like fl_vm_inject */
    h->inject[op->a].nth = (unsigned)op->b;
    h->inject[op->a].err = op->aux;
    return FL_OK;
  }
  sigset_t chld, old;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &chld, &old);
  sink_t sk = {calls, cap, 0};
  fl_status_t s = exchange(h, op, out, &sk);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  *ncalls = sk.n;
  if (s == FL_FINDING) out->status = FL_GLIBC_DIED;
  return s;
}

const fl_glibc_death_t *fl_glibc_death(const fl_glibc_t *h) { return &h->death; }
const fl_glibc_hello_t *fl_glibc_hello(const fl_glibc_t *h) { return &h->hello; }

const fl_sysrec_t *fl_glibc_startup(const fl_glibc_t *h, size_t *n) {
  *n = h->nstartup;
  return h->startup;
}

uint64_t fl_glibc_cur_brk(const fl_glibc_t *h) { return h->cur_brk; }
pid_t fl_glibc_pid(const fl_glibc_t *h) { return h->pid; }

fl_status_t fl_glibc_layout(const fl_glibc_t *h, fl_glibc_layout_t *out) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/maps", (int)h->pid);
  FILE *f = h->pid > 0 ? fopen(path, "re") : NULL;
  if (!f) return fl_error(FL_EENV, "%s: %s", path, strerror(errno));
  memset(out, 0, sizeof *out);
  out->brk0 = h->cur_brk;
  unsigned long long lo, hi;
  char line[512], name[256];
  fl_status_t st = FL_OK;
  while (st == FL_OK && fgets(line, sizeof line, f)) {
    name[0] = 0;
    if (sscanf(line, "%llx-%llx %*s %*s %*s %*s %255s", &lo, &hi, name) < 2) continue;
    if (!strcmp(name, "[vsyscall]")) continue; /* the gate area, not a VMA */
    out->vmas++;
    if (lo < h->cur_brk || !strcmp(name, "[stack]")) continue;
    if (out->n == FL_GLIBC_LAYOUT_MAX) st = fl_error(FL_EENV, "%s: more than %d mappings", path, FL_GLIBC_LAYOUT_MAX);
    else out->map[out->n].lo = lo, out->map[out->n++].hi = hi;
    if (hi > out->mmap_base) out->mmap_base = hi;
  }
  fclose(f);
  if (st == FL_OK && (!out->brk0 || !out->n)) st = fl_error(FL_EENV, "%s: no break or no mapping above it", path);
  return st;
}
