/* map_view.h — `faultline map`: a script run on refmalloc over the kernel
 * model, recorded as one heap picture per op, and drawn as a self-contained
 * HTML page (a slider steps through the ops) or as one SVG picture.
 *
 * Recording (map_record.c) takes a snapshot (snapshot.h) after every op and
 * keeps only what changed since the previous frame: chunks that left and
 * chunks that came (with their state), pages whose page-table entry
 * changed, the layout when the VMAs changed. Every change keeps its old and
 * its new value, so the page's script can step backwards as well as
 * forwards. A script longer than max_frames ops is sampled: one frame every
 * `stride` ops, plus every op that produced a finding.
 *
 * Layout (map_layout.c): the address space is cut into bands, one per VMA,
 * top to bottom in address order. A readable VMA is drawn as rows of
 * row_bytes (a page while the VMA is at most FL_MAP_MAX_ROWS pages, a power
 * of two times more beyond), each row FL_MAP_ROW_PX pixels wide, so chunks
 * within a VMA are to scale; a PROT_NONE VMA (an arena heap's reserve) is
 * one hatched line, a hole between VMAs one labelled line. */
#ifndef FL_VIEW_MAP_VIEW_H
#define FL_VIEW_MAP_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ops/op.h"
#include "util/err.h"
#include "view/snapshot.h"

/* ---- geometry, shared by the SVG writer and the page's script ------------- */
#define FL_MAP_ROW_PX 1024u  /* a row's width */
#define FL_MAP_LEFT_PX 132u  /* room for row addresses */
#define FL_MAP_PITCH_PX 14u  /* row to row */
#define FL_MAP_STRIP_PX 3u   /* the present-pages strip on top of a row */
#define FL_MAP_BAR_PX 9u     /* the chunk bar below it */
#define FL_MAP_LINE_PX 18u   /* a band's title line, a hole, a reserve */
#define FL_MAP_MAX_ROWS 64u
#define FL_MAP_WIDTH_PX (FL_MAP_LEFT_PX + FL_MAP_ROW_PX + 8u)

typedef enum fl_map_band_kind {
  FL_MAP_BAND_ROWS,     /* a readable VMA, drawn row by row */
  FL_MAP_BAND_RESERVE,  /* a PROT_NONE VMA */
  FL_MAP_BAND_HOLE,     /* nothing mapped */
} fl_map_band_kind_t;

typedef struct fl_map_band {
  uint8_t kind;         /* fl_map_band_kind_t */
  uintptr_t start, end;
  uint64_t row_bytes;   /* FL_MAP_BAND_ROWS: bytes per row */
  unsigned y;           /* top of the band's first row (below its title) */
  unsigned rows;
  char title[128];
} fl_map_band_t;

typedef struct fl_map_layout {
  fl_map_band_t *bands;
  size_t nbands;
  unsigned height;      /* pixels */
} fl_map_layout_t;

/* ---- a recording ------------------------------------------------------------ */
typedef struct fl_map_chunk {
  uintptr_t addr;
  uint64_t size;
  uint8_t state;        /* fl_chunk_state_t */
} fl_map_chunk_t;

/* Pages [page, page + n) went from page-table state old to new (fl_pte_t). */
typedef struct fl_map_pages {
  uintptr_t page;
  uint64_t n;
  uint8_t old, new_;
} fl_map_pages_t;

/* What went wrong at an op: an invariant (`--check`), glibc's integrity
 * abort, or a finding of the executor (a verify that read other bytes). */
typedef struct fl_map_finding {
  size_t frame;
  char id[48];          /* the invariant ID, "glibc" or "exec" */
  uintptr_t addr;       /* what to circle; 0 = nothing in particular */
  char text[448];
} fl_map_finding_t;

