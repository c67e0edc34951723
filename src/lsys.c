/*
 * lsys.c: ladle.sys, the operating-system calls the Lua half needs and the
 * standard library lacks: running a program without a shell, temporary
 * directories, ownership, terminals, clocks and signals. Failures come
 * back as nil, message, {errno =, path =} (result.c).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ladle.h"

extern char **environ;

/* The uid and gid of a user name; 0 when there is no such user. */
static int lookup_user(const char *name, uid_t *uid, gid_t *gid) {
  struct passwd *pw = getpwnam(name);
  if (pw == NULL) return 0;
  *uid = pw->pw_uid;
  *gid = pw->pw_gid;
  return 1;
}

/* ---------------------------------------------------------------------- */
/* spawn                                                                   */
/* ---------------------------------------------------------------------- */

/* How a child's standard stream is set up. */
enum { IO_INHERIT, IO_NULL, IO_CAPTURE, IO_FILE, IO_APPEND };

typedef struct Stream {
  int mode;
  const char *path;
  int pipe[2];
  char *buf;
  size_t len, cap;
} Stream;

static void stream_opt(lua_State *L, int opts, const char *key, Stream *s, int can_capture) {
  s->mode = IO_INHERIT;
  s->path = NULL;
  s->pipe[0] = s->pipe[1] = -1;
  s->buf = NULL;
  s->len = s->cap = 0;
  if (opts == 0) return;
  lua_getfield(L, opts, key);
  if (lua_isstring(L, -1)) {
    const char *v = lua_tostring(L, -1);
    if (strcmp(v, "inherit") == 0) s->mode = IO_INHERIT;
    else if (strcmp(v, "null") == 0) s->mode = IO_NULL;
    else if (strcmp(v, "capture") == 0 && can_capture) s->mode = IO_CAPTURE;
    else luaL_error(L, "spawn: bad value '%s' for %s", v, key);
  } else if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "append");
    s->mode = lua_toboolean(L, -1) ? IO_APPEND : IO_FILE;
    lua_pop(L, 1);
    lua_getfield(L, -1, "path");
    s->path = luaL_checkstring(L, -1);  /* anchored by the options table */
    lua_pop(L, 1);
  } else if (!lua_isnil(L, -1)) {
    luaL_error(L, "spawn: %s must be a string or a table", key);
  }
  lua_pop(L, 1);
}

/* In the child: point fd at what s asks for. */
static int stream_child(Stream *s, int fd) {
  int target = -1;
  switch (s->mode) {
    case IO_INHERIT: return 0;
    case IO_NULL: target = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY); break;
    case IO_CAPTURE: target = s->pipe[1]; break;
    case IO_FILE: target = open(s->path, fd == 0 ? O_RDONLY : O_WRONLY | O_CREAT | O_TRUNC, 0644); break;
    case IO_APPEND: target = open(s->path, O_WRONLY | O_CREAT | O_APPEND, 0644); break;
  }
  if (target < 0 || dup2(target, fd) < 0) return -1;
  return 0;
}

static int stream_read(Stream *s) {
  char chunk[8192];
  ssize_t n = read(s->pipe[0], chunk, sizeof chunk);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
  if (n <= 0) {
    close(s->pipe[0]);
    s->pipe[0] = -1;
    return 0;
  }
  if (s->len + (size_t)n > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16384;
    char *p;
    while (cap < s->len + (size_t)n) cap *= 2;
    p = realloc(s->buf, cap);
    if (p == NULL) return 1;  /* drop output rather than block the child */
    s->buf = p;
    s->cap = cap;
  }
  memcpy(s->buf + s->len, chunk, (size_t)n);
  s->len += (size_t)n;
  return 1;
}

/* argv and environment for the child, built as Lua values so that an error
   while building them leaks nothing. Pushes two userdata arrays. */
static char **build_argv(lua_State *L, int idx) {
  lua_Integer i, n = (lua_Integer)luaL_len(L, idx);
  char **argv;
  if (n < 1) luaL_argerror(L, idx, "empty command");
  argv = (char **)lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + 1), 0);
  for (i = 1; i <= n; i++) {
    if (lua_rawgeti(L, idx, i) != LUA_TSTRING)
      luaL_argerror(L, idx, "command words must be strings");
    argv[i - 1] = (char *)lua_tostring(L, -1);  /* anchored by the table */
    lua_pop(L, 1);
  }
  argv[n] = NULL;
  return argv;
}

