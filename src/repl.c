/*
 * repl.c: ladle.repl.core, the terminal half of `ladle repl`.
 *
 * Linked into the ladle executable only. It gives the Lua half
 * (lua/ladle/repl.lua) three things that must be done in C:
 *
 * - readline(prompt): GNU readline through its callback interface, so that
 *   the wait for a key is our own pselect() and a Ctrl-C there simply clears
 *   the line (readline's own signal handling is off). Tab completion calls a
 *   Lua function under lua_pcall: no Lua error may longjmp through readline.
 * - history in a file, multi-line entries kept whole (timestamped format).
 * - read_password(prompt): a line read from the terminal with echo off.
 * - loop(step, on_error): calls step() until it returns a value, each call
 *   under the host's interrupt handler (interrupt.c), which turns Ctrl-C
 *   into the interrupt object raised at the next Lua instruction (lua.c's
 *   trick). The loop forgets a Ctrl-C it handled, so an interruption ends
 *   one evaluation, not the process, and leaves no trace in the host's
 *   signal state. While libpq waits, lpg.c's handler sits on top of this
 *   one: it cancels the query, then hands the signal down here.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <termios.h>
#include <unistd.h>

#include <readline/readline.h>
#include <readline/history.h>

#include "ladle.h"

/* ---------------------------------------------------------------------- */
/* Ctrl-C during an evaluation                                             */
/* ---------------------------------------------------------------------- */

/* SIGTERM or SIGHUP arrived: the session ends. */
static int ending(void) {
  int sig = ladle_interrupt_caught();
  return sig == SIGTERM || sig == SIGHUP;
}

/* Runs the function on top under the Ctrl-C handler (re-armed: it gives
   way to the default action once it has fired). An interruption that
   arrived after the work was done is dropped rather than spent on the next
   call, and a Ctrl-C that arrived during the call, handled here, is
   forgotten: it is not the exit status of the session. */
static int call_interruptible(lua_State *L, int nargs) {
  int status, before = ladle_interrupt_caught();
  ladle_interrupt_catch(SIGINT, 1, NULL);  /* a blocking read of piped input carries on */
  status = lua_pcall(L, nargs, 1, 0);
  ladle_interrupt_cancel(L);
  if (before == 0 && ladle_interrupt_caught() == SIGINT) ladle_interrupt_forget();
  return status;
}

/* loop(step, on_error) -> the first non-nil value step or on_error
   returns, or 128 + the signal after SIGTERM or SIGHUP. step() runs under
   the Ctrl-C handler, which raises the interrupt object; when step raises,
   on_error(err) runs (under the handler too). */
static int repl_loop(lua_State *L) {
  struct sigaction previous, old_term, old_hup;
  lua_State *outer;
  luaL_checktype(L, 1, LUA_TFUNCTION);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 2);
  sigaction(SIGINT, NULL, &previous);
  outer = ladle_interrupt_target(L);
  /* a blocking read of piped input gives up on these */
  ladle_interrupt_catch(SIGTERM, 0, &old_term);
  ladle_interrupt_catch(SIGHUP, 0, &old_hup);
  for (;;) {
    int status;
    lua_pushvalue(L, 1);
    status = call_interruptible(L, 0);
    if (status != LUA_OK && !ending()) {
      lua_pushvalue(L, 2);
      lua_insert(L, -2);
      status = call_interruptible(L, 1);
      if (status != LUA_OK) lua_pushnil(L);  /* the report itself was cut short */
    }
    if (ending()) {
      lua_pushinteger(L, 128 + ladle_interrupt_caught());
      break;
    }
    if (!lua_isnil(L, -1)) break;
    lua_settop(L, 2);
  }
  ladle_interrupt_target(outer);
  sigaction(SIGINT, &previous, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  sigaction(SIGHUP, &old_hup, NULL);
  return 1;
}

/* ---------------------------------------------------------------------- */
/* Tab completion                                                          */
/* ---------------------------------------------------------------------- */

static const char completer_key = 'c';  /* registry: the Lua completer */
static const char breaks_key = 'b';     /* registry: its word-break chooser */
static lua_State *completion_state;     /* set while readline() runs */

/* Candidates handed to readline one by one (it takes ownership). */
static char **candidates;
static int candidate_count, candidate_next;

