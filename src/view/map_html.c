/* map_html.c — `faultline map --html`: one self-contained page (inline CSS,
 * SVG and script; no network, no fonts but the reader's own).
 *
 * The static parts are drawn here, by the SVG writer's own functions: the
 * legend, the RSS plot, each layout's bands (as markup strings in the
 * data). The page's script keeps the heap's state, steps it through the
 * frames' changes forwards or backwards as the slider moves, and draws the
 * chunks and pages of the current frame with draw_span()'s geometry
 * (map_svg.c). `#op=N` in the address opens the page after op N. */
#include <stdlib.h>
#include <string.h>

#include "ops/exec.h"
#include "util/json.h"
#include "view/map_view.h"

static const char css[] =
    "body{font:13px/1.4 system-ui,sans-serif;margin:12px 16px;color:#1a1a1a;background:#fff}\n"
    "h1{font-size:18px;margin:0 0 4px}p.note{color:#555;margin:0 0 8px}\n"
    "svg{display:block;font-family:monospace;font-size:11px}\n"
    "text.addr{fill:#666;font-size:10px}text.title{font-weight:bold}text.hole{fill:#666}\n"
    "#controls{position:sticky;top:0;background:#fff;padding:6px 0;z-index:1;border-bottom:1px solid #ddd}\n"
    "#slider{width:760px;vertical-align:middle}\n"
    "#op{font:14px monospace;margin-top:4px;white-space:pre}\n"
    "#finding{color:#ff0000;font-weight:bold;min-height:1.3em;font-family:monospace}\n";

/* The page's script: state, stepping, drawing. G is the geometry of
 * map_view.h, D the data written by write_data(). */
