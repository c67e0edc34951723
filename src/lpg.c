/*
 * lpg.c: ladle.pg.core, the libpq binding.
 *
 * A connection is a full userdata created before its PGconn; close, __gc
 * and __close are one idempotent function. Query results are turned into
 * plain Lua tables at once (rows keyed by column name), so no PGresult
 * outlives the call that produced it; while a result is being converted it
 * sits in a small "result box" userdata so that a Lua error cannot leak it.
 *
 * Waiting for the server is done with poll() on the connection socket, with
 * a SIGINT handler installed only for the wait: Ctrl-C sends a cancel
 * request, the server's answer is read so the connection stays usable, and
 * the signal is then handed to whatever handler the host had installed
 * (ladle's main, lua.c or the REPL turn it into a Lua error).
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libpq-fe.h>

#include "ladle.h"

/* Notices are queued in C while libpq is busy (a notice receiver must not
   raise Lua errors) and turned into Lua tables once the call is over. */
typedef struct Notice {
  struct Notice *next;
  const char *field[7];
  char data[];
} Notice;

enum { N_SEVERITY, N_SQLSTATE, N_MESSAGE, N_DETAIL, N_HINT, N_CONTEXT,
       N_POSITION, N_COUNT };

static const char *const notice_keys[N_COUNT] = {
  "severity", "sqlstate", "message", "detail", "hint", "context", "position"
};

static const int notice_codes[N_COUNT] = {
  PG_DIAG_SEVERITY, PG_DIAG_SQLSTATE, PG_DIAG_MESSAGE_PRIMARY,
  PG_DIAG_MESSAGE_DETAIL, PG_DIAG_MESSAGE_HINT, PG_DIAG_CONTEXT,
  PG_DIAG_STATEMENT_POSITION
};

typedef struct Conn {
  PGconn *pg;
  int busy;               /* BUSY_ROWS or BUSY_SENT: not free for a command */
  int sent;               /* queries sent with send() and not yet received */
  Notice *notices;        /* queued, oldest first */
  Notice *notices_last;
  int keep_copy;          /* query() runs: keep what COPY TO STDOUT sends */
  char *copy;             /* that data (NULL: no COPY TO STDOUT seen) */
  size_t copy_len, copy_size;
} Conn;

enum { BUSY_ROWS = 1,    /* an open rows() loop owns the connection */
       BUSY_SENT = 2 };   /* a query sent with send() awaits receive() */

typedef struct Cursor {
  Conn *conn;             /* pinned: the connection is the uservalue */
  int open;               /* results still to be read */
  PGresult *res;          /* the row being converted, freed by close */
} Cursor;

typedef struct ResultBox {
  PGresult *res;
} ResultBox;

/* Uservalue fields of a connection. */
#define UV_HANDLER "on_notice"
#define UV_KEPT    "notices"
#define UV_ERROR   "last_error"

static const char null_key = 'n';   /* registry key of ladle.null */

/* ---------------------------------------------------------------------- */
/* Small helpers                                                           */
/* ---------------------------------------------------------------------- */

/* Pushes a libpq message as one line: newlines and tabs become single
   spaces and the trailing newline goes. */
static const char *push_oneline(lua_State *L, const char *msg) {
  luaL_Buffer b;
  int space = 0;
  luaL_buffinit(L, &b);
  for (; msg && *msg; msg++) {
    if (*msg == '\n' || *msg == '\t' || *msg == '\r' || *msg == ' ') {
      space = 1;
      continue;
    }
    if (space && luaL_bufflen(&b) > 0) luaL_addchar(&b, ' ');
    space = 0;
    luaL_addchar(&b, *msg);
  }
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

static double monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---------------------------------------------------------------------- */
/* SIGINT while waiting for the server                                     */
/* ---------------------------------------------------------------------- */

static volatile sig_atomic_t sigint_count;

static void on_sigint(int sig) {
  (void)sig;
  sigint_count++;
}

typedef struct SigintGuard {
  struct sigaction previous;
  int installed;
} SigintGuard;

static void sigint_catch(SigintGuard *g) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigint_count = 0;
  g->installed = sigaction(SIGINT, &sa, &g->previous) == 0;
}

/* Puts the caller's disposition back and, when Ctrl-C was pressed during
   the wait, delivers it to that disposition (unless it ignores SIGINT). */
static int sigint_release(SigintGuard *g) {
  int seen = sigint_count > 0;
  if (!g->installed) return seen;
  sigaction(SIGINT, &g->previous, NULL);
  if (seen && ((g->previous.sa_flags & SA_SIGINFO) ||
               g->previous.sa_handler != SIG_IGN))
    raise(SIGINT);
  return seen;
}

static void send_cancel(PGconn *pg) {
  char errbuf[256];
  PGcancel *cancel = PQgetCancel(pg);
  if (cancel) {
    PQcancel(cancel, errbuf, sizeof errbuf);
    PQfreeCancel(cancel);
  }
}

/* One wait for input on the connection. The first Ctrl-C sends a cancel
   request (*cancelled records it); returns 0 to keep waiting, 1 to stop
   and let libpq report what went wrong, -1 after a second Ctrl-C. */
static int await_input(PGconn *pg, int *cancelled) {
  struct pollfd p;
  int r;
  if (sigint_count > 1) return -1;
  if (sigint_count == 1 && !*cancelled) {
    send_cancel(pg);
    *cancelled = 1;
  }
  p.fd = PQsocket(pg);
  p.events = POLLIN;
  p.revents = 0;
  /* bounded, so that a signal landing just before poll() is seen soon */
  r = poll(&p, 1, 200);
  if (r < 0 && errno != EINTR) return 1;
  if (r > 0 && !PQconsumeInput(pg)) return 1;
  return 0;
}

/* Keeps a piece of COPY TO STDOUT data for query() to return. When memory
   runs out the rest is dropped: the data is there to be shown. */
static void keep_copy(Conn *c, const char *data, size_t n) {
  if (c->copy_len + n > c->copy_size || c->copy == NULL) {
    size_t size = c->copy_size ? c->copy_size : 4096;
    char *grown;
    while (size < c->copy_len + n) size *= 2;
    grown = realloc(c->copy, size);
    if (grown == NULL) return;
    c->copy = grown;
    c->copy_size = size;
  }
  memcpy(c->copy + c->copy_len, data, n);
  c->copy_len += n;
}

static void drop_copy(Conn *c) {
  free(c->copy);
  c->copy = NULL;
  c->copy_len = c->copy_size = 0;
}

/* Waits for the next result of the command in progress; NULL once the
   command is complete. COPY is refused (FROM STDIN) or read here (TO
   STDOUT: kept for query(), dropped otherwise), so that no caller meets a COPY state: libpq would hand
   it the same COPY result forever. The first Ctrl-C sends a cancel request
   and keeps waiting for the server's answer; a second one gives up on the
   connection, which is then closed (c->pg becomes NULL). */
