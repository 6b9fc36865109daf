/* campaign.c — one op stream in one mode, and its first finding. */
#include "ops/campaign.h"

#include <ctype.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/refmalloc.h"
#include "check/check.h"
#include "host/profile.h"
#include "ops/diff.h"
#include "ops/exec.h"
#include "ops/rmtarget.h"
#include "vm/vm.h"

static const char *const mode_names[FL_CAMPAIGN_MODE_COUNT] = {"glass-box", "kernel", "diff"};

const char *fl_campaign_mode_name(fl_campaign_mode_t m) {
  return (unsigned)m < FL_CAMPAIGN_MODE_COUNT ? mode_names[m] : "?";
}

int fl_campaign_mode_lookup(const char *name, size_t len) {
  for (int m = 0; m < FL_CAMPAIGN_MODE_COUNT; m++)
    if (strlen(mode_names[m]) == len && !strncmp(name, mode_names[m], len)) return m;
  return -1;
}

void fl_campaign_opts_default(fl_campaign_opts_t *o, fl_campaign_mode_t mode) {
  *o = (fl_campaign_opts_t){.mode = mode, .check_level = FL_CAMPAIGN_DEFAULT_LEVEL};
}

static void set_finding(fl_finding_t *f, const char *id, size_t index, const char *message, const char *detail) {
  f->found = true;
  snprintf(f->id, sizeof f->id, "%s", id);
  f->op_index = index;
  snprintf(f->message, sizeof f->message, "%s", message);
  snprintf(f->detail, sizeof f->detail, "%s", detail ? detail : "");
}

/* ================================================ refmalloc on the model */

typedef struct rm_run {
  const fl_campaign_opts_t *o;
  fl_vm_t *vm;
  fl_rm_t *rm;
  fl_check_t *chk;
  const fl_exec_result_t *exec; /* filled by the executor as it goes */
  fl_finding_t *f;
  fl_campaign_stats_t *st;
  size_t violations_seen;
  uint64_t calls_seen; /* allocator calls the checker had seen */
} rm_run_t;

/* The first violation not yet taken, as a finding at op index. */
static bool take_violation(rm_run_t *r, size_t index) {
  if (fl_check_violation_count(r->chk) <= r->violations_seen) return false;
  const fl_violation_t *v = fl_check_violation(r->chk, r->violations_seen);
  char msg[sizeof r->f->message];
  if (v)
    snprintf(msg, sizeof msg, "at %#lx: expected %s, actual %s", (unsigned long)v->addr, v->expected, v->actual);
  else
    snprintf(msg, sizeof msg, "(the checker kept no report of it)");
  set_finding(r->f, v ? v->id : "UNREGISTERED", index, msg, v ? v->drawing : NULL);
  return true;
}

static bool take_integrity(rm_run_t *r, size_t index) {
  const fl_rm_event_t *ev = fl_rm_last_event(r->rm);
  if (!ev) return false;
  char msg[sizeof r->f->message];
  snprintf(msg, sizeof msg, "refmalloc raised \"%s\" in %s (glibc %s here)", ev->message, fl_rm_op_name(ev->op),
           ev->kind == FL_RM_EV_SEGV ? "crashes" : "aborts");
  set_finding(r->f, "INTEGRITY", index, msg, NULL);
  return true;
}

/* Whether the op changed anything a full walk could look at. */
static bool op_ran(fl_exec_status_t s) {
  return s == FL_EXEC_OK || s == FL_EXEC_MISMATCH || s == FL_EXEC_ACCESS || s == FL_EXEC_CHECK_FAILED;
}

/* The executor's start-up (its slot table and, under ASan, that table's
 * shadow) faults a few dozen pages of ours: the kernel's minor faults are
 * counted from just before op 0. */
static void on_start(void *ctx) {
  rm_run_t *r = ctx;
  if (r->o->mode != FL_CAMPAIGN_KERNEL) return;
  fl_vm_compare(r->vm, 0);
  fl_check_rebase(r->chk);
}

static bool after_op(void *ctx, size_t index, const fl_op_t *op, fl_exec_status_t status) {
  (void)op;
  rm_run_t *r = ctx;
  bool shadow = r->o->mode == FL_CAMPAIGN_KERNEL;
  r->st->budget_skips += status == FL_EXEC_OVER_BUDGET;
  /* Level 3 means a walk after every op: refmalloc's call hook made it for
   * allocator calls, the rest (write, poke, ...) get theirs here. Kernel
   * mode holds the window against /proc after every op that ran. */
  bool no_call = fl_check_ops(r->chk) == r->calls_seen;
  if (op_ran(status) && (shadow || (r->o->check_level >= 3 && no_call))) {
    fl_check_full(r->chk);
    if (shadow) r->st->kernel_compares++;
  }
  r->calls_seen = fl_check_ops(r->chk);
  if (take_violation(r, index) || take_integrity(r, index)) return false;
  if (status == FL_EXEC_MISMATCH || status == FL_EXEC_ACCESS) {
    set_finding(r->f, "VERIFY", index, r->exec->finding, NULL);
    return false;
  }
  return true;
}

