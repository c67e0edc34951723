/*
 * ladle.h: what the C files of ladle share.
 *
 * Every C module is compiled once into position-independent objects that
 * are linked both into the `ladle` executable (where the openers below are
 * registered in package.preload) and into `require`-able shared modules.
 * A module may be built from several objects (the Makefile's MODULES
 * list); the helpers declared here each live in one file of their own.
 */
#ifndef LADLE_H
#define LADLE_H

#include <dirent.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>

#include <lua.h>
#include <lauxlib.h>

#define LADLE_VERSION "0.1.0"

/* Metatable names (also the __name shown by tostring on a bad value). */
#define LADLE_CONN_MT      "ladle.pg.conn"        /* lpg.c */
#define LADLE_CURSOR_MT    "ladle.pg.cursor"      /* lpg.c */
#define LADLE_RESULT_MT    "ladle.pg.result"      /* lpg.c */
#define LADLE_NULL_MT      "ladle.null"           /* lpg.c */
#define LADLE_GUARD_MT     "ladle.sandbox.guard"  /* lsandbox.c */
#define LADLE_YAML_MT      "ladle.yaml.parser"    /* lyaml.c */
#define LADLE_BOX_MT       "ladle.box"            /* box.c */
#define LADLE_INTERRUPT_MT "ladle.interrupt"      /* interrupt.c; errors.is_interrupt */

/* Exit codes shared by the host and the command line (doc/commands.md). */
#define LADLE_EXIT_OK          0
#define LADLE_EXIT_FOUND       1   /* differences or pending work found */
#define LADLE_EXIT_USAGE       2   /* bad usage or bad input files */
#define LADLE_EXIT_RUNTIME     3   /* database or runtime failure */
#define LADLE_EXIT_INTERRUPTED 130 /* SIGINT, as a shell reports it */

#if defined(__GNUC__)
#define LADLE_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define LADLE_PRINTF(fmt, args)
#endif

/* Failures of the outside world (result.c), as `nil, message, details`
   where details is a table with named fields. Both return 3, the number
   of values pushed, with the details table on top so that the caller can
   add fields before returning.
   ladle_failresult: the message is fmt formatted (by lua_pushfstring, so
   %s and %d; checked as printf), then ": strerror(err)" when err is not 0; details holds
   errno = err when err is not 0.
   ladle_fileresult: luaL_fileresult with a details table: when ok, pushes
   true and returns 1; otherwise nil, "PATH: strerror(errno)",
   {errno = errno, path = PATH}. */
int ladle_failresult(lua_State *L, int err, const char *fmt, ...) LADLE_PRINTF(3, 4);
int ladle_fileresult(lua_State *L, int ok, const char *path);

/* A FILE* or DIR* owned by a userdata created before it (box.c), so that
   a Lua error cannot leak it. ladle_newbox pushes an empty box; the open
   functions return NULL (errno set) when the open fails; ladle_box_close
   is the one idempotent close, also run by the box's __gc and __close,
   and returns what fclose/closedir returned (0 when already closed). */
typedef struct ladle_Box {
  void *handle;                 /* FILE * or DIR *; NULL when closed */
  int (*closef)(void *handle);
} ladle_Box;

ladle_Box *ladle_newbox(lua_State *L);
FILE *ladle_box_fopen(ladle_Box *box, const char *path, const char *mode);
DIR *ladle_box_opendir(ladle_Box *box, const char *path);
int ladle_box_close(ladle_Box *box);

/* ladle_readfile(L, path, each, ud): pushes the whole content of the file
   at path and returns 1, or returns ladle_fileresult's failure (3 values).
   each (may be NULL) sees every chunk as it is read. */
typedef void (*ladle_ChunkFn)(void *ud, const char *chunk, size_t len);
int ladle_readfile(lua_State *L, const char *path, ladle_ChunkFn each, void *ud);

/* rm -rf that never follows links (rmtree.c): 0, or -1 with errno. A path
   that does not exist is already removed. */
int ladle_rmtree(const char *path);

/* core.split(sql) of ladle.delta.core (split.c): where each statement of a
   script starts and ends, the way psql reads it. */
int ladle_split_sql(lua_State *L);

/* Interrupting running Lua code (interrupt.c, executable only).
   The handler installed by ladle_interrupt_catch records the signal and
   sets a hook on the target state that raises the interrupt object at the
   next Lua instruction (lua.c's way); a second signal of the same kind,
   while the first still waits for an instruction, gets the default action.
   The interrupt object is a userdata whose metatable is
   LADLE_INTERRUPT_MT: tostring gives "interrupted", and its fields are
   exit = 130, kind = "interrupted", message = "interrupted".
   ladle_interrupt_caught returns the signal recorded since the last
   ladle_interrupt_forget (SIGTERM and SIGHUP outrank SIGINT), or 0. */
lua_State *ladle_interrupt_target(lua_State *L);  /* returns the previous one */
void ladle_interrupt_catch(int sig, int restart, struct sigaction *previous);
int ladle_interrupt_caught(void);
void ladle_interrupt_forget(void);
void ladle_interrupt_cancel(lua_State *L);  /* drops a hook that has not fired */
void ladle_push_interrupt(lua_State *L);
int ladle_is_interrupt(lua_State *L, int idx);

int luaopen_ladle_pg_core(lua_State *L);
int luaopen_ladle_sys(lua_State *L);
int luaopen_ladle_sandbox_core(lua_State *L);
int luaopen_ladle_delta_core(lua_State *L);
int luaopen_ladle_yaml(lua_State *L);
int luaopen_ladle_repl_core(lua_State *L);  /* executable only (readline) */

#endif