/* The parent's environment with opts.env applied (a string sets, false
   removes). The strings are anchored in a table left on the stack. */
static char **build_env(lua_State *L, int env_idx) {
  size_t count = 0, n = 0;
  char **envp, **e;
  int anchor;
  for (e = environ; *e; e++) count++;
  lua_pushnil(L);
  while (lua_next(L, env_idx)) {
    count++;
    lua_pop(L, 1);
  }
  lua_newtable(L);
  anchor = lua_gettop(L);
  envp = (char **)lua_newuserdatauv(L, sizeof(char *) * (count + 1), 0);
  lua_rawseti(L, anchor, 0);
  for (e = environ; *e; e++) {
    const char *eq = strchr(*e, '=');
    if (eq == NULL) continue;
    lua_pushlstring(L, *e, (size_t)(eq - *e));
    if (lua_rawget(L, env_idx) != LUA_TNIL) {  /* overridden or removed */
      lua_pop(L, 1);
      continue;
    }
    lua_pop(L, 1);
    envp[n++] = *e;
  }
  lua_pushnil(L);
  while (lua_next(L, env_idx)) {
    int removal = lua_isboolean(L, -1) && !lua_toboolean(L, -1);
    if (lua_type(L, -2) != LUA_TSTRING || (lua_type(L, -1) != LUA_TSTRING && !removal))
      luaL_error(L, "spawn: env values must be strings, or false to remove");
    if (!removal) {
      /* the anchor table keeps the string, so the pointer stays valid */
      envp[n] = (char *)lua_pushfstring(L, "%s=%s", lua_tostring(L, -2), lua_tostring(L, -1));
      lua_rawseti(L, anchor, (lua_Integer)++n);
    }
    lua_pop(L, 1);
  }
  envp[n] = NULL;
  return envp;
}

/* What wait4 tells about a finished child: peak memory and CPU time. */
static void push_usage(lua_State *L, const struct rusage *ru) {
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)ru->ru_maxrss);
  lua_setfield(L, -2, "maxrss_kb");
  lua_pushnumber(L, (lua_Number)ru->ru_utime.tv_sec + (lua_Number)ru->ru_utime.tv_usec / 1e6);
  lua_setfield(L, -2, "user");
  lua_pushnumber(L, (lua_Number)ru->ru_stime.tv_sec + (lua_Number)ru->ru_stime.tv_usec / 1e6);
  lua_setfield(L, -2, "system");
}

static int status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

/* What sys.spawn was asked to do, and the pipes and signal dispositions
   it holds while the child runs. */
typedef struct Spawn {
  char **argv, **envp;      /* anchored on the Lua stack */
  const char *cwd, *user;
  int wait, new_group;
  uid_t uid;
  gid_t gid;
  Stream in, out, err;
  int errpipe[2];           /* the child writes errno here when exec fails */
  struct sigaction old_int, old_quit;
} Spawn;

static void close_fd(int *fd) {
  if (*fd >= 0) {
    close(*fd);
    *fd = -1;
  }
}

/* Reads argv (index 1) and opts (index 2) into sp. */
static void spawn_options(lua_State *L, Spawn *sp) {
  int opts = 0;
  luaL_checktype(L, 1, LUA_TTABLE);
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    opts = 2;
  }
  lua_settop(L, 2);
  memset(sp, 0, sizeof *sp);
  sp->wait = 1;
  sp->errpipe[0] = sp->errpipe[1] = -1;
  sp->argv = build_argv(L, 1);
  if (opts) {
    lua_getfield(L, opts, "cwd");
    sp->cwd = lua_tostring(L, -1);
    lua_getfield(L, opts, "user");
    sp->user = lua_tostring(L, -1);
    lua_getfield(L, opts, "wait");
    if (!lua_isnil(L, -1)) sp->wait = lua_toboolean(L, -1);
    lua_getfield(L, opts, "new_group");
    sp->new_group = lua_toboolean(L, -1);
    lua_pop(L, 2);
    if (lua_getfield(L, opts, "env") == LUA_TTABLE) {
      sp->envp = build_env(L, lua_gettop(L));
    } else {
      lua_pop(L, 1);
    }
  }
  stream_opt(L, opts, "stdin", &sp->in, 0);
  stream_opt(L, opts, "stdout", &sp->out, sp->wait);
  stream_opt(L, opts, "stderr", &sp->err, sp->wait);
}