static void free_candidates(void) {
  int i;
  for (i = candidate_next; i < candidate_count; i++) free(candidates[i]);
  free(candidates);
  candidates = NULL;
  candidate_count = candidate_next = 0;
}

static char *next_candidate(const char *text, int state) {
  (void)text;
  (void)state;
  if (candidate_next < candidate_count) return candidates[candidate_next++];
  return NULL;
}

/* Copies the strings of the table at idx into candidates; no Lua error can
   happen here (raw reads, strings only). */
static void take_candidates(lua_State *L, int idx) {
  lua_Integer i, n = (lua_Integer)lua_rawlen(L, idx);
  free_candidates();
  if (n <= 0) return;
  candidates = calloc((size_t)n, sizeof *candidates);
  if (candidates == NULL) return;
  for (i = 1; i <= n; i++) {
    if (lua_rawgeti(L, idx, i) == LUA_TSTRING) {
      char *s = strdup(lua_tostring(L, -1));
      if (s) candidates[candidate_count++] = s;
    }
    lua_pop(L, 1);
  }
}

/* readline's attempted-completion hook: asks completer(line, start, stop)
   for candidates for the word line[start+1 .. stop] (Lua indices). It
   returns a list of words and the character to append to a single match,
   or nil to let readline complete file names. */
static char **complete(const char *text, int start, int end) {
  lua_State *L = completion_state;
  char **matches = NULL;
  int top, status;
  rl_attempted_completion_over = 1;
  if (L == NULL) return NULL;
  top = lua_gettop(L);
  if (!lua_checkstack(L, 6)) return NULL;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &completer_key) != LUA_TFUNCTION) {
    lua_settop(L, top);
    return NULL;
  }
  lua_pushstring(L, rl_line_buffer);
  lua_pushinteger(L, start);
  lua_pushinteger(L, end);
  status = lua_pcall(L, 3, 2, 0);
  if (status == LUA_OK && lua_type(L, -2) == LUA_TTABLE) {
    const char *append = lua_tostring(L, -1);
    take_candidates(L, top + 1);
    rl_completion_append_character = append ? (unsigned char)append[0] : '\0';
    if (candidate_count > 0) matches = rl_completion_matches(text, next_candidate);
    free_candidates();
  } else if (status == LUA_OK && lua_isnil(L, -2)) {
    rl_attempted_completion_over = 0;  /* file names */
  }
  lua_settop(L, top);
  return matches;
}

/* readline's word-break hook: breaks(text before the cursor) may return
   the characters that end words for this completion (a file name after
   \i keeps its slashes), or nil for the default set. */
static char *completion_word_breaks(void) {
  static char chosen[64];
  lua_State *L = completion_state;
  int top;
  if (L == NULL || !lua_checkstack(L, 4)) return NULL;
  top = lua_gettop(L);
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &breaks_key) != LUA_TFUNCTION) {
    lua_settop(L, top);
    return NULL;
  }
  lua_pushlstring(L, rl_line_buffer, (size_t)rl_point);
  if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (len >= sizeof chosen) len = sizeof chosen - 1;
    memcpy(chosen, s, len);
    chosen[len] = '\0';
    lua_settop(L, top);
    return chosen;
  }
  lua_settop(L, top);
  return NULL;
}

/* set_completer(fn | nil[, breaks]) */
static int repl_set_completer(lua_State *L) {
  if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TFUNCTION);
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &breaks_key);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &completer_key);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* readline                                                                */
/* ---------------------------------------------------------------------- */

static volatile sig_atomic_t got_sigint, got_sigwinch;
static char *accepted_line;
static int line_done;

static void on_prompt_signal(int sig) {
  if (sig == SIGINT) got_sigint = 1;
  else got_sigwinch = 1;
}

static void on_line(char *line) {
  accepted_line = line;
  line_done = 1;
  rl_callback_handler_remove();
}

/* Word breaks for Lua: `db:que` completes `que` after `db:`, and the quote
   in `describe "fr` starts a word of its own. */
static const char word_breaks[] = " \t\n\"'`<>=;|&{}()[],.:+-*/%^~#";

