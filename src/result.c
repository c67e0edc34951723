/*
 * result.c: how the C modules report a failure of the outside world, in
 * one place: nil, a one-line message, and a details table with named
 * fields (errno, path, ...), the shape doc/lua-api.md promises and
 * lua/ladle/errors.lua describes. luaL_fileresult's shape, with a table
 * where it puts a bare errno.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "ladle.h"

int ladle_failresult(lua_State *L, int err, const char *fmt, ...) {
  va_list ap;
  lua_pushnil(L);
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  if (err != 0) {
    lua_pushfstring(L, ": %s", strerror(err));
    lua_concat(L, 2);
  }
  lua_createtable(L, 0, 2);
  if (err != 0) {
    lua_pushinteger(L, err);
    lua_setfield(L, -2, "errno");
  }
  return 3;
}

int ladle_fileresult(lua_State *L, int ok, const char *path) {
  int err = errno;  /* before anything here can change it */
  if (ok) {
    lua_pushboolean(L, 1);
    return 1;
  }
  ladle_failresult(L, err, "%s", path);
  lua_pushstring(L, path);
  lua_setfield(L, -2, "path");
  return 3;
}
