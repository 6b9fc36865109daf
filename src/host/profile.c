/* profile.c — probe what this kernel does, once, into fl_kprofile_t.
 *
 * Every probe degrades to "unknown" plus a note: a missing sysfs file, a
 * hidden PFN or valgrind's emulation must never stop faultline from running,
 * only make the model (and the reader of the profile) more careful. */
#include "host/profile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/sysinfo.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "host/pagemap.h"
#include "host/procfs.h"
#include "host/sys.h"
#include "util/err.h"
#include "util/json.h"

#define THP_DIR "/sys/kernel/mm/transparent_hugepage"
#define KPF_ZERO_PAGE 24 /* include/uapi/linux/kernel-page-flags.h */

static void add_note(fl_kprofile_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_note(fl_kprofile_t *p, const char *fmt, ...) {
  if (p->nnotes >= FL_PROFILE_NOTES) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->notes[p->nnotes++], sizeof p->notes[0], fmt, ap);
  va_end(ap);
}

/* Reads a small file into buf (NUL-terminated, trailing newline dropped). */
static bool read_small(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, buf, cap - 1);
  close(fd);
  if (n < 0) return false;
  buf[n] = '\0';
  if (n > 0 && buf[n - 1] == '\n') buf[n - 1] = '\0';
  return true;
}

/* sysfs policy files list every choice and bracket the selected one:
 * "always [madvise] never". mTHP files may also offer "inherit". */
static bool read_selected(const char *path, char *out, size_t cap) {
  char buf[256];
  if (!read_small(path, buf, sizeof buf)) return false;
  char *l = strchr(buf, '['), *r = l ? strchr(l, ']') : NULL;
  if (!l || !r) return false;
  size_t n = (size_t)(r - l - 1) < cap - 1 ? (size_t)(r - l - 1) : cap - 1;
  memcpy(out, l + 1, n);
  out[n] = '\0';
  return true;
}

static bool read_long(const char *path, long *out) {
  char buf[64], *end;
  if (!read_small(path, buf, sizeof buf)) return false;
  *out = strtol(buf, &end, 10);
  return end != buf;
}

/* ------------------------------------------------------------------------ */
/* THP and mTHP policy                                                       */
/* ------------------------------------------------------------------------ */

static int cmp_mthp(const void *a, const void *b) {
  unsigned x = ((const fl_mthp_t *)a)->kib, y = ((const fl_mthp_t *)b)->kib;
  return x < y ? -1 : x > y;
}

static void probe_thp(fl_kprofile_t *p) {
  if (!read_selected(THP_DIR "/enabled", p->thp_enabled, sizeof p->thp_enabled)) {
    strcpy(p->thp_enabled, "unknown");
    add_note(p, "THP policy unreadable (" THP_DIR "/enabled): THP treated as never");
  }
  if (!read_selected(THP_DIR "/defrag", p->thp_defrag, sizeof p->thp_defrag))
    strcpy(p->thp_defrag, "unknown");
  DIR *d = opendir(THP_DIR);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d)) && p->mthp_count < FL_MTHP_MAX) {
    unsigned kib;
    char tail[4], path[300];
    /* Per-size mTHP controls (Linux 6.8+): hugepages-<N>kB/enabled. */
    if (sscanf(de->d_name, "hugepages-%ukB%3s", &kib, tail) != 1) continue;
    fl_mthp_t *m = &p->mthp[p->mthp_count];
    snprintf(path, sizeof path, THP_DIR "/%s/enabled", de->d_name);
    /* Sizes without an anon "enabled" file (order 1: THP_ORDERS_ALL_ANON
     * leaves it out; only shmem_enabled exists) are not anon policies. */
    if (access(path, F_OK) != 0) continue;
    if (!read_selected(path, m->enabled, sizeof m->enabled)) strcpy(m->enabled, "unknown");
    m->kib = kib;
    p->mthp_count++;
  }
  closedir(d);
  qsort(p->mthp, (size_t)p->mthp_count, sizeof p->mthp[0], cmp_mthp);
}

