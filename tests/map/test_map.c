/* test_map.c — `faultline map`: the page and the picture it draws, looked
 * at in headless Chromium.
 *
 * The expected chunks come from refmalloc itself, not from the view's own
 * walk (src/view/snapshot.c): mallinfo2 gives the mapped and fastbin
 * counts, the tcache counts its own entries, the bins are walked through
 * their fd links, and a boundary-tag walk of the main heap gives the total
 * from which the in-use count follows. The page must draw exactly those.
 * The screenshot must show every state colour beyond its legend swatch,
 * and no more than the swatch of a state the heap does not hold. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "alloc/introspect.h"
#include "harness/harness.h"
#include "host/profile.h"
#include "ops/exec.h"
#include "ops/file.h"
#include "ops/rmtarget.h"
#include "view/map_view.h"

#define SCRIPT "corpus/scripts/bins-tour.ops"
#define SWATCH_PX (14 * 14)

static char out[1 << 16];

static const char *source(const char *rel) {
  static char path[1024];
  const char *dir = getenv("FAULTLINE_SOURCE_DIR");
  snprintf(path, sizeof path, "%s/%s", dir ? dir : ".", rel);
  return path;
}

static int map(const char *args) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "faultline map %s", args);
  return fl_test_run_tool(cmd, out, sizeof out);
}

static size_t lines(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

/* ---- what refmalloc holds after the script's first `upto` ops ---------------- */

typedef struct expect {
  size_t upto;
  size_t n[FL_CHUNK_STATE_COUNT];
  bool taken;
} expect_t;

/* The chunks on bin i of the main arena, by their fd links. */
static size_t bin_length(fl_rm_t *rm, unsigned i) {
  uintptr_t head = fl_rm_bin_at(rm, 0, i), p = fl_rm_word(rm, 0, head + 16);
  size_t n = 0;
  for (; p != head && n < 100000; n++) p = fl_rm_word(rm, 0, p + 16);
  return n;
}

/* Chunks from the main heap's first to top, by their size fields. */
static size_t heap_chunks(fl_rm_t *rm) {
  fl_rm_params_t mp;
  fl_rm_params(rm, &mp);
  fl_rm_arena_info_t a;
  fl_rm_arena(rm, 0, &a);
  size_t n = 0;
  for (uintptr_t p = ((mp.sbrk_base + 31) & ~(uintptr_t)15) - 16; p < a.top; n++)
    p += fl_rm_word(rm, 0, p + 8) & ~(uint64_t)7;
  return n;
}

static void count(fl_rm_t *rm, expect_t *e) {
  fl_rm_mallinfo2_t mi = fl_rm_mallinfo2(rm);
  FL_CHECK_EQ(fl_rm_arena_count(rm), 1); /* the script uses the main arena only */
  e->n[FL_CHUNK_MAPPED] = mi.hblks;
  e->n[FL_CHUNK_FASTBIN] = mi.smblks;
  e->n[FL_CHUNK_TOP] = 1;
  e->n[FL_CHUNK_UNSORTED] = bin_length(rm, 1);
  for (unsigned i = 2; i < 64; i++) e->n[FL_CHUNK_SMALL] += bin_length(rm, i);
  for (unsigned i = 64; i < FL_RM_NBINS; i++) e->n[FL_CHUNK_LARGE] += bin_length(rm, i);
  /* mallinfo's ordblks: the binned chunks and top */
  FL_CHECK_EQ(e->n[FL_CHUNK_UNSORTED] + e->n[FL_CHUNK_SMALL] + e->n[FL_CHUNK_LARGE] + 1, mi.ordblks);
  fl_rm_tcache_info_t tc;
  if (fl_rm_tcache(rm, 0, &tc))
    for (unsigned i = 0; i < FL_RM_TCACHE_BINS; i++) e->n[FL_CHUNK_TCACHE] += tc.counts[i];
  size_t free_in_heap = e->n[FL_CHUNK_FASTBIN] + e->n[FL_CHUNK_TCACHE] + e->n[FL_CHUNK_UNSORTED] +
                        e->n[FL_CHUNK_SMALL] + e->n[FL_CHUNK_LARGE];
  e->n[FL_CHUNK_INUSE] = heap_chunks(rm) - free_in_heap;
  e->taken = true;
}