/* Kernel mode compares this process's minor faults with the model's after
 * every op, so the harness's own must stay within the comparison's slack.
 * glibc's dynamic mmap threshold would, after the first run freed the
 * executor's tables (a few MiB, mmapped), serve them from the heap, where
 * calloc clears them and faults hundreds of pages of ours during the first
 * op. A fixed threshold (mallopt stops the adjustment) keeps them fresh
 * mappings, which fault only where they are touched. */
static void steady_harness_faults(void) {
  static bool done;
  if (!done) mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  done = true;
}

static fl_status_t open_rm(rm_run_t *r) {
  if (r->o->mode == FL_CAMPAIGN_KERNEL) steady_harness_faults();
  fl_vm_config_t cfg;
  fl_vm_config_default(&cfg, fl_kprofile_get());
  cfg.mode = r->o->mode == FL_CAMPAIGN_KERNEL ? FL_VM_SHADOW : FL_VM_FAST;
  if (r->o->base) cfg.base = r->o->base;
  fl_status_t st = fl_vm_open(&r->vm, &cfg);
  if (st != FL_OK) return st;
  fl_rm_config_t rc;
  fl_rm_config_default(&rc);
  if ((st = fl_rm_open(&r->rm, r->vm, &rc)) != FL_OK) return st;
  /* Kernel mode: the level-1 checks per call; its full walks come per op. */
  int level = r->o->mode == FL_CAMPAIGN_KERNEL ? 1 : r->o->check_level ? r->o->check_level : FL_CAMPAIGN_DEFAULT_LEVEL;
  return fl_check_open(&r->chk, r->rm, r->vm, level);
}

static void close_rm(rm_run_t *r) {
  fl_check_close(r->chk);
  if (r->rm) fl_rm_close(r->rm);
  if (r->vm) fl_vm_close(r->vm);
}

static fl_status_t run_refmalloc(const fl_ops_t *ops, const fl_campaign_opts_t *o, fl_finding_t *f,
                                 fl_campaign_stats_t *st) {
  rm_run_t r = {.o = o, .f = f, .st = st};
  fl_status_t s = open_rm(&r);
  if (s != FL_OK) {
    close_rm(&r);
    return s;
  }
  fl_target_t t;
  fl_rmtarget_init(&t, r.rm);
  fl_rmtarget_set_checker(&t, r.chk);
  fl_exec_result_t res;
  r.exec = &res;
  fl_exec_options_t eo = {.budget = o->budget, .skip_hostile = !o->hostile, .after_op = after_op, .after_op_ctx = &r,
                        .on_start = on_start};
  if (o->mode == FL_CAMPAIGN_KERNEL) fl_vm_compare(r.vm, FL_CMP_ALL); /* the baseline */
  s = fl_exec_run(ops, &t, &eo, &res);
  if (s == FL_FINDING) s = FL_OK; /* after_op took it */
  /* The stream ran out, and the executor freed what was still live: a last
   * walk sees what the amortised walks had not reached yet. */
  if (s == FL_OK && !f->found) {
    fl_check_full(r.chk);
    if (!take_violation(&r, ops->n)) take_integrity(&r, ops->n);
  }
  st->ops += res.ops_run;
  st->checked_ops += fl_check_ops(r.chk);
  st->walks += fl_check_walks(r.chk);
  fl_exec_result_free(&res);
  close_rm(&r);
  return s;
}

/* ================================================ refmalloc against glibc */

static fl_status_t run_diff(const fl_ops_t *ops, const fl_campaign_opts_t *o, fl_finding_t *f,
                            fl_campaign_stats_t *st) {
  fl_diff_opts_t d = {.glibc = {.helper = o->helper}, .budget = o->budget};
  fl_diff_result_t r;
  fl_status_t s = fl_diff_run(ops, &d, &r);
  if (s == FL_OK) {
    char msg[sizeof f->message];
    st->diff_ops += r.ops;
    st->budget_skips += r.budget_skips;
    if (r.diverged) {
      snprintf(msg, sizeof msg, "%.100s: refmalloc %.250s; glibc %.250s", r.op, r.refmalloc, r.glibc);
      set_finding(f, "DIFF", r.first_index, msg, NULL);
    } else if (r.crashed && !r.crash_agreed) {
      snprintf(msg, sizeof msg, "the run ended differently: refmalloc \"%.250s\", glibc signal %d \"%.250s\"",
               r.refmalloc_event, r.crash_signal, r.glibc_message);
      set_finding(f, "DIFF", r.crash_index, msg, NULL);
    } else if (r.crashed && !o->hostile) {
      /* Both aborted the same way, on a stream that corrupts nothing. */
      snprintf(msg, sizeof msg, "refmalloc and glibc both raised \"%.500s\" on a valid stream", r.refmalloc_event);
      set_finding(f, "INTEGRITY", r.crash_index, msg, NULL);
    }
  }
  fl_diff_result_free(&r);
  return s;
}