/* The error pipe and the capture pipes; -1 (errno set, nothing left
   open) when one cannot be made. */
static int spawn_pipes(Spawn *sp) {
  if (pipe2(sp->errpipe, O_CLOEXEC) < 0) return -1;
  if ((sp->out.mode == IO_CAPTURE && pipe2(sp->out.pipe, O_CLOEXEC) < 0) ||
      (sp->err.mode == IO_CAPTURE && pipe2(sp->err.pipe, O_CLOEXEC) < 0)) {
    int e = errno;
    close_fd(&sp->errpipe[0]);
    close_fd(&sp->errpipe[1]);
    close_fd(&sp->out.pipe[0]);
    close_fd(&sp->out.pipe[1]);
    errno = e;
    return -1;
  }
  return 0;
}

/* Like system(3), the parent ignores SIGINT and SIGQUIT while it waits:
   Ctrl-C belongs to the child, which gets the old dispositions back. */
static void spawn_hold_signals(Spawn *sp) {
  struct sigaction ignore;
  memset(&ignore, 0, sizeof ignore);
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  if (sp->wait) {
    sigaction(SIGINT, &ignore, &sp->old_int);
    sigaction(SIGQUIT, &ignore, &sp->old_quit);
  } else {
    sigaction(SIGINT, NULL, &sp->old_int);
    sigaction(SIGQUIT, NULL, &sp->old_quit);
  }
}

static void spawn_release_signals(Spawn *sp) {
  if (!sp->wait) return;
  sigaction(SIGINT, &sp->old_int, NULL);
  sigaction(SIGQUIT, &sp->old_quit, NULL);
}

/* The child, after fork: only async-signal-safe calls. Does not return:
   exec, or errno into the error pipe and exit 127. */
static void spawn_child(Spawn *sp) {
  int e;
  sigaction(SIGINT, &sp->old_int, NULL);
  sigaction(SIGQUIT, &sp->old_quit, NULL);
  if (sp->new_group && setpgid(0, 0) < 0) goto failed;
  if (stream_child(&sp->in, 0) < 0 || stream_child(&sp->out, 1) < 0 ||
      stream_child(&sp->err, 2) < 0)
    goto failed;
  if (sp->cwd && chdir(sp->cwd) < 0) goto failed;
  if (sp->user) {
    if (setgroups(0, NULL) < 0 && errno != EPERM) goto failed;
    if (setgid(sp->gid) < 0 || setuid(sp->uid) < 0) goto failed;
  }
  if (sp->envp) execvpe(sp->argv[0], sp->argv, sp->envp);
  else execvp(sp->argv[0], sp->argv);
failed:
  e = errno;
  if (write(sp->errpipe[1], &e, sizeof e) < 0) _exit(127);
  _exit(127);
}

/* 1 with *child_errno when the child reports that exec failed; 0 when
   exec closed the pipe. */
static int spawn_exec_failed(Spawn *sp, int *child_errno) {
  ssize_t got;
  do got = read(sp->errpipe[0], child_errno, sizeof *child_errno);
  while (got < 0 && errno == EINTR);
  close_fd(&sp->errpipe[0]);
  return got == (ssize_t)sizeof *child_errno;
}

/* Reads both capture pipes until the child closes them. */
static void spawn_collect(Spawn *sp) {
  int i;
  while (sp->out.pipe[0] >= 0 || sp->err.pipe[0] >= 0) {
    struct pollfd p[2];
    int np = 0, r;
    Stream *which[2];
    if (sp->out.pipe[0] >= 0) { p[np].fd = sp->out.pipe[0]; p[np].events = POLLIN; which[np++] = &sp->out; }
    if (sp->err.pipe[0] >= 0) { p[np].fd = sp->err.pipe[0]; p[np].events = POLLIN; which[np++] = &sp->err; }
    r = poll(p, (nfds_t)np, -1);
    if (r < 0 && errno != EINTR) break;
    for (i = 0; i < np && r > 0; i++)
      if (p[i].revents) stream_read(which[i]);
  }
  close_fd(&sp->out.pipe[0]);
  close_fd(&sp->err.pipe[0]);
}

