/* placement.c — run mmap/munmap/mremap steps in a child whose address space
 * leaves the kernel's top-down allocator (vm_unmapped_area with
 * VM_UNMAPPED_AREA_TOPDOWN, from mm->mmap_base down) one choice: the free
 * gap right below a known floor. Results are reported relative to it.
 *
 * The child allocates nothing after fork (it may be a sanitized, threaded
 * process's copy): its maps buffer and the result page are mapped by the
 * parent before fork, and it only uses the raw system call wrappers. */
#include "host/placement.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host/procfs.h"
#include "host/sys.h"
#include "util/err.h"

#define MAX_ENTRIES 8192
#define STACK_GUARD_GAP ((uintptr_t)1 << 20) /* stack_guard_gap default, 256 pages */

typedef struct shared_result {
  intptr_t status; /* intptr_t: keeps the arrays after the header aligned */
  char msg[240];
  /* followed by intptr_t rel[n], uintptr_t addr[n] */
} shared_result_t;

static intptr_t *res_rel(shared_result_t *r) { return (intptr_t *)(r + 1); }
static uintptr_t *res_addr(shared_result_t *r, size_t n) { return (uintptr_t *)(res_rel(r) + n); }

static int child_fail(shared_result_t *r, int status, const char *what, long err) {
  r->status = status;
  snprintf(r->msg, sizeof r->msg, "placement child: %s%s%s", what, err ? ": " : "",
           err ? strerror((int)-err) : "");
  return status;
}

