/* procfs.c — readers for /proc/self/{maps,smaps,status} and getrusage.
 *
 * These run between the model's operations, so they allocate nothing: a
 * line reader with a fixed stack buffer over read(2) (stdio would malloc its
 * buffer, and under the preload library malloc is the allocator under test). */
#include "host/procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util/err.h"

/* ------------------------------------------------------------------------ */
/* A line reader without malloc                                              */
/* ------------------------------------------------------------------------ */

/* A maps line is at most ~80 bytes plus a path (PATH_MAX); longer lines are
 * truncated (the tail is skipped), which only shortens a name. */
#define LR_CAP 8192

typedef struct line_reader {
  int fd;
  size_t pos, len;
  bool eof, skipping;
  char buf[LR_CAP + 1];
} line_reader_t;

static int lr_open(line_reader_t *r, const char *path) {
  r->fd = open(path, O_RDONLY | O_CLOEXEC);
  r->pos = r->len = 0;
  r->eof = r->skipping = false;
  if (r->fd < 0) return fl_error(FL_EENV, "cannot open %s: %s", path, strerror(errno));
  return FL_OK;
}

static void lr_close(line_reader_t *r) {
  if (r->fd >= 0) close(r->fd);
  r->fd = -1;
}

static void lr_fill(line_reader_t *r) {
  if (r->pos > 0) {
    memmove(r->buf, r->buf + r->pos, r->len - r->pos);
    r->len -= r->pos;
    r->pos = 0;
  }
  while (!r->eof && r->len < LR_CAP) {
    ssize_t n = read(r->fd, r->buf + r->len, LR_CAP - r->len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      r->eof = true;
      break;
    }
    r->len += (size_t)n;
    /* procfs returns whole lines per read; one read is enough to go on. */
    if (memchr(r->buf + r->len - (size_t)n, '\n', (size_t)n)) break;
  }
}

/* Returns the next line, NUL-terminated without its '\n', or NULL at EOF. */
static char *lr_next(line_reader_t *r) {
  for (;;) {
    char *start = r->buf + r->pos;
    char *nl = memchr(start, '\n', r->len - r->pos);
    if (nl) {
      *nl = '\0';
      r->pos = (size_t)(nl - r->buf) + 1;
      if (r->skipping) { /* tail of an over-long line */
        r->skipping = false;
        continue;
      }
      return start;
    }
    if (r->pos == 0 && r->len == LR_CAP) { /* over-long line: keep its head */
      r->buf[LR_CAP] = '\0';
      r->pos = r->len = 0;
      bool was_skipping = r->skipping;
      r->skipping = true;
      if (!was_skipping) return r->buf;
      continue;
    }
    if (r->eof) {
      if (r->pos == r->len) return NULL;
      r->buf[r->len] = '\0';
      r->pos = r->len;
      return start;
    }
    lr_fill(r);
  }
}

/* ------------------------------------------------------------------------ */
/* maps                                                                      */
/* ------------------------------------------------------------------------ */

static const char *skip_field(const char *p) {
  while (*p && *p != ' ') p++;
  while (*p == ' ') p++;
  return p;
}

/* Parses "start-end perms offset dev inode [name]" (show_map_vma). The name
 * is the rest of the line after the padding: it may contain spaces and may
 * end in " (deleted)". */
static bool parse_maps_line(const char *line, fl_maps_entry_t *e) {
  char *end;
  e->start = (uintptr_t)strtoull(line, &end, 16);
  if (end == line || *end != '-') return false;
  const char *p = end + 1;
  e->end = (uintptr_t)strtoull(p, &end, 16);
  if (end == p || *end != ' ' || strlen(end + 1) < 5) return false;
  p = end + 1;
  e->prot = (p[0] == 'r' ? PROT_READ : 0) | (p[1] == 'w' ? PROT_WRITE : 0) |
            (p[2] == 'x' ? PROT_EXEC : 0);
  e->shared = p[3] == 's';
  p = skip_field(p);
  e->offset = strtoull(p, &end, 16);
  p = end;
  while (*p == ' ') p++;
  p = skip_field(skip_field(p)); /* dev, inode */
  size_t n = strlen(p);
  if (n >= sizeof e->name) n = sizeof e->name - 1;
  memcpy(e->name, p, n);
  e->name[n] = '\0';
  return true;
}

long fl_maps_read(uintptr_t lo, uintptr_t hi, fl_maps_entry_t *out, size_t cap) {
  line_reader_t r;
  if (lr_open(&r, "/proc/self/maps") != FL_OK) return -1;
  long count = 0;
  char *line;
  while ((line = lr_next(&r))) {
    fl_maps_entry_t e;
    if (!parse_maps_line(line, &e)) {
      lr_close(&r);
      fl_error(FL_EENV, "unparsable /proc/self/maps line: %.80s", line);
      return -1;
    }
    if (e.end <= lo || e.start >= hi) continue;
    if (e.start < lo) {
      e.offset += lo - e.start; /* keep offset true for the clipped start */
      e.start = lo;
    }
    if (e.end > hi) e.end = hi;
    if ((size_t)count < cap) out[count] = e;
    count++;
  }
  lr_close(&r);
  return count;
}