/* status, stdout, stderr, usage of a finished child. */
static int spawn_push_finished(lua_State *L, Spawn *sp, int status, const struct rusage *ru) {
  lua_pushinteger(L, status_code(status));
  if (sp->out.mode == IO_CAPTURE) lua_pushlstring(L, sp->out.buf ? sp->out.buf : "", sp->out.len);
  else lua_pushnil(L);
  if (sp->err.mode == IO_CAPTURE) lua_pushlstring(L, sp->err.buf ? sp->err.buf : "", sp->err.len);
  else lua_pushnil(L);
  free(sp->out.buf);
  free(sp->err.buf);
  push_usage(L, ru);
  return 4;
}

/* sys.spawn(argv, opts) runs a program without a shell.
   opts: cwd, user (run as that user; needs root), env (overrides),
   stdin ("null" or {path=}), stdout/stderr ("inherit", "null", "capture",
   {path=, append=}), wait (default true), new_group (the child leads a new
   process group, as a shell's foreground job does).
   Returns status (exit code, or 128 + signal), captured stdout, captured
   stderr, and {maxrss_kb, user, system} from wait4; with wait = false,
   returns the pid. nil, message, {errno =} when the program cannot be
   started. */
static int sys_spawn(lua_State *L) {
  Spawn sp;
  pid_t pid;
  int status, child_errno;
  struct rusage ru;
  spawn_options(L, &sp);
  if (sp.user && !lookup_user(sp.user, &sp.uid, &sp.gid))
    return ladle_failresult(L, 0, "no such user: %s", sp.user);
  if (spawn_pipes(&sp) < 0) return ladle_failresult(L, errno, "pipe");
  spawn_hold_signals(&sp);
  pid = fork();
  if (pid == 0) spawn_child(&sp);
  close_fd(&sp.errpipe[1]);
  close_fd(&sp.out.pipe[1]);
  close_fd(&sp.err.pipe[1]);
  if (pid < 0) {
    int e = errno;
    close_fd(&sp.errpipe[0]);
    close_fd(&sp.out.pipe[0]);
    close_fd(&sp.err.pipe[0]);
    spawn_release_signals(&sp);
    return ladle_failresult(L, e, "fork");
  }
  if (spawn_exec_failed(&sp, &child_errno)) {
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    close_fd(&sp.out.pipe[0]);
    close_fd(&sp.err.pipe[0]);
    spawn_release_signals(&sp);
    return ladle_failresult(L, child_errno, "cannot run %s", sp.argv[0]);
  }
  if (!sp.wait) {
    lua_pushinteger(L, pid);
    return 1;
  }
  spawn_collect(&sp);
  while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {}
  spawn_release_signals(&sp);
  return spawn_push_finished(L, &sp, status, &ru);
}

/* sys.wait(pid) -> status, usage: waits for a child started with
   wait = false. */
static int sys_wait(lua_State *L) {
  pid_t pid = (pid_t)luaL_checkinteger(L, 1);
  int status;
  struct rusage ru;
  while (wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) return ladle_failresult(L, errno, "waitpid");
  }
  lua_pushinteger(L, status_code(status));
  push_usage(L, &ru);
  return 2;
}

/* sys.kill(pid, signal) -> true | nil, message, details */
static int sys_kill(lua_State *L) {
  pid_t pid = (pid_t)luaL_checkinteger(L, 1);
  int sig = (int)luaL_optinteger(L, 2, SIGTERM);
  if (kill(pid, sig) < 0) return ladle_failresult(L, errno, "kill");
  lua_pushboolean(L, 1);
  return 1;
}

