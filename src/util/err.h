/* err.h — errors are values.
 *
 * Functions that can fail return an fl_status_t (or NULL) and leave one
 * human-readable line in a per-thread buffer; the CLI prints it and exits
 * with the status, which doubles as the process exit status. */
#ifndef FL_UTIL_ERR_H
#define FL_UTIL_ERR_H

#include <stdarg.h>

typedef enum fl_status {
  FL_OK = 0,       /* success */
  FL_FINDING = 1,  /* a violated promise was found */
  FL_EUSAGE = 2,   /* bad flag, bad number, unreadable file */
  FL_EENV = 3,     /* kernel feature missing, window taken, helper not started */
} fl_status_t;

/* Records the message for the current thread and returns status, so that
 * callers write `return fl_error(FL_EENV, "...", ...);`. */
fl_status_t fl_error(fl_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
fl_status_t fl_verror(fl_status_t status, const char *fmt, va_list ap);

/* The last message recorded on this thread ("" if none). */
const char *fl_error_message(void);
void fl_error_clear(void);

#endif