fl_status_t fl_campaign_run(const fl_ops_t *ops, const fl_campaign_opts_t *o, fl_finding_t *f,
                            fl_campaign_stats_t *stats) {
  fl_campaign_stats_t scratch = {0};
  memset(f, 0, sizeof *f);
  if (!stats) stats = &scratch;
  if (o->mode != FL_CAMPAIGN_DIFF && (o->check_level < 0 || o->check_level > 3))
    return fl_error(FL_EUSAGE, "check level %d: must be 1 to 3", o->check_level);
  return o->mode == FL_CAMPAIGN_DIFF ? run_diff(ops, o, f, stats) : run_refmalloc(ops, o, f, stats);
}

/* ================================================ expectations */

static const char *skip_spaces(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t')) p++;
  return p;
}

/* The next word [p, *wend), after spaces. */
static const char *word(const char *p, const char *end, const char **wend) {
  p = skip_spaces(p, end);
  const char *q = p;
  while (q < end && !isspace((unsigned char)*q)) q++;
  *wend = q;
  return p;
}

static bool word_is(const char *w, const char *wend, const char *s) {
  return (size_t)(wend - w) == strlen(s) && !strncmp(w, s, (size_t)(wend - w));
}

static bool word_number(const char *w, const char *wend, size_t *out) {
  if (w == wend || (size_t)(wend - w) > 18) return false;
  size_t v = 0;
  for (const char *c = w; c < wend; c++) {
    if (!isdigit((unsigned char)*c)) return false;
    v = v * 10 + (size_t)(*c - '0');
  }
  *out = v;
  return true;
}

/* "[in MODE [check L]]" after the finding. */
static bool parse_where(const char *p, const char *end, fl_expect_t *e) {
  const char *we, *w = word(p, end, &we);
  if (w == we) return true;
  if (!word_is(w, we, "in")) return false;
  w = word(we, end, &we);
  int m = fl_campaign_mode_lookup(w, (size_t)(we - w));
  if (m < 0) return false;
  e->mode = (fl_campaign_mode_t)m;
  w = word(we, end, &we);
  if (w == we) return true;
  size_t level;
  if (!word_is(w, we, "check")) return false;
  w = word(we, end, &we);
  if (!word_number(w, we, &level) || level < 1 || level > 3) return false;
  e->check_level = (int)level;
  return word(we, end, &we) == we;
}

static bool parse_expect_line(const char *p, const char *end, fl_expect_t *e) {
  memset(e, 0, sizeof *e);
  const char *we, *w = word(p, end, &we);
  if (word_is(w, we, "clean")) {
    e->clean = true;
    return parse_where(we, end, e);
  }
  if (w == we || (size_t)(we - w) >= sizeof e->id) return false;
  memcpy(e->id, w, (size_t)(we - w));
  w = word(we, end, &we);
  if (!word_is(w, we, "at")) return false;
  w = word(we, end, &we);
  if (!word_is(w, we, "op")) return false;
  w = word(we, end, &we);
  return word_number(w, we, &e->op_index) && parse_where(we, end, e);
}

int fl_expect_parse(const char *text, size_t len, const char *name, fl_expect_t *e) {
  static const char key[] = "; expect:";
  const char *end = text + len;
  size_t line = 1;
  for (const char *p = text; p < end; line++) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *lend = nl ? nl : end;
    const char *s = skip_spaces(p, lend);
    if ((size_t)(lend - s) >= sizeof key - 1 && !memcmp(s, key, sizeof key - 1)) {
      if (parse_expect_line(s + sizeof key - 1, lend, e)) return 1;
      fl_error(FL_EUSAGE,
               "%s:%zu: malformed expectation (want '; expect: ID at op N [in MODE [check L]]' or "
               "'; expect: clean [in MODE]')",
               name, line);
      return -1;
    }
    p = nl ? nl + 1 : end;
  }
  return 0;
}

int fl_expect_format(const fl_finding_t *f, const fl_campaign_opts_t *o, char *buf, size_t cap) {
  char where[64];
  int level = o->check_level ? o->check_level : FL_CAMPAIGN_DEFAULT_LEVEL;
  if (o->mode == FL_CAMPAIGN_GLASS) snprintf(where, sizeof where, "in glass-box check %d", level);
  else snprintf(where, sizeof where, "in %s", fl_campaign_mode_name(o->mode));
  if (!f || !f->found) return snprintf(buf, cap, "; expect: clean %s\n", where);
  return snprintf(buf, cap, "; expect: %s at op %zu %s\n", f->id, f->op_index, where);
}

bool fl_expect_matches(const fl_expect_t *e, const fl_finding_t *f) {
  if (e->clean) return !f->found;
  return f->found && !strcmp(e->id, f->id) && e->op_index == f->op_index;
}
