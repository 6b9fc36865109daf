/* viewargs.h — what `faultline pmap` and `faultline bins` share: the
 * options that choose where in a script to look, loading the script, and
 * running it there through a session (src/view/session.h). */
#ifndef FL_CLI_VIEWARGS_H
#define FL_CLI_VIEWARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "ops/op.h"
#include "util/json.h"
#include "view/session.h"

typedef struct fl_viewargs {
  const char *cmd;       /* "pmap", "bins" */
  const char *file;
  bool json;
  bool at_given;
  size_t at;             /* --at N */
  int check;             /* --check L */
  const char *tunables;
} fl_viewargs_t;

/* Parses argv (argv[0] is the command). Returns 0 to go on, -1 after
 * printing help (exit 0), or the exit status after an error message. */
int fl_viewargs_parse(fl_viewargs_t *a, const char *cmd, int argc, char **argv, void (*help)(void));

/* Loads the script and runs it on a session (shadow mode if `shadow`) up
 * to the place the options name, calling at_stop there. Returns 0 or the
 * exit status after an error message (2: bad file or --at past the end,
 * 3: the model cannot be opened). */
int fl_viewargs_run(const fl_viewargs_t *a, bool shadow, fl_session_stop_fn at_stop, void *ctx);

/* One line saying where the view stands: "after op 12 of 40 (the last)",
 * "after op 3 of 40: BIN-FD-BK violated ...". */
void fl_viewargs_print_stop(const fl_viewargs_t *a, const fl_session_t *s);
/* The same as JSON members: "file", "ops", "after_op", "stop", "violation",
 * "integrity_message". */
void fl_viewargs_json_stop(fl_json_t *j, const fl_viewargs_t *a, const fl_session_t *s);

/* An address as JSON: a "0x..." string. */
void fl_json_addr(fl_json_t *j, uintptr_t addr);

#endif
