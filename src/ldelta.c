/*
 * ldelta.c: ladle.delta.core, the I/O half of delta files.
 *
 * Directory listings with entry kinds, file checksums (MD5 written here
 * from RFC 1321, as pum stores them: the hex digest of the file's bytes)
 * and reading files. The module also registers split, the SQL splitter of
 * split.c. Name parsing and ordering are policy and live in
 * lua/ladle/delta.lua. Failures come back as nil, message,
 * {errno =, path =} (result.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ladle.h"

/* ---------------------------------------------------------------------- */
/* MD5 (RFC 1321)                                                          */
/* ---------------------------------------------------------------------- */

typedef struct Md5 {
  uint32_t state[4];
  uint64_t length;          /* bytes hashed so far */
  unsigned char block[64];
  size_t used;              /* bytes waiting in block */
} Md5;

/* T[i] = floor(2^32 * |sin(i + 1)|), the RFC's table. */
static const uint32_t md5_table[64] = {
  0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a,
  0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
  0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
  0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
  0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8,
  0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
  0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
  0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
  0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
  0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
  0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391
};

/* Left-rotation amounts, four per round. */
static const unsigned md5_shift[16] = {
  7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21
};

static uint32_t rotl32(uint32_t x, unsigned n) {
  return (x << n) | (x >> (32 - n));
}

static void md5_transform(uint32_t state[4], const unsigned char block[64]) {
  uint32_t x[16], a = state[0], b = state[1], c = state[2], d = state[3];
  unsigned i;
  for (i = 0; i < 16; i++)  /* the message words are little-endian */
    x[i] = (uint32_t)block[i * 4] | (uint32_t)block[i * 4 + 1] << 8 |
           (uint32_t)block[i * 4 + 2] << 16 | (uint32_t)block[i * 4 + 3] << 24;
  for (i = 0; i < 64; i++) {
    uint32_t f, tmp;
    unsigned k, round = i / 16;
    switch (round) {
      case 0: f = (b & c) | (~b & d); k = i; break;
      case 1: f = (d & b) | (~d & c); k = (5 * i + 1) % 16; break;
      case 2: f = b ^ c ^ d; k = (3 * i + 5) % 16; break;
      default: f = c ^ (b | ~d); k = (7 * i) % 16; break;
    }
    tmp = d;
    d = c;
    c = b;
    b = b + rotl32(a + f + md5_table[i] + x[k], md5_shift[round * 4 + i % 4]);
    a = tmp;
  }
  state[0] += a;
  state[1] += b;
  state[2] += c;
  state[3] += d;
}

static void md5_init(Md5 *m) {
  m->state[0] = 0x67452301;
  m->state[1] = 0xefcdab89;
  m->state[2] = 0x98badcfe;
  m->state[3] = 0x10325476;
  m->length = 0;
  m->used = 0;
}

static void md5_update(Md5 *m, const unsigned char *data, size_t len) {
  m->length += len;
  if (m->used > 0) {
    size_t take = 64 - m->used < len ? 64 - m->used : len;
    memcpy(m->block + m->used, data, take);
    m->used += take;
    data += take;
    len -= take;
    if (m->used < 64) return;
    md5_transform(m->state, m->block);
    m->used = 0;
  }
  while (len >= 64) {
    md5_transform(m->state, data);
    data += 64;
    len -= 64;
  }
  memcpy(m->block, data, len);
  m->used = len;
}

/* Pads (a 1 bit, zeros, the bit length) and writes 32 hex digits. */
static void md5_hex(Md5 *m, char out[33]) {
  static const char digits[] = "0123456789abcdef";
  uint64_t bits = m->length * 8;
  unsigned char tail[72];
  size_t pad = (m->used < 56 ? 56 : 120) - m->used;
  unsigned i;
  memset(tail, 0, sizeof tail);
  tail[0] = 0x80;
  for (i = 0; i < 8; i++) tail[pad + i] = (unsigned char)(bits >> (8 * i));
  md5_update(m, tail, pad + 8);
  for (i = 0; i < 16; i++) {
    unsigned char byte = (unsigned char)(m->state[i / 4] >> (8 * (i % 4)));
    out[i * 2] = digits[byte >> 4];
    out[i * 2 + 1] = digits[byte & 15];
  }
  out[32] = '\0';
}

/* ---------------------------------------------------------------------- */
/* Files                                                                   */
/* ---------------------------------------------------------------------- */

/* Counts newlines in data[0, len). */
static size_t count_newlines(const unsigned char *data, size_t len) {
  size_t count = 0;
  const unsigned char *p = data, *end = data + len;
  while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
    count++;
    p++;
  }
  return count;
}

/* core.file(path) -> md5 hex, size, first line[, nul byte, nul line]
                    | nil, message, details
   The first line (without its newline, at most 256 bytes) carries the
   `-- ladle: ...` markers; the content itself is not kept. The position
   (1-based byte and line) of the first zero byte comes last when there is
   one: SQL cannot hold one, and libpq would send the text cut there. Plain
   open and read into a stack buffer: this runs for every delta of every
   command, and no Lua call happens while the descriptor is open. */