/* sys.which(name) -> full path of an executable in PATH, or nil */
static int sys_which(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const char *path = getenv("PATH");
  luaL_Buffer b;
  if (strchr(name, '/')) {
    if (access(name, X_OK) == 0) lua_pushvalue(L, 1);
    else lua_pushnil(L);
    return 1;
  }
  if (path == NULL) path = "/usr/local/bin:/usr/bin:/bin";
  while (*path) {
    const char *colon = strchr(path, ':');
    size_t len = colon ? (size_t)(colon - path) : strlen(path);
    struct stat st;
    luaL_buffinit(L, &b);
    if (len == 0) luaL_addchar(&b, '.');
    else luaL_addlstring(&b, path, len);
    luaL_addchar(&b, '/');
    luaL_addstring(&b, name);
    luaL_pushresult(&b);
    if (stat(lua_tostring(L, -1), &st) == 0 && S_ISREG(st.st_mode) &&
        access(lua_tostring(L, -1), X_OK) == 0)
      return 1;
    lua_pop(L, 1);
    path += len;
    if (*path == ':') path++;
  }
  lua_pushnil(L);
  return 1;
}

/* ---------------------------------------------------------------------- */
/* Files and users                                                         */
/* ---------------------------------------------------------------------- */

/* sys.mkdtemp(prefix) -> a new private directory under $TMPDIR or /tmp */
static int sys_mkdtemp(lua_State *L) {
  const char *prefix = luaL_optstring(L, 1, "ladle-");
  const char *tmp = getenv("TMPDIR");
  char *path;
  if (tmp == NULL || *tmp == '\0') tmp = "/tmp";
  lua_pushfstring(L, "%s/%sXXXXXX", tmp, prefix);
  path = (char *)lua_newuserdatauv(L, lua_rawlen(L, -1) + 1, 0);
  memcpy(path, lua_tostring(L, -2), lua_rawlen(L, -2) + 1);
  if (mkdtemp(path) == NULL) return ladle_fileresult(L, 0, lua_tostring(L, -2));
  lua_pushstring(L, path);
  return 1;
}

/* sys.rmtree(path) -> true | nil, message, details: rm -rf, never
   following links */
static int sys_rmtree(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  return ladle_fileresult(L, ladle_rmtree(path) == 0, path);
}

static int sys_chmod(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  return ladle_fileresult(L, chmod(path, (mode_t)luaL_checkinteger(L, 2)) == 0, path);
}

/* sys.chown(path, user): owner and that user's group */
static int sys_chown(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  const char *user = luaL_checkstring(L, 2);
  uid_t uid;
  gid_t gid;
  if (!lookup_user(user, &uid, &gid)) return ladle_failresult(L, 0, "no such user: %s", user);
  return ladle_fileresult(L, chown(path, uid, gid) == 0, path);
}

/* sys.create(path, mode) -> true | nil, message, details: a new empty file
   with that mode (umask not applied), truncating an existing one and
   setting its mode */
static int sys_create(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  mode_t mode = (mode_t)luaL_optinteger(L, 2, 0600);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return ladle_fileresult(L, 0, path);
  if (fchmod(fd, mode) < 0) {
    ladle_fileresult(L, 0, path);  /* reads errno before close() can change it */
    close(fd);
    return 3;
  }
  close(fd);
  lua_pushboolean(L, 1);
  return 1;
}

/* sys.stat(path) -> {type=, size=, mode=, mtime=} | nil, message, details */
static int sys_stat(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  const char *type = "other";
  if (stat(path, &st) < 0) return ladle_fileresult(L, 0, path);
  if (S_ISREG(st.st_mode)) type = "file";
  else if (S_ISDIR(st.st_mode)) type = "directory";
  lua_createtable(L, 0, 4);
  lua_pushstring(L, type);
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, (lua_Integer)st.st_size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, (lua_Integer)(st.st_mode & 07777));
  lua_setfield(L, -2, "mode");
  lua_pushinteger(L, (lua_Integer)st.st_mtime);
  lua_setfield(L, -2, "mtime");
  return 1;
}

/* sys.listdir(path) -> sorted array of entry names (no . and ..) */
static int sys_listdir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct dirent **names;
  int i, n = scandir(path, &names, NULL, alphasort);
  if (n < 0) return ladle_fileresult(L, 0, path);
  lua_createtable(L, n, 0);
  for (i = 0; i < n; i++) {
    const char *name = names[i]->d_name;
    if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
      lua_pushstring(L, name);
      lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    }
  }
  for (i = 0; i < n; i++) free(names[i]);
  free(names);
  return 1;
}