bool fl_kprofile_thp_allowed(const fl_kprofile_t *p, bool vm_hugepage, bool vm_nohugepage) {
  /* Mirrors the top-level policy check of __thp_vma_allowable_orders /
   * hugepage_global_enabled(): "always" unless MADV_NOHUGEPAGE, "madvise"
   * only with MADV_HUGEPAGE, "never" never. */
  if (strcmp(p->thp_enabled, "always") == 0) return !vm_nohugepage;
  if (strcmp(p->thp_enabled, "madvise") == 0) return vm_hugepage && !vm_nohugepage;
  return false;
}

/* ------------------------------------------------------------------------ */
/* The zero-page experiment                                                  */
/* ------------------------------------------------------------------------ */

static int classify(fl_pagemap_t *pm, uintptr_t addr) {
  uint8_t k;
  return pm && fl_pagemap_read(pm, addr, 1, &k) == FL_OK ? k : -1;
}

/* Without pagemap, fault counts decide: a second fault on the first write
 * means the read installed a read-only mapping, i.e. the zero page. */
static void zero_from_minflt(fl_kprofile_t *p, long rd, long wr) {
  if (rd >= 1 && wr >= 1) {
    p->zero_page_on_read = p->write_after_zero_read_faults = FL_YES;
    add_note(p, "zero_page_on_read inferred from minflt (read %ld, write %ld faults)", rd, wr);
  } else if (rd >= 1 && wr == 0) {
    p->zero_page_on_read = p->write_after_zero_read_faults = FL_NO;
    add_note(p, "zero_page_on_read inferred from minflt (read %ld, write 0 faults)", rd);
  }
}

/* do_anonymous_page(): a read fault on a private anonymous VMA maps
 * my_zero_pfn() read-only unless mm_forbids_zeropage(); the first write then
 * takes a write-protect fault (do_wp_page -> wp_page_copy) that installs an
 * exclusive page. Observed here rather than assumed. */
