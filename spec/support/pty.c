/*
 * spec/support/pty.c: support.pty, a test-only module that runs a program
 * on a pseudo-terminal, so that specs can type at ladle's REPL the way a
 * person does (keys, Tab, Ctrl-C as the terminal's interrupt character).
 * Built by `make test` into build/lib/support/pty.so; not installed.
 *
 *   local t = pty.spawn(argv, { env = {NAME = value | false}, rows = 24, cols = 80 })
 *   t:write(bytes)          what the keyboard sends
 *   t:read(timeout)         output so far: a string ("" when nothing came
 *                           within timeout seconds), nil once the program
 *                           has closed the terminal
 *   t:wait(timeout)         exit status (128 + signal), nil if still running
 *   t:kill(signal)          t:pid() is the program's process id
 *   t:close()               closes the terminal, kills the program's
 *                           session if it is still there, reaps it
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>

#define PTY_MT "support.pty"

typedef struct Pty {
  int fd;          /* the master side, -1 once closed */
  pid_t pid;       /* the program, -1 once reaped */
  int status;      /* its exit status once reaped */
} Pty;

static Pty *check_pty(lua_State *L) {
  return (Pty *)luaL_checkudata(L, 1, PTY_MT);
}

static int status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

static int reap(Pty *p, int options) {
  int status;
  pid_t r;
  if (p->pid < 0) return 1;
  do r = waitpid(p->pid, &status, options);
  while (r < 0 && errno == EINTR);
  if (r == p->pid) {
    p->status = status_code(status);
    p->pid = -1;
    return 1;
  }
  return 0;
}

static int pty_close(lua_State *L) {
  Pty *p = check_pty(L);
  if (p->fd >= 0) {
    close(p->fd);
    p->fd = -1;
  }
  if (p->pid > 0 && !reap(p, WNOHANG)) {
    kill(-p->pid, SIGKILL);  /* forkpty made it a session (and group) leader */
    kill(p->pid, SIGKILL);
    reap(p, 0);
  }
  return 0;
}

/* A NULL-terminated array of the strings of the sequence at idx; the
   strings stay on the stack (and so alive) until the call returns. */
static const char **string_array(lua_State *L, int idx, lua_Integer n) {
  const char **array;
  lua_Integer i;
  array = (const char **)lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + 1), 0);
  luaL_checkstack(L, (int)n + 4, "too many strings");
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, i);
    array[i - 1] = lua_tostring(L, -1);
    if (array[i - 1] == NULL) luaL_error(L, "argv and env must hold strings");
  }
  array[n] = NULL;
  return array;
}