static PGresult *next_result(Conn *c) {
  PGconn *pg = c->pg;
  SigintGuard guard;
  int cancelled = 0, wait = 0;
  PGresult *res = NULL;

  sigint_catch(&guard);
  for (;;) {
    ExecStatusType st;
    while (PQisBusy(pg) && (wait = await_input(pg, &cancelled)) == 0) {}
    if (wait < 0) break;
    res = PQgetResult(pg);
    if (res == NULL) break;
    st = PQresultStatus(res);
    if (st == PGRES_COPY_IN) {
      PQclear(res);
      res = NULL;
      PQputCopyEnd(pg, "COPY FROM STDIN is not supported by ladle.pg");
    } else if (st == PGRES_COPY_OUT) {
      char *row;
      int n;
      PQclear(res);
      res = NULL;
      if (c->keep_copy) keep_copy(c, "", 0);
      while ((n = PQgetCopyData(pg, &row, 1)) >= 0) {
        if (n > 0) {
          if (c->keep_copy) keep_copy(c, row, (size_t)n);
          PQfreemem(row);
        } else if ((wait = await_input(pg, &cancelled)) != 0) {
          break;
        }
      }
      if (wait < 0) break;
    } else {
      break;
    }
  }
  sigint_release(&guard);
  if (wait < 0) {
    PQclear(res);
    PQfinish(pg);
    c->pg = NULL;
    res = NULL;
  }
  return res;
}

/* ---------------------------------------------------------------------- */
/* Notices                                                                 */
/* ---------------------------------------------------------------------- */

static void notice_receiver(void *arg, const PGresult *res) {
  Conn *c = arg;
  const char *value[N_COUNT];
  size_t len[N_COUNT], total = 0;
  Notice *n;
  char *p;
  int i;
  for (i = 0; i < N_COUNT; i++) {
    value[i] = PQresultErrorField(res, notice_codes[i]);
    len[i] = value[i] ? strlen(value[i]) + 1 : 0;
    total += len[i];
  }
  n = malloc(sizeof *n + total);
  if (n == NULL) return;  /* dropping a notice beats failing the query */
  p = n->data;
  for (i = 0; i < N_COUNT; i++) {
    if (value[i]) {
      memcpy(p, value[i], len[i]);
      n->field[i] = p;
      p += len[i];
    } else {
      n->field[i] = NULL;
    }
  }
  n->next = NULL;
  if (c->notices_last) c->notices_last->next = n;
  else c->notices = n;
  c->notices_last = n;
}

static void free_notices(Conn *c) {
  while (c->notices) {
    Notice *n = c->notices;
    c->notices = n->next;
    free(n);
  }
  c->notices_last = NULL;
}

static void push_notice(lua_State *L, const Notice *n) {
  int i;
  lua_createtable(L, 0, N_COUNT);
  for (i = 0; i < N_COUNT; i++) {
    if (n->field[i] == NULL) continue;
    if (i == N_POSITION) lua_pushinteger(L, strtol(n->field[i], NULL, 10));
    else lua_pushstring(L, n->field[i]);
    lua_setfield(L, -2, notice_keys[i]);
  }
}

/* Hands queued notices to the connection's handler, or keeps them in its
   list. A notice leaves the C queue only once its table exists, so a Lua
   error here loses nothing. */
