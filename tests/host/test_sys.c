/* test_sys.c — raw wrappers return -errno; the access guard reports signals
 * and leaves the previous signal actions in place. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/harness.h"
#include "host/sys.h"

static size_t ps(void) { return (size_t)sysconf(_SC_PAGESIZE); }

static uintptr_t map(size_t len, int prot) {
  intptr_t p = fl_sys_mmap(0, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p < 0 ? 0 : (uintptr_t)p;
}

FL_TEST(sys_errors_are_negative_errno) {
  FL_CHECK_EQ(fl_sys_munmap(1, ps()), -EINVAL);          /* unaligned */
  FL_CHECK_EQ(fl_sys_mmap(0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), -EINVAL);
  FL_CHECK_EQ(fl_sys_mmap(0, ps(), PROT_READ, MAP_PRIVATE, 12345, 0), -EBADF);
  FL_CHECK_EQ(fl_sys_madvise(1, ps(), MADV_DONTNEED), -EINVAL);
  uintptr_t p = map(ps(), PROT_READ);
  FL_CHECK_NE(p, 0);
  FL_CHECK_EQ(fl_sys_mremap(p, ps(), 2 * ps(), 0, 0) == 0 ? 0 : 1, 1);
  FL_CHECK_EQ(fl_sys_munmap(p, ps()), 0);
  FL_CHECK_EQ(fl_sys_mprotect(p, ps(), PROT_READ), -ENOMEM); /* unmapped */
}

FL_TEST(sys_mremap_moves_and_keeps_contents) {
  uintptr_t p = map(ps(), PROT_READ | PROT_WRITE);
  FL_CHECK_NE(p, 0);
  fl_sys_poke(p + 7, 0x5a);
  intptr_t q = fl_sys_mremap(p, ps(), 64 * ps(), MREMAP_MAYMOVE, 0);
  FL_CHECK_GE(q, 0);
  FL_CHECK_EQ(fl_sys_peek((uintptr_t)q + 7), 0x5a);
  FL_CHECK_EQ(fl_sys_munmap((uintptr_t)q, 64 * ps()), 0);
}

FL_TEST(probe_access_prot_none_segv) {
  uintptr_t p = map(ps(), PROT_NONE);
  FL_CHECK_NE(p, 0);
  FL_CHECK_EQ(fl_sys_probe_access(p, false), SIGSEGV);
  FL_CHECK_EQ(fl_sys_probe_access(p, true), SIGSEGV);
  fl_sys_munmap(p, ps());
}

FL_TEST(probe_access_rw_ok_and_unchanged) {
  uintptr_t p = map(ps(), PROT_READ | PROT_WRITE);
  FL_CHECK_NE(p, 0);
  fl_sys_poke(p, 42);
  FL_CHECK_EQ(fl_sys_probe_access(p, false), 0);
  FL_CHECK_EQ(fl_sys_probe_access(p, true), 0);
  FL_CHECK_EQ(fl_sys_peek(p), 42);
  fl_sys_munmap(p, ps());
}

FL_TEST(probe_access_write_to_readonly_segv) {
  uintptr_t p = map(ps(), PROT_READ);
  FL_CHECK_NE(p, 0);
  FL_CHECK_EQ(fl_sys_probe_access(p, false), 0);
  FL_CHECK_EQ(fl_sys_probe_access(p, true), SIGSEGV);
  fl_sys_munmap(p, ps());
}

FL_TEST(probe_access_sigbus_past_file_end) {
  char path[] = "/tmp/fl-sys-XXXXXX";
  int fd = mkstemp(path);
  FL_CHECK_GE(fd, 0);
  unlink(path);
  FL_CHECK_EQ(ftruncate(fd, (off_t)ps()), 0);
  intptr_t p = fl_sys_mmap(0, 2 * ps(), PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  FL_CHECK_GE(p, 0);
  FL_CHECK_EQ(fl_sys_probe_access((uintptr_t)p, false), 0);
  FL_CHECK_EQ(fl_sys_probe_access((uintptr_t)p + ps(), false), SIGBUS);
  fl_sys_munmap((uintptr_t)p, 2 * ps());
}

static void marker(int sig) { (void)sig; }

FL_TEST(guard_restores_previous_action) {
  struct sigaction sa = {0}, before, after;
  sa.sa_handler = marker;
  sigemptyset(&sa.sa_mask);
  FL_CHECK_EQ(sigaction(SIGSEGV, &sa, &before), 0);
  uintptr_t p = map(ps(), PROT_NONE);
  FL_CHECK_EQ(fl_sys_probe_access(p, false), SIGSEGV);
  FL_CHECK_EQ(sigaction(SIGSEGV, &before, &after), 0);
  FL_CHECK(after.sa_handler == marker);
  fl_sys_munmap(p, ps());
}

FL_TEST(guarded_copy_and_set_stop_at_the_hole) {
  /* [RW][NONE]: a copy across the boundary faults after the first page. */
  uintptr_t p = map(2 * ps(), PROT_READ | PROT_WRITE);
  FL_CHECK_NE(p, 0);
  FL_CHECK_EQ(fl_sys_mprotect(p + ps(), ps(), PROT_NONE), 0);
  FL_CHECK_EQ(fl_sys_guarded_set((void *)p, 0xab, ps()), 0);
  FL_CHECK_EQ(fl_sys_peek(p + ps() - 1), 0xab);
  char buf[64];
  FL_CHECK_EQ(fl_sys_guarded_copy(buf, (void *)p, sizeof buf), 0);
  FL_CHECK_EQ((uint8_t)buf[63], 0xab);
  FL_CHECK_EQ(fl_sys_guarded_set((void *)(p + ps() - 8), 1, 16), SIGSEGV);
  FL_CHECK_EQ(fl_sys_peek(p + ps() - 1), 1); /* partial: the RW part was set */
  FL_CHECK_EQ(fl_sys_guarded_copy(buf, (void *)(p + ps() - 8), 16), SIGSEGV);
  FL_CHECK_EQ(fl_sys_munmap(p, 2 * ps()), 0);
}

FL_TEST(guard_is_reusable_many_times) {
  uintptr_t p = map(ps(), PROT_NONE);
  int segv = 0;
  for (int i = 0; i < 1000; i++) segv += fl_sys_probe_access(p, i & 1) == SIGSEGV;
  FL_CHECK_EQ(segv, 1000);
  fl_sys_munmap(p, ps());
}

FL_TEST(disable_thp_sets_prctl) {
  pid_t pid = fork();
  FL_CHECK_GE(pid, 0);
  if (pid == 0) /* a child, so the test process keeps its THP setting */
    _exit(fl_sys_disable_thp() == 0 && prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1 ? 0 : 1);
  int st;
  FL_CHECK_EQ(waitpid(pid, &st, 0), pid);
  FL_CHECK(WIFEXITED(st));
  FL_CHECK_EQ(WEXITSTATUS(st), 0);
}

FL_TEST(valgrind_detection_matches_environment) {
  /* Under valgrind, its preload library is mapped into us; natively not. */
  FILE *f = fopen("/proc/self/maps", "r");
  FL_CHECK(f != NULL);
  char line[512];
  bool vg = false;
  while (fgets(line, sizeof line, f)) vg |= strstr(line, "vgpreload") != NULL;
  fclose(f);
  FL_CHECK_EQ(fl_sys_under_valgrind(), vg);
}