static void setup_readline(void) {
  static int done;
  if (done) return;
  done = 1;
  rl_readline_name = "ladle";
  rl_catch_signals = 0;
  rl_catch_sigwinch = 0;
  rl_change_environment = 0;
  rl_attempted_completion_function = complete;
  rl_completer_word_break_characters = word_breaks;
  rl_completion_word_break_hook = completion_word_breaks;
  rl_initialize();
  using_history();
}

/* readline(prompt) -> line | nil at end of input (or after SIGTERM/SIGHUP)
   | false after Ctrl-C */
static int repl_readline(lua_State *L) {
  const char *prompt = luaL_optstring(L, 1, "> ");
  struct sigaction sa, old_int, old_winch;
  sigset_t block, unblocked;
  lua_State *outer = completion_state;
  int interrupted = 0;

  setup_readline();
  fflush(stdout);
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_prompt_signal;  /* no SA_RESTART: pselect must return */
  sigemptyset(&sa.sa_mask);
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGWINCH);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGHUP);
  /* blocked outside pselect(), so that a signal cannot slip in between the
     flag test and the wait */
  sigprocmask(SIG_BLOCK, &block, &unblocked);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGWINCH, &sa, &old_winch);
  got_sigint = got_sigwinch = 0;
  accepted_line = NULL;
  line_done = 0;
  completion_state = L;
  rl_reset_screen_size();
  rl_callback_handler_install(prompt, on_line);

  while (!line_done) {
    fd_set fds;
    int fd = fileno(rl_instream), r;
    if (got_sigint || ending()) {
      interrupted = 1;
      break;
    }
    if (got_sigwinch) {
      got_sigwinch = 0;
      rl_resize_terminal();
    }
    FD_ZERO(&fds);
    FD_SET(fd, &fds);
    r = pselect(fd + 1, &fds, NULL, NULL, NULL, &unblocked);
    if (r < 0 && errno != EINTR) {  /* input gone: as at end of input */
      rl_callback_handler_remove();
      line_done = 1;
      break;
    }
    if (r > 0) {
      /* signals open while readline works: a completion may run a query */
      sigprocmask(SIG_SETMASK, &unblocked, NULL);
      rl_callback_read_char();
      sigprocmask(SIG_BLOCK, &block, NULL);
    }
  }
  if (interrupted) {
    /* show where the line ended and move past it before readline lets go
       of the terminal: that writes a carriage return (the end of
       bracketed paste), which would put the ^C over the prompt */
    rl_point = rl_end;
    rl_redisplay();
    fputs(ending() ? "\n" : "^C\n", rl_outstream);
    fflush(rl_outstream);
    rl_free_line_state();
    rl_callback_sigcleanup();
    rl_cleanup_after_signal();
    rl_callback_handler_remove();
  } else if (accepted_line == NULL) {
    fputs("\n", rl_outstream);  /* end of input: leave the shell a clean line */
    fflush(rl_outstream);
  }
  completion_state = outer;
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGWINCH, &old_winch, NULL);
  sigprocmask(SIG_SETMASK, &unblocked, NULL);

  if (interrupted && !ending()) lua_pushboolean(L, 0);
  else if (accepted_line && !interrupted) lua_pushstring(L, accepted_line);
  else lua_pushnil(L);
  free(accepted_line);
  accepted_line = NULL;
  return 1;
}

/* ---------------------------------------------------------------------- */
/* History                                                                 */
/* ---------------------------------------------------------------------- */

/* Multi-line entries are written with timestamps, which is how the history
   library knows where one entry ends when it reads them back. */
static void setup_history(int max) {
  setup_readline();
  history_comment_char = '#';  /* timestamps are "#<seconds>" lines */
  history_write_timestamps = 1;
  history_multiline_entries = 1;
  if (max > 0) stifle_history(max);
}

/* history_load(path, max) -> number of entries | nil, message */
static int repl_history_load(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int max = (int)luaL_optinteger(L, 2, 1000), r;
  setup_history(max);
  r = read_history(path);
  if (r != 0 && r != ENOENT) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, strerror(r));
    return 2;
  }
  lua_pushinteger(L, history_length);
  return 1;
}

/* history_add(entry[, path]) -> true | nil, message: keeps the entry for
   the arrow keys and appends it to the file (created private), unless it
   repeats the newest entry. */
