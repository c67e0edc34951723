/*
 * box.c: the one file-handle wrapper of the C modules.
 *
 * A box is a userdata created before the FILE* or DIR* it will own, as
 * liolib creates a stream before fopen: whatever Lua error happens while
 * the handle is open (out of memory while building a string or a table),
 * the garbage collector closes it. ladle_box_close is the one idempotent
 * close, run by C code when it is done and by __gc and __close.
 */
#include <errno.h>
#include <sys/stat.h>

#include "ladle.h"

static int close_file(void *handle) {
  return fclose((FILE *)handle);
}

static int close_dir(void *handle) {
  return closedir((DIR *)handle);
}

int ladle_box_close(ladle_Box *box) {
  void *handle = box->handle;
  if (handle == NULL) return 0;
  box->handle = NULL;
  return box->closef(handle);
}

static int box_gc(lua_State *L) {
  ladle_box_close((ladle_Box *)luaL_checkudata(L, 1, LADLE_BOX_MT));
  return 0;
}

static const luaL_Reg box_meta[] = {
  { "__gc", box_gc },
  { "__close", box_gc },
  { NULL, NULL }
};

ladle_Box *ladle_newbox(lua_State *L) {
  ladle_Box *box = (ladle_Box *)lua_newuserdatauv(L, sizeof(ladle_Box), 0);
  box->handle = NULL;
  box->closef = NULL;
  if (luaL_newmetatable(L, LADLE_BOX_MT)) luaL_setfuncs(L, box_meta, 0);
  lua_setmetatable(L, -2);
  return box;
}

FILE *ladle_box_fopen(ladle_Box *box, const char *path, const char *mode) {
  FILE *f = fopen(path, mode);
  if (f) {
    box->handle = f;
    box->closef = close_file;
  }
  return f;
}

DIR *ladle_box_opendir(ladle_Box *box, const char *path) {
  DIR *dir = opendir(path);
  if (dir) {
    box->handle = dir;
    box->closef = close_dir;
  }
  return dir;
}

/* The file is read in luaL_Buffer pieces: no size is trusted in advance
   (a file may grow while it is read, or be a pipe). */
int ladle_readfile(lua_State *L, const char *path, ladle_ChunkFn each, void *ud) {
  ladle_Box *box = ladle_newbox(L);
  FILE *f = ladle_box_fopen(box, path, "rb");
  luaL_Buffer b;
  struct stat st;
  size_t n, want = LUAL_BUFFERSIZE;
  if (f == NULL) return ladle_fileresult(L, 0, path);
  /* the whole file in one buffer of its size: a growing buffer would
     hold up to half as much again, and copy itself on the way */
  if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
      (unsigned long long)st.st_size < (unsigned long long)((size_t)-1 / 2))
    want = (size_t)st.st_size + 1;
  luaL_buffinit(L, &b);
  for (;;) {
    char *p = luaL_prepbuffsize(&b, want);
    n = fread(p, 1, want, f);
    if (each) each(ud, p, n);
    luaL_addsize(&b, n);
    if (n < want) break;
    want = LUAL_BUFFERSIZE;  /* the file grew since: on in chunks */
  }
  if (ferror(f)) {
    ladle_fileresult(L, 0, path);  /* reads errno before the close */
    ladle_box_close(box);
    return 3;
  }
  ladle_box_close(box);
  luaL_pushresult(&b);
  lua_remove(L, -2);  /* the box */
  return 1;
}