static void probe_zero_page(fl_kprofile_t *p) {
  size_t ps = p->page_size;
  fl_pagemap_t *pm = NULL;
  if (p->pagemap_readable && fl_pagemap_open(&pm, FL_PAGEMAP_AUTO) != FL_OK) pm = NULL;
  intptr_t a = fl_sys_mmap(0, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (a < 0) {
    add_note(p, "zero-page probe: mmap failed (%s)", strerror((int)-a));
    fl_pagemap_close(pm);
    return;
  }
  long f0 = fl_minflt();
  (void)fl_sys_peek((uintptr_t)a);
  long f1 = fl_minflt();
  int k_read = classify(pm, (uintptr_t)a);
  long f2 = fl_minflt();
  fl_sys_poke((uintptr_t)a, 1);
  long f3 = fl_minflt();
  int k_write = classify(pm, (uintptr_t)a);
  fl_sys_munmap((uintptr_t)a, ps);
  fl_pagemap_close(pm);
  if (k_read < 0 || k_write < 0) {
    zero_from_minflt(p, f1 - f0, f3 - f2);
    return;
  }
  if (k_read == FL_PAGE_ZERO) {
    p->zero_page_on_read = FL_YES;
    /* The PTE changed from the zero page to a page of ours: only a fault
     * (do_wp_page) does that. minflt is a bound, not an exact count. */
    p->write_after_zero_read_faults = k_write == FL_PAGE_PRIVATE ? FL_YES : FL_UNKNOWN;
    if (k_write == FL_PAGE_PRIVATE && f3 - f2 < 1)
      add_note(p, "write after zero-page read changed the page but minflt did not move");
  } else if (k_read == FL_PAGE_PRIVATE) {
    p->zero_page_on_read = p->write_after_zero_read_faults = FL_NO;
  } else {
    add_note(p, "zero-page probe: read-faulted page classified as kind %d", k_read);
  }
}

/* /proc/kpageflags: extra evidence only (root, CONFIG_PROC_PAGE_MONITOR). */
static void probe_kpageflags(fl_kprofile_t *p, const fl_pagemap_facts_t *f) {
  int fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  uint64_t flags = 0;
  uint64_t pfn = f->zero_pfn_known ? f->zero_pfn : 0;
  p->kpageflags_readable = pread(fd, &flags, sizeof flags, (off_t)(pfn * 8)) == sizeof flags;
  close(fd);
  if (p->kpageflags_readable && f->zero_pfn_known && !(flags >> KPF_ZERO_PAGE & 1))
    add_note(p, "kpageflags: PFN %#llx seen on read lacks ZERO_PAGE", (unsigned long long)pfn);
}

/* ------------------------------------------------------------------------ */
/* Placement, limits, memory, CPUs                                           */
/* ------------------------------------------------------------------------ */

/* __get_unmapped_area() -> thp_get_unmapped_area_vmflags() pads anonymous
 * requests whose length is a multiple of PMD_SIZE to a PMD boundary. All
 * three mappings are held at once so a reused hole cannot repeat a lucky
 * alignment (1/512 per try without the policy). */
static void probe_thp_align(fl_kprofile_t *p) {
  const size_t len = 4u << 20, pmd = 2u << 20;
  if (p->under_valgrind) {
    add_note(p, "thp_align_anon_mmap unknown: valgrind places mappings itself");
    return;
  }
  intptr_t m[3];
  int aligned = 0, made = 0;
  for (int i = 0; i < 3; i++) {
    m[i] = fl_sys_mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m[i] < 0) continue;
    made++;
    aligned += (uintptr_t)m[i] % pmd == 0;
  }
  for (int i = 0; i < 3; i++)
    if (m[i] >= 0) fl_sys_munmap((uintptr_t)m[i], len);
  if (made == 3) p->thp_align_anon_mmap = aligned == 3 ? FL_YES : FL_NO;
  if (made == 3 && aligned != 0 && aligned != 3)
    add_note(p, "thp_align_anon_mmap: only %d of 3 4 MiB mappings 2 MiB aligned", aligned);
  if (made != 3) add_note(p, "thp_align_anon_mmap unknown: 4 MiB mmap failed");
}

static uint64_t meminfo_bytes(const char *field) {
  FILE *f = fopen("/proc/meminfo", "re");
  if (!f) return 0;
  char line[128];
  size_t n = strlen(field);
  uint64_t v = 0;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, field, n) == 0 && line[n] == ':') {
      v = strtoull(line + n + 1, NULL, 10) * 1024;
      break;
    }
  fclose(f);
  return v;
}

/* glibc's __get_nprocs_sched(): CPUs in the calling thread's affinity mask
 * (not what 2.36's arena_get2 uses: see nprocs_online). */
static unsigned nprocs_sched(void) {
  for (int ncpu = 1024; ncpu <= 65536; ncpu *= 2) {
    size_t sz = CPU_ALLOC_SIZE(ncpu);
    cpu_set_t *set = CPU_ALLOC(ncpu);
    if (!set) return 0;
    int r = sched_getaffinity(0, sz, set);
    unsigned n = r == 0 ? (unsigned)CPU_COUNT_S(sz, set) : 0;
    CPU_FREE(set);
    if (r == 0) return n;
    if (errno != EINVAL) return 0;
  }
  return 0;
}

static void probe_limits(fl_kprofile_t *p) {
  long v;
  p->overcommit_memory = read_long("/proc/sys/vm/overcommit_memory", &v) ? (int)v : -1;
  if (p->overcommit_memory < 0) add_note(p, "vm.overcommit_memory unreadable");
  p->max_map_count = read_long("/proc/sys/vm/max_map_count", &v) ? (unsigned long)v : 0;
  if (!p->max_map_count) add_note(p, "vm.max_map_count unreadable");
  p->mem_total = meminfo_bytes("MemTotal");
  p->swap_total = meminfo_bytes("SwapTotal");
  if (!p->mem_total) add_note(p, "/proc/meminfo unreadable");
  p->nprocs_sched = nprocs_sched();
  if (!p->nprocs_sched) add_note(p, "sched_getaffinity failed");
  /* glibc's own get_nprocs() is __get_nprocs: the sysfs online list first. */
  p->nprocs_online = (unsigned)get_nprocs();
}

