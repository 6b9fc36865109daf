/* test_json.c — every command's --json output against spec/json.md.
 *
 * The spec marks each documented output with a comment
 *   <!-- json-check: ARGS -->        the output is an object
 *   <!-- json-check-each: ARGS -->   the output is an array of objects
 * followed by a table whose rows name top-level fields (`a`, `b`) and their
 * types ("number", "string or null", ...). The test runs `faultline ARGS`,
 * parses what it prints with its own reader, and checks that every field is
 * there with one of its types. A command the machine cannot run (exit 3) is
 * skipped; a usage error (2) fails: the spec's own command line is wrong. */
#include <stdlib.h>
#include <unistd.h>

#include "cli/jsonread.h"
#include "harness/harness.h"

static char out[1 << 22];

static char *read_spec(void) {
  char path[1024];
  const char *src = getenv("FAULTLINE_SOURCE_DIR");
  snprintf(path, sizeof path, "%s/spec/json.md", src ? src : ".");
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  static char text[1 << 17];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  return text;
}

/* ARGS with {src} and {tmp} filled in. */
static void expand(const char *args, size_t n, const char *tmp, char *cmd, size_t cap) {
  const char *src = getenv("FAULTLINE_SOURCE_DIR");
  size_t len = (size_t)snprintf(cmd, cap, "faultline ");
  for (size_t i = 0; i < n && len + 1 < cap; i++) {
    if (!strncmp(args + i, "{src}", 5)) len += (size_t)snprintf(cmd + len, cap - len, "%s", src ? src : "."), i += 4;
    else if (!strncmp(args + i, "{tmp}", 5)) len += (size_t)snprintf(cmd + len, cap - len, "%s", tmp), i += 4;
    else cmd[len++] = args[i];
  }
  cmd[len < cap ? len : cap - 1] = '\0';
}

static const char *type_name(jr_type_t t) {
  static const char *names[] = {"bad", "object", "array", "string", "number", "bool", "null"};
  return names[t];
}

/* The row's type column ("number or null") allows t. */
static bool allows(const char *types, size_t n, jr_type_t t) {
  const char *name = type_name(t);
  size_t k = strlen(name);
  for (const char *p = types; p + k <= types + n; p++)
    if (!strncmp(p, name, k) && (p == types || p[-1] == ' ') && (p + k == types + n || p[k] == ' ')) return true;
  return false;
}

/* Checks every field of the table that starts at `table` against obj,
 * counting them in *checked. */
static void check_table(const char *table, const char *obj, const char *cmd, size_t *checked) {
  const char *line = table;
  for (int row = 0; *line == '|'; row++, line = strchr(line, '\n') ? strchr(line, '\n') + 1 : "") {
    if (row < 2) continue; /* header and |---| */
    const char *c1 = line + 1, *c2 = strchr(c1, '|');
    const char *c3 = c2 ? strchr(c2 + 1, '|') : NULL;
    if (!c3) break;
    const char *types = c2 + 1;
    while (*types == ' ') types++;
    size_t tn = (size_t)(c3 - types);
    while (tn && types[tn - 1] == ' ') tn--;
    /* `a`, `b`: each name in backticks */
    for (const char *p = c1; p < c2 && (p = strchr(p, '`')) && p < c2;) {
      const char *e = strchr(p + 1, '`');
      char name[64];
      snprintf(name, sizeof name, "%.*s", (int)(e - p - 1), p + 1);
      const char *v = jr_member(obj, name, strlen(name));
      FL_CHECK_MSG(v != NULL, "%s: no field '%s'", cmd, name);
      if (v)
        FL_CHECK_MSG(allows(types, tn, jr_type(v)), "%s: field '%s' is %s, the spec says %.*s", cmd, name,
                     type_name(jr_type(v)), (int)tn, types);
      (*checked)++;
      p = e + 1;
    }
  }
}

FL_TEST(every_documented_json_output_has_its_fields) {
  const char *spec = read_spec();
  FL_CHECK_MSG(spec != NULL, "cannot read spec/json.md");
  char tmp[] = "/tmp/fl-json-XXXXXX";
  FL_CHECK(mkdtemp(tmp) != NULL);
  size_t commands = 0;
  for (const char *p = spec; (p = strstr(p, "<!-- json-check"));) {
    bool each = !strncmp(p, "<!-- json-check-each: ", 22);
    const char *args = strchr(p, ':') + 2, *end = strstr(args, " -->");
    char cmd[2048];
    expand(args, (size_t)(end - args), tmp, cmd, sizeof cmd);
    const char *table = strstr(end, "\n|");
    p = end;
    if (!table) break;
    int rc = fl_test_run_tool(cmd, out, sizeof out);
    if (rc == 3) {
      fprintf(stderr, "skipped (environment): %s\n", cmd);
      continue;
    }
    FL_CHECK_MSG(rc == 0 || rc == 1, "%s exits %d:\n%.2000s", cmd, rc, out);
    /* fl_test_run_tool gives stdout and stderr together: the JSON starts at
     * the first line that opens a value */
    const char *json = out;
    while (*json && *json != '{' && *json != '[') json = strchr(json, '\n') ? strchr(json, '\n') + 1 : "";
    FL_CHECK_MSG(jr_valid(json), "%s: not one JSON value:\n%.2000s", cmd, out);
    FL_CHECK_MSG(jr_type(json) == (each ? JR_ARRAY : JR_OBJECT), "%s: expected an %s", cmd,
                 each ? "array" : "object");
    const char *obj = each ? jr_element(json, 0) : json;
    FL_CHECK_MSG(obj != NULL, "%s: an empty array", cmd);
    size_t fields = 0;
    check_table(table + 1, obj, cmd, &fields);
    FL_CHECK_MSG(fields > 0, "%s: the spec's table names no field", cmd);
    commands++;
  }
  FL_CHECK_GE(commands, 8);
  char rm[128];
  snprintf(rm, sizeof rm, "rm -rf %s", tmp);
  FL_CHECK_EQ(system(rm), 0);
}
