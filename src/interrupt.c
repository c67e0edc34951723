/*
 * interrupt.c: Ctrl-C (and SIGTERM, SIGHUP) for running Lua code, the one
 * hook shared by the host (main.c) and the REPL (repl.c).
 *
 * As in lua.c, the signal handler does nothing but async-signal-safe work:
 * it records the signal and sets a hook on the target state; the hook runs
 * at the next Lua instruction (or call, or return from a C function) and
 * raises the interrupt object. What the signal means afterwards (end the
 * process, or only the evaluation in progress) is the caller's to decide
 * from ladle_interrupt_caught().
 *
 * The interrupt object is an empty userdata whose metatable is named
 * LADLE_INTERRUPT_MT ("ladle.interrupt", what errors.is_interrupt checks);
 * its fields come from that metatable, so no Lua code can change them.
 */
#include <string.h>

#include "ladle.h"

static lua_State *volatile target;
static volatile sig_atomic_t caught;

static const int hook_mask = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;

static void interrupt_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  ladle_push_interrupt(L);
  lua_error(L);
}

/* A second signal of the same kind, while the first is still waiting for a
   Lua instruction (stuck in a C function), gets the default action. */
static void on_signal(int sig) {
  lua_State *L = target;
  signal(sig, SIG_DFL);
  if (sig != SIGINT || caught == 0) caught = sig;  /* an ending outranks Ctrl-C */
  if (L) lua_sethook(L, interrupt_hook, hook_mask, 1);
}

lua_State *ladle_interrupt_target(lua_State *L) {
  lua_State *previous = target;
  target = L;
  return previous;
}

/* restart: whether a blocking read carries on after the handler (SIGINT
   in the REPL, reading piped input) or gives up. */
void ladle_interrupt_catch(int sig, int restart, struct sigaction *previous) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = restart ? SA_RESTART : 0;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, previous);
}

int ladle_interrupt_caught(void) {
  return caught;
}

void ladle_interrupt_forget(void) {
  caught = 0;
}

void ladle_interrupt_cancel(lua_State *L) {
  if (lua_gethook(L) == interrupt_hook) lua_sethook(L, NULL, 0, 0);
}

static int interrupt_tostring(lua_State *L) {
  lua_pushliteral(L, "interrupted");
  return 1;
}

void ladle_push_interrupt(lua_State *L) {
  lua_newuserdatauv(L, 0, 0);
  if (luaL_newmetatable(L, LADLE_INTERRUPT_MT)) {
    lua_pushcfunction(L, interrupt_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, LADLE_EXIT_INTERRUPTED);
    lua_setfield(L, -2, "exit");
    lua_pushliteral(L, "interrupted");
    lua_setfield(L, -2, "kind");
    lua_pushliteral(L, "interrupted");
    lua_setfield(L, -2, "message");
    lua_setfield(L, -2, "__index");
  }
  lua_setmetatable(L, -2);
}

int ladle_is_interrupt(lua_State *L, int idx) {
  return luaL_testudata(L, idx, LADLE_INTERRUPT_MT) != NULL;
}