static const char script[] =
    "(function(){\n"
    "const D=JSON.parse(document.getElementById('map-data').textContent),G=D.geom;\n"
    "const $=id=>document.getElementById(id);\n"
    "const chunks=new Map();let runs=[],cur=0,shownLayout=-1;\n"
    /* runs: sorted disjoint [page,n,pte] with pte != 0; set() overwrites a range */
    "function set(p,n,k){const e=p+n,out=[];let put=false;\n"
    " for(const r of runs){const re=r[0]+r[1];\n"
    "  if(re<=p||r[0]>=e){if(r[0]>=e&&!put){if(k)out.push([p,n,k]);put=true;}out.push(r);continue;}\n"
    "  if(r[0]<p)out.push([r[0],p-r[0],r[2]]);\n"
    "  if(!put){if(k)out.push([p,n,k]);put=true;}\n"
    "  if(re>e)out.push([e,re-e,r[2]]);}\n"
    " if(!put&&k)out.push([p,n,k]);runs=out;}\n"
    "function apply(i,fwd){const f=D.frames[i],del=fwd?f[6]:f[7],add=fwd?f[7]:f[6];\n"
    " for(const c of del)chunks.delete(c[0]);for(const c of add)chunks.set(c[0],c);\n"
    " for(const p of f[8])set(p[0],p[1],fwd?p[3]:p[2]);}\n"
    "function bandAt(L,a){let lo=0,hi=L.bands.length;\n"
    " while(lo<hi){const m=(lo+hi)>>1;if(L.bands[m][1]<=a)lo=m+1;else hi=m;}\n"
    " const b=L.bands[lo];return b&&b[0]<=a?b:null;}\n"
    /* mirrors draw_span() in map_svg.c; b = [start,end,row_bytes,y] */
    "function span(b,a,len,dy,h,attrs,gap){let lo=Math.max(a,b[0]);const hi=Math.min(a+len,b[1]);let s='';\n"
    " while(lo<hi){const row=Math.floor((lo-b[0])/b[2]),rl=b[0]+row*b[2],e=Math.min(hi,rl+b[2]);\n"
    "  let w=(e-lo)*G.row/b[2];if(gap&&e==a+len&&w>2)w-=1;\n"
    "  s+='<rect x=\"'+(G.left+(lo-rl)*G.row/b[2]).toFixed(2)+'\" y=\"'+(b[3]+row*G.pitch+dy)+\n"
    "   '\" width=\"'+Math.max(w,1).toFixed(2)+'\" height=\"'+h+'\" '+attrs+'/>';lo=e;}\n"
    " return s;}\n"
    "const hex=o=>'0x'+(D.base+o).toString(16);\n"
    "function drawChunks(L){let s='';\n"
    " for(const c of [...chunks.values()].sort((x,y)=>x[0]-y[0])){const b=bandAt(L,c[0]);if(!b)continue;\n"
    "  s+='<g data-state=\"'+D.states[c[2]]+'\" data-addr=\"'+hex(c[0])+'\" data-size=\"'+c[1]+'\"><title>'+\n"
    "   hex(c[0])+' '+D.labels[c[2]]+', '+c[1]+' bytes</title>'+\n"
    "   span(b,c[0],c[1],G.strip,G.bar,'fill=\"'+D.colours[c[2]]+'\"',true)+'</g>';}\n"
    " $('chunks').innerHTML=s;}\n"
    "function drawPages(L){let s='';\n"
    " for(const r of runs){let a=r[0]*4096;const e=a+r[1]*4096;\n"
    "  while(a<e){const b=bandAt(L,a);if(!b)break;const end=Math.min(e,b[1]);\n"
    "   s+=span(b,a,end-a,0,G.strip,'fill=\"'+D.pte[r[2]&3]+'\"',false);a=end;}}\n"
    " $('pages').innerHTML=s;}\n"
    /* mirrors draw_finding() in map_svg.c */
    "function drawFindings(L,fs){let s='';\n"
    " for(const f of fs){if(f[2]<0)continue;const b=bandAt(L,f[2]);if(!b)continue;let a=f[2],len=b[2]/64;\n"
    "  for(const c of chunks.values())if(c[0]<=f[2]&&f[2]-c[0]<c[1]){a=c[0];len=c[1];}\n"
    "  s+=span(b,a,len,1,G.pitch-2,'fill=\"none\" stroke=\"'+D.findingColour+'\" stroke-width=\"3\"',false);}\n"
    " $('marks').innerHTML='<g class=\"finding\">'+s+'</g>';}\n"
    "function caption(i){const f=D.frames[i];if(!i)return 'before the first of '+D.ops+' ops';\n"
    " const ops=f[0]==f[1]?'op '+(f[1]+1):'ops '+(f[0]+1)+'-'+(f[1]+1);\n"
    " return ops+' of '+D.ops+': '+f[2]+(f[3]?'  ('+f[3]+')':'')+'   RSS '+f[4]*4+' KiB, '+chunks.size+' chunks';}\n"
    "function render(){const f=D.frames[cur],L=D.layouts[f[5]];\n"
    " if(shownLayout!=f[5]){$('bands').innerHTML=L.svg;$('heap').setAttribute('height',L.h+8);shownLayout=f[5];}\n"
    " drawChunks(L);drawPages(L);\n"
    " const fs=D.findings.filter(x=>x[0]==cur);drawFindings(L,fs);\n"
    " $('finding').textContent=fs.map(x=>x[3]).join('  |  ');\n"
    " $('op').textContent=caption(cur);$('slider').value=cur;\n"
    " const x=D.frames.length>1?G.left+cur*G.row/(D.frames.length-1):G.left;\n"
    " const rc=$('rss-cursor');rc.setAttribute('x1',x);rc.setAttribute('x2',x);\n"
    " history.replaceState(null,'','#op='+(cur?f[1]+1:0));}\n"
    "function seek(k){k=Math.max(0,Math.min(D.frames.length-1,k));\n"
    " while(cur<k)apply(++cur,true);while(cur>k)apply(cur--,false);render();}\n"
    "function frameOf(op){let k=0;for(let i=1;i<D.frames.length&&D.frames[i][1]+1<=op;i++)k=i;return k;}\n"
    "$('slider').addEventListener('input',e=>seek(+e.target.value));\n"
    "$('prev').onclick=()=>seek(cur-1);$('next').onclick=()=>seek(cur+1);\n"
    "$('nextfinding').onclick=()=>{const n=D.findings.find(x=>x[0]>cur)||D.findings[0];if(n)seek(n[0]);};\n"
    "$('rss').addEventListener('click',e=>{const r=$('rss').getBoundingClientRect();\n"
    " seek(Math.round((e.clientX-r.left-G.left)/G.row*(D.frames.length-1)));});\n"
    "document.addEventListener('keydown',e=>{if(e.target.id=='slider')return;\n"
    " if(e.key=='ArrowLeft')seek(cur-1);if(e.key=='ArrowRight')seek(cur+1);});\n"
    /* the page's own op first, then #op=N: a link to an earlier op steps back */
    "const m=/#op=(\\d+)/.exec(location.hash);seek(D.picked);if(m)seek(frameOf(+m[1]));\n"
    "})();\n";

/* ---- the data ---------------------------------------------------------------- */

static void chunk_list(fl_json_t *j, const fl_map_t *m, size_t first, size_t n) {
  fl_json_begin_array(j);
  for (size_t i = first; i < first + n; i++) {
    fl_json_begin_array(j);
    fl_json_uint(j, m->chunks[i].addr - m->base);
    fl_json_uint(j, m->chunks[i].size);
    fl_json_uint(j, m->chunks[i].state);
    fl_json_end_array(j);
  }
  fl_json_end_array(j);
}