static void deliver_notices(lua_State *L, Conn *c, int conn_idx) {
  if (c->notices == NULL) return;
  conn_idx = lua_absindex(L, conn_idx);
  lua_getiuservalue(L, conn_idx, 1);
  while (c->notices) {
    Notice *n = c->notices;
    push_notice(L, n);
    c->notices = n->next;
    if (c->notices == NULL) c->notices_last = NULL;
    free(n);
    if (lua_getfield(L, -2, UV_HANDLER) == LUA_TFUNCTION) {
      lua_insert(L, -2);
      lua_call(L, 1, 0);
    } else {
      lua_pop(L, 1);
      lua_getfield(L, -2, UV_KEPT);
      lua_insert(L, -2);
      lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
}

/* ---------------------------------------------------------------------- */
/* Connection objects                                                      */
/* ---------------------------------------------------------------------- */

static Conn *to_conn(lua_State *L, int idx) {
  return (Conn *)luaL_checkudata(L, idx, LADLE_CONN_MT);
}

static Conn *check_open(lua_State *L, int idx) {
  Conn *c = to_conn(L, idx);
  if (c->pg == NULL) luaL_error(L, "connection is closed");
  return c;
}

/* An open connection that is free to start a command. */
static Conn *check_conn(lua_State *L, int idx) {
  Conn *c = check_open(L, idx);
  if (c->busy == BUSY_SENT)
    luaL_error(L, "connection is busy: a query sent with send() awaits receive()");
  if (PQpipelineStatus(c->pg) != PQ_PIPELINE_OFF && !PQexitPipelineMode(c->pg))
    luaL_error(L, "connection is busy: it is still in pipeline mode");
  if (c->busy)
    luaL_error(L, "connection is busy: a rows() loop on it is still open");
  return c;
}

static int conn_close(lua_State *L) {
  Conn *c = to_conn(L, 1);
  if (c->pg) {
    PQfinish(c->pg);
    c->pg = NULL;
  }
  c->busy = 0;
  c->sent = 0;
  free_notices(c);
  drop_copy(c);
  lua_pushboolean(L, 1);
  return 1;
}

static Conn *new_conn(lua_State *L) {
  Conn *c = (Conn *)lua_newuserdatauv(L, sizeof(Conn), 1);
  memset(c, 0, sizeof *c);
  luaL_setmetatable(L, LADLE_CONN_MT);
  lua_createtable(L, 0, 2);
  lua_newtable(L);
  lua_setfield(L, -2, UV_KEPT);
  lua_setiuservalue(L, -2, 1);
  return c;
}

static int looks_like_conninfo(const char *s) {
  return strncmp(s, "postgresql://", 13) == 0 ||
         strncmp(s, "postgres://", 11) == 0 ||
         strchr(s, '=') != NULL || *s == '\0';
}

/* connect_timeout applies per host in libpq; the asynchronous API leaves
   timing to us, so allow that many seconds for each listed host. */
static double connect_deadline(PGconn *pg) {
  PQconninfoOption *opts = PQconninfo(pg), *o;
  int seconds = 0, hosts = 1;
  if (opts == NULL) return 0;
  for (o = opts; o->keyword; o++) {
    if (o->val == NULL) continue;
    if (strcmp(o->keyword, "connect_timeout") == 0) {
      seconds = atoi(o->val);
    } else if (strcmp(o->keyword, "host") == 0) {
      const char *p;
      for (p = o->val; *p; p++) hosts += *p == ',';
    }
  }
  PQconninfoFree(opts);
  if (seconds <= 0) return 0;
  if (seconds < 2) seconds = 2;  /* libpq's own minimum */
  return monotonic_ms() + 1e3 * seconds * hosts;
}

/* Drives PQconnectPoll to completion. Returns 0 when done (either way),
   1 when interrupted, 2 on timeout. */
static int connect_wait(PGconn *pg) {
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  double deadline = connect_deadline(pg);
  SigintGuard guard;
  int outcome = 0;
  sigint_catch(&guard);
  while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
    struct pollfd p;
    int wait = 200, r;
    if (sigint_count) { outcome = 1; break; }
    if (deadline > 0) {
      double left = deadline - monotonic_ms();
      if (left <= 0) { outcome = 2; break; }
      if (left < wait) wait = (int)left + 1;
    }
    p.fd = PQsocket(pg);
    p.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    p.revents = 0;
    r = poll(&p, 1, wait);
    if (r > 0 || (r < 0 && errno != EINTR)) st = PQconnectPoll(pg);
  }
  sigint_release(&guard);
  return outcome;
}

/* ladle.pg.connect(target): target is a service name, a conninfo string or
   URI, or a table of libpq keywords. Returns conn or nil, message, details
   (kind = "database", user, and needs_password when the server asked for
   a password and none was given: libpq's PQconnectionNeedsPassword, for a
   caller that can ask for one and try again). */
static int pg_connect(lua_State *L) {
  const char *keywords[66], *values[66];
  int n = 0, expand = 0, outcome;
  Conn *c;
  int type = lua_type(L, 1);
  lua_settop(L, 1);
  c = new_conn(L);  /* index 2, before the PGconn */
  if (type == LUA_TNONE || type == LUA_TNIL) {
    keywords[n] = "dbname"; values[n++] = ""; expand = 1;
  } else if (type == LUA_TSTRING) {
    const char *target = lua_tostring(L, 1);
    if (looks_like_conninfo(target)) {
      keywords[n] = "dbname"; values[n++] = target; expand = 1;
    } else {
      keywords[n] = "service"; values[n++] = target;
    }
  } else if (type == LUA_TTABLE) {
    lua_pushnil(L);
    while (lua_next(L, 1)) {
      if (lua_type(L, -2) != LUA_TSTRING)
        return luaL_argerror(L, 1, "connection keywords must be strings");
      if (n >= 64) return luaL_argerror(L, 1, "too many connection keywords");
      if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
        return luaL_argerror(L, 1, "connection values must be strings or numbers");
      /* keep a string copy of the value on the stack, and the key */
      keywords[n] = lua_tostring(L, -2);
      values[n] = luaL_tolstring(L, -1, NULL);
      lua_insert(L, -3);  /* value string below key and value */
      lua_pop(L, 1);      /* the original value; the key stays for lua_next */
      n++;
      luaL_checkstack(L, 3, "too many connection keywords");
    }
  } else {
    return luaL_typeerror(L, 1, "string or table");
  }
  keywords[n] = "fallback_application_name"; values[n++] = "ladle";
  keywords[n] = NULL; values[n] = NULL;

  c->pg = PQconnectStartParams(keywords, values, expand);
  if (c->pg == NULL) return ladle_failresult(L, 0, "out of memory while connecting");
  outcome = PQstatus(c->pg) == CONNECTION_BAD ? 0 : connect_wait(c->pg);
  if (outcome != 0 || PQstatus(c->pg) != CONNECTION_OK) {
    if (outcome == 1) ladle_failresult(L, 0, "connection attempt interrupted");
    else if (outcome == 2) ladle_failresult(L, 0, "connection attempt timed out");
    else ladle_failresult(L, 0, "%s", push_oneline(L, PQerrorMessage(c->pg)));
    /* the details on top: what a caller needs to ask for a password */
    lua_pushliteral(L, "database");
    lua_setfield(L, -2, "kind");
    if (PQuser(c->pg)) {
      lua_pushstring(L, PQuser(c->pg));
      lua_setfield(L, -2, "user");
    }
    lua_pushboolean(L, outcome == 0 && PQconnectionNeedsPassword(c->pg));
    lua_setfield(L, -2, "needs_password");
    PQfinish(c->pg);
    c->pg = NULL;
    return 3;
  }
  PQsetNoticeReceiver(c->pg, notice_receiver, c);
  lua_pushvalue(L, 2);
  return 1;
}

/* ---------------------------------------------------------------------- */
/* Values: PostgreSQL text form -> Lua                                     */
/* ---------------------------------------------------------------------- */

enum { K_TEXT, K_INT, K_FLOAT, K_BOOL };
enum { SHAPE_SCALAR, SHAPE_ARRAY, SHAPE_VECTOR };

typedef struct Conv {
  unsigned char kind, shape;
} Conv;

static Conv conv_for(Oid type) {
  Conv cv = { K_TEXT, SHAPE_SCALAR };
  switch (type) {
    case 16: cv.kind = K_BOOL; break;                         /* bool */
    case 20: case 21: case 23: case 26: cv.kind = K_INT; break; /* int8 int2 int4 oid */
    case 700: case 701: cv.kind = K_FLOAT; break;             /* float4 float8 */
    case 22: case 30: cv.kind = K_INT; cv.shape = SHAPE_VECTOR; break; /* int2vector oidvector */
    case 1000: cv.kind = K_BOOL; cv.shape = SHAPE_ARRAY; break;
    case 1005: case 1007: case 1016: case 1028:
      cv.kind = K_INT; cv.shape = SHAPE_ARRAY; break;
    case 1021: case 1022: cv.kind = K_FLOAT; cv.shape = SHAPE_ARRAY; break;
    /* arrays of types whose elements stay in text form */
    case 143: case 199: case 651: case 791: case 1001: case 1002: case 1003:
    case 1008: case 1009: case 1014: case 1015: case 1034: case 1040:
    case 1041: case 1115: case 1182: case 1183: case 1185: case 1187:
    case 1231: case 1263: case 1270: case 1561: case 1563: case 2210:
    case 2211: case 2951: case 3221: case 3643: case 3807: case 4073:
    case 4090: case 4097:
      cv.shape = SHAPE_ARRAY; break;
    default: break;
  }
  return cv;
}

static void push_scalar(lua_State *L, const char *s, size_t len, int kind) {
  switch (kind) {
    case K_INT: {
      char *end;
      long long v;
      errno = 0;
      v = strtoll(s, &end, 10);
      if (errno == 0 && end != s && (size_t)(end - s) == len) {
        lua_pushinteger(L, (lua_Integer)v);
        return;
      }
      break;  /* out of range: keep the exact text */
    }
    case K_FLOAT: {
      char *end;
      double v = strtod(s, &end);
      if (end != s) {
        lua_pushnumber(L, (lua_Number)v);
        return;
      }
      break;
    }
    case K_BOOL:
      lua_pushboolean(L, len > 0 && s[0] == 't');
      return;
    default:
      break;
  }
  lua_pushlstring(L, s, len);
}

static void push_null(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &null_key);
}

static int is_array_space(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* Parses the server's text form of an array ("{1,NULL}", "{{a,b},{c,d}}",
   "[0:1]={x,y}") into nested Lua sequences; NULL elements become
   ladle.null so that a sequence keeps its length. p points at '{'. */
