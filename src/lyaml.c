/*
 * lyaml.c: ladle.yaml, YAML documents read into plain Lua tables.
 *
 * libyaml's event parser drives the construction: mappings become tables
 * keyed by their (scalar) keys, sequences become arrays, every scalar is a
 * Lua string (no type guessing: `yes`, `1.0` and `~` stay as written), and
 * an alias is the same Lua value as its anchor. Problems come back as
 * nil, "NAME:LINE:COLUMN: problem", {file =, line =, column =} with
 * 1-based line and column (result.c).
 *
 * The parser lives in a userdata created before it, so that a Lua error
 * (out of memory while building a table) cannot leak it.
 */
#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "ladle.h"

typedef struct Parser {
  yaml_parser_t parser;
  int ready;                /* parser initialised, to be deleted */
  yaml_event_t event;
  int has_event;            /* event to be deleted */
} Parser;

static void parser_release_event(Parser *p) {
  if (p->has_event) {
    yaml_event_delete(&p->event);
    p->has_event = 0;
  }
}

static int parser_gc(lua_State *L) {
  Parser *p = (Parser *)luaL_checkudata(L, 1, LADLE_YAML_MT);
  parser_release_event(p);
  if (p->ready) {
    yaml_parser_delete(&p->parser);
    p->ready = 0;
  }
  return 0;
}

/* State shared by the recursive construction. */
typedef struct Build {
  lua_State *L;
  Parser *p;
  const char *name;
  int anchors;              /* stack index of the anchors table */
  int failed;               /* a message is on the top of the stack */
  int line, column;         /* where, 1-based, when failed */
  int depth;                /* nesting, bounded: the build recurses in C */
} Build;

#define YAML_MAX_DEPTH 512

static void fail_at(Build *b, yaml_mark_t mark, const char *problem, const char *context) {
  b->line = (int)mark.line + 1;
  b->column = (int)mark.column + 1;
  lua_pushfstring(b->L, "%s:%d:%d: %s%s%s", b->name, b->line, b->column, problem,
                  context ? " " : "", context ? context : "");
  b->failed = 1;
}

/* Reads the next event into p->event; 0 (with the message pushed) on a
   syntax error. */
static int next_event(Build *b) {
  Parser *p = b->p;
  parser_release_event(p);
  if (!yaml_parser_parse(&p->parser, &p->event)) {
    const char *problem = p->parser.problem ? p->parser.problem : "cannot parse";
    fail_at(b, p->parser.problem_mark, problem, p->parser.context);
    return 0;
  }
  p->has_event = 1;
  return 1;
}

static void remember_anchor(Build *b, const yaml_char_t *anchor) {
  if (anchor == NULL) return;
  lua_pushvalue(b->L, -1);
  lua_setfield(b->L, b->anchors, (const char *)anchor);
}

static int build_node(Build *b);

/* Called with a MAPPING_START event current; pushes the table. */
static int build_mapping(Build *b) {
  lua_State *L = b->L;
  lua_newtable(L);
  remember_anchor(b, b->p->event.data.mapping_start.anchor);
  for (;;) {
    yaml_mark_t key_mark;
    if (!next_event(b)) return 0;
    if (b->p->event.type == YAML_MAPPING_END_EVENT) return 1;
    key_mark = b->p->event.start_mark;
    if (b->p->event.type != YAML_SCALAR_EVENT && b->p->event.type != YAML_ALIAS_EVENT) {
      fail_at(b, key_mark, "mapping keys must be scalars", NULL);
      return 0;
    }
    if (!build_node(b)) return 0;
    if (lua_type(L, -1) != LUA_TSTRING) {
      fail_at(b, key_mark, "mapping keys must be scalars", NULL);
      return 0;
    }
    lua_pushvalue(L, -1);
    if (lua_rawget(L, -3) != LUA_TNIL) {
      lua_pop(L, 1);
      lua_pushfstring(L, "duplicate key '%s'", lua_tostring(L, -1));
      fail_at(b, key_mark, lua_tostring(L, -1), NULL);
      return 0;
    }
    lua_pop(L, 1);
    if (!next_event(b)) return 0;
    if (!build_node(b)) return 0;
    lua_rawset(L, -3);
  }
}

/* Called with a SEQUENCE_START event current; pushes the array. */
static int build_sequence(Build *b) {
  lua_State *L = b->L;
  lua_Integer n = 0;
  lua_newtable(L);
  remember_anchor(b, b->p->event.data.sequence_start.anchor);
  for (;;) {
    if (!next_event(b)) return 0;
    if (b->p->event.type == YAML_SEQUENCE_END_EVENT) return 1;
    if (!build_node(b)) return 0;
    lua_rawseti(L, -2, ++n);
  }
}