/* pty.spawn(argv, opts) -> terminal | nil, message */
static int pty_spawn(lua_State *L) {
  struct winsize ws;
  const char **argv, **names, **values;
  lua_Integer nenv = 0, i;
  Pty *p;
  pid_t pid;
  int fd;
  luaL_checktype(L, 1, LUA_TTABLE);
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  luaL_argcheck(L, luaL_len(L, 1) > 0, 1, "empty argv");
  memset(&ws, 0, sizeof ws);
  ws.ws_row = 24;
  ws.ws_col = 80;
  lua_newtable(L);  /* 3: env names */
  lua_newtable(L);  /* 4: env values (false: unset) */
  if (lua_istable(L, 2)) {
    if (lua_getfield(L, 2, "rows") == LUA_TNUMBER) ws.ws_row = (unsigned short)lua_tointeger(L, -1);
    if (lua_getfield(L, 2, "cols") == LUA_TNUMBER) ws.ws_col = (unsigned short)lua_tointeger(L, -1);
    lua_pop(L, 2);
    if (lua_getfield(L, 2, "env") == LUA_TTABLE) {
      lua_pushnil(L);
      while (lua_next(L, -2)) {
        nenv++;
        lua_pushvalue(L, -2);
        lua_rawseti(L, 3, nenv);
        if (lua_toboolean(L, -1)) lua_rawseti(L, 4, nenv);
        else lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
  argv = string_array(L, 1, luaL_len(L, 1));
  names = string_array(L, 3, nenv);
  values = (const char **)lua_newuserdatauv(L, sizeof(char *) * (size_t)(nenv + 1), 0);
  luaL_checkstack(L, (int)nenv + 4, "too many environment variables");
  for (i = 1; i <= nenv; i++) {
    lua_rawgeti(L, 4, i);
    values[i - 1] = lua_tostring(L, -1);  /* NULL: unset */
  }
  p = (Pty *)lua_newuserdatauv(L, sizeof(Pty), 0);
  p->fd = -1;
  p->pid = -1;
  p->status = -1;
  luaL_setmetatable(L, PTY_MT);

  pid = forkpty(&fd, NULL, NULL, &ws);
  if (pid < 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "forkpty: %s", strerror(errno));
    return 2;
  }
  if (pid == 0) {
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    for (i = 0; i < nenv; i++) {
      if (values[i]) setenv(names[i], values[i], 1);
      else unsetenv(names[i]);
    }
    execvp(argv[0], (char *const *)argv);
    _exit(127);
  }
  /* later children of the test process (servers among them) must not keep
     the terminal open */
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  p->fd = fd;
  p->pid = pid;
  return 1;
}

static int pty_pid(lua_State *L) {
  Pty *p = check_pty(L);
  lua_pushinteger(L, p->pid);
  return 1;
}

static int pty_write(lua_State *L) {
  Pty *p = check_pty(L);
  size_t len, done = 0;
  const char *s = luaL_checklstring(L, 2, &len);
  if (p->fd < 0) return luaL_error(L, "pty is closed");
  while (done < len) {
    ssize_t n = write(p->fd, s + done, len - done);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      lua_pushnil(L);
      lua_pushstring(L, strerror(errno));
      return 2;
    }
    done += (size_t)n;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int pty_read(lua_State *L) {
  Pty *p = check_pty(L);
  lua_Number timeout = luaL_optnumber(L, 2, 0);
  struct pollfd pfd;
  char buf[4096];
  ssize_t n;
  int r;
  if (p->fd < 0) return 0;
  pfd.fd = p->fd;
  pfd.events = POLLIN;
  pfd.revents = 0;
  do r = poll(&pfd, 1, (int)(timeout * 1000));
  while (r < 0 && errno == EINTR);
  if (r == 0) {
    lua_pushliteral(L, "");
    return 1;
  }
  do n = read(p->fd, buf, sizeof buf);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return 0;  /* EIO: every slave descriptor is closed */
  lua_pushlstring(L, buf, (size_t)n);
  return 1;
}

static int pty_wait(lua_State *L) {
  Pty *p = check_pty(L);
  lua_Number timeout = luaL_optnumber(L, 2, 0);
  struct timespec start, now, nap = { 0, 10 * 1000 * 1000 };
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    if (reap(p, WNOHANG)) {
      lua_pushinteger(L, p->status);
      return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((lua_Number)(now.tv_sec - start.tv_sec) + (lua_Number)(now.tv_nsec - start.tv_nsec) / 1e9 >= timeout)
      return 0;
    nanosleep(&nap, NULL);
  }
}

static int pty_kill(lua_State *L) {
  Pty *p = check_pty(L);
  int sig = (int)luaL_optinteger(L, 2, SIGTERM);
  if (p->pid > 0) kill(p->pid, sig);
  return 0;
}

static const luaL_Reg pty_methods[] = {
  { "write", pty_write },
  { "read", pty_read },
  { "wait", pty_wait },
  { "kill", pty_kill },
  { "pid", pty_pid },
  { "close", pty_close },
  { NULL, NULL }
};

static const luaL_Reg pty_meta[] = {
  { "__gc", pty_close },
  { "__close", pty_close },
  { "__index", NULL },
  { NULL, NULL }
};

static const luaL_Reg pty_functions[] = {
  { "spawn", pty_spawn },
  { NULL, NULL }
};

int luaopen_support_pty(lua_State *L);

int luaopen_support_pty(lua_State *L) {
  luaL_newlib(L, pty_functions);
  if (luaL_newmetatable(L, PTY_MT)) {
    luaL_setfuncs(L, pty_meta, 0);
    luaL_newlib(L, pty_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  return 1;
}