static const char *parse_array(lua_State *L, const char *p, int kind, int depth) {
  lua_Integer n = 0;
  if (depth > 6) luaL_error(L, "array nested too deeply");
  luaL_checkstack(L, 4, "array nested too deeply");
  lua_newtable(L);
  p++;
  while (is_array_space(*p)) p++;
  if (*p == '}') return p + 1;
  for (;;) {
    while (is_array_space(*p)) p++;
    if (*p == '{') {
      p = parse_array(L, p, kind, depth + 1);
    } else if (*p == '"') {
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for (p++; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1]) p++;
        luaL_addchar(&b, *p);
      }
      if (*p == '"') p++;
      luaL_pushresult(&b);
    } else {
      const char *start = p, *end;
      int escaped = 0;
      while (*p && *p != ',' && *p != '}') {
        if (*p == '\\' && p[1]) { escaped = 1; p++; }
        p++;
      }
      end = p;
      while (end > start && is_array_space(end[-1])) end--;
      if (end - start == 4 && strncasecmp(start, "NULL", 4) == 0) {
        push_null(L);
      } else if (escaped) {
        luaL_Buffer b;
        const char *q;
        luaL_buffinit(L, &b);
        for (q = start; q < end; q++) {
          if (*q == '\\' && q + 1 < end) q++;
          luaL_addchar(&b, *q);
        }
        luaL_pushresult(&b);
      } else {
        push_scalar(L, start, (size_t)(end - start), kind);
      }
    }
    lua_rawseti(L, -2, ++n);
    while (is_array_space(*p)) p++;
    if (*p == ',') { p++; continue; }
    if (*p == '}') return p + 1;
    luaL_error(L, "malformed array value from the server");
  }
}

static void push_vector(lua_State *L, const char *s) {
  lua_Integer n = 0;
  lua_newtable(L);
  while (*s) {
    const char *start;
    while (*s == ' ') s++;
    if (!*s) break;
    start = s;
    while (*s && *s != ' ') s++;
    push_scalar(L, start, (size_t)(s - start), K_INT);
    lua_rawseti(L, -2, ++n);
  }
}

static void push_value(lua_State *L, const char *s, size_t len, Conv cv) {
  if (cv.shape == SHAPE_ARRAY) {
    const char *p = s;
    if (*p == '[') {  /* explicit bounds: "[0:1]={...}" */
      p = strchr(p, '=');
      p = p ? p + 1 : s;
    }
    if (*p == '{') {
      parse_array(L, p, cv.kind, 1);
      return;
    }
  } else if (cv.shape == SHAPE_VECTOR) {
    push_vector(L, s);
    return;
  }
  push_scalar(L, s, len, cv.kind);
}

/* Pushes one row of res as a table keyed by column name (NULLs absent). */
static void push_row(lua_State *L, const PGresult *res, int row, int nfields) {
  int j;
  lua_createtable(L, 0, nfields);
  for (j = 0; j < nfields; j++) {
    if (PQgetisnull(res, row, j)) continue;
    push_value(L, PQgetvalue(res, row, j), (size_t)PQgetlength(res, row, j),
               conv_for(PQftype(res, j)));
    lua_setfield(L, -2, PQfname(res, j));
  }
}

static void push_fields(lua_State *L, const PGresult *res) {
  int j, nfields = PQnfields(res);
  lua_createtable(L, nfields, 0);
  for (j = 0; j < nfields; j++) {
    lua_pushstring(L, PQfname(res, j));
    lua_rawseti(L, -2, j + 1);
  }
}

/* The rows table of a successful result. */
static void push_rows(lua_State *L, const PGresult *res) {
  int i, ntuples = PQntuples(res), nfields = PQnfields(res);
  const char *affected = PQcmdTuples((PGresult *)res);
  lua_createtable(L, ntuples, 3);
  for (i = 0; i < ntuples; i++) {
    push_row(L, res, i, nfields);
    lua_rawseti(L, -2, i + 1);
  }
  push_fields(L, res);
  lua_setfield(L, -2, "fields");
  if (affected && *affected) {
    lua_pushinteger(L, (lua_Integer)strtoll(affected, NULL, 10));
    lua_setfield(L, -2, "affected_rows");
  }
  lua_pushstring(L, PQcmdStatus((PGresult *)res));
  lua_setfield(L, -2, "command");
}

/* ---------------------------------------------------------------------- */
/* Errors                                                                  */
/* ---------------------------------------------------------------------- */

static const struct { const char *key; int code; } error_fields[] = {
  { "severity", PG_DIAG_SEVERITY_NONLOCALIZED },
  { "sqlstate", PG_DIAG_SQLSTATE },
  { "message", PG_DIAG_MESSAGE_PRIMARY },
  { "detail", PG_DIAG_MESSAGE_DETAIL },
  { "hint", PG_DIAG_MESSAGE_HINT },
  { "position", PG_DIAG_STATEMENT_POSITION },
  { "internal_position", PG_DIAG_INTERNAL_POSITION },
  { "internal_query", PG_DIAG_INTERNAL_QUERY },
  { "context", PG_DIAG_CONTEXT },
  { "schema", PG_DIAG_SCHEMA_NAME },
  { "table", PG_DIAG_TABLE_NAME },
  { "column", PG_DIAG_COLUMN_NAME },
  { "datatype", PG_DIAG_DATATYPE_NAME },
  { "constraint", PG_DIAG_CONSTRAINT_NAME },
  { NULL, 0 }
};

/* Pushes the one-line message of a failed result (or of the connection,
   when res is NULL or carries no primary message). */
static const char *push_error_message(lua_State *L, PGconn *pg, const PGresult *res) {
  const char *severity = res ? PQresultErrorField(res, PG_DIAG_SEVERITY) : NULL;
  const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  if (primary) {
    lua_pushfstring(L, "%s: %s", severity ? severity : "ERROR", primary);
    return lua_tostring(L, -1);
  }
  if (res && *PQresultErrorMessage(res)) return push_oneline(L, PQresultErrorMessage(res));
  if (pg) return push_oneline(L, PQerrorMessage(pg));
  lua_pushliteral(L, "connection is closed");
  return lua_tostring(L, -1);
}

/* Keeps the details table on top as the last error of the connection at
   stack index 1, when there is one (conn:last_error). */
static void keep_last_error(lua_State *L) {
  if (luaL_testudata(L, 1, LADLE_CONN_MT) == NULL) return;
  lua_getiuservalue(L, 1, 1);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, UV_ERROR);
  lua_pop(L, 1);
}

/* Pushes nil, message, err: the library's failure triple. */
static int push_failure(lua_State *L, PGconn *pg, const PGresult *res) {
  int i;
  lua_pushnil(L);
  push_error_message(L, pg, res);
  lua_createtable(L, 0, 6);
  for (i = 0; res && error_fields[i].key; i++) {
    const char *v = PQresultErrorField(res, error_fields[i].code);
    if (v == NULL) continue;
    if (error_fields[i].code == PG_DIAG_STATEMENT_POSITION ||
        error_fields[i].code == PG_DIAG_INTERNAL_POSITION)
      lua_pushinteger(L, strtol(v, NULL, 10));
    else
      lua_pushstring(L, v);
    lua_setfield(L, -2, error_fields[i].key);
  }
  lua_getfield(L, -1, "message");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "message");
  } else {
    lua_pop(L, 1);
  }
  keep_last_error(L);
  return 3;
}

/* ---------------------------------------------------------------------- */
/* Parameters: Lua -> PostgreSQL text form                                 */
/* ---------------------------------------------------------------------- */

static int is_null(lua_State *L, int idx) {
  int null;
  if (lua_isnil(L, idx)) return 1;
  if (lua_type(L, idx) != LUA_TUSERDATA) return 0;
  push_null(L);
  null = lua_rawequal(L, idx, -1);
  lua_pop(L, 1);
  return null;
}

