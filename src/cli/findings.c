/* findings.c — scripts with expectations, findings, reproducers (findings.h). */
#include "cli/findings.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ops/file.h"
#include "ops/text.h"

#define EXPECT_WINDOW 4096 /* the header comments of a script */

/* Reads the expectation from the start of a text script. */
static int load_expect(const char *cmd, const char *path, fl_script_t *s) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0; /* a pipe already read: no expectation to find */
  char head[EXPECT_WINDOW];
  size_t n = fread(head, 1, sizeof head, f);
  fclose(f);
  int r = fl_expect_parse(head, n, path, &s->expect);
  if (r < 0) return fl_cli_fail(cmd, 2, "%s", fl_error_message());
  s->has_expect = r > 0;
  return 0;
}

int fl_cli_load_script(const char *cmd, const char *path, fl_script_t *s) {
  memset(s, 0, sizeof *s);
  fl_ops_init(&s->ops);
  int st = fl_cli_load_ops(cmd, path, &s->ops, &s->format);
  if (!st && s->format == FL_FMT_TEXT) st = load_expect(cmd, path, s);
  if (st) fl_cli_script_free(s);
  return st;
}

void fl_cli_script_free(fl_script_t *s) { fl_ops_free(&s->ops); }

void fl_cli_script_opts(const fl_script_t *s, fl_campaign_opts_t *o) {
  fl_campaign_opts_default(o, s->has_expect ? s->expect.mode : FL_CAMPAIGN_GLASS);
  if (s->has_expect && s->expect.check_level) o->check_level = s->expect.check_level;
  o->hostile = s->format == FL_FMT_TEXT;
}

size_t fl_cli_script_modes(const fl_script_t *s, int target, int check_level, fl_campaign_opts_t modes[2]) {
  fl_cli_script_opts(s, &modes[0]);
  if (check_level) modes[0].check_level = check_level;
  if (target >= 0) {
    modes[0].mode = (fl_campaign_mode_t)target;
    return 1;
  }
  if (s->has_expect) return 1;
  modes[1] = modes[0];
  modes[1].mode = FL_CAMPAIGN_KERNEL;
  return 2;
}

static void describe_mode(const fl_campaign_opts_t *o, char *buf, size_t cap) {
  if (o->mode == FL_CAMPAIGN_GLASS)
    snprintf(buf, cap, "glass-box, check %d", o->check_level ? o->check_level : FL_CAMPAIGN_DEFAULT_LEVEL);
  else
    snprintf(buf, cap, "%s", fl_campaign_mode_name(o->mode));
}

void fl_cli_print_finding(FILE *out, const char *indent, const fl_finding_t *f, const fl_campaign_opts_t *o) {
  char mode[48];
  describe_mode(o, mode, sizeof mode);
  if (!f->found) {
    fprintf(out, "%sclean (%s)\n", indent, mode);
    return;
  }
  fprintf(out, "%s%s at op %zu (%s): %s\n", indent, f->id, f->op_index, mode, f->message);
  if (f->detail[0]) fprintf(out, "%s  %s\n", indent, f->detail);
}

void fl_cli_json_finding(fl_json_t *j, const fl_finding_t *f) {
  if (!f->found) {
    fl_json_null(j);
    return;
  }
  fl_json_begin_object(j);
  fl_json_key(j, "id"); fl_json_string(j, f->id);
  fl_json_key(j, "op"); fl_json_uint(j, f->op_index);
  fl_json_key(j, "message"); fl_json_string(j, f->message);
  fl_json_key(j, "detail"); fl_json_string(j, f->detail);
  fl_json_end_object(j);
}

static void write_comment_lines(FILE *out, const char *text) {
  for (const char *p = text; p && *p;) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    fprintf(out, "; %.*s\n", (int)n, p);
    p = nl ? nl + 1 : p + n;
  }
}

int fl_cli_save_script(const char *cmd, const char *path, const fl_ops_t *ops, const char *about,
                       const fl_finding_t *f, const fl_campaign_opts_t *o) {
  char *body = NULL, expect[160];
  size_t len = 0;
  if (fl_ops_print_text(ops, false, &body, &len) != FL_OK) return fl_cli_fail(cmd, 2, "%s", fl_error_message());
  fl_expect_format(f, o, expect, sizeof expect);
  FILE *out = fopen(path, "w");
  if (!out) {
    free(body);
    return fl_cli_fail(cmd, 3, "cannot write %s: %s", path, strerror(errno));
  }
  fprintf(out, "%s v%d\n", FL_OPS_TEXT_MAGIC, FL_OPS_FORMAT_VERSION);
  write_comment_lines(out, about);
  fputs(expect, out);
  fprintf(out, "; replay: faultline replay %s\n", path);
  fwrite(body, 1, len, out);
  free(body);
  if (fclose(out) != 0) return fl_cli_fail(cmd, 3, "cannot write %s: %s", path, strerror(errno));
  return 0;
}