static int sys_realpath(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char *resolved = realpath(path, NULL);
  if (resolved == NULL) return ladle_fileresult(L, 0, path);
  lua_pushstring(L, resolved);
  free(resolved);
  return 1;
}

static int sys_geteuid(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)geteuid());
  return 1;
}

/* sys.user() -> the name of the effective user */
static int sys_user(lua_State *L) {
  struct passwd *pw = getpwuid(geteuid());
  if (pw) lua_pushstring(L, pw->pw_name);
  else lua_pushfstring(L, "%d", (int)geteuid());
  return 1;
}

/* sys.user_exists(name) -> uid | nil */
static int sys_user_exists(lua_State *L) {
  struct passwd *pw = getpwnam(luaL_checkstring(L, 1));
  if (pw) lua_pushinteger(L, (lua_Integer)pw->pw_uid);
  else lua_pushnil(L);
  return 1;
}

/* ---------------------------------------------------------------------- */
/* Process, terminal, time                                                 */
/* ---------------------------------------------------------------------- */

static int sys_getpid(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)getpid());
  return 1;
}

/* sys.isatty(fd | file) -> boolean */
static int sys_isatty(lua_State *L) {
  int fd;
  if (lua_isinteger(L, 1)) {
    fd = (int)lua_tointeger(L, 1);
  } else {
    luaL_Stream *s = (luaL_Stream *)luaL_checkudata(L, 1, LUA_FILEHANDLE);
    fd = s->f ? fileno(s->f) : -1;
  }
  lua_pushboolean(L, fd >= 0 && isatty(fd));
  return 1;
}

/* sys.now() -> seconds on a monotonic clock, as a float */
static int sys_now(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

/* sys.sleep(seconds): a signal with a handler (Ctrl-C) ends the sleep
   early, so that the interruption it stands for is not held up. */
static int sys_sleep(lua_State *L) {
  lua_Number seconds = luaL_checknumber(L, 1);
  struct timespec ts;
  if (seconds < 0) seconds = 0;
  ts.tv_sec = (time_t)seconds;
  ts.tv_nsec = (long)((seconds - (lua_Number)ts.tv_sec) * 1e9);
  nanosleep(&ts, NULL);
  return 0;
}

/* sys.setenv(name, value | nil) */
static int sys_setenv(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  int r;
  if (lua_isnoneornil(L, 2)) r = unsetenv(name);
  else r = setenv(name, luaL_checkstring(L, 2), 1);
  if (r < 0) return ladle_failresult(L, errno, "%s", name);
  lua_pushboolean(L, 1);
  return 1;
}

/* ---------------------------------------------------------------------- */
/* Registration                                                            */
/* ---------------------------------------------------------------------- */

static const luaL_Reg sys_functions[] = {
  { "spawn", sys_spawn },
  { "wait", sys_wait },
  { "kill", sys_kill },
  { "which", sys_which },
  { "mkdtemp", sys_mkdtemp },
  { "rmtree", sys_rmtree },
  { "chmod", sys_chmod },
  { "chown", sys_chown },
  { "create", sys_create },
  { "stat", sys_stat },
  { "listdir", sys_listdir },
  { "realpath", sys_realpath },
  { "geteuid", sys_geteuid },
  { "user", sys_user },
  { "user_exists", sys_user_exists },
  { "getpid", sys_getpid },
  { "isatty", sys_isatty },
  { "now", sys_now },
  { "sleep", sys_sleep },
  { "setenv", sys_setenv },
  { NULL, NULL }
};

int luaopen_ladle_sys(lua_State *L) {
  luaL_newlib(L, sys_functions);
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, SIGINT);  lua_setfield(L, -2, "INT");
  lua_pushinteger(L, SIGTERM); lua_setfield(L, -2, "TERM");
  lua_pushinteger(L, SIGKILL); lua_setfield(L, -2, "KILL");
  lua_pushinteger(L, SIGQUIT); lua_setfield(L, -2, "QUIT");
  lua_pushinteger(L, SIGHUP);  lua_setfield(L, -2, "HUP");
  lua_pushinteger(L, SIGSTOP); lua_setfield(L, -2, "STOP");
  lua_setfield(L, -2, "signals");
  return 1;
}
