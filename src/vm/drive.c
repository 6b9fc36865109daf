#include "vm/drive.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static const int prots[8] = {
    PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE,
    PROT_READ | PROT_EXEC, PROT_WRITE, PROT_READ | PROT_WRITE | PROT_EXEC,
};
static const int advices[8] = {
    MADV_DONTNEED, MADV_DONTNEED, MADV_FREE, MADV_WILLNEED, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_NORMAL, 12345,
};

/* Lengths in pages: mostly small, sometimes 2 MiB multiples (THP
 * alignment), sometimes a partial page. */
static size_t length(uint8_t b, uint8_t c) {
  switch (b >> 5) {
  case 0: return 512u << (c & 1);
  case 1: return (size_t)(c % 64 + 1) * 4096;
  case 2: return (size_t)(c % 8 + 1) * 4096 + 100;
  default: return (size_t)(c % 16 + 1) * 4096;
  }
}

void fl_drive_decode(const fl_vm_t *vm, const uint8_t *bytes, size_t len, size_t i, fl_drive_step_t *s) {
  uint8_t b[FL_DRIVE_STEP] = {0};
  size_t off = i * FL_DRIVE_STEP;
  if (off < len) memcpy(b, bytes + off, len - off < FL_DRIVE_STEP ? len - off : FL_DRIVE_STEP);
  const fl_vm_config_t *c = fl_vm_config(vm);
  uintptr_t arena = c->base + c->size - (uintptr_t)FL_DRIVE_ARENA_PAGES * 4096;
  memset(s, 0, sizeof *s);
  s->kind = b[0] % FL_DRIVE_KINDS;
  s->addr = arena + (uintptr_t)((b[1] | b[2] << 8) % FL_DRIVE_ARENA_PAGES) * 4096;
  s->len = length(b[3], b[4]);
  s->prot = prots[b[5] & 7];
  s->advice = advices[(b[5] >> 3) & 7];
  s->flags = MAP_PRIVATE | MAP_ANONYMOUS;
  switch (s->kind) {
  case FL_DRIVE_MMAP:
    if (b[6] & 1) s->flags |= MAP_POPULATE;
    if (b[6] & 2) s->flags |= MAP_NORESERVE;
    s->addr = (b[6] & 4) ? s->addr : 0; /* a hint, sometimes */
    break;
  case FL_DRIVE_MMAP_FIXED:
    s->flags |= (b[6] & 1) ? MAP_FIXED_NOREPLACE : MAP_FIXED;
    break;
  case FL_DRIVE_MREMAP:
    s->len2 = length(b[6], b[7]);
    s->flags = (b[7] & 0x80) ? MREMAP_MAYMOVE : 0;
    if ((b[7] & 0x40) && s->flags) {
      s->flags |= MREMAP_FIXED;
      s->addr2 = arena + (uintptr_t)((b[6] | b[2] << 8) % FL_DRIVE_ARENA_PAGES) * 4096;
    }
    break;
  case FL_DRIVE_BRK:
    s->addr = c->base + (uintptr_t)(b[1] | b[2] << 8) * 64; /* sometimes below start_brk: a query */
    break;
  case FL_DRIVE_BAD:
    /* Arguments the kernel refuses: unaligned, zero length, wrapping. */
    s->addr += b[6] & 1 ? 123 : 0;
    s->len = b[6] & 2 ? 0 : b[6] & 4 ? (size_t)-4096 : s->len;
    s->len2 = b[7] % 6;
    break;
  default:
    break;
  }
}

int64_t fl_drive_apply(fl_vm_t *vm, const fl_drive_step_t *s) {
  switch (s->kind) {
  case FL_DRIVE_MMAP: case FL_DRIVE_MMAP_FIXED:
    return fl_vm_mmap(vm, s->addr, s->len, s->prot, s->flags);
  case FL_DRIVE_MUNMAP: return fl_vm_munmap(vm, s->addr, s->len);
  case FL_DRIVE_MPROTECT: return fl_vm_mprotect(vm, s->addr, s->len, s->prot);
  case FL_DRIVE_MREMAP: return fl_vm_mremap(vm, s->addr, s->len, s->len2, s->flags, s->addr2);
  case FL_DRIVE_MADVISE: return fl_vm_madvise(vm, s->addr, s->len, s->advice);
  case FL_DRIVE_READ: return fl_vm_touch(vm, s->addr, s->len, false);
  case FL_DRIVE_WRITE: return fl_vm_touch(vm, s->addr, s->len, true);
  case FL_DRIVE_BRK: return (int64_t)fl_vm_brk(vm, s->addr);
  case FL_DRIVE_BAD:
    switch (s->len2) {
    case 0: return fl_vm_mmap(vm, s->addr, s->len, s->prot, s->flags | MAP_FIXED);
    case 1: return fl_vm_munmap(vm, s->addr, s->len);
    case 2: return fl_vm_mprotect(vm, s->addr, s->len, s->prot | 0x40);
    case 3: return fl_vm_mremap(vm, s->addr, s->len, s->len, 0x80, 0);
    case 4: return fl_vm_madvise(vm, s->addr, s->len, s->advice);
    default: return fl_vm_mprotect(vm, s->addr, s->len, s->prot);
    }
  default: return -EINVAL;
  }
}

void fl_drive_print(const fl_drive_step_t *s, int64_t r, FILE *out) {
  unsigned long a = (unsigned long)s->addr;
  switch (s->kind) {
  case FL_DRIVE_MMAP: case FL_DRIVE_MMAP_FIXED:
    fprintf(out, "mmap(%#lx, %zu, %d, %#x)", a, s->len, s->prot, (unsigned)s->flags);
    break;
  case FL_DRIVE_MUNMAP: fprintf(out, "munmap(%#lx, %zu)", a, s->len); break;
  case FL_DRIVE_MPROTECT: fprintf(out, "mprotect(%#lx, %zu, %d)", a, s->len, s->prot); break;
  case FL_DRIVE_MREMAP:
    fprintf(out, "mremap(%#lx, %zu, %zu, %d, %#lx)", a, s->len, s->len2, s->flags, (unsigned long)s->addr2);
    break;
  case FL_DRIVE_MADVISE: fprintf(out, "madvise(%#lx, %zu, %d)", a, s->len, s->advice); break;
  case FL_DRIVE_READ: fprintf(out, "read(%#lx, %zu)", a, s->len); break;
  case FL_DRIVE_WRITE: fprintf(out, "write(%#lx, %zu)", a, s->len); break;
  case FL_DRIVE_BRK: fprintf(out, "brk(%#lx)", a); break;
  default: fprintf(out, "bad#%zu(%#lx, %zu, prot %d, advice %d)", s->len2, a, s->len, s->prot, s->advice); break;
  }
  if ((s->kind == FL_DRIVE_READ || s->kind == FL_DRIVE_WRITE) && r < 0) fprintf(out, " = SIGSEGV\n");
  else if (r < 0 && r > -4096) fprintf(out, " = -1 %s\n", strerror((int)-r));
  else if (r == -FL_VM_ENOTMODELLED) fprintf(out, " = not modelled\n");
  else fprintf(out, " = %#llx\n", (unsigned long long)r);
}