static void push_number_text(lua_State *L, int idx) {
  if (lua_isinteger(L, idx)) {
    lua_pushfstring(L, "%I", (LUAI_UACINT)lua_tointeger(L, idx));
  } else {
    double v = (double)lua_tonumber(L, idx);
    char buf[64];
    if (isnan(v)) lua_pushliteral(L, "NaN");
    else if (isinf(v)) lua_pushstring(L, v > 0 ? "Infinity" : "-Infinity");
    else {
      snprintf(buf, sizeof buf, "%.17g", v);
      lua_pushstring(L, buf);
    }
  }
}

static void push_array_literal(lua_State *L, int idx, int depth, int arg);

/* Pushes the array-literal form of one element at idx. */
static void push_array_element(lua_State *L, int idx, int depth, int arg) {
  switch (lua_type(L, idx)) {
    case LUA_TNUMBER: push_number_text(L, idx); return;
    case LUA_TBOOLEAN: lua_pushstring(L, lua_toboolean(L, idx) ? "t" : "f"); return;
    case LUA_TTABLE: push_array_literal(L, idx, depth + 1, arg); return;
    case LUA_TSTRING: {
      size_t len, i;
      const char *s = lua_tolstring(L, idx, &len);
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      luaL_addchar(&b, '"');
      for (i = 0; i < len; i++) {
        if (s[i] == '\0') luaL_argerror(L, arg, "string contains a zero byte");
        if (s[i] == '"' || s[i] == '\\') luaL_addchar(&b, '\\');
        luaL_addchar(&b, s[i]);
      }
      luaL_addchar(&b, '"');
      luaL_pushresult(&b);
      return;
    }
    default:
      if (is_null(L, idx)) { lua_pushliteral(L, "NULL"); return; }
      luaL_argerror(L, arg, lua_pushfstring(L, "cannot send a %s inside an array",
                                            luaL_typename(L, idx)));
  }
}

/* Pushes the PostgreSQL array literal of the Lua sequence at idx. */
static void push_array_literal(lua_State *L, int idx, int depth, int arg) {
  lua_Integer i, n;
  luaL_Buffer b;
  if (depth > 6) luaL_argerror(L, arg, "array nested too deeply");
  idx = lua_absindex(L, idx);
  luaL_checkstack(L, 6, "array nested too deeply");
  n = (lua_Integer)lua_rawlen(L, idx);
  luaL_buffinit(L, &b);
  luaL_addchar(&b, '{');
  for (i = 1; i <= n; i++) {
    if (i > 1) luaL_addchar(&b, ',');
    lua_rawgeti(L, idx, i);
    push_array_element(L, lua_gettop(L), depth, arg);
    lua_remove(L, -2);
    luaL_addvalue(&b);
  }
  luaL_addchar(&b, '}');
  luaL_pushresult(&b);
}

/* Pushes the text form of parameter at idx, or nil for SQL NULL. */
static void push_param(lua_State *L, int idx, int arg) {
  switch (lua_type(L, idx)) {
    case LUA_TNIL: lua_pushnil(L); return;
    case LUA_TBOOLEAN: lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false"); return;
    case LUA_TNUMBER: push_number_text(L, idx); return;
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      if (strlen(s) != len) luaL_argerror(L, arg, "string contains a zero byte");
      lua_pushvalue(L, idx);
      return;
    }
    case LUA_TTABLE: push_array_literal(L, idx, 1, arg); return;
    default:
      if (is_null(L, idx)) { lua_pushnil(L); return; }
      luaL_argerror(L, arg, lua_pushfstring(L, "cannot send a %s as a query parameter",
                                            luaL_typename(L, idx)));
  }
}

/* Sends the query whose SQL is at sql_idx and whose nparams parameters
   follow it: the simple protocol without parameters, the extended one with
   them. first_arg is the argument number of the first parameter, for
   error messages. Returns 1 when sent; otherwise pushes the failure triple
   and returns 0. */
/* The text form of nparams parameters starting at stack index first_idx
   (argument number first_arg, for messages), kept alive on the stack above
   the returned array. Raises on a value that cannot be sent. */
static const char **push_params(lua_State *L, int first_idx, int nparams, int first_arg) {
  const char **values;
  int i;
  if (nparams > 65535) luaL_error(L, "too many query parameters");
  luaL_checkstack(L, nparams + 8, "too many query parameters");
  values = (const char **)lua_newuserdatauv(L, sizeof(char *) * (size_t)nparams, 0);
  for (i = 0; i < nparams; i++) {
    push_param(L, first_idx + i, first_arg + i);
    values[i] = lua_tostring(L, -1);
  }
  return values;
}

/* Hands the query to libpq: the simple protocol when it can, which allows
   several statements in one string. Returns 1 when sent; otherwise pushes
   the failure triple and returns 0. */
static int send_prepared(lua_State *L, Conn *c, const char *sql, int nparams, const char **values) {
  int ok;
  if (nparams == 0 && PQpipelineStatus(c->pg) == PQ_PIPELINE_OFF)
    ok = PQsendQuery(c->pg, sql);
  else
    ok = PQsendQueryParams(c->pg, sql, nparams, NULL, values, NULL, NULL, 0);
  if (!ok) {
    push_failure(L, c->pg, NULL);
    return 0;
  }
  return 1;
}

/* The SQL at idx as a C string. libpq takes SQL up to its first zero byte,
   so a string holding one would be sent cut short (and a script's COMMIT
   with the rest): that is refused rather than half run. */
static const char *check_sql(lua_State *L, int idx) {
  size_t len;
  const char *sql = luaL_checklstring(L, idx, &len);
  const char *nul = memchr(sql, '\0', len);
  if (nul != NULL)
    luaL_argerror(L, idx, lua_pushfstring(L, "SQL contains a zero byte at byte %I",
                                          (LUAI_UACINT)(nul - sql + 1)));
  return sql;
}

static int send_query(lua_State *L, Conn *c, int sql_idx, int nparams, int first_arg) {
  const char *sql = check_sql(L, sql_idx);
  int top = lua_gettop(L), ok;
  const char **values = nparams > 0 ? push_params(L, sql_idx + 1, nparams, first_arg) : NULL;
  ok = send_prepared(L, c, sql, nparams, values);
  if (ok) lua_settop(L, top);
  return ok;
}

/* ---------------------------------------------------------------------- */
/* Running commands                                                        */
/* ---------------------------------------------------------------------- */

static ResultBox *new_result_box(lua_State *L) {
  ResultBox *box = (ResultBox *)lua_newuserdatauv(L, sizeof(ResultBox), 0);
  box->res = NULL;
  luaL_setmetatable(L, LADLE_RESULT_MT);
  return box;
}

static void box_set(ResultBox *box, PGresult *res) {
  if (box->res) PQclear(box->res);
  box->res = res;
}

static int result_gc(lua_State *L) {
  ResultBox *box = (ResultBox *)luaL_checkudata(L, 1, LADLE_RESULT_MT);
  box_set(box, NULL);
  return 0;
}

static int is_failure(ExecStatusType st) {
  return st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE ||
         st == PGRES_NONFATAL_ERROR;
}

/* Reads every result of the command in progress into box: the last one
   wins, except that the first failure is kept. In pipeline mode it stops
   at the sync that follows the statement; returns whether it saw it. */
