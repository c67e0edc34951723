/*
 * split.c: core.split of ladle.delta.core, a SQL splitter that finds where
 * each statement of a script starts and ends the way psql does (quotes,
 * dollar quotes, nested comments, parentheses, BEGIN ATOMIC bodies), so
 * that statements can be sent one at a time and a server error mapped
 * back to a line of the file.
 */
#include <stdint.h>
#include <string.h>

#include "ladle.h"

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

/* Appends one unsigned 32-bit integer, little-endian (string.unpack's
   "<I4"). */
static void add_u32(luaL_Buffer *b, uint32_t v) {
  char bytes[4];
  bytes[0] = (char)(v & 0xff);
  bytes[1] = (char)((v >> 8) & 0xff);
  bytes[2] = (char)((v >> 16) & 0xff);
  bytes[3] = (char)((v >> 24) & 0xff);
  luaL_addlstring(b, bytes, 4);
}

static void push_statement(luaL_Buffer *b, Splitter *sp, size_t stop, lua_Integer *count) {
  ++*count;
  add_u32(b, (uint32_t)sp->start + 1);
  add_u32(b, (uint32_t)stop);
  add_u32(b, (uint32_t)sp->start_line);
}

/* core.split(sql[, opts]) -> statements, meta
   statements: {n = count, positions = packed}: for statement i,
   string.unpack("<I4I4I4", packed, 12 * (i - 1) + 1) gives the byte it
   starts at, the byte it stops at (its first token to its semicolon, or
   its last token) and the line it starts on; comments and blank space
   between statements belong to none. Twelve bytes a statement rather than
   a table each: a delta of a million INSERTs is read in one pass and held
   once. meta: {line = n} of the first backslash outside quotes (a psql
   meta-command), or nil. A script of 4 GB or more is refused.
   opts.standard_conforming_strings = false reads '...' as the server then
   does, with backslash escapes (E'...' always has them). */
int ladle_split_sql(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  Splitter sp;
  lua_Integer count = 0, meta_line = 0;
  int backslash_quotes = 0;
  luaL_Buffer b;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, 2, "standard_conforming_strings");
    backslash_quotes = !lua_isnil(L, -1) && !lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  memset(&sp, 0, sizeof sp);
  sp.s = s;
  sp.n = len;
  sp.line = 1;
  reset_statement(&sp);
  luaL_argcheck(L, len < 0xffffffffu, 1, "a script of 4 GB or more");
  lua_settop(L, 1);
  luaL_buffinit(L, &b);
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
        if ((size_t)sp.start != token_start) push_statement(&b, &sp, sp.i, &count);
        reset_statement(&sp);
        continue;
      }
    } else if (ch == '\'') {
      skip_quoted(&sp, '\'', backslash_quotes);
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
  if (sp.start >= 0) push_statement(&b, &sp, sp.last_end, &count);
  luaL_pushresult(&b);
  lua_createtable(L, 0, 2);
  lua_insert(L, -2);
  lua_setfield(L, -2, "positions");
  lua_pushinteger(L, count);
  lua_setfield(L, -2, "n");
  if (meta_line > 0) {
    lua_createtable(L, 0, 1);
    lua_pushinteger(L, meta_line);
    lua_setfield(L, -2, "line");
    return 2;
  }
  return 1;
}
