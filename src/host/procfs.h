/* procfs.h — readers for /proc/self/{maps,smaps,status} and getrusage. */
#ifndef FL_HOST_PROCFS_H
#define FL_HOST_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fl_maps_entry {
  uintptr_t start, end;
  int prot;          /* PROT_* from the rwx columns */
  bool shared;       /* 's' in the fourth column */
  uint64_t offset;   /* pgoff * page size, the third column */
  char name[64];     /* pathname or [heap]/[stack]/..., truncated; "" if anonymous */
} fl_maps_entry_t;

/* Reads the VMAs of /proc/self/maps that overlap [lo, hi), clipped to it, in
 * address order. Returns the number of entries (may exceed cap: only cap are
 * stored), or -1 with an error message. */
long fl_maps_read(uintptr_t lo, uintptr_t hi, fl_maps_entry_t *out, size_t cap);

/* Number of VMAs in the whole process (lines of /proc/self/maps), -1 on error. */
long fl_maps_count(void);

/* Sum of smaps "Rss:" in KiB over the VMAs overlapping [lo, hi) (whole VMAs:
 * callers keep the window's VMAs inside the window). -1 on error. */
long fl_smaps_rss_kib(uintptr_t lo, uintptr_t hi);

/* VmSize / VmData of /proc/self/status in KiB, -1 on error. */
long fl_status_kib(const char *field);

/* Minor faults of this process so far (getrusage RUSAGE_SELF ru_minflt). */
long fl_minflt(void);

/* One VMA of /proc/PID/smaps with the columns of `pmap -x`. */
typedef struct fl_smaps_entry {
  fl_maps_entry_t map;  /* the VMA's maps line, unclipped */
  uint64_t rss_kib;     /* Rss */
  uint64_t dirty_kib;   /* Shared_Dirty + Private_Dirty */
} fl_smaps_entry_t;

/* The VMAs of /proc/PID/smaps (pid 0: self) that overlap [lo, hi), in
 * address order. Returns the count (may exceed cap: only cap are stored),
 * or -1 with an error message. */
long fl_smaps_read(int pid, uintptr_t lo, uintptr_t hi, fl_smaps_entry_t *out, size_t cap);

/* Minor faults of process PID so far (/proc/PID/stat), -1 on error. */
long fl_proc_minflt(int pid);

#endif