static int collect_results(Conn *c, ResultBox *box) {
  PGresult *res;
  int failed = 0;
  while (c->pg && (res = next_result(c)) != NULL) {
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_PIPELINE_SYNC) {
      PQclear(res);
      return 1;
    }
    if (failed) {
      PQclear(res);
      continue;
    }
    failed = is_failure(st);
    box_set(box, res);
  }
  return 0;
}

/* Pushes rows (or true) or the failure for the result in the box at
   box_idx, and empties the box. */
static int push_outcome(lua_State *L, Conn *c, int box_idx, int want_rows) {
  ResultBox *box = (ResultBox *)lua_touserdata(L, box_idx);
  int nret;
  c->keep_copy = 0;
  if (c->pg == NULL) {
    box_set(box, NULL);
    drop_copy(c);
    return luaL_error(L, "connection closed: the query did not answer a second interrupt");
  }
  deliver_notices(L, c, 1);
  if (box->res == NULL || is_failure(PQresultStatus(box->res))) {
    nret = push_failure(L, c->pg, box->res);
  } else if (want_rows) {
    push_rows(L, box->res);
    if (c->copy) {
      lua_pushlstring(L, c->copy, c->copy_len);
      lua_setfield(L, -2, "copy");
    }
    nret = 1;
  } else {
    lua_pushboolean(L, 1);
    nret = 1;
  }
  box_set((ResultBox *)lua_touserdata(L, box_idx), NULL);
  drop_copy(c);
  return nret;
}

/* Common tail of query and exec. */
static int finish_command(lua_State *L, Conn *c, int want_rows) {
  ResultBox *box = new_result_box(L);
  collect_results(c, box);
  return push_outcome(L, c, lua_gettop(L), want_rows);
}

/* conn:query(sql, ...) -> rows | nil, message, err. What COPY ... TO STDOUT
   sends comes back whole as rows.copy. */
static int conn_query(lua_State *L) {
  Conn *c = check_conn(L, 1);
  int nparams = lua_gettop(L) - 2;
  if (!send_query(L, c, 2, nparams < 0 ? 0 : nparams, 3)) return 3;
  lua_settop(L, 1);
  drop_copy(c);
  c->keep_copy = 1;
  return finish_command(L, c, 1);
}

/* conn:exec(script) -> true | nil, message, err */
static int conn_exec(lua_State *L) {
  Conn *c = check_conn(L, 1);
  check_sql(L, 2);
  lua_settop(L, 2);
  if (!send_query(L, c, 2, 0, 3)) return 3;
  lua_settop(L, 1);
  return finish_command(L, c, 0);
}

/* conn:send(sql, ...) -> true | nil, message, err
   Sends one statement without waiting for it (libpq's pipeline mode);
   conn:receive() returns the results in the order the statements were
   sent. Several statements may be sent before the first is received, so
   that the server works through them while the program reads; several
   connections may be kept busy at once. Each statement is followed by a
   sync, so a failing one does not cancel the next. */
static int conn_send(lua_State *L) {
  Conn *c = check_open(L, 1);
  const char *sql = check_sql(L, 2);
  int nparams = lua_gettop(L) - 2;
  const char **values;
  if (c->busy == BUSY_ROWS) return luaL_error(L, "connection is busy: a rows() loop on it is still open");
  /* everything that may raise comes before the connection changes mode */
  values = push_params(L, 3, nparams, 3);
  if (c->sent == 0) {
    if (PQtransactionStatus(c->pg) == PQTRANS_ACTIVE)
      return ladle_failresult(L, 0, "cannot send: a command is still running on this connection");
    if (!PQenterPipelineMode(c->pg)) return push_failure(L, c->pg, NULL);
  }
  if (!send_prepared(L, c, sql, nparams, values)) {
    if (c->sent == 0) PQexitPipelineMode(c->pg);
    return 3;
  }
  c->sent++;
  c->busy = BUSY_SENT;
  if (!PQpipelineSync(c->pg)) return push_failure(L, c->pg, NULL);  /* flushes too */
  lua_pushboolean(L, 1);
  return 1;
}

/* conn:receive() -> rows | nil, message, err: what query() would have
   returned for the oldest statement sent with send() and not received. */
static int conn_receive(lua_State *L) {
  Conn *c = check_open(L, 1);
  ResultBox *box;
  PGresult *res;
  if (c->busy != BUSY_SENT || c->sent <= 0)
    return luaL_error(L, "nothing to receive: no statement was sent with send()");
  lua_settop(L, 1);
  box = new_result_box(L);
  /* the statement's results, then the sync that follows it */
  if (!collect_results(c, box)) {
    while (c->pg && (res = next_result(c)) != NULL) {
      int synced = PQresultStatus(res) == PGRES_PIPELINE_SYNC;
      PQclear(res);
      if (synced) break;
    }
  }
  if (--c->sent == 0) {
    c->busy = 0;
    if (c->pg) PQexitPipelineMode(c->pg);
  }
  return push_outcome(L, c, lua_gettop(L), 1);
}

/* ladle.pg.core.wait({conn, ...}) -> index
   Waits until one of the connections, each with statements sent with
   send(), has a result that receive() returns without waiting; reads what
   all of them send meanwhile, so that no server stalls on a full socket
   while the program waits for another. Ctrl-C sends every one a cancel
   request, as query() does for one connection. */
#define WAIT_MAX 64
static int pg_wait(lua_State *L) {
  Conn *cs[WAIT_MAX];
  struct pollfd fds[WAIT_MAX];
  SigintGuard guard;
  int n, i, ready = 0, cancelled = 0;
  luaL_checktype(L, 1, LUA_TTABLE);
  n = (int)lua_rawlen(L, 1);
  luaL_argcheck(L, n > 0 && n <= WAIT_MAX, 1, "between 1 and 64 connections expected");
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, 1, i + 1);
    cs[i] = (Conn *)luaL_testudata(L, -1, LADLE_CONN_MT);
    lua_pop(L, 1);
    if (cs[i] == NULL) return luaL_argerror(L, 1, "connections expected");
    if (cs[i]->pg == NULL) return luaL_argerror(L, 1, "a connection is closed");
    if (cs[i]->busy != BUSY_SENT) return luaL_argerror(L, 1, "a connection has nothing sent to wait for");
  }
  sigint_catch(&guard);
  for (i = 0; i < n; i++) PQconsumeInput(cs[i]->pg);  /* the sockets never block */
  while (!ready) {
    int r;
    for (i = 0; i < n && !ready; i++)
      if (!PQisBusy(cs[i]->pg)) ready = i + 1;
    if (ready || sigint_count > 1) break;
    if (sigint_count == 1 && !cancelled) {
      for (i = 0; i < n; i++) send_cancel(cs[i]->pg);
      cancelled = 1;
    }
    for (i = 0; i < n; i++) {
      fds[i].fd = PQsocket(cs[i]->pg);
      fds[i].events = POLLIN;
      fds[i].revents = 0;
    }
    r = poll(fds, (nfds_t)n, 200);
    if (r < 0 && errno != EINTR) break;
    for (i = 0; i < n && r > 0; i++)
      if (fds[i].revents) PQconsumeInput(cs[i]->pg);
  }
  sigint_release(&guard);
  if (!ready)  /* interrupted, or a socket failed: receive() reports which */
    return ladle_failresult(L, 0, "interrupted while waiting for the server");
  lua_pushinteger(L, ready);
  return 1;
}