long fl_maps_count(void) {
  line_reader_t r;
  if (lr_open(&r, "/proc/self/maps") != FL_OK) return -1;
  long count = 0;
  while (lr_next(&r)) count++;
  lr_close(&r);
  return count;
}

/* ------------------------------------------------------------------------ */
/* smaps and status                                                          */
/* ------------------------------------------------------------------------ */

/* smaps interleaves VMA header lines (lower-case hex "start-end ") with
 * "Field:   value kB" lines whose names start with an upper-case letter. */
static bool smaps_header(const char *line, uintptr_t *start, uintptr_t *end) {
  char *e;
  if (!((*line >= '0' && *line <= '9') || (*line >= 'a' && *line <= 'f'))) return false;
  *start = (uintptr_t)strtoull(line, &e, 16);
  if (*e != '-') return false;
  const char *p = e + 1;
  *end = (uintptr_t)strtoull(p, &e, 16);
  return e != p && *e == ' ';
}

/* "Name:   123 kB" -> 123 if the line's field is `field` (with or without
 * its colon), else -1. */
static long field_kib(const char *line, const char *field) {
  size_t n = strlen(field);
  if (n && field[n - 1] == ':') n--;
  if (strncmp(line, field, n) != 0 || line[n] != ':') return -1;
  return strtol(line + n + 1, NULL, 10);
}

long fl_smaps_rss_kib(uintptr_t lo, uintptr_t hi) {
  line_reader_t r;
  if (lr_open(&r, "/proc/self/smaps") != FL_OK) return -1;
  long sum = 0;
  bool in_range = false;
  char *line;
  while ((line = lr_next(&r))) {
    uintptr_t s, e;
    if (smaps_header(line, &s, &e)) {
      /* VMAs come in address order: the kernel need not build (walking
       * their page tables) the entries of the rest of the process. */
      if (s >= hi) break;
      in_range = e > lo && s < hi;
      continue;
    }
    long v;
    if (in_range && (v = field_kib(line, "Rss")) >= 0) sum += v;
  }
  lr_close(&r);
  return sum;
}

long fl_status_kib(const char *field) {
  line_reader_t r;
  if (lr_open(&r, "/proc/self/status") != FL_OK) return -1;
  long v = -1;
  char *line;
  while (v < 0 && (line = lr_next(&r))) v = field_kib(line, field);
  lr_close(&r);
  if (v < 0) fl_error(FL_EENV, "/proc/self/status has no field %s", field);
  return v;
}

long fl_minflt(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
  return ru.ru_minflt;
}

/* The pmap -x columns of one VMA: its maps line, then Rss and the dirty
 * pages (Shared_Dirty + Private_Dirty, as procps' pmap adds them). */
static void smaps_field(fl_smaps_entry_t *e, const char *line) {
  long v;
  if ((v = field_kib(line, "Rss")) >= 0) e->rss_kib = (uint64_t)v;
  else if ((v = field_kib(line, "Shared_Dirty")) >= 0 || (v = field_kib(line, "Private_Dirty")) >= 0)
    e->dirty_kib += (uint64_t)v;
}

long fl_smaps_read(int pid, uintptr_t lo, uintptr_t hi, fl_smaps_entry_t *out, size_t cap) {
  char path[64];
  if (pid) snprintf(path, sizeof path, "/proc/%d/smaps", pid);
  else snprintf(path, sizeof path, "/proc/self/smaps");
  line_reader_t r;
  if (lr_open(&r, path) != FL_OK) return -1;
  long count = 0;
  fl_smaps_entry_t *cur = NULL, scratch;
  char *line;
  while ((line = lr_next(&r))) {
    uintptr_t s, e;
    if (smaps_header(line, &s, &e)) {
      cur = NULL;
      if (e <= lo || s >= hi) continue;
      cur = (size_t)count < cap ? &out[count] : &scratch;
      count++;
      *cur = (fl_smaps_entry_t){0};
      if (!parse_maps_line(line, &cur->map)) {
        lr_close(&r);
        fl_error(FL_EENV, "unparsable %s line: %.80s", path, line);
        return -1;
      }
      continue;
    }
    if (cur) smaps_field(cur, line);
  }
  lr_close(&r);
  return count;
}

long fl_proc_minflt(int pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  line_reader_t r;
  if (lr_open(&r, path) != FL_OK) return -1;
  char *line = lr_next(&r);
  /* pid (comm) state ppid pgrp session tty_nr tpgid flags minflt: comm may
   * hold spaces and parentheses, so count fields after the last ')'. */
  const char *p = line ? strrchr(line, ')') : NULL;
  long v = -1;
  if (p) {
    p++;
    while (*p == ' ') p++;
    for (int field = 3; field < 10; field++) p = skip_field(p);
    v = *p ? strtol(p, NULL, 10) : -1;
  }
  lr_close(&r);
  if (v < 0) fl_error(FL_EENV, "cannot read minflt from %s", path);
  return v;
}
