/*
 * ladle.h: what the C files of ladle share.
 *
 * Every C module is compiled once into position-independent objects that
 * are linked both into the `ladle` executable (where the openers below are
 * registered in package.preload) and into `require`-able shared modules.
 */
#ifndef LADLE_H
#define LADLE_H

#include <lua.h>
#include <lauxlib.h>

#define LADLE_VERSION "0.1.0"

/* Metatable names (also the __name shown by tostring on a bad value). */
#define LADLE_CONN_MT   "ladle.pg.conn"
#define LADLE_CURSOR_MT "ladle.pg.cursor"
#define LADLE_RESULT_MT "ladle.pg.result"
#define LADLE_NULL_MT   "ladle.null"
#define LADLE_GUARD_MT  "ladle.sys.guard"

/* Exit codes shared by the host and the command line (doc/commands.md). */
#define LADLE_EXIT_OK          0
#define LADLE_EXIT_FOUND       1   /* differences or pending work found */
#define LADLE_EXIT_USAGE       2   /* bad usage or bad input files */
#define LADLE_EXIT_RUNTIME     3   /* database or runtime failure */
#define LADLE_EXIT_INTERRUPTED 130 /* SIGINT, as a shell reports it */

int luaopen_ladle_pg_core(lua_State *L);
int luaopen_ladle_sys(lua_State *L);
int luaopen_ladle_delta_core(lua_State *L);
int luaopen_ladle_yaml(lua_State *L);
int luaopen_ladle_repl_core(lua_State *L);  /* executable only (readline) */

#endif