typedef struct probe {
  fl_rm_t *rm;
  expect_t e;
} probe_t;

static bool stop_at(void *ctx, size_t index, const fl_op_t *op, fl_exec_status_t st) {
  (void)op, (void)st;
  probe_t *p = ctx;
  if (index + 1 < p->e.upto) return true;
  count(p->rm, &p->e);
  return false;
}

/* The state after the first e->upto ops (the executor frees everything at
 * the end of a run: the counts are taken before, from its hook). */
static bool expected(const fl_ops_t *ops, expect_t *e) {
  fl_vm_config_t cfg;
  fl_vm_config_default(&cfg, fl_kprofile_get());
  fl_vm_t *vm;
  if (fl_vm_open(&vm, &cfg) != FL_OK) return false;
  fl_rm_config_t rc;
  fl_rm_config_default(&rc);
  probe_t ctx = {.e = *e};
  fl_rm_open(&ctx.rm, vm, &rc);
  fl_target_t t;
  fl_rmtarget_init(&t, ctx.rm);
  fl_exec_options_t eo = {.after_op = stop_at, .after_op_ctx = &ctx};
  fl_exec_result_t res;
  fl_exec_run(ops, &t, &eo, &res);
  fl_exec_result_free(&res);
  fl_rm_close(ctx.rm);
  fl_vm_close(vm);
  *e = ctx.e;
  return e->taken;
}

static bool load_script(fl_ops_t *ops) {
  fl_ops_init(ops);
  return fl_ops_load_file(source(SCRIPT), ops, NULL) == FL_OK && ops->n > 4;
}

/* ---- Chromium -------------------------------------------------------------- */

static bool have_chromium(void) { return access("/usr/bin/chromium", X_OK) == 0; }

/* Runs headless Chromium (root needs --no-sandbox) with a profile of its
 * own, so that parallel tests do not share one. Its stdout lands in buf. */
