/* fuzz/ops.c — the op language itself: any bytes decode; the decoded ops
 * print as text that parses back to the same ops and encode to bytes that
 * decode to them again. A broken round trip aborts. */
#include "common.h"
#include "ops/text.h"

static void fail(const char *what) {
  fprintf(stderr, "fuzz/ops: %s (%s)\n", what, fl_error_message());
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fl_ops_t ops, from_text, from_bytes;
  fl_ops_init(&ops);
  fl_ops_init(&from_text);
  fl_ops_init(&from_bytes);
  if (fl_ops_decode(data, size, &ops) != FL_OK) fail("raw bytes did not decode");
  char *text = NULL;
  size_t tlen = 0;
  if (fl_ops_print_text(&ops, true, &text, &tlen) != FL_OK) fail("cannot print");
  if (fl_ops_parse_text(text, tlen, "printed", &from_text) != FL_OK) fail("printed text does not parse");
  if (!fl_ops_equal(&ops, &from_text)) fail("text round trip changed the ops");
  uint8_t *bytes = NULL;
  size_t blen = 0;
  if (fl_ops_encode(&ops, &bytes, &blen) != FL_OK) fail("cannot encode");
  if (fl_ops_decode(bytes, blen, &from_bytes) != FL_OK || !fl_ops_equal(&ops, &from_bytes))
    fail("binary round trip changed the ops");
  free(text);
  free(bytes);
  fl_ops_free(&ops);
  fl_ops_free(&from_text);
  fl_ops_free(&from_bytes);
  return 0;
}