/* [first op, last op, text, status ("" when it ran), rss pages, layout,
 * chunks gone, chunks come, page changes [page, n, old, new]]. */
static void frame(fl_json_t *j, const fl_map_t *m, size_t i) {
  const fl_map_frame_t *f = &m->frames[i];
  fl_json_begin_array(j);
  fl_json_uint(j, f->first_op);
  fl_json_uint(j, f->last_op);
  fl_json_string(j, fl_map_frame_text(m, i));
  fl_json_string(j, f->status ? fl_exec_status_name((fl_exec_status_t)f->status) : "");
  fl_json_uint(j, f->rss_pages);
  fl_json_uint(j, f->layout);
  chunk_list(j, m, f->gone_first, f->gone_n);
  chunk_list(j, m, f->came_first, f->came_n);
  fl_json_begin_array(j);
  for (size_t k = f->pages_first; k < f->pages_first + f->pages_n; k++) {
    fl_json_begin_array(j);
    fl_json_uint(j, (m->pages[k].page - m->base) / 4096);
    fl_json_uint(j, m->pages[k].n);
    fl_json_uint(j, m->pages[k].old);
    fl_json_uint(j, m->pages[k].new_);
    fl_json_end_array(j);
  }
  fl_json_end_array(j);
  fl_json_end_array(j);
}

/* A layout: its height, its drawable bands [start, end, row bytes, y]
 * (offsets from the window's base), and its bands' markup. */
static fl_status_t layout(fl_json_t *j, const fl_map_t *m, const fl_map_layout_t *l) {
  char *svg = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&svg, &len);
  if (!f) return fl_error(FL_EENV, "map: out of memory");
  fl_map_svg_bands(f, l);
  fclose(f);
  fl_json_begin_object(j);
  fl_json_key(j, "h");
  fl_json_uint(j, l->height);
  fl_json_key(j, "bands");
  fl_json_begin_array(j);
  for (size_t i = 0; i < l->nbands; i++) {
    if (l->bands[i].kind != FL_MAP_BAND_ROWS) continue;
    fl_json_begin_array(j);
    fl_json_uint(j, l->bands[i].start - m->base);
    fl_json_uint(j, l->bands[i].end - m->base);
    fl_json_uint(j, l->bands[i].row_bytes);
    fl_json_uint(j, l->bands[i].y);
    fl_json_end_array(j);
  }
  fl_json_end_array(j);
  fl_json_key(j, "svg");
  fl_json_string(j, svg);
  fl_json_end_object(j);
  free(svg);
  return FL_OK;
}

static void names(fl_json_t *j, const char *key, const char *(*fn)(unsigned), unsigned n) {
  fl_json_key(j, key);
  fl_json_begin_array(j);
  for (unsigned i = 0; i < n; i++) fl_json_string(j, fn(i));
  fl_json_end_array(j);
}

static const char *state_name(unsigned s) { return fl_chunk_state_name((fl_chunk_state_t)s); }

static void geometry(fl_json_t *j) {
  fl_json_key(j, "geom");
  fl_json_begin_object(j);
  fl_json_key(j, "row"); fl_json_uint(j, FL_MAP_ROW_PX);
  fl_json_key(j, "left"); fl_json_uint(j, FL_MAP_LEFT_PX);
  fl_json_key(j, "pitch"); fl_json_uint(j, FL_MAP_PITCH_PX);
  fl_json_key(j, "strip"); fl_json_uint(j, FL_MAP_STRIP_PX);
  fl_json_key(j, "bar"); fl_json_uint(j, FL_MAP_BAR_PX);
  fl_json_end_object(j);
}