/* ---------------------------------------------------------------------- */
/* rows(): single-row mode                                                 */
/* ---------------------------------------------------------------------- */

static Cursor *to_cursor(lua_State *L, int idx) {
  return (Cursor *)luaL_checkudata(L, idx, LADLE_CURSOR_MT);
}

/* Reads and drops whatever the command still has to say. */
static void cursor_set(Cursor *cur, PGresult *res) {
  if (cur->res) PQclear(cur->res);
  cur->res = res;
}

static void cursor_drain(Cursor *cur) {
  PGresult *res;
  cursor_set(cur, NULL);
  if (!cur->open) return;
  while (cur->conn->pg && (res = next_result(cur->conn)) != NULL) PQclear(res);
  cur->open = 0;
  cur->conn->busy = 0;
}

static int cursor_close(lua_State *L) {
  Cursor *cur = to_cursor(L, 1);
  cursor_drain(cur);
  return 0;
}

/* The cursor owns the result of the row it converts, so that a Lua error
   while converting leaks nothing (the cursor's close frees it). */
static int cursor_next(lua_State *L) {
  Cursor *cur = to_cursor(L, lua_upvalueindex(1));
  Conn *c = cur->conn;
  if (!cur->open) return 0;
  if (c->pg == NULL) {
    cur->open = 0;
    return luaL_error(L, "connection is closed");
  }
  lua_getiuservalue(L, lua_upvalueindex(1), 1);  /* the connection */
  for (;;) {
    PGresult *res = next_result(c);
    ExecStatusType st;
    if (res == NULL) {
      cur->open = 0;
      c->busy = 0;
      if (c->pg == NULL)
        return luaL_error(L, "connection closed: the query did not answer a second interrupt");
      deliver_notices(L, c, -1);
      return 0;
    }
    cursor_set(cur, res);
    st = PQresultStatus(res);
    if (st == PGRES_SINGLE_TUPLE) {
      push_row(L, res, 0, PQnfields(res));
      cursor_set(cur, NULL);
      deliver_notices(L, c, -2);
      return 1;
    }
    if (is_failure(st)) {
      push_error_message(L, c->pg, res);
      cursor_drain(cur);
      return lua_error(L);
    }
    cursor_set(cur, NULL);  /* end of one statement's rows; read on */
  }
}

/* conn:rows(sql, ...) -> iterator for a generic for, with a to-be-closed
   cursor so that break or an error releases the connection. */
static int conn_rows(lua_State *L) {
  Conn *c = check_conn(L, 1);
  int nparams = lua_gettop(L) - 2;
  Cursor *cur;
  check_sql(L, 2);
  if (nparams < 0) nparams = 0;
  cur = (Cursor *)lua_newuserdatauv(L, sizeof(Cursor), 1);
  cur->conn = c;
  cur->open = 0;
  cur->res = NULL;
  luaL_setmetatable(L, LADLE_CURSOR_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  lua_insert(L, 2);  /* stack: conn, cursor, sql, params... */
  if (!send_query(L, c, 3, nparams, 3)) {
    lua_pop(L, 1);   /* the err table: raise the message */
    return lua_error(L);
  }
  /* from here the cursor's close reads what the query sends */
  cur->open = 1;
  c->busy = BUSY_ROWS;
  if (!PQsetSingleRowMode(c->pg))
    return luaL_error(L, "could not switch to single-row mode");
  lua_pushvalue(L, 2);
  lua_pushcclosure(L, cursor_next, 1);
  lua_pushnil(L);
  lua_pushnil(L);
  lua_pushvalue(L, 2);
  return 4;
}

/* ---------------------------------------------------------------------- */
/* Other connection methods                                                */
/* ---------------------------------------------------------------------- */

typedef char *(*Escaper)(PGconn *, const char *, size_t);

/* Quotes argument 2 with libpq's escaper; an invalid string for the
   connection's encoding raises. */
static int push_escaped(lua_State *L, Escaper escape) {
  Conn *c = check_open(L, 1);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  char *quoted = escape(c->pg, s, len);
  if (quoted == NULL) {
    push_oneline(L, PQerrorMessage(c->pg));
    return lua_error(L);
  }
  lua_pushstring(L, quoted);
  PQfreemem(quoted);
  return 1;
}

static int conn_escape_literal(lua_State *L) {
  return push_escaped(L, PQescapeLiteral);
}

static int conn_escape_identifier(lua_State *L) {
  return push_escaped(L, PQescapeIdentifier);
}

static int conn_server_version(lua_State *L) {
  Conn *c = check_open(L, 1);
  lua_pushinteger(L, PQserverVersion(c->pg));
  return 1;
}

static int conn_transaction_status(lua_State *L) {
  static const char *const names[] = { "idle", "active", "intrans", "inerror", "unknown" };
  Conn *c = check_open(L, 1);
  PGTransactionStatusType st = PQtransactionStatus(c->pg);
  lua_pushstring(L, names[st <= PQTRANS_UNKNOWN ? st : PQTRANS_UNKNOWN]);
  return 1;
}

static int conn_is_closed(lua_State *L) {
  Conn *c = to_conn(L, 1);
  lua_pushboolean(L, c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD);
  return 1;
}

static int conn_parameter(lua_State *L) {
  Conn *c = check_open(L, 1);
  const char *v = PQparameterStatus(c->pg, luaL_checkstring(L, 2));
  if (v) lua_pushstring(L, v);
  else lua_pushnil(L);
  return 1;
}

/* conn:info() -> what the connection is to, without secrets. */
static int conn_info(lua_State *L) {
  Conn *c = check_open(L, 1);
  const char *host = PQhost(c->pg);
  lua_createtable(L, 0, 6);
  lua_pushstring(L, PQdb(c->pg));
  lua_setfield(L, -2, "dbname");
  lua_pushstring(L, PQuser(c->pg));
  lua_setfield(L, -2, "user");
  if (host) {
    lua_pushstring(L, host);
    lua_setfield(L, -2, "host");
  }
  lua_pushstring(L, PQport(c->pg));
  lua_setfield(L, -2, "port");
  lua_pushinteger(L, PQbackendPID(c->pg));
  lua_setfield(L, -2, "backend_pid");
  lua_pushinteger(L, PQserverVersion(c->pg));
  lua_setfield(L, -2, "server_version");
  return 1;
}

/* conn:on_notice(fn | nil) -> previous handler */
static int conn_on_notice(lua_State *L) {
  to_conn(L, 1);
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 2);
  lua_getiuservalue(L, 1, 1);
  lua_getfield(L, 3, UV_HANDLER);
  lua_pushvalue(L, 2);
  lua_setfield(L, 3, UV_HANDLER);
  return 1;
}

/* conn:last_error() -> the details table of the last command that failed
   on this connection (what query/exec/receive returned third), or nil:
   for code that only sees a failure as a raised message (a Lua delta's
   assert) and wants its sqlstate, detail and hint. */
static int conn_last_error(lua_State *L) {
  to_conn(L, 1);
  lua_getiuservalue(L, 1, 1);
  lua_getfield(L, -1, UV_ERROR);
  return 1;
}

