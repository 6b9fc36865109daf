#include "cli/viewargs.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "ops/file.h"

int fl_viewargs_parse(fl_viewargs_t *a, const char *cmd, int argc, char **argv, void (*help)(void)) {
  *a = (fl_viewargs_t){.cmd = cmd};
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    uint64_t v;
    if (fl_cli_is_help(s)) {
      help();
      return -1;
    } else if (!strcmp(s, "--json")) {
      a->json = true;
    } else if (!strcmp(s, "--at")) {
      if (++i >= argc || !fl_cli_parse_u64(argv[i], false, &v))
        return fl_cli_fail(cmd, 2, "--at takes an op number (0 is the first op)");
      a->at = (size_t)v;
      a->at_given = true;
    } else if (!strcmp(s, "--check")) {
      int st = fl_cli_check_level(cmd, ++i < argc ? argv[i] : NULL, 0, &a->check);
      if (st) return st;
    } else if (!strcmp(s, "--tunables")) {
      if (++i >= argc) return fl_cli_fail(cmd, 2, "--tunables needs a value");
      a->tunables = argv[i];
    } else if (s[0] == '-' && s[1]) {
      return fl_cli_fail(cmd, 2, "unknown option '%s' (see faultline %s --help)", s, cmd);
    } else if (a->file) {
      return fl_cli_fail(cmd, 2, "one SCRIPT only ('%s' and '%s')", a->file, s);
    } else {
      a->file = s;
    }
  }
  if (!a->file) return fl_cli_fail(cmd, 2, "which script? (see faultline %s --help)", cmd);
  return 0;
}

int fl_viewargs_run(const fl_viewargs_t *a, bool shadow, fl_session_stop_fn at_stop, void *ctx) {
  fl_ops_t ops;
  fl_ops_init(&ops);
  int st = fl_cli_load_ops(a->cmd, a->file, &ops, NULL);
  if (!st && a->at_given && a->at >= ops.n)
    st = ops.n ? fl_cli_fail(a->cmd, 2, "--at %zu: %s has %zu ops (0 to %zu)", a->at, a->file, ops.n, ops.n - 1)
               : fl_cli_fail(a->cmd, 2, "--at %zu: %s has no op", a->at, a->file);
  fl_session_opts_t so = {.shadow = shadow, .tunables = a->tunables, .check = a->check,
                          .stop_at = a->at_given ? a->at : SIZE_MAX};
  fl_session_t s;
  fl_status_t os = st ? FL_OK : fl_session_open(&s, &so);
  if (os != FL_OK) {
    st = fl_cli_fail(a->cmd, os, "%s", fl_error_message());
  } else if (!st) {
    fl_status_t rs = fl_session_run(&s, &so, &ops, at_stop, ctx);
    if (rs != FL_OK) st = fl_cli_fail(a->cmd, rs, "%s", fl_error_message());
    fl_session_close(&s);
  }
  fl_ops_free(&ops);
  return st;
}

static const char *where(const fl_session_t *s, size_t nops, char *buf, size_t cap) {
  if (s->stop_index == SIZE_MAX) snprintf(buf, cap, "before any op (the script has none)");
  else snprintf(buf, cap, "after op %zu of ops 0-%zu%s", s->stop_index, nops - 1,
                s->stop_index + 1 == nops ? " (the last)" : "");
  return buf;
}

void fl_viewargs_print_stop(const fl_viewargs_t *a, const fl_session_t *s) {
  char buf[96];
  printf("faultline %s %s: %s\n", a->cmd, a->file, where(s, s->nops, buf, sizeof buf));
  const fl_violation_t *v = fl_session_violation(s);
  if (s->reason == FL_STOP_VIOLATION && v)
    printf("  stopped at a violation: %s at %#lx: expected %s, actual %s\n", v->id, (unsigned long)v->addr,
           v->expected, v->actual);
  if (s->reason == FL_STOP_INTEGRITY)
    printf("  stopped where glibc aborts: \"%s\"\n", fl_rm_last_event(s->rm)->message);
}

void fl_json_addr(fl_json_t *j, uintptr_t addr) {
  char buf[24];
  snprintf(buf, sizeof buf, "%#lx", (unsigned long)addr);
  fl_json_string(j, buf);
}

void fl_viewargs_json_stop(fl_json_t *j, const fl_viewargs_t *a, const fl_session_t *s) {
  fl_json_key(j, "file"); fl_json_string(j, a->file);
  fl_json_key(j, "ops"); fl_json_uint(j, s->nops);
  fl_json_key(j, "after_op");
  if (s->stop_index == SIZE_MAX) fl_json_null(j);
  else fl_json_uint(j, s->stop_index);
  fl_json_key(j, "stop"); fl_json_string(j, fl_stop_reason_name(s->reason));
  const fl_violation_t *v = fl_session_violation(s);
  fl_json_key(j, "violation");
  if (v) {
    fl_json_begin_object(j);
    fl_json_key(j, "id"); fl_json_string(j, v->id);
    fl_json_key(j, "addr"); fl_json_addr(j, v->addr);
    fl_json_key(j, "expected"); fl_json_string(j, v->expected);
    fl_json_key(j, "actual"); fl_json_string(j, v->actual);
    fl_json_end_object(j);
  } else {
    fl_json_null(j);
  }
  fl_json_key(j, "integrity_message");
  if (s->reason == FL_STOP_INTEGRITY) fl_json_string(j, fl_rm_last_event(s->rm)->message);
  else fl_json_null(j);
}
