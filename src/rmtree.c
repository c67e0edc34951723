/*
 * rmtree.c: rm -rf that never follows links, for sys.rmtree and for the
 * sandbox guard (which must work from an atexit handler, without Lua).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

#include "ladle.h"

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st; (void)flag; (void)ftw;
  if (remove(path) < 0 && errno != ENOENT) return -1;
  return 0;
}

int ladle_rmtree(const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : -1;
  return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