/* ------------------------------------------------------------------------ */
/* Entry points                                                              */
/* ------------------------------------------------------------------------ */

int fl_kprofile_probe(fl_kprofile_t *p) {
  memset(p, 0, sizeof *p);
  p->zero_page_on_read = p->write_after_zero_read_faults = FL_UNKNOWN;
  p->thp_align_anon_mmap = FL_UNKNOWN;
  struct utsname u;
  snprintf(p->release, sizeof p->release, "%s", uname(&u) == 0 ? u.release : "unknown");
  long ps = sysconf(_SC_PAGESIZE);
  if (ps <= 0) return fl_error(FL_EENV, "cannot read the page size");
  p->page_size = (size_t)ps;
  p->under_valgrind = fl_sys_under_valgrind();
  probe_thp(p);
  const fl_pagemap_facts_t *f = fl_pagemap_facts();
  p->pagemap_readable = f->readable;
  p->pfn_visible = f->pfn_visible;
  p->pagemap_scan = fl_pagemap_scan_supported();
  if (!f->readable) add_note(p, "/proc/self/pagemap unreadable: page checks off");
  if (p->under_valgrind) add_note(p, "under valgrind: pagemap via pread, placement probes off");
  else if (f->readable && !p->pagemap_scan) add_note(p, "PAGEMAP_SCAN unsupported: pread path");
  probe_zero_page(p);
  probe_kpageflags(p, f);
  probe_thp_align(p);
  probe_limits(p);
  return FL_OK;
}

static fl_kprofile_t cached;
static pthread_once_t cached_once = PTHREAD_ONCE_INIT;
static void probe_cached(void) { (void)fl_kprofile_probe(&cached); }

const fl_kprofile_t *fl_kprofile_get(void) {
  pthread_once(&cached_once, probe_cached);
  return &cached;
}

/* ------------------------------------------------------------------------ */
/* Printing                                                                  */
/* ------------------------------------------------------------------------ */

static const char *tri_text(fl_tristate_t t) {
  return t == FL_YES ? "yes" : t == FL_NO ? "no" : "unknown";
}

