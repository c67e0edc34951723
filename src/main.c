/*
 * main.c: the ladle host.
 *
 * Shaped like lua.c: main creates a state and runs pmain in protected mode;
 * pmain opens the libraries, registers ladle's C modules in
 * package.preload, finds ladle's Lua files, and hands argv to
 * ladle.cli.main. Every chunk runs through a message handler that adds a
 * traceback, and Ctrl-C (or SIGTERM/SIGHUP) raises the interrupt object
 * (interrupt.c) at the next instruction, the way lua.c does it.
 *
 * Exit codes: what ladle.cli.main returns; for an error raised with
 * ladle.fail (a table with an integer `exit`) that code and its message;
 * for any other error its message and traceback, 3; after a signal,
 * 128 + the signal number (and "ladle: interrupted" when the interrupt
 * ended the script rather than being caught by it).
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lua.h>
#include <lualib.h>
#include <lauxlib.h>
#include <libpq-fe.h>

#include "ladle.h"

#ifndef LADLE_LUADIR
#define LADLE_LUADIR "/usr/local/share/lua/5.4"
#endif

static const luaL_Reg preloaded[] = {
  { "ladle.pg.core", luaopen_ladle_pg_core },
  { "ladle.sys", luaopen_ladle_sys },
  { "ladle.sandbox.core", luaopen_ladle_sandbox_core },
  { "ladle.delta.core", luaopen_ladle_delta_core },
  { "ladle.yaml", luaopen_ladle_yaml },
  { "ladle.repl.core", luaopen_ladle_repl_core },
  { NULL, NULL }
};

/* ---------------------------------------------------------------------- */
/* Signals (interrupt.c; as in lua.c)                                      */
/* ---------------------------------------------------------------------- */

/* Restarting, as signal() does: a blocking read carries on, and the hook
   stops the script once the read returns. */
static void catch_signals(void) {
  ladle_interrupt_catch(SIGINT, 1, NULL);
  ladle_interrupt_catch(SIGTERM, 1, NULL);
  ladle_interrupt_catch(SIGHUP, 1, NULL);
}

static void default_signals(void) {
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
}

/* ---------------------------------------------------------------------- */
/* Running chunks                                                          */
/* ---------------------------------------------------------------------- */

static int is_failure_object(lua_State *L, int idx) {
  int yes;
  if (lua_type(L, idx) != LUA_TTABLE) return 0;
  lua_getfield(L, idx, "exit");
  yes = lua_isinteger(L, -1);
  lua_pop(L, 1);
  return yes;
}

/* Failures raised with ladle.fail and the interrupt object pass through
   untouched; any other error gets a traceback. */
static int msghandler(lua_State *L) {
  const char *msg;
  if (is_failure_object(L, 1) || ladle_is_interrupt(L, 1)) return 1;
  msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static int docall(lua_State *L, int narg, int nres) {
  int status;
  int base = lua_gettop(L) - narg;
  lua_State *outer;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  outer = ladle_interrupt_target(L);
  catch_signals();
  status = lua_pcall(L, narg, nres, base);
  default_signals();
  ladle_interrupt_target(outer);
  lua_remove(L, base);
  return status;
}

/* Prints the error on top of the stack; returns the exit code. */
static int report(lua_State *L) {
  int sig = ladle_interrupt_caught();
  if (sig || ladle_is_interrupt(L, -1)) {
    fprintf(stderr, "ladle: interrupted\n");
    return sig ? 128 + sig : LADLE_EXIT_INTERRUPTED;
  }
  if (is_failure_object(L, -1)) {
    int code;
    lua_getfield(L, -1, "exit");
    code = (int)lua_tointeger(L, -1);
    lua_getfield(L, -2, "message");
    if (lua_isstring(L, -1) && lua_rawlen(L, -1) > 0)
      fprintf(stderr, "ladle: %s\n", lua_tostring(L, -1));
    lua_pop(L, 2);
    return code;
  } else {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "ladle: %s\n", msg ? msg : "(error object is not a string)");
    return LADLE_EXIT_RUNTIME;
  }
}

/* ---------------------------------------------------------------------- */
/* Finding the Lua half                                                    */
/* ---------------------------------------------------------------------- */

static int has_cli(const char *dir) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/ladle/cli.lua", dir);
  return access(path, R_OK) == 0;
}

/* Next to the executable (lua/, ../lua/ or ../../lua/ for build/ladle and
   build/san/ladle in a source tree), relative to an installed binary
   (../share/lua/5.4), or the configured prefix. */
static const char *find_luadir(lua_State *L) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  const char *candidates[] = { "/lua", "/../lua", "/../../lua", "/../share/lua/5.4", NULL };
  int i;
  if (n > 0) {
    char *slash;
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    for (i = 0; candidates[i]; i++) {
      const char *dir = lua_pushfstring(L, "%s%s", exe, candidates[i]);
      if (has_cli(dir)) return dir;
      lua_pop(L, 1);
    }
  }
  lua_pushstring(L, LADLE_LUADIR);
  return lua_tostring(L, -1);
}

static void set_paths(lua_State *L) {
  const char *dir = find_luadir(L);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);  /* old path, package */
  /* ladle.host: facts about this executable, for --version and recipes */
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_createtable(L, 0, 4);
  lua_pushstring(L, LADLE_VERSION);
  lua_setfield(L, -2, "version");
  lua_pushvalue(L, -3);  /* dir */
  lua_setfield(L, -2, "luadir");
  lua_pushstring(L, LUA_RELEASE);
  lua_setfield(L, -2, "lua");
  lua_pushinteger(L, PQlibVersion());
  lua_setfield(L, -2, "libpq");
  lua_setfield(L, -2, "ladle.host");
  lua_pop(L, 2);  /* loaded table, dir */
}

static void preload_modules(lua_State *L) {
  const luaL_Reg *m;
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  for (m = preloaded; m->name; m++) {
    lua_pushcfunction(L, m->func);
    lua_setfield(L, -2, m->name);
  }
  lua_pop(L, 1);
}

/* ---------------------------------------------------------------------- */
/* main                                                                    */
/* ---------------------------------------------------------------------- */

static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  int i, status;
  luaL_checkversion(L);
  luaL_openlibs(L);
  preload_modules(L);
  set_paths(L);
  lua_gc(L, LUA_GCRESTART);
  lua_gc(L, LUA_GCGEN, 0, 0);

  lua_getglobal(L, "require");
  lua_pushliteral(L, "ladle.cli");
  status = docall(L, 1, 1);
  if (status != LUA_OK) return lua_error(L);
  lua_getfield(L, -1, "main");
  lua_createtable(L, argc, 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  status = docall(L, 1, 1);
  if (status != LUA_OK) return lua_error(L);
  if (ladle_interrupt_caught()) {  /* a script that swallowed its interruption */
    lua_pushinteger(L, 128 + ladle_interrupt_caught());
    return 1;
  }
  lua_pushinteger(L, lua_isinteger(L, -1) ? lua_tointeger(L, -1) : LADLE_EXIT_OK);
  return 1;
}

int main(int argc, char **argv) {
  int status, code;
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    fprintf(stderr, "ladle: cannot create the Lua state: not enough memory\n");
    return LADLE_EXIT_RUNTIME;
  }
  lua_gc(L, LUA_GCSTOP);
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  status = lua_pcall(L, 2, 1, 0);
  if (status == LUA_OK) code = (int)lua_tointeger(L, -1);
  else code = report(L);
  fflush(stdout);
  lua_close(L);
  return code;
}
