/*
 * ldelta.c: ladle.delta.core, the I/O half of delta files.
 *
 * Directory listings with entry kinds, file checksums (MD5 written here
 * from RFC 1321, as pum stores them: the hex digest of the file's bytes),
 * reading files, and a SQL splitter that finds where each statement of a
 * script starts and ends the way psql does (quotes, dollar quotes, nested
 * comments, parentheses, BEGIN ATOMIC bodies), so that statements can be
 * sent one at a time and a server error mapped back to a line of the file.
 * Name parsing and ordering are policy and live in lua/ladle/delta.lua.
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

static int push_errno(lua_State *L, const char *path) {
  int e = errno;
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", path, strerror(e));
  return 2;
}

/* A FILE* in a userdata, so that a Lua error while reading cannot leak it. */
typedef struct FileBox {
  FILE *f;
} FileBox;

#define LADLE_FILEBOX_MT "ladle.delta.file"

static int filebox_close(lua_State *L) {
  FileBox *box = (FileBox *)luaL_checkudata(L, 1, LADLE_FILEBOX_MT);
  if (box->f) {
    fclose(box->f);
    box->f = NULL;
  }
  return 0;
}

/* Opens path for reading into a new box on the stack; NULL (and the stack
   as it was) when it cannot be opened or is not a regular file. */
static FileBox *open_box(lua_State *L, const char *path) {
  FileBox *box = (FileBox *)lua_newuserdatauv(L, sizeof(FileBox), 0);
  struct stat st;
  box->f = NULL;
  luaL_setmetatable(L, LADLE_FILEBOX_MT);
  box->f = fopen(path, "rb");
  if (box->f == NULL) {
    lua_pop(L, 1);
    return NULL;
  }
  if (fstat(fileno(box->f), &st) == 0 && S_ISDIR(st.st_mode)) {
    fclose(box->f);
    box->f = NULL;
    lua_pop(L, 1);
    errno = EISDIR;
    return NULL;
  }
  return box;
}

/* core.file(path) -> md5 hex, size, first line | nil, message
   The first line (without its newline, at most 256 bytes) carries the
   `-- ladle: ...` markers; the content itself is not kept. Plain open and
   read into a stack buffer: this runs for every delta of every command, and
   no Lua call happens while the descriptor is open. */
static int delta_file(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  unsigned char buf[16384];
  char first[257], hex[33];
  size_t first_len = 0, total = 0;
  ssize_t n;
  int first_done = 0, fd, read_errno = 0;
  Md5 md5;
  do fd = open(path, O_RDONLY | O_CLOEXEC); while (fd < 0 && errno == EINTR);
  if (fd < 0) return push_errno(L, path);
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
    for (i = 0; i < (size_t)n && !first_done; i++) {
      if (buf[i] == '\n' || first_len == sizeof first - 1) first_done = 1;
      else first[first_len++] = (char)buf[i];
    }
    total += (size_t)n;
  }
  close(fd);
  if (read_errno) {
    errno = read_errno;
    return push_errno(L, path);
  }
  md5_hex(&md5, hex);
  if (first_len > 0 && first[first_len - 1] == '\r') first_len--;
  lua_pushstring(L, hex);
  lua_pushinteger(L, (lua_Integer)total);
  lua_pushlstring(L, first, first_len);
  return 3;
}

/* core.read(path) -> content, md5 hex | nil, message */
static int delta_read(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  luaL_Buffer b;
  char hex[33];
  size_t n;
  int err;
  Md5 md5;
  FileBox *box = open_box(L, path);
  if (box == NULL) return push_errno(L, path);
  md5_init(&md5);
  luaL_buffinit(L, &b);
  do {
    char *p = luaL_prepbuffer(&b);
    n = fread(p, 1, LUAL_BUFFERSIZE, box->f);
    md5_update(&md5, (const unsigned char *)p, n);
    luaL_addsize(&b, n);
  } while (n == LUAL_BUFFERSIZE);
  err = ferror(box->f) ? errno : 0;
  fclose(box->f);
  box->f = NULL;
  if (err) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, strerror(err));
    return 2;
  }
  luaL_pushresult(&b);
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