/* Builds the node whose first event is current and pushes it. */
static int build_node(Build *b) {
  lua_State *L = b->L;
  yaml_event_t *e = &b->p->event;
  luaL_checkstack(L, 8, "YAML nested too deeply");
  switch (e->type) {
    case YAML_SCALAR_EVENT:
      lua_pushlstring(L, (const char *)e->data.scalar.value, e->data.scalar.length);
      remember_anchor(b, e->data.scalar.anchor);
      return 1;
    case YAML_ALIAS_EVENT:
      if (lua_getfield(L, b->anchors, (const char *)e->data.alias.anchor) == LUA_TNIL) {
        lua_pop(L, 1);
        lua_pushfstring(L, "unknown anchor '%s'", (const char *)e->data.alias.anchor);
        fail_at(b, e->start_mark, lua_tostring(L, -1), NULL);
        return 0;
      }
      return 1;
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT: {
      int ok;
      if (++b->depth > YAML_MAX_DEPTH) {
        fail_at(b, e->start_mark, "nested too deeply", NULL);
        return 0;
      }
      ok = e->type == YAML_MAPPING_START_EVENT ? build_mapping(b) : build_sequence(b);
      b->depth--;
      return ok;
    }
    default:
      fail_at(b, e->start_mark, "unexpected YAML event", NULL);
      return 0;
  }
}

/* yaml.load(text [, name]) -> document, ... | nil, "NAME:LINE:COLUMN: problem",
   {file = NAME, line =, column =}
   Returns every document of the stream; an empty stream gives an empty
   table. */
static int yaml_load(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  Build b;
  Parser *p;
  int first, ndocs = 0;
  b.L = L;
  b.name = luaL_optstring(L, 2, "(yaml)");
  b.failed = 0;
  b.depth = 0;
  b.line = b.column = 0;
  lua_settop(L, 2);
  p = (Parser *)lua_newuserdatauv(L, sizeof(Parser), 1);
  memset(p, 0, sizeof *p);
  luaL_setmetatable(L, LADLE_YAML_MT);
  lua_pushvalue(L, 1);          /* the text must outlive the parser */
  lua_setiuservalue(L, -2, 1);
  if (!yaml_parser_initialize(&p->parser)) return luaL_error(L, "not enough memory for the YAML parser");
  p->ready = 1;
  yaml_parser_set_input_string(&p->parser, (const unsigned char *)text, len);
  b.p = p;
  lua_newtable(L);
  b.anchors = lua_gettop(L);
  first = b.anchors + 1;
  for (;;) {
    if (!next_event(&b)) break;
    if (p->event.type == YAML_STREAM_END_EVENT) break;
    if (p->event.type != YAML_DOCUMENT_START_EVENT) continue;  /* STREAM_START */
    if (!next_event(&b)) break;
    if (!build_node(&b)) break;
    ndocs++;
    if (!next_event(&b)) break;  /* DOCUMENT_END */
    lua_newtable(L);             /* anchors do not cross documents */
    lua_replace(L, b.anchors);
  }
  parser_release_event(p);
  yaml_parser_delete(&p->parser);
  p->ready = 0;
  if (b.failed) {
    ladle_failresult(L, 0, "%s", lua_tostring(L, -1));
    lua_pushstring(L, b.name);
    lua_setfield(L, -2, "file");
    lua_pushinteger(L, b.line);
    lua_setfield(L, -2, "line");
    lua_pushinteger(L, b.column);
    lua_setfield(L, -2, "column");
    return 3;
  }
  if (ndocs == 0) {
    lua_newtable(L);
    return 1;
  }
  return lua_gettop(L) - first + 1;
}

/* yaml.load_file(path) -> document, ... | nil, message, details
   The file is read whole first (into a box, closed before parsing). */
static int yaml_load_file(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lua_settop(L, 1);
  if (ladle_readfile(L, path, NULL, NULL) != 1) return 3;
  lua_pushcfunction(L, yaml_load);
  lua_insert(L, -2);
  lua_pushvalue(L, 1);
  lua_call(L, 2, LUA_MULTRET);
  return lua_gettop(L) - 1;  /* the path below the results */
}

static const luaL_Reg yaml_functions[] = {
  { "load", yaml_load },
  { "load_file", yaml_load_file },
  { NULL, NULL }
};

static const luaL_Reg parser_meta[] = {
  { "__gc", parser_gc },
  { "__close", parser_gc },
  { NULL, NULL }
};

int luaopen_ladle_yaml(lua_State *L) {
  if (luaL_newmetatable(L, LADLE_YAML_MT)) luaL_setfuncs(L, parser_meta, 0);
  lua_pop(L, 1);
  luaL_newlib(L, yaml_functions);
  return 1;
}