static fl_status_t write_data(FILE *out, const fl_map_t *m) {
  fl_json_t j;
  fl_json_init(&j, out, false);
  fl_json_begin_object(&j);
  fl_json_key(&j, "base"); fl_json_uint(&j, m->base);
  fl_json_key(&j, "ops"); fl_json_uint(&j, m->ops);
  fl_json_key(&j, "picked"); fl_json_uint(&j, m->picked);
  geometry(&j);
  names(&j, "states", state_name, FL_CHUNK_STATE_COUNT);
  names(&j, "labels", fl_map_state_label, FL_CHUNK_STATE_COUNT);
  names(&j, "colours", fl_map_state_colour, FL_CHUNK_STATE_COUNT);
  names(&j, "pte", fl_map_pte_colour, 4);
  fl_json_key(&j, "findingColour"); fl_json_string(&j, FL_MAP_FINDING_COLOUR);
  fl_json_key(&j, "layouts");
  fl_json_begin_array(&j);
  for (size_t i = 0; i < m->nlayouts; i++)
    if (layout(&j, m, &m->layouts[i]) != FL_OK) return FL_EENV;
  fl_json_end_array(&j);
  fl_json_key(&j, "frames");
  fl_json_begin_array(&j);
  for (size_t i = 0; i < m->nframes; i++) frame(&j, m, i);
  fl_json_end_array(&j);
  fl_json_key(&j, "findings");
  fl_json_begin_array(&j);
  for (size_t i = 0; i < m->nfindings; i++) {
    const fl_map_finding_t *f = &m->findings[i];
    fl_json_begin_array(&j);
    fl_json_uint(&j, f->frame);
    fl_json_string(&j, f->id);
    fl_json_int(&j, f->addr ? (int64_t)(f->addr - m->base) : -1);
    fl_json_string(&j, f->text);
    fl_json_end_array(&j);
  }
  fl_json_end_array(&j);
  fl_json_end_object(&j);
  return FL_OK;
}

/* The data inside <script>: "</" would end the element early; "<\/" is
 * the same JSON. */
static fl_status_t embed_data(FILE *out, const fl_map_t *m) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return fl_error(FL_EENV, "map: out of memory");
  fl_status_t st = write_data(f, m);
  fclose(f);
  for (size_t i = 0; st == FL_OK && i < len; i++) {
    if (buf[i] == '/' && i && buf[i - 1] == '<') fputc('\\', out);
    fputc(buf[i], out);
  }
  free(buf);
  return st;
}

/* ---- the page ---------------------------------------------------------------- */

static void html_text(FILE *out, const char *s) {
  for (; *s; s++) {
    if (*s == '<') fputs("&lt;", out);
    else if (*s == '&') fputs("&amp;", out);
    else fputc(*s, out);
  }
}

static void header(FILE *out, const fl_map_t *m) {
  fputs("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>faultline map ", out);
  html_text(out, m->script);
  fprintf(out, "</title>\n<style>\n%s</style></head>\n<body>\n<h1>faultline map <code>", css);
  html_text(out, m->script);
  fprintf(out, "</code></h1>\n<p class=\"note\">%zu ops run on refmalloc (glibc 2.36 malloc) over faultline's "
               "kernel model; ",
          m->ops);
  if (m->check) fprintf(out, "invariants checked at level %d; ", m->check);
  else fputs("invariants not checked (<code>--check L</code>); ", out);
  if (m->stride > 1)
    fprintf(out, "<b>sampled: one picture every %zu ops</b> (and at every finding), %zu pictures; ", m->stride,
            m->nframes);
  fprintf(out, "%zu finding%s. Hover a chunk for its address and size; arrow keys step.</p>\n", m->nfindings,
          m->nfindings == 1 ? "" : "s");
}

fl_status_t fl_map_write_html(const fl_map_t *m, FILE *out) {
  header(out, m);
  fprintf(out, "<svg id=\"legend\" width=\"%u\" height=\"40\">\n", FL_MAP_WIDTH_PX);
  fl_map_svg_legend(out);
  fprintf(out, "</svg>\n<svg id=\"rss\" width=\"%u\" height=\"124\" shape-rendering=\"crispEdges\">\n",
          FL_MAP_WIDTH_PX);
  fl_map_svg_rss(out, m, m->picked);
  fprintf(out, "</svg>\n<div id=\"controls\"><button id=\"prev\" title=\"previous op\">&#9664;</button> "
               "<input id=\"slider\" type=\"range\" min=\"0\" max=\"%zu\" value=\"%zu\"> "
               "<button id=\"next\" title=\"next op\">&#9654;</button> <button id=\"nextfinding\"%s>next "
               "finding</button>\n<div id=\"op\"></div><div id=\"finding\"></div></div>\n",
          m->nframes - 1, m->picked, m->nfindings ? "" : " disabled");
  fprintf(out, "<svg id=\"heap\" width=\"%u\" height=\"8\" shape-rendering=\"crispEdges\"><g id=\"bands\"></g>"
               "<g id=\"chunks\"></g><g id=\"pages\"></g><g id=\"marks\"></g></svg>\n",
          FL_MAP_WIDTH_PX);
  fputs("<script id=\"map-data\" type=\"application/json\">", out);
  fl_status_t st = embed_data(out, m);
  if (st != FL_OK) return st;
  fprintf(out, "</script>\n<script>\n%s</script>\n</body></html>\n", script);
  return ferror(out) ? fl_error(FL_EENV, "map: writing the page failed") : FL_OK;
}