static int chromium(const char *args, char *buf, size_t cap) {
  char profile[] = "/tmp/fl-map-chromium-XXXXXX", cmd[4096];
  if (!mkdtemp(profile)) return -1;
  snprintf(cmd, sizeof cmd,
           "/usr/bin/chromium --headless --disable-gpu --no-sandbox --no-first-run --hide-scrollbars "
           "--force-device-scale-factor=1 --force-color-profile=srgb --user-data-dir=%s %s 2>/dev/null; "
           "rm -rf %s",
           profile, args, profile);
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  size_t n = buf ? fread(buf, 1, cap - 1, p) : 0;
  if (buf) buf[n] = '\0';
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static size_t occurrences(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
  return n;
}

/* Chunk elements of any state: data-state="name" (the page's script, also
 * in the DOM, spells the attribute with a quote and a '+' after it). */
static size_t chunk_elements(const char *dom) {
  size_t n = 0;
  for (const char *p = dom; (p = strstr(p, "data-state=\"")); p++) n += p[12] >= 'a' && p[12] <= 'z';
  return n;
}

/* The DOM's chunk elements per state against refmalloc's own counts. */
static void check_dom(const char *dom, const expect_t *e) {
  FL_CHECK_MSG(strstr(dom, "id=\"slider\"") && strstr(dom, "type=\"range\""), "no slider in the DOM");
  size_t want = 0;
  for (unsigned s = 0; s < FL_CHUNK_STATE_COUNT; s++) {
    char attr[64];
    snprintf(attr, sizeof attr, "data-state=\"%s\"", fl_chunk_state_name(s));
    size_t got = occurrences(dom, attr);
    want += e->n[s];
    FL_CHECK_MSG(got == e->n[s], "after %zu ops: %zu %s chunks drawn, refmalloc holds %zu", e->upto, got,
                 fl_chunk_state_name(s), e->n[s]);
    char legend[64];
    snprintf(legend, sizeof legend, "data-legend=\"%s\"", fl_chunk_state_name(s));
    FL_CHECK_MSG(strstr(dom, legend), "no legend entry for %s", fl_chunk_state_name(s));
  }
  FL_CHECK_EQ(chunk_elements(dom), want);
}

/* ---- a minimal PNG reader (8-bit RGB/RGBA, not interlaced) ----------------- */

typedef struct image {
  unsigned w, h, bpp;
  uint8_t *px; /* w * h * bpp */
} image_t;

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

static int paeth(int a, int b, int c) {
  int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Undoes the per-row filters (PNG spec, section 9). */
static void unfilter(image_t *im, const uint8_t *raw) {
  size_t stride = (size_t)im->w * im->bpp;
  for (unsigned y = 0; y < im->h; y++) {
    const uint8_t *in = raw + y * (stride + 1) + 1;
    uint8_t *row = im->px + y * stride, *up = y ? row - stride : NULL;
    for (size_t x = 0; x < stride; x++) {
      int a = x >= im->bpp ? row[x - im->bpp] : 0, b = up ? up[x] : 0, c = up && x >= im->bpp ? up[x - im->bpp] : 0;
      int pred[5] = {0, a, b, (a + b) / 2, paeth(a, b, c)};
      row[x] = (uint8_t)(in[x] + pred[in[-1] <= 4 ? in[-1] : 0]);
    }
  }
}

static bool read_png(const char *path, image_t *im) {
  FILE *f = fopen(path, "rb");
  if (!f) return false;
  static uint8_t file[4 << 20];
  size_t len = fread(file, 1, sizeof file, f), zlen = 0;
  fclose(f);
  uint8_t *z = malloc(len);
  if (len < 33 || memcmp(file, "\x89PNG\r\n\x1a\n", 8) || !z) return free(z), false;
  im->w = be32(file + 16), im->h = be32(file + 20);
  unsigned depth = file[24], type = file[25];
  im->bpp = type == 6 ? 4 : 3;
  if (depth != 8 || (type != 2 && type != 6) || file[28]) return free(z), false;
  for (size_t p = 8; p + 12 <= len; p += 12 + be32(file + p)) /* IDAT chunks, concatenated */
    if (!memcmp(file + p + 4, "IDAT", 4)) memcpy(z + zlen, file + p + 8, be32(file + p)), zlen += be32(file + p);
  uLongf rawlen = (uLongf)im->h * (im->w * im->bpp + 1);
  uint8_t *raw = malloc(rawlen);
  im->px = malloc((size_t)im->w * im->h * im->bpp);
  bool ok = raw && im->px && uncompress(raw, &rawlen, z, zlen) == Z_OK;
  if (ok) unfilter(im, raw);
  free(raw), free(z);
  return ok;
}

static size_t pixels_of(const image_t *im, const char *hex) {
  unsigned r, g, b;
  sscanf(hex, "#%02x%02x%02x", &r, &g, &b);
  size_t n = 0;
  for (size_t i = 0; i < (size_t)im->w * im->h; i++) {
    const uint8_t *p = im->px + i * im->bpp;
    n += p[0] == r && p[1] == g && p[2] == b;
  }
  return n;
}

/* Every state colour shows its legend swatch, and more than the swatch
 * exactly when refmalloc holds a chunk in that state. */
static void check_colours(const image_t *im, const expect_t *e) {
  for (unsigned s = 0; s < FL_CHUNK_STATE_COUNT; s++) {
    const char *c = fl_map_state_colour(s);
    size_t px = pixels_of(im, c);
    FL_CHECK_MSG(px >= SWATCH_PX, "%s: no legend swatch (%zu px of %s)", fl_chunk_state_name(s), px, c);
    FL_CHECK_MSG((px > SWATCH_PX) == (e->n[s] > 0), "after %zu ops: %zu px of %s (%s), refmalloc holds %zu",
                 e->upto, px, c, fl_chunk_state_name(s), e->n[s]);
  }
}

/* The page at #op=N as Chromium shows it: one run gives both its DOM
 * (after the page's script ran) and a screenshot. */
typedef struct page_view {
  char *dom;
  image_t shot;
} page_view_t;

static void page_view_free(page_view_t *v) {
  free(v->dom);
  free(v->shot.px);
}

static bool view_page(const char *html, size_t op, page_view_t *v) {
  char png[256], args[2048];
  size_t cap = 8 << 20;
  snprintf(png, sizeof png, "/tmp/fl-map-%d-%zu.png", (int)getpid(), op);
  snprintf(args, sizeof args, "--window-size=1280,2200 --screenshot=%s --dump-dom 'file://%s#op=%zu'", png, html,
           op);
  *v = (page_view_t){.dom = malloc(cap)};
  bool ok = v->dom && chromium(args, v->dom, cap) == 0 && read_png(png, &v->shot);
  unlink(png);
  if (!ok) page_view_free(v);
  return ok;
}

static const char *write_page(char *html) {
  snprintf(html, 256, "/tmp/fl-map-%d.html", (int)getpid());
  char args[2048];
  snprintf(args, sizeof args, "%s --html %s", source(SCRIPT), html);
  return map(args) == 0 ? html : NULL;
}

/* The bins-tour page after `upto` ops (SIZE_MAX: all), against refmalloc.
 * The page opens at its last op: an earlier #op makes its script step
 * back. */
static void check_page_at(size_t upto) {
  if (!have_chromium()) FL_SKIP("chromium is not installed (scripts/setup.sh installs it)");
  fl_ops_t ops;
  FL_CHECK(load_script(&ops));
  char html[256];
  FL_CHECK(write_page(html));
  expect_t e = {.upto = upto < ops.n ? upto : ops.n};
  FL_CHECK(expected(&ops, &e));
  page_view_t v;
  bool viewed = view_page(html, e.upto, &v);
  unlink(html);
  fl_ops_free(&ops);
  FL_CHECK_MSG(viewed, "chromium did not show %s", html);
  check_dom(v.dom, &e);
  check_colours(&v.shot, &e);
  FL_CHECK_GT(pixels_of(&v.shot, fl_map_pte_colour(FL_PTE_ANON)), SWATCH_PX);
  page_view_free(&v);
}

/* ---- the tests --------------------------------------------------------------- */

FL_TEST(map_help_and_bad_inputs) {
  FL_CHECK_EQ(map("--help"), 0);
  FL_CHECK(strstr(out, "usage: faultline map") == out && strstr(out, "examples:"));
  static const struct {
    const char *args, *says;
  } bad[] = {
      {"--html /tmp/x.html", "which script"},
      {"/nonexistent/s.ops --html /tmp/x.html", "/nonexistent/s.ops: No such file or directory"},
      {"%s", "nothing to write"},
      {"%s --html /nonexistent/dir/out.html", "/nonexistent/dir/out.html: No such file or directory"},
      {"%s --svg /tmp", "/tmp: is a directory"},
      {"%s --html /tmp/x.html --check 7", "--check takes a level"},
      {"%s --html /tmp/x.html --check", "--check takes a level"},
      {"%s --html", "--html needs a value"},
      {"%s --svg /tmp/x.svg --op many", "--op takes a number"},
      {"%s --svg /tmp/x.svg --max-frames 0", "--max-frames must be at least 1"},
      {"%s --html /tmp/x.html --frobnicate", "unknown option '--frobnicate'"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char args[512];
    snprintf(args, sizeof args, bad[i].args, source(SCRIPT));
    FL_CHECK_MSG(map(args) == 2, "faultline map %s: not exit 2:\n%s", args, out);
    FL_CHECK_MSG(strstr(out, "faultline map: ") == out && lines(out) == 1 && strstr(out, bad[i].says),
                 "faultline map %s: expected one line saying '%s', got:\n%s", args, bad[i].says, out);
  }
}

static char *slurp(const char *path) {
  static char text[1 << 20];
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  text[fread(text, 1, sizeof text - 1, f)] = '\0';
  fclose(f);
  return text;
}

/* `faultline map --svg --op N` with more_args: the picture holds every
 * chunk refmalloc holds after N ops, in its state (and N is a point where
 * the script holds every state). */
static void check_svg(const fl_ops_t *ops, size_t upto, const char *more_args) {
  char svg[256], args[2048];
  snprintf(svg, sizeof svg, "/tmp/fl-map-%d.svg", (int)getpid());
  snprintf(args, sizeof args, "%s --svg %s --op %zu %s", source(SCRIPT), svg, upto, more_args);
  FL_CHECK_EQ(map(args), 0);
  expect_t e = {.upto = upto};
  FL_CHECK(expected(ops, &e));
  const char *text = slurp(svg);
  FL_CHECK(text != NULL);
  for (unsigned s = 0; s < FL_CHUNK_STATE_COUNT; s++) {
    char attr[64];
    snprintf(attr, sizeof attr, "data-state=\"%s\"", fl_chunk_state_name(s));
    FL_CHECK_MSG(occurrences(text, attr) == e.n[s], "%s: %zu drawn, refmalloc holds %zu", fl_chunk_state_name(s),
                 occurrences(text, attr), e.n[s]);
    if (s != FL_CHUNK_FENCE) FL_CHECK_MSG(e.n[s] > 0, "the script holds no %s chunk there", fl_chunk_state_name(s));
  }
  unlink(svg);
}

/* Without a browser: the SVG holds refmalloc's chunks, and the page is
 * self-contained and small. */
FL_TEST(map_svg_draws_every_chunk_and_page_is_self_contained) {
  fl_ops_t ops;
  FL_CHECK(load_script(&ops));
  check_svg(&ops, ops.n - 2, "");
  char html[256];
  FL_CHECK(write_page(html));
  struct stat sb;
  FL_CHECK_EQ(stat(html, &sb), 0);
  FL_CHECK_LT(sb.st_size, 64 * 1024);
  const char *text = slurp(html);
  FL_CHECK(text != NULL);
  FL_CHECK_MSG(!strstr(text, "https:") && !strstr(text, "src=") && !strstr(text, "@import") &&
                   !strstr(text, "<link"),
               "the page loads something from outside");
  unlink(html);
  fl_ops_free(&ops);
}

/* Past --max-frames the script is sampled; the picked op is still a
 * picture of its own, and the page says it is sampled. */
FL_TEST(map_long_scripts_are_sampled) {
  fl_ops_t ops;
  FL_CHECK(load_script(&ops));
  char args[2048], html[256];
  snprintf(html, sizeof html, "/tmp/fl-map-%d-sampled.html", (int)getpid());
  snprintf(args, sizeof args, "%s --html %s --max-frames 10 --json", source(SCRIPT), html);
  FL_CHECK_EQ(map(args), 0);
  const char *frames = strstr(out, "\"frames\": ");
  FL_CHECK(frames != NULL);
  FL_CHECK_LE(strtoul(frames + 10, NULL, 10), 10 + 2); /* and frame 0, and the last op */
  const char *text = slurp(html);
  FL_CHECK(text != NULL && strstr(text, "sampled: one picture every"));
  unlink(html);
  check_svg(&ops, ops.n - 2, "--max-frames 10");
  fl_ops_free(&ops);
}

FL_TEST(map_chromium_shows_every_chunk_of_the_last_op) { check_page_at(SIZE_MAX); }

/* After 2 ops: the mapped chunk, the tcache struct and top only. */
FL_TEST(map_chromium_steps_back_to_an_early_op) { check_page_at(2); }

/* A script that corrupts a freed chunk's size: the invariants find it at
 * the next call (the poke is no allocator call) and the page circles it in
 * red there. */
FL_TEST(map_violation_is_circled) {
  char script[] = "/tmp/fl-map-bad-XXXXXX", html[256], args[1024];
  int fd = mkstemp(script);
  FL_CHECK(fd >= 0);
  static const char text[] = "faultline-ops v2\n#1 = malloc 100\n#2 = malloc 100\nfree #1\n"
                             "poke #1 -8 0x91 8\n#3 = malloc 24\n";
  FL_CHECK_EQ(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
  close(fd);
  snprintf(html, sizeof html, "%s.html", script);
  snprintf(args, sizeof args, "%s --check 3 --html %s --json", script, html);
  FL_CHECK_EQ(map(args), 0);
  FL_CHECK_MSG(strstr(out, "\"findings\": 0") == NULL, "no finding:\n%s", out);
  page_view_t v;
  if (have_chromium()) {
    FL_CHECK(view_page(html, 5, &v));
    FL_CHECK_MSG(strstr(v.dom, "<g class=\"finding\"><rect"), "no red frame at op 5");
    FL_CHECK_MSG(strstr(v.dom, "BIN-"), "the finding's invariant is not named");
    page_view_free(&v);
  }
  unlink(script);
  unlink(html);
}