typedef struct fl_map_frame {
  size_t first_op, last_op; /* the ops it covers (equal unless sampled); frame 0: none */
  size_t text;          /* offset of the last op's text in fl_map_t.text */
  uint8_t status;       /* the last op's fl_exec_status_t */
  uint64_t rss_pages;
  size_t layout;
  size_t gone_first, gone_n;   /* fl_map_t.chunks: chunks no longer there */
  size_t came_first, came_n;   /* fl_map_t.chunks: chunks now there */
  size_t pages_first, pages_n; /* fl_map_t.pages */
} fl_map_frame_t;

typedef struct fl_map {
  const char *script;   /* the file name, as given */
  size_t ops;           /* ops in the script */
  size_t stride;        /* ops per frame (1 unless sampled) */
  int check;            /* invariant level */
  uintptr_t base;       /* the model window */
  fl_map_frame_t *frames; size_t nframes, capframes;
  fl_map_chunk_t *chunks; size_t nchunks, capchunks;
  fl_map_pages_t *pages;  size_t npages, cappages;
  fl_map_layout_t *layouts; size_t nlayouts, caplayouts;
  fl_map_finding_t *findings; size_t nfindings, capfindings;
  char *text; size_t ntext, captext;
  /* The frame picked for the picture (fl_map_record's pick_op) in full. */
  size_t picked;
  fl_map_chunk_t *picked_chunks; size_t npicked_chunks;
  fl_map_pages_t *picked_pages;  size_t npicked_pages; /* runs; old = 0 */
} fl_map_t;

typedef struct fl_map_options {
  int check;            /* --check level, 0 = none */
  const char *tunables; /* GLIBC_TUNABLES for refmalloc, or NULL */
  size_t max_frames;    /* 0 = FL_MAP_DEFAULT_FRAMES */
  size_t pick_op;       /* the frame after this many ops is kept whole; SIZE_MAX = the last */
} fl_map_options_t;

#define FL_MAP_DEFAULT_FRAMES 4000

/* Runs ops on a fresh model + refmalloc (fast mode) and records every
 * frame. FL_OK (findings are data, not errors), FL_EUSAGE (bad tunables,
 * an op the executor refuses) or FL_EENV. fl_map_free in every case. */
fl_status_t fl_map_record(const fl_ops_t *ops, const char *script, const fl_map_options_t *o,
                          fl_map_t *m);
void fl_map_free(fl_map_t *m);
const char *fl_map_frame_text(const fl_map_t *m, size_t frame);

/* The colour and legend label of a chunk state (fl_chunk_state_t). The
 * colours are exact sRGB values the pictures use and nothing else does. */
const char *fl_map_state_colour(unsigned state);
const char *fl_map_state_label(unsigned state);
/* The strip colour of a page-table state (fl_pte_t). */
const char *fl_map_pte_colour(unsigned pte);
#define FL_MAP_FINDING_COLOUR "#ff0000"

/* ---- layout (map_layout.c) ------------------------------------------------ */
/* Bands for the VMAs (address order), labelled with the snapshot's labels. */
fl_status_t fl_map_layout_build(const fl_snap_vma_t *vmas, size_t n, fl_map_layout_t *out);
void fl_map_layout_free(fl_map_layout_t *l);
bool fl_map_layout_same(const fl_map_layout_t *a, const fl_map_layout_t *b);

/* ---- drawing (map_svg.c: static SVG parts, map_html.c: the page) ---------- */
/* The bands of a layout: titles, row addresses, row backgrounds, holes. */
void fl_map_svg_bands(FILE *out, const fl_map_layout_t *l);
/* The legend, one swatch per chunk state and the page shades. */
void fl_map_svg_legend(FILE *out);
/* RSS over the frames, findings marked; the cursor at frame `at`. */
void fl_map_svg_rss(FILE *out, const fl_map_t *m, size_t at);
fl_status_t fl_map_write_svg(const fl_map_t *m, FILE *out);
fl_status_t fl_map_write_html(const fl_map_t *m, FILE *out);

#endif
