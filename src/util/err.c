#include "util/err.h"

#include <stdio.h>

static _Thread_local char fl_errbuf[1024];

fl_status_t fl_verror(fl_status_t status, const char *fmt, va_list ap) {
  vsnprintf(fl_errbuf, sizeof fl_errbuf, fmt, ap);
  return status;
}

fl_status_t fl_error(fl_status_t status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fl_verror(status, fmt, ap);
  va_end(ap);
  return status;
}

const char *fl_error_message(void) { return fl_errbuf; }

void fl_error_clear(void) { fl_errbuf[0] = '\0'; }