/* conn:notices() -> the notices kept since the last call (oldest first) */
static int conn_notices(lua_State *L) {
  Conn *c = to_conn(L, 1);
  deliver_notices(L, c, 1);
  lua_getiuservalue(L, 1, 1);
  lua_getfield(L, -1, UV_KEPT);
  lua_newtable(L);
  lua_setfield(L, -3, UV_KEPT);
  return 1;
}

static int conn_tostring(lua_State *L) {
  Conn *c = to_conn(L, 1);
  if (c->pg == NULL) {
    lua_pushliteral(L, "ladle.pg.conn (closed)");
  } else {
    const char *host = PQhost(c->pg);
    lua_pushfstring(L, "ladle.pg.conn: %s@%s:%s/%s", PQuser(c->pg),
                    host ? host : "", PQport(c->pg), PQdb(c->pg));
  }
  return 1;
}

/* ---------------------------------------------------------------------- */
/* ladle.null                                                              */
/* ---------------------------------------------------------------------- */

static int null_tostring(lua_State *L) {
  lua_pushliteral(L, "null");
  return 1;
}

static void push_null_sentinel(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &null_key) != LUA_TNIL) return;
  lua_pop(L, 1);
  lua_newuserdatauv(L, 0, 0);
  if (luaL_newmetatable(L, LADLE_NULL_MT)) {
    lua_pushcfunction(L, null_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &null_key);
}

/* ladle.pg.core.conninfo_split(target) -> conninfo, password, secrets
                                            | nil, message.
   For handing a connection target to a libpq program (pg_dump, psql): the
   conninfo goes on its command line with every setting the target makes
   (so it keeps its precedence over a service file) except the secrets,
   the settings libpq itself never displays (dispchar "*": password,
   sslpassword), which come back in the table `secrets` (keyword ->
   value), the password also on its own: the caller passes it as
   PGPASSWORD, so that it never shows in a process listing. libpq's
   message for a target it cannot read may echo the target: the Lua half
   masks it. */
static void add_conninfo_setting(luaL_Buffer *b, const char *keyword, const char *value) {
  if (luaL_bufflen(b) > 0) luaL_addchar(b, ' ');
  luaL_addstring(b, keyword);
  luaL_addstring(b, "='");
  for (; *value; value++) {
    if (*value == '\\' || *value == '\'') luaL_addchar(b, '\\');
    luaL_addchar(b, *value);
  }
  luaL_addchar(b, '\'');
}

static int is_secret(const PQconninfoOption *o) {
  return o->dispchar != NULL && o->dispchar[0] == '*';
}

static int pg_conninfo_split(lua_State *L) {
  const char *target = luaL_optstring(L, 1, "");
  PQconninfoOption *opts, *o;
  const char *password = NULL;
  char *err = NULL;
  luaL_Buffer b;
  if (!looks_like_conninfo(target)) {  /* a service name */
    luaL_buffinit(L, &b);
    add_conninfo_setting(&b, "service", target);
    luaL_pushresult(&b);
    return 1;
  }
  opts = PQconninfoParse(target, &err);
  if (opts == NULL) {
    ladle_failresult(L, 0, "%s", push_oneline(L, err ? err : "out of memory"));
    if (err) PQfreemem(err);
    return 3;
  }
  /* the secrets first: a buffer in use owns the top of the stack */
  lua_newtable(L);
  for (o = opts; o->keyword; o++) {
    if (o->val == NULL || !is_secret(o)) continue;
    if (strcmp(o->keyword, "password") == 0) password = o->val;
    lua_pushstring(L, o->val);
    lua_setfield(L, -2, o->keyword);
  }
  luaL_buffinit(L, &b);
  for (o = opts; o->keyword; o++) {
    if (o->val != NULL && !is_secret(o)) add_conninfo_setting(&b, o->keyword, o->val);
  }
  luaL_pushresult(&b);     /* secrets, conninfo */
  if (password) lua_pushstring(L, password);
  else lua_pushnil(L);
  lua_rotate(L, -3, -1);   /* conninfo, password, secrets */
  PQconninfoFree(opts);
  return 3;
}

/* ladle.pg.core.secret_keywords() -> {keyword, ...}: the settings libpq
   marks as secret (dispchar "*"), for masking them in text. */
static int pg_secret_keywords(lua_State *L) {
  PQconninfoOption *opts = PQconndefaults(), *o;
  lua_Integer n = 0;
  lua_newtable(L);
  if (opts == NULL) return 1;
  for (o = opts; o->keyword; o++) {
    if (is_secret(o)) {
      lua_pushstring(L, o->keyword);
      lua_rawseti(L, -2, ++n);
    }
  }
  PQconninfoFree(opts);
  return 1;
}

static int pg_libpq_version(lua_State *L) {
  lua_pushinteger(L, PQlibVersion());
  return 1;
}

/* ---------------------------------------------------------------------- */
/* Registration                                                            */
/* ---------------------------------------------------------------------- */

static const luaL_Reg conn_methods[] = {
  { "query", conn_query },
  { "exec", conn_exec },
  { "rows", conn_rows },
  { "send", conn_send },
  { "receive", conn_receive },
  { "escape_literal", conn_escape_literal },
  { "escape_identifier", conn_escape_identifier },
  { "server_version", conn_server_version },
  { "transaction_status", conn_transaction_status },
  { "is_closed", conn_is_closed },
  { "parameter", conn_parameter },
  { "info", conn_info },
  { "on_notice", conn_on_notice },
  { "notices", conn_notices },
  { "last_error", conn_last_error },
  { "close", conn_close },
  { NULL, NULL }
};

static const luaL_Reg conn_meta[] = {
  { "__gc", conn_close },
  { "__close", conn_close },
  { "__tostring", conn_tostring },
  { "__index", NULL },  /* placeholder: the methods table */
  { NULL, NULL }
};

static const luaL_Reg cursor_meta[] = {
  { "__gc", cursor_close },
  { "__close", cursor_close },
  { NULL, NULL }
};

static const luaL_Reg result_meta[] = {
  { "__gc", result_gc },
  { NULL, NULL }
};

static const luaL_Reg pg_functions[] = {
  { "connect", pg_connect },
  { "wait", pg_wait },
  { "libpq_version", pg_libpq_version },
  { "conninfo_split", pg_conninfo_split },
  { "secret_keywords", pg_secret_keywords },
  { NULL, NULL }
};

/* Idempotent: busted reopens modules in one state, so metatables that
   already exist are reused as they are. */
int luaopen_ladle_pg_core(lua_State *L) {
  luaL_newlib(L, pg_functions);
  if (luaL_newmetatable(L, LADLE_CONN_MT)) {
    luaL_setfuncs(L, conn_meta, 0);
    luaL_newlib(L, conn_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_getfield(L, -1, "__index");
  lua_setfield(L, -3, "methods");  /* for the Lua half to extend */
  lua_pop(L, 1);
  if (luaL_newmetatable(L, LADLE_CURSOR_MT)) luaL_setfuncs(L, cursor_meta, 0);
  lua_pop(L, 1);
  if (luaL_newmetatable(L, LADLE_RESULT_MT)) luaL_setfuncs(L, result_meta, 0);
  lua_pop(L, 1);
  push_null_sentinel(L);
  lua_setfield(L, -2, "null");
  return 1;
}