static int delta_file(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  unsigned char buf[16384];
  char first[257], hex[33];
  size_t first_len = 0, total = 0, nul_byte = 0, lines = 1;
  ssize_t n;
  int first_done = 0, fd, read_errno = 0;
  Md5 md5;
  do fd = open(path, O_RDONLY | O_CLOEXEC); while (fd < 0 && errno == EINTR);
  if (fd < 0) return ladle_fileresult(L, 0, path);
  md5_init(&md5);
  for (;;) {
    size_t i;
    n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      read_errno = errno;
      break;
    }
    if (n == 0) break;
    md5_update(&md5, buf, (size_t)n);
    if (nul_byte == 0) {
      const unsigned char *nul = memchr(buf, '\0', (size_t)n);
      size_t upto = nul ? (size_t)(nul - buf) : (size_t)n;
      lines += count_newlines(buf, upto);
      if (nul) nul_byte = total + upto + 1;
    }
    for (i = 0; i < (size_t)n && !first_done; i++) {
      if (buf[i] == '\n' || first_len == sizeof first - 1) first_done = 1;
      else first[first_len++] = (char)buf[i];
    }
    total += (size_t)n;
  }
  close(fd);
  if (read_errno) {
    errno = read_errno;
    return ladle_fileresult(L, 0, path);
  }
  md5_hex(&md5, hex);
  if (first_len > 0 && first[first_len - 1] == '\r') first_len--;
  lua_pushstring(L, hex);
  lua_pushinteger(L, (lua_Integer)total);
  lua_pushlstring(L, first, first_len);
  if (nul_byte == 0) return 3;
  lua_pushinteger(L, (lua_Integer)nul_byte);
  lua_pushinteger(L, (lua_Integer)lines);
  return 5;
}

static void md5_chunk(void *md5, const char *chunk, size_t len) {
  md5_update((Md5 *)md5, (const unsigned char *)chunk, len);
}

/* core.read(path) -> content, md5 hex | nil, message, details */
static int delta_read(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char hex[33];
  Md5 md5;
  md5_init(&md5);
  if (ladle_readfile(L, path, md5_chunk, &md5) != 1) return 3;
  md5_hex(&md5, hex);
  lua_pushstring(L, hex);
  return 2;
}

/* core.md5(string) -> hex */
static int delta_md5(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  char hex[33];
  Md5 md5;
  md5_init(&md5);
  md5_update(&md5, (const unsigned char *)s, len);
  md5_hex(&md5, hex);
  lua_pushstring(L, hex);
  return 1;
}

static const char *entry_kind(const char *dir, const char *name, unsigned char type) {
  struct stat st;
  char path[4096];
  switch (type) {
    case DT_REG: return "file";
    case DT_DIR: return "dir";
    case DT_UNKNOWN: case DT_LNK: break;  /* follow links, as open() will */
    default: return "other";
  }
  if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) return "other";
  if (stat(path, &st) != 0) return "other";
  if (S_ISREG(st.st_mode)) return "file";
  if (S_ISDIR(st.st_mode)) return "dir";
  return "other";
}

static int compare_names(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* core.list(dir) -> names, kinds | nil, message, details
   names sorted by bytes; kinds[name] is "file", "dir" or "other" (links
   are followed). Hidden entries (a leading dot) are left out. The DIR*
   lives in a box, so that a Lua error in the loop cannot leak it. */
static int delta_list(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  ladle_Box *box = ladle_newbox(L);
  DIR *dir = ladle_box_opendir(box, path);
  struct dirent *e;
  lua_Integer n = 0, i;
  int names_idx, kinds_idx;
  if (dir == NULL) return ladle_fileresult(L, 0, path);
  lua_newtable(L);
  names_idx = lua_gettop(L);
  lua_newtable(L);
  kinds_idx = lua_gettop(L);
  for (;;) {
    errno = 0;  /* per call: entry_kind's stat() of a dangling link sets it */
    e = readdir(dir);
    if (e == NULL) break;
    if (e->d_name[0] == '.') continue;
    lua_pushstring(L, e->d_name);
    lua_pushvalue(L, -1);
    lua_rawseti(L, names_idx, ++n);
    lua_pushstring(L, entry_kind(path, e->d_name, e->d_type));
    lua_rawset(L, kinds_idx);
  }
  if (errno != 0) {
    ladle_fileresult(L, 0, path);  /* reads errno before the close */
    ladle_box_close(box);
    return 3;
  }
  ladle_box_close(box);
  /* sort in place: every name is also a key of kinds, which keeps the
     strings alive while the names table is rewritten */
  if (n > 1) {
    const char **sorted = (const char **)lua_newuserdatauv(L, sizeof(char *) * (size_t)n, 0);
    for (i = 1; i <= n; i++) {
      lua_rawgeti(L, names_idx, i);
      sorted[i - 1] = lua_tostring(L, -1);
      lua_pop(L, 1);
    }
    qsort(sorted, (size_t)n, sizeof(char *), compare_names);
    for (i = 1; i <= n; i++) {
      lua_pushstring(L, sorted[i - 1]);
      lua_rawseti(L, names_idx, i);
    }
    lua_pop(L, 1);
  }
  return 2;
}

/* ---------------------------------------------------------------------- */
/* Registration                                                            */
/* ---------------------------------------------------------------------- */

static const luaL_Reg delta_functions[] = {
  { "list", delta_list },
  { "file", delta_file },
  { "read", delta_read },
  { "md5", delta_md5 },
  { "split", ladle_split_sql },
  { NULL, NULL }
};

int luaopen_ladle_delta_core(lua_State *L) {
  luaL_newlib(L, delta_functions);
  return 1;
}