static int repl_history_add(lua_State *L) {
  const char *entry = luaL_checkstring(L, 1);
  const char *path = luaL_optstring(L, 2, NULL);
  HIST_ENTRY *last;
  int r;
  setup_readline();
  last = history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
  if (last && strcmp(last->line, entry) == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  add_history(entry);
  if (path == NULL) {
    lua_pushboolean(L, 1);
    return 1;
  }
  r = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (r < 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, strerror(errno));
    return 2;
  }
  close(r);
  r = append_history(1, path);
  if (r != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, strerror(r));
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* history_truncate(path, max): keeps the newest max entries of the file. */
static int repl_history_truncate(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int max = (int)luaL_checkinteger(L, 2);
  setup_history(max);
  if (access(path, F_OK) == 0) history_truncate_file(path, max);
  return 0;
}

/* history_clear(): forgets the in-memory list (the file stays). */
static int repl_history_clear(lua_State *L) {
  (void)L;
  clear_history();
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Passwords                                                               */
/* ---------------------------------------------------------------------- */

static volatile sig_atomic_t password_interrupted;

static void on_password_signal(int sig) {
  (void)sig;
  password_interrupted = 1;
}

/* read_password(prompt) -> the line typed at the terminal with echo off, as
   psql asks for one | nil at end of input or after Ctrl-C. The prompt and
   the newline the hidden Enter did not show go to the terminal. The
   terminal's settings are put back whatever happens, and the line is wiped
   from this function's buffer once Lua has its copy. */
static int repl_read_password(lua_State *L) {
  const char *prompt = luaL_checkstring(L, 1);
  char line[1024];
  size_t len = 0;
  struct termios saved, quiet;
  struct sigaction sa, old_int;
  int in = STDIN_FILENO, out, echo_off = 0, done = 0;
  int tty = open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (tty >= 0) in = tty;
  out = tty >= 0 ? tty : STDERR_FILENO;
  fflush(stdout);
  if (write(out, prompt, strlen(prompt)) < 0) { /* nowhere to ask: read anyway */ }
  if (tcgetattr(in, &saved) == 0) {
    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    echo_off = tcsetattr(in, TCSAFLUSH, &quiet) == 0;
  }
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_password_signal;  /* no SA_RESTART: read() must return */
  sigemptyset(&sa.sa_mask);
  password_interrupted = 0;
  sigaction(SIGINT, &sa, &old_int);
  while (!done) {
    char c;
    ssize_t n = read(in, &c, 1);
    if (n < 0 && errno == EINTR && !password_interrupted) continue;
    if (n <= 0) {
      done = -1;
    } else if (c == '\n' || c == '\r') {
      done = 1;
    } else if (len < sizeof line - 1) {
      line[len++] = c;
    }
  }
  sigaction(SIGINT, &old_int, NULL);
  if (echo_off) tcsetattr(in, TCSAFLUSH, &saved);
  if (write(out, "\n", 1) < 0) { /* the line is read; nothing to undo */ }
  if (tty >= 0) close(tty);
  if (done > 0) lua_pushlstring(L, line, len);
  else lua_pushnil(L);
  explicit_bzero(line, sizeof line);
  return 1;
}

/* ---------------------------------------------------------------------- */
/* The terminal                                                            */
/* ---------------------------------------------------------------------- */

/* screen_size() -> rows, columns of the terminal on stdout (or stdin);
   nil when neither is a terminal. */
static int repl_screen_size(lua_State *L) {
  struct winsize ws;
  if ((ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 ||
       ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) && ws.ws_row > 0 && ws.ws_col > 0) {
    lua_pushinteger(L, ws.ws_row);
    lua_pushinteger(L, ws.ws_col);
    return 2;
  }
  lua_pushnil(L);
  return 1;
}

/* ---------------------------------------------------------------------- */
/* Registration                                                            */
/* ---------------------------------------------------------------------- */

static const luaL_Reg repl_functions[] = {
  { "readline", repl_readline },
  { "set_completer", repl_set_completer },
  { "loop", repl_loop },
  { "history_load", repl_history_load },
  { "history_add", repl_history_add },
  { "history_truncate", repl_history_truncate },
  { "history_clear", repl_history_clear },
  { "screen_size", repl_screen_size },
  { "read_password", repl_read_password },
  { NULL, NULL }
};

int luaopen_ladle_repl_core(lua_State *L) {
  luaL_newlib(L, repl_functions);
  return 1;
}
