/* bench_vm — what one modelled call costs, in fast and shadow mode, next to
 * the raw system calls it stands for, measured side by side in one run.
 * Prints a table and ratios; not a test (these machines are shared). */
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>

#include "host/profile.h"
#include "host/sys.h"
#include "util/err.h"
#include "vm/vm.h"

#define PG 4096UL
#define N 20000

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct costs { double map_unmap, touch, load; } costs_t;

static int bench_model(fl_vm_mode_t mode, costs_t *c) {
  fl_vm_config_t cfg;
  fl_vm_config_default(&cfg, fl_kprofile_get());
  cfg.mode = mode;
  fl_vm_t *vm;
  if (fl_vm_open(&vm, &cfg) != FL_OK) {
    fprintf(stderr, "bench_vm: %s\n", fl_error_message());
    return 3;
  }
  double t = now();
  for (int i = 0; i < N; i++) {
    intptr_t a = fl_vm_mmap(vm, 0, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    fl_vm_munmap(vm, (uintptr_t)a, PG);
  }
  c->map_unmap = (now() - t) / N;
  intptr_t a = fl_vm_mmap(vm, 0, N * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  t = now();
  for (int i = 0; i < N; i++) fl_vm_touch(vm, (uintptr_t)a + i * PG, 1, true);
  c->touch = (now() - t) / N;
  uint64_t x;
  t = now();
  for (int i = 0; i < N; i++) fl_vm_load(vm, (uintptr_t)a + (i % 64) * 8, &x, 8);
  c->load = (now() - t) / N;
  fl_vm_close(vm);
  return 0;
}

static void bench_raw(costs_t *c) {
  double t = now();
  for (int i = 0; i < N; i++) {
    intptr_t a = fl_sys_mmap(0, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    fl_sys_munmap((uintptr_t)a, PG);
  }
  c->map_unmap = (now() - t) / N;
  volatile char *p = (volatile char *)fl_sys_mmap(0, N * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  t = now();
  for (int i = 0; i < N; i++) p[i * PG] = 1;
  c->touch = (now() - t) / N;
  t = now();
  volatile uint64_t sum = 0;
  for (int i = 0; i < N; i++) sum += ((volatile uint64_t *)p)[i % 64];
  c->load = (now() - t) / N;
  fl_sys_munmap((uintptr_t)p, N * PG);
}

int main(void) {
  costs_t fast, shadow, raw;
  if (bench_model(FL_VM_FAST, &fast) || bench_model(FL_VM_SHADOW, &shadow)) return 3;
  bench_raw(&raw);
  printf("%-28s %12s %12s %12s %10s %10s\n", "per call (us)", "raw kernel", "fast", "shadow", "fast/raw", "shadow/raw");
  const char *names[] = {"mmap+munmap of one page", "write fault of a fresh page", "8-byte load, present page"};
  const double rows[3][3] = {{raw.map_unmap, fast.map_unmap, shadow.map_unmap},
                             {raw.touch, fast.touch, shadow.touch},
                             {raw.load, fast.load, shadow.load}};
  for (int r = 0; r < 3; r++) {
    double rv = rows[r][0], fv = rows[r][1], sv = rows[r][2];
    printf("%-28s %12.3f %12.3f %12.3f %10.2f %10.2f\n", names[r], rv * 1e6, fv * 1e6, sv * 1e6, fv / rv, sv / rv);
  }
  return 0;
}