/* The DIR* of a listing, closed by __gc if a Lua error cuts the loop. */
typedef struct DirBox {
  DIR *dir;
} DirBox;

#define LADLE_DIRBOX_MT "ladle.delta.dir"

static int dirbox_close(lua_State *L) {
  DirBox *box = (DirBox *)luaL_checkudata(L, 1, LADLE_DIRBOX_MT);
  if (box->dir) {
    closedir(box->dir);
    box->dir = NULL;
  }
  return 0;
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

/* core.list(dir) -> names, kinds | nil, message
   names sorted by bytes; kinds[name] is "file", "dir" or "other" (links
   are followed). Hidden entries (a leading dot) are left out. */
static int delta_list(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  DirBox *box = (DirBox *)lua_newuserdatauv(L, sizeof(DirBox), 0);
  struct dirent *e;
  lua_Integer n = 0, i;
  int names_idx, kinds_idx;
  box->dir = NULL;
  luaL_setmetatable(L, LADLE_DIRBOX_MT);
  box->dir = opendir(path);
  if (box->dir == NULL) return push_errno(L, path);
  lua_newtable(L);
  names_idx = lua_gettop(L);
  lua_newtable(L);
  kinds_idx = lua_gettop(L);
  for (;;) {
    errno = 0;  /* per call: entry_kind's stat() of a dangling link sets it */
    e = readdir(box->dir);
    if (e == NULL) break;
    if (e->d_name[0] == '.') continue;
    lua_pushstring(L, e->d_name);
    lua_pushvalue(L, -1);
    lua_rawseti(L, names_idx, ++n);
    lua_pushstring(L, entry_kind(path, e->d_name, e->d_type));
    lua_rawset(L, kinds_idx);
  }
  if (errno != 0) return push_errno(L, path);
  closedir(box->dir);
  box->dir = NULL;
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
/* Splitting SQL into statements                                           */
/* ---------------------------------------------------------------------- */

/* Identifier characters as the PostgreSQL lexer sees them: high-bit bytes
   count as letters. */
static int ident_start(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch >= 0x80;
}

static int ident_char(unsigned char ch) {
  return ident_start(ch) || (ch >= '0' && ch <= '9') || ch == '$';
}

typedef struct Splitter {
  const char *s;
  size_t n, i;
  lua_Integer line;
  /* the statement being read */
  long start;               /* offset of its first token, -1 before it */
  lua_Integer start_line;
  size_t last_end;          /* just after its last token */
  int paren_depth, begin_depth;
  int words;                /* identifiers seen */
  char head[4];             /* first letters of CREATE [OR REPLACE] FUNCTION */
} Splitter;

static void reset_statement(Splitter *sp) {
  sp->start = -1;
  sp->paren_depth = 0;
  sp->begin_depth = 0;
  sp->words = 0;
  memset(sp->head, 0, sizeof sp->head);
}

/* Advances over bytes up to (not including) stop, counting newlines. */
static void advance_to(Splitter *sp, size_t stop) {
  if (stop > sp->n) stop = sp->n;
  for (; sp->i < stop; sp->i++)
    if (sp->s[sp->i] == '\n') sp->line++;
}

/* A quoted run ending at the first unescaped `quote` (doubled quotes
   escape; with backslashes, \x escapes too). sp->i is on the opening quote. */
static void skip_quoted(Splitter *sp, char quote, int backslashes) {
  size_t i = sp->i + 1;
  while (i < sp->n) {
    char ch = sp->s[i];
    if (backslashes && ch == '\\' && i + 1 < sp->n) { i += 2; continue; }
    if (ch == quote) {
      if (i + 1 < sp->n && sp->s[i + 1] == quote) { i += 2; continue; }
      i++;
      break;
    }
    i++;
  }
  if (i > sp->n) i = sp->n;
  advance_to(sp, i);
}

/* $tag$ ... $tag$ when sp->i is on a '$' that opens one; returns 0 when
   it does not (a parameter like $1, or a stray dollar). */
static int skip_dollar_quote(Splitter *sp) {
  size_t j = sp->i + 1, taglen;
  const char *close;
  if (j < sp->n && ident_start((unsigned char)sp->s[j])) {
    while (j < sp->n && ident_char((unsigned char)sp->s[j]) && sp->s[j] != '$') j++;
  }
  if (j >= sp->n || sp->s[j] != '$') return 0;
  taglen = j - sp->i + 1;  /* "$tag$" */
  close = NULL;
  {
    size_t k = j + 1;
    while (k + taglen <= sp->n) {
      const char *p = memchr(sp->s + k, '$', sp->n - k);
      if (p == NULL) break;
      k = (size_t)(p - sp->s);
      if (k + taglen <= sp->n && memcmp(p, sp->s + sp->i, taglen) == 0) { close = p; break; }
      k++;
    }
  }
  advance_to(sp, close ? (size_t)(close - sp->s) + taglen : sp->n);
  return 1;
}

static void skip_block_comment(Splitter *sp) {
  int depth = 0;
  while (sp->i < sp->n) {
    char ch = sp->s[sp->i];
    if (ch == '/' && sp->i + 1 < sp->n && sp->s[sp->i + 1] == '*') {
      depth++;
      sp->i += 2;
    } else if (ch == '*' && sp->i + 1 < sp->n && sp->s[sp->i + 1] == '/') {
      depth--;
      sp->i += 2;
      if (depth == 0) return;
    } else {
      if (ch == '\n') sp->line++;
      sp->i++;
    }
  }
}

static int word_is(const char *w, size_t len, const char *lower) {
  size_t k;
  if (strlen(lower) != len) return 0;
  for (k = 0; k < len; k++) {
    char ch = w[k];
    if (ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
    if (ch != lower[k]) return 0;
  }
  return 1;
}

/* Tracks CREATE [OR REPLACE] {FUNCTION|PROCEDURE} ... BEGIN ATOMIC ... END,
   whose body holds semicolons that do not end the statement (the same
   heuristic as psql's). */
static void track_word(Splitter *sp, const char *w, size_t len) {
  int creating;
  if (sp->words < 4 &&
      (word_is(w, len, "create") || word_is(w, len, "or") || word_is(w, len, "replace") ||
       word_is(w, len, "function") || word_is(w, len, "procedure")))
    sp->head[sp->words] = (char)(w[0] | 0x20);
  sp->words++;
  creating = sp->head[0] == 'c' &&
             (sp->head[1] == 'f' || sp->head[1] == 'p' ||
              (sp->head[1] == 'o' && sp->head[2] == 'r' &&
               (sp->head[3] == 'f' || sp->head[3] == 'p')));
  if (!creating || sp->paren_depth != 0) return;
  if (word_is(w, len, "begin")) sp->begin_depth++;
  else if (word_is(w, len, "case")) { if (sp->begin_depth > 0) sp->begin_depth++; }
  else if (word_is(w, len, "end")) { if (sp->begin_depth > 0) sp->begin_depth--; }
}

static void push_statement(lua_State *L, Splitter *sp, size_t stop, lua_Integer *count) {
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)sp->start + 1);
  lua_setfield(L, -2, "start");
  lua_pushinteger(L, (lua_Integer)stop);
  lua_setfield(L, -2, "stop");
  lua_pushinteger(L, sp->start_line);
  lua_setfield(L, -2, "line");
  lua_rawseti(L, -2, ++*count);
}

/* core.split(sql) -> statements, meta
   statements: {start = byte, stop = byte, line = n} for each statement,
   from its first token to its semicolon (or its last token); comments and
   blank space between statements belong to none. meta: {line = n} of the
   first backslash outside quotes (a psql meta-command), or nil. */
static int delta_split(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  Splitter sp;
  lua_Integer count = 0, meta_line = 0;
  memset(&sp, 0, sizeof sp);
  sp.s = s;
  sp.n = len;
  sp.line = 1;
  reset_statement(&sp);
  lua_settop(L, 1);
  lua_newtable(L);
  while (sp.i < sp.n) {
    unsigned char ch = (unsigned char)s[sp.i];
    size_t token_start = sp.i;
    if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v' || ch == '\n') {
      if (ch == '\n') sp.line++;
      sp.i++;
      continue;
    }
    if (ch == '-' && sp.i + 1 < sp.n && s[sp.i + 1] == '-') {
      const char *nl = memchr(s + sp.i, '\n', sp.n - sp.i);
      sp.i = nl ? (size_t)(nl - s) : sp.n;
      continue;
    }
    if (ch == '/' && sp.i + 1 < sp.n && s[sp.i + 1] == '*') {
      skip_block_comment(&sp);
      continue;
    }
    if (sp.start < 0) {
      sp.start = (long)sp.i;
      sp.start_line = sp.line;
    }
    if (ch == ';') {
      sp.i++;
      if (sp.paren_depth == 0 && sp.begin_depth == 0) {
        if ((size_t)sp.start != token_start) push_statement(L, &sp, sp.i, &count);
        reset_statement(&sp);
        continue;
      }
    } else if (ch == '\'') {
      skip_quoted(&sp, '\'', 0);
    } else if (ch == '"') {
      skip_quoted(&sp, '"', 0);
    } else if (ch == '$') {
      if (!skip_dollar_quote(&sp)) {
        sp.i++;
        while (sp.i < sp.n && s[sp.i] >= '0' && s[sp.i] <= '9') sp.i++;
      }
    } else if (ident_start(ch)) {
      size_t j = sp.i + 1;
      while (j < sp.n && ident_char((unsigned char)s[j])) j++;
      if (j - sp.i == 1 && (ch == 'e' || ch == 'E') && j < sp.n && s[j] == '\'') {
        sp.i = j;
        skip_quoted(&sp, '\'', 1);  /* E'...' takes backslash escapes */
      } else {
        track_word(&sp, s + sp.i, j - sp.i);
        sp.i = j;
      }
    } else if (ch >= '0' && ch <= '9') {
      while (sp.i < sp.n && (ident_char((unsigned char)s[sp.i]) || s[sp.i] == '.')) sp.i++;
    } else if (ch == '(') {
      sp.paren_depth++;
      sp.i++;
    } else if (ch == ')') {
      if (sp.paren_depth > 0) sp.paren_depth--;
      sp.i++;
    } else {
      if (ch == '\\' && meta_line == 0) meta_line = sp.line;
      sp.i++;
    }
    sp.last_end = sp.i;
  }
  if (sp.start >= 0) push_statement(L, &sp, sp.last_end, &count);
  if (meta_line > 0) {
    lua_createtable(L, 0, 1);
    lua_pushinteger(L, meta_line);
    lua_setfield(L, -2, "line");
    return 2;
  }
  return 1;
}

/* ---------------------------------------------------------------------- */
/* Registration                                                            */
/* ---------------------------------------------------------------------- */

static const luaL_Reg delta_functions[] = {
  { "list", delta_list },
  { "file", delta_file },
  { "read", delta_read },
  { "md5", delta_md5 },
  { "split", delta_split },
  { NULL, NULL }
};

static const luaL_Reg filebox_meta[] = {
  { "__gc", filebox_close },
  { "__close", filebox_close },
  { NULL, NULL }
};

static const luaL_Reg dirbox_meta[] = {
  { "__gc", dirbox_close },
  { "__close", dirbox_close },
  { NULL, NULL }
};

int luaopen_ladle_delta_core(lua_State *L) {
  if (luaL_newmetatable(L, LADLE_FILEBOX_MT)) luaL_setfuncs(L, filebox_meta, 0);
  lua_pop(L, 1);
  if (luaL_newmetatable(L, LADLE_DIRBOX_MT)) luaL_setfuncs(L, dirbox_meta, 0);
  lua_pop(L, 1);
  luaL_newlib(L, delta_functions);
  return 1;
}
