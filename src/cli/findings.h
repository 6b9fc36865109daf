/* findings.h — what verify, replay and minimize share: loading a script with
 * its expectation, printing a finding, saving a reproducer. */
#ifndef FL_CLI_FINDINGS_H
#define FL_CLI_FINDINGS_H

#include <stdbool.h>
#include <stdio.h>

#include "ops/campaign.h"
#include "ops/op.h"
#include "util/json.h"

/* An op file and what its header comments expect. */
typedef struct fl_script {
  fl_ops_t ops;
  int format;          /* fl_ops_format_t */
  bool has_expect;
  fl_expect_t expect;
} fl_script_t;

/* Loads path for command cmd: 0, or the exit status after printing the
 * error (2: unreadable, malformed, or a malformed "; expect:" line; the
 * expectation is looked for in the first 4 KiB of a text script). */
int fl_cli_load_script(const char *cmd, const char *path, fl_script_t *s);
void fl_cli_script_free(fl_script_t *s);

/* The options a script is replayed with: its expectation's mode and check
 * level if it names them, else glass-box at the default level; hostile ops
 * run in text scripts only (binary and raw inputs are fuzzer bytes, whose
 * targets skip them). */
void fl_cli_script_opts(const fl_script_t *s, fl_campaign_opts_t *o);

/* The modes replay tries a script in, in order (returns how many, 1 or 2):
 * target (a fl_campaign_mode_t) if >= 0, else the expectation's mode, else
 * glass-box then kernel; check_level overrides the script's if not 0. */
size_t fl_cli_script_modes(const fl_script_t *s, int target, int check_level, fl_campaign_opts_t modes[2]);

/* "BIN-ONE-LIST at op 9 (glass-box, check 3): <message>" and the drawing. */
void fl_cli_print_finding(FILE *out, const char *indent, const fl_finding_t *f, const fl_campaign_opts_t *o);
/* {"id", "op", "message", "detail"} or null. */
void fl_cli_json_finding(fl_json_t *j, const fl_finding_t *f);

/* Writes ops as a text script whose header comments say `about` (lines
 * without the leading "; ", may be NULL), what it expects (f in o's mode)
 * and how to replay it. 0 or the exit status after printing the error. */
int fl_cli_save_script(const char *cmd, const char *path, const fl_ops_t *ops, const char *about,
                       const fl_finding_t *f, const fl_campaign_opts_t *o);

#endif
