/*
 * lsandbox.c: ladle.sandbox.core, the C half of lua/ladle/sandbox.lua.
 *
 * A guard owns a throwaway cluster: closing it (close, __gc, __close, or
 * the end of the process) stops the postmaster recorded in
 * DATADIR/postmaster.pid and removes ROOT. Open guards are also kept in a
 * list that an atexit handler walks, for scripts that end with os.exit.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "ladle.h"

typedef struct Guard {
  struct Guard *next, *prev;
  char *datadir;
  char *root;
} Guard;

static Guard *open_guards;
static int atexit_registered;

static pid_t postmaster_pid(const char *datadir) {
  char path[PATH_MAX];
  FILE *f;
  long pid = 0;
  snprintf(path, sizeof path, "%s/postmaster.pid", datadir);
  f = fopen(path, "r");
  if (f == NULL) return 0;
  if (fscanf(f, "%ld", &pid) != 1) pid = 0;
  fclose(f);
  return (pid_t)pid;
}

/* Gone, or a zombie waiting for a parent that may never reap it. */
static int process_gone(pid_t pid) {
  char path[64], state = 0;
  FILE *f;
  if (kill(pid, 0) < 0 && errno == ESRCH) return 1;
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  f = fopen(path, "r");
  if (f == NULL) return 1;
  if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1) state = 0;
  fclose(f);
  return state == 'Z' || state == 'X';
}

/* Immediate shutdown: nothing in a throwaway cluster is worth a checkpoint. */
static void stop_postmaster(const char *datadir) {
  pid_t pid = postmaster_pid(datadir);
  int i;
  struct timespec tick = { 0, 10 * 1000 * 1000 };
  if (pid <= 0 || kill(pid, SIGQUIT) < 0) return;
  for (i = 0; i < 1000 && !process_gone(pid); i++) {
    if (i == 500) kill(pid, SIGKILL);
    nanosleep(&tick, NULL);
  }
}

/* Stops and removes the cluster once; 0, or -1 with errno when the
   directory could not be removed. */
static int guard_release(Guard *g) {
  int r;
  if (g->root == NULL) return 0;
  stop_postmaster(g->datadir);
  r = ladle_rmtree(g->root);
  if (g->prev) g->prev->next = g->next;
  else open_guards = g->next;
  if (g->next) g->next->prev = g->prev;
  free(g->datadir);
  free(g->root);
  g->datadir = g->root = NULL;
  g->next = g->prev = NULL;
  return r;
}

static void release_all_guards(void) {
  while (open_guards) guard_release(open_guards);
}

/* guard:close() -> true | nil, message, {errno =, path = ROOT}; also
   __gc and __close. The guard is released before anything here can raise
   (no allocation first): a guard left in the list after its userdata is
   freed would be walked at exit. */
static int guard_close(lua_State *L) {
  Guard *g = (Guard *)luaL_checkudata(L, 1, LADLE_GUARD_MT);
  char root[PATH_MAX];
  snprintf(root, sizeof root, "%s", g->root ? g->root : "");
  return ladle_fileresult(L, guard_release(g) == 0, root);
}

static int guard_active(lua_State *L) {
  Guard *g = (Guard *)luaL_checkudata(L, 1, LADLE_GUARD_MT);
  lua_pushboolean(L, g->root != NULL);
  return 1;
}

/* core.guard(datadir, root) -> guard, made before the cluster exists */
static int sandbox_guard(lua_State *L) {
  const char *datadir = luaL_checkstring(L, 1);
  const char *root = luaL_checkstring(L, 2);
  Guard *g = (Guard *)lua_newuserdatauv(L, sizeof(Guard), 0);
  memset(g, 0, sizeof *g);
  luaL_setmetatable(L, LADLE_GUARD_MT);
  g->datadir = strdup(datadir);
  g->root = strdup(root);
  if (g->datadir == NULL || g->root == NULL) {
    free(g->datadir);
    free(g->root);
    g->datadir = g->root = NULL;
    return luaL_error(L, "not enough memory");
  }
  g->next = open_guards;
  if (open_guards) open_guards->prev = g;
  open_guards = g;
  if (!atexit_registered) {
    atexit(release_all_guards);
    atexit_registered = 1;
  }
  return 1;
}

static const luaL_Reg guard_methods[] = {
  { "close", guard_close },
  { "active", guard_active },
  { NULL, NULL }
};

static const luaL_Reg guard_meta[] = {
  { "__gc", guard_close },
  { "__close", guard_close },
  { "__index", NULL },
  { NULL, NULL }
};

static const luaL_Reg sandbox_functions[] = {
  { "guard", sandbox_guard },
  { NULL, NULL }
};

int luaopen_ladle_sandbox_core(lua_State *L) {
  luaL_newlib(L, sandbox_functions);
  if (luaL_newmetatable(L, LADLE_GUARD_MT)) {
    luaL_setfuncs(L, guard_meta, 0);
    luaL_newlib(L, guard_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  return 1;
}
