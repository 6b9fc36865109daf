/* profile.h — what this kernel does, found by probing at start-up.
 *
 * Nothing kernel-dependent is hard-coded anywhere in faultline: the model
 * reads this profile. A feature that cannot be probed (file unreadable,
 * ioctl missing, running under valgrind) is recorded as unknown with a note,
 * never a crash. */
#ifndef FL_HOST_PROFILE_H
#define FL_HOST_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FL_MTHP_MAX 16
#define FL_PROFILE_NOTES 8

typedef enum fl_tristate { FL_NO = 0, FL_YES = 1, FL_UNKNOWN = -1 } fl_tristate_t;

typedef struct fl_mthp {
  unsigned kib;      /* folio size, e.g. 64 for hugepages-64kB */
  char enabled[16];  /* "always", "inherit", "madvise", "never" */
} fl_mthp_t;

typedef struct fl_kprofile {
  char release[65];          /* uname -r */
  size_t page_size;          /* sysconf(_SC_PAGESIZE) */
  char thp_enabled[16];      /* the [selected] word of .../transparent_hugepage/enabled, or "unknown" */
  char thp_defrag[24];       /* likewise for defrag */
  int mthp_count;
  fl_mthp_t mthp[FL_MTHP_MAX];
  /* Does a read fault on fresh private anonymous memory map the shared zero
   * page (do_anonymous_page's "use the zero page" branch)? Found by experiment,
   * see fl_kprofile_probe(). */
  fl_tristate_t zero_page_on_read;
  /* After such a read, does the first write fault again (wp fault)? */
  fl_tristate_t write_after_zero_read_faults;
  bool pagemap_readable;     /* /proc/self/pagemap can be read */
  bool pagemap_scan;         /* the PAGEMAP_SCAN ioctl works here */
  bool pfn_visible;          /* pagemap shows PFNs (CAP_SYS_ADMIN) */
  bool kpageflags_readable;  /* /proc/kpageflags readable (extra evidence only) */
  /* Recent kernels align anonymous mmap(NULL, len) to 2 MiB when len is a
   * multiple of 2 MiB (__get_unmapped_area -> thp_get_unmapped_area). */
  fl_tristate_t thp_align_anon_mmap;
  int overcommit_memory;     /* vm.overcommit_memory, -1 unknown */
  unsigned long max_map_count;   /* vm.max_map_count */
  uint64_t mem_total;        /* bytes, /proc/meminfo MemTotal (totalram_pages) */
  uint64_t swap_total;       /* bytes, /proc/meminfo SwapTotal */
  unsigned nprocs_sched;     /* CPUs in this thread's affinity mask (__get_nprocs_sched) */
  /* Online CPUs, /sys/devices/system/cpu/online: what glibc 2.36's
   * arena_get2 sizes the arena limit from (__get_nprocs). */
  unsigned nprocs_online;
  bool under_valgrind;       /* RUNNING_ON_VALGRIND: pread pagemap, no placement probes */
  int nnotes;
  char notes[FL_PROFILE_NOTES][160]; /* why something is unknown or unsupported */
} fl_kprofile_t;

/* Probes the running kernel. Always fills every field (unknowns marked as
 * such); returns FL_OK, or FL_EENV if even the page size cannot be read. */
int fl_kprofile_probe(fl_kprofile_t *p);

/* The profile of this process, probed once on first use (thread-safe enough
 * for start-up: call it before starting threads). */
const fl_kprofile_t *fl_kprofile_get(void);

void fl_kprofile_print_text(const fl_kprofile_t *p, FILE *out);
void fl_kprofile_print_json(const fl_kprofile_t *p, FILE *out);

/* THP may be used for an anonymous VMA with the given madvise state
 * (VM_HUGEPAGE / VM_NOHUGEPAGE) under this profile's "enabled" policy. */
bool fl_kprofile_thp_allowed(const fl_kprofile_t *p, bool vm_hugepage, bool vm_nohugepage);

#endif