static int fill(shared_result_t *r, uintptr_t lo, uintptr_t hi) {
  if (hi <= lo) return FL_OK;
  intptr_t m = fl_sys_mmap(lo, hi - lo, PROT_NONE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  if (m < 0) return child_fail(r, FL_EENV, "filling a hole failed", m);
  if ((uintptr_t)m != lo) return child_fail(r, FL_EENV, "MAP_FIXED_NOREPLACE ignored (kernel < 4.17)", 0);
  return FL_OK;
}

/* The highest gap of at least FL_PLACE_BIG_GAP between mappings below the
 * stack; the largest gap if none is that big. Returns the index of the
 * mapping right above it (0 if there is none). */
static long floor_index(const fl_maps_entry_t *e, long nstack) {
  long best = 0, largest = 0;
  uintptr_t largest_gap = 0;
  for (long i = 1; i < nstack; i++) {
    uintptr_t gap = e[i].start - e[i - 1].end;
    if (gap >= FL_PLACE_BIG_GAP) best = i;
    if (gap > largest_gap) largest_gap = gap, largest = i;
  }
  return best ? best : largest;
}

/* Fills every hole between the floor and mmap_base's highest possible value
 * with PROT_NONE; returns the (aligned) floor, or 0 after child_fail(). */
static uintptr_t prepare(shared_result_t *r, fl_maps_entry_t *e) {
  long n = fl_maps_read(0, UINTPTR_MAX, e, MAX_ENTRIES);
  if (n < 0 || n > MAX_ENTRIES) return child_fail(r, FL_EENV, "cannot read /proc/self/maps", 0), 0;
  long s = 0;
  while (s < n && strcmp(e[s].name, "[stack]") != 0) s++;
  if (s == n || s < 2) return child_fail(r, FL_EENV, "no [stack] in /proc/self/maps", 0), 0;
  long f = floor_index(e, s);
  if (f == 0) return child_fail(r, FL_EENV, "no free gap below the mmap area", 0), 0;
  uintptr_t floor = e[f].start & ~(FL_PLACE_FLOOR_ALIGN - 1);
  if (floor < e[f - 1].end) return child_fail(r, FL_EENV, "gap below the floor too small", 0), 0;
  if (fill(r, floor, e[f].start) != FL_OK) return 0;
  for (long i = f; i + 1 < s; i++)
    if (fill(r, e[i].end, e[i + 1].start) != FL_OK) return 0;
  /* mmap_base() = TASK_SIZE - (rlimit + stack_guard_gap + stack random pad)
   * - mmap random; the stack top sits at most that random pad below
   * TASK_SIZE, so mmap_base <= [stack] end - rlimit - guard. */
  struct rlimit rl;
  getrlimit(RLIMIT_STACK, &rl);
  uintptr_t limit = e[s].end - rl.rlim_cur - STACK_GUARD_GAP;
  if (rl.rlim_cur < e[s].end && limit > e[s - 1].end && fill(r, e[s - 1].end, limit) != FL_OK)
    return 0;
  return floor;
}

/* `ref` must name an earlier MMAP/MREMAP step that succeeded. */
static bool valid_ref(const fl_place_step_t *st, size_t i, const uintptr_t *addr) {
  return st[i].ref >= 0 && (size_t)st[i].ref < i && st[st[i].ref].kind != FL_PLACE_MUNMAP &&
         addr[st[i].ref] != 0;
}

static void run_steps(shared_result_t *r, uintptr_t floor, const fl_place_step_t *st, size_t n) {
  intptr_t *rel = res_rel(r);
  uintptr_t *addr = res_addr(r, n);
  for (size_t i = 0; i < n; i++) {
    intptr_t got;
    if (st[i].kind == FL_PLACE_MMAP) {
      uintptr_t hint = st[i].hint_rel ? floor + (uintptr_t)st[i].hint_rel : 0;
      got = fl_sys_mmap(hint, st[i].len, st[i].prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    } else if (!valid_ref(st, i, addr)) {
      got = -EINVAL;
    } else if (st[i].kind == FL_PLACE_MUNMAP) {
      got = fl_sys_munmap(addr[st[i].ref] + st[i].off, st[i].len);
    } else {
      got = fl_sys_mremap(addr[st[i].ref] + st[i].off, st[i].len, st[i].len2, MREMAP_MAYMOVE, 0);
    }
    addr[i] = got >= 0 ? (uintptr_t)got : 0;
    rel[i] = got < 0 || st[i].kind == FL_PLACE_MUNMAP ? got : (intptr_t)((uintptr_t)got - floor);
  }
}

/* A bottom-up layout (mmap_is_legacy()) would put mappings above
 * TASK_UNMAPPED_BASE instead of below a floor: nothing to compare. */
static int check_layout(void) {
  FILE *f = fopen("/proc/sys/vm/legacy_va_layout", "re");
  int legacy = 0;
  if (f) {
    if (fscanf(f, "%d", &legacy) != 1) legacy = 0;
    fclose(f);
  }
  struct rlimit rl;
  int pers = personality(0xffffffff);
  if (legacy || (pers != -1 && (pers & ADDR_COMPAT_LAYOUT)) ||
      (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur == RLIM_INFINITY))
    return fl_error(FL_EENV, "placement probe: bottom-up mmap layout (legacy_va_layout, "
                             "ADDR_COMPAT_LAYOUT or unlimited stack)");
  return FL_OK;
}

/* Waits up to FL_PLACE_TIMEOUT_MS; kills the child after that. */
static int wait_child(pid_t pid) {
  int st;
  for (int ms = 0; ms < FL_PLACE_TIMEOUT_MS; ms++) {
    pid_t w = waitpid(pid, &st, WNOHANG);
    if (w == pid) {
      if (WIFEXITED(st)) return FL_OK;
      return fl_error(FL_EENV, "placement child died of signal %d", WTERMSIG(st));
    }
    if (w < 0 && errno != EINTR) return fl_error(FL_EENV, "waitpid: %s", strerror(errno));
    nanosleep(&(struct timespec){0, 1000000}, NULL);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
  return fl_error(FL_EENV, "placement child timed out after %d ms", FL_PLACE_TIMEOUT_MS);
}

int fl_placement_probe(const fl_place_step_t *steps, size_t n, intptr_t *rel_out) {
  if (fl_sys_under_valgrind()) return fl_error(FL_EENV, "placement probe skipped under valgrind");
  int rc = check_layout();
  if (rc != FL_OK) return rc;
  size_t ps = (size_t)sysconf(_SC_PAGESIZE);
  size_t rsize = (sizeof(shared_result_t) + n * 2 * sizeof(intptr_t) + ps - 1) / ps * ps;
  size_t esize = MAX_ENTRIES * sizeof(fl_maps_entry_t);
  intptr_t shm = fl_sys_mmap(0, rsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  intptr_t ents = fl_sys_mmap(0, esize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (shm < 0 || ents < 0) {
    rc = fl_error(FL_EENV, "placement probe: mmap failed: %s", strerror((int)-(shm < 0 ? shm : ents)));
    goto out;
  }
  shared_result_t *r = (shared_result_t *)shm;
  r->status = FL_EENV;
  snprintf(r->msg, sizeof r->msg, "placement child exited early");
  fflush(NULL); /* the child _exits, but keep stdio buffers from doubling anyway */
  pid_t pid = fork();
  if (pid < 0) {
    rc = fl_error(FL_EENV, "placement probe: fork: %s", strerror(errno));
    goto out;
  }
  if (pid == 0) {
    uintptr_t floor = prepare(r, (fl_maps_entry_t *)ents);
    if (floor) {
      run_steps(r, floor, steps, n);
      r->status = FL_OK;
    }
    _exit(0);
  }
  rc = wait_child(pid);
  if (rc == FL_OK && r->status != FL_OK) rc = fl_error((fl_status_t)r->status, "%s", r->msg);
  if (rc == FL_OK) memcpy(rel_out, res_rel(r), n * sizeof *rel_out);
out:
  if (shm >= 0) fl_sys_munmap((uintptr_t)shm, rsize);
  if (ents >= 0) fl_sys_munmap((uintptr_t)ents, esize);
  return rc;
}