static void kv(FILE *out, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void kv(FILE *out, const char *key, const char *fmt, ...) {
  va_list ap;
  fprintf(out, "%-29s ", key);
  va_start(ap, fmt);
  vfprintf(out, fmt, ap);
  va_end(ap);
  fputc('\n', out);
}

void fl_kprofile_print_text(const fl_kprofile_t *p, FILE *out) {
  kv(out, "release:", "%s", p->release);
  kv(out, "page_size:", "%zu", p->page_size);
  kv(out, "thp_enabled:", "%s", p->thp_enabled);
  kv(out, "thp_defrag:", "%s", p->thp_defrag);
  fprintf(out, "%-29s", "mthp:");
  for (int i = 0; i < p->mthp_count; i++) fprintf(out, " %ukB=%s", p->mthp[i].kib, p->mthp[i].enabled);
  fprintf(out, "%s\n", p->mthp_count ? "" : " (none)");
  kv(out, "zero_page_on_read:", "%s", tri_text(p->zero_page_on_read));
  kv(out, "write_after_zero_read_faults:", "%s", tri_text(p->write_after_zero_read_faults));
  kv(out, "pagemap_readable:", "%s", p->pagemap_readable ? "yes" : "no");
  kv(out, "pagemap_scan:", "%s", p->pagemap_scan ? "yes" : "no");
  kv(out, "pfn_visible:", "%s", p->pfn_visible ? "yes" : "no");
  kv(out, "kpageflags_readable:", "%s", p->kpageflags_readable ? "yes" : "no");
  kv(out, "thp_align_anon_mmap:", "%s", tri_text(p->thp_align_anon_mmap));
  kv(out, "overcommit_memory:", "%d", p->overcommit_memory);
  kv(out, "max_map_count:", "%lu", p->max_map_count);
  kv(out, "mem_total:", "%llu (%llu MiB)", (unsigned long long)p->mem_total,
     (unsigned long long)(p->mem_total >> 20));
  kv(out, "swap_total:", "%llu (%llu MiB)", (unsigned long long)p->swap_total,
     (unsigned long long)(p->swap_total >> 20));
  kv(out, "nprocs_sched:", "%u", p->nprocs_sched);
  kv(out, "nprocs_online:", "%u", p->nprocs_online);
  kv(out, "under_valgrind:", "%s", p->under_valgrind ? "yes" : "no");
  for (int i = 0; i < p->nnotes; i++) fprintf(out, "note: %s\n", p->notes[i]);
}

static void json_tri(fl_json_t *j, const char *key, fl_tristate_t t) {
  fl_json_key(j, key);
  if (t == FL_UNKNOWN) fl_json_null(j);
  else fl_json_bool(j, t == FL_YES);
}

static void json_bool(fl_json_t *j, const char *key, bool v) {
  fl_json_key(j, key);
  fl_json_bool(j, v);
}

static void json_uint(fl_json_t *j, const char *key, uint64_t v) {
  fl_json_key(j, key);
  fl_json_uint(j, v);
}

static void json_str(fl_json_t *j, const char *key, const char *v) {
  fl_json_key(j, key);
  fl_json_string(j, v);
}

static void json_mthp_notes(fl_json_t *j, const fl_kprofile_t *p) {
  fl_json_key(j, "mthp");
  fl_json_begin_array(j);
  for (int i = 0; i < p->mthp_count; i++) {
    fl_json_begin_object(j);
    json_uint(j, "kib", p->mthp[i].kib);
    json_str(j, "enabled", p->mthp[i].enabled);
    fl_json_end_object(j);
  }
  fl_json_end_array(j);
  fl_json_key(j, "notes");
  fl_json_begin_array(j);
  for (int i = 0; i < p->nnotes; i++) fl_json_string(j, p->notes[i]);
  fl_json_end_array(j);
}

void fl_kprofile_print_json(const fl_kprofile_t *p, FILE *out) {
  fl_json_t j;
  fl_json_init(&j, out, true);
  fl_json_begin_object(&j);
  json_str(&j, "release", p->release);
  json_uint(&j, "page_size", p->page_size);
  json_str(&j, "thp_enabled", p->thp_enabled);
  json_str(&j, "thp_defrag", p->thp_defrag);
  json_tri(&j, "zero_page_on_read", p->zero_page_on_read);
  json_tri(&j, "write_after_zero_read_faults", p->write_after_zero_read_faults);
  json_bool(&j, "pagemap_readable", p->pagemap_readable);
  json_bool(&j, "pagemap_scan", p->pagemap_scan);
  json_bool(&j, "pfn_visible", p->pfn_visible);
  json_bool(&j, "kpageflags_readable", p->kpageflags_readable);
  json_tri(&j, "thp_align_anon_mmap", p->thp_align_anon_mmap);
  fl_json_key(&j, "overcommit_memory");
  fl_json_int(&j, p->overcommit_memory);
  json_uint(&j, "max_map_count", p->max_map_count);
  json_uint(&j, "mem_total", p->mem_total);
  json_uint(&j, "swap_total", p->swap_total);
  json_uint(&j, "nprocs_sched", p->nprocs_sched);
  json_uint(&j, "nprocs_online", p->nprocs_online);
  json_bool(&j, "under_valgrind", p->under_valgrind);
  json_mthp_notes(&j, p);
  fl_json_end_object(&j);
  fl_json_finish(&j);
}
