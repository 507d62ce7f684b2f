/* Helpers shared by the unit tests: temporary folders, files, and the cmocka includes. */
#ifndef MDP_TESTUTIL_H
#define MDP_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Makes a fresh folder under $TMPDIR; returns a static-lifetime path (free with tu_rmdir). */
char *tu_tmpdir(void);
/* rm -rf path, then frees it. */
void tu_rmdir(char *path);
/* Reads a whole file; returns malloc'd NUL-terminated bytes or NULL. */
char *tu_read(const char *path, size_t *len);
int tu_write(const char *path, const char *data, size_t len);
/* $MDP_TEST_DATA/<rel> (tests/data), in a static buffer. */
const char *tu_data(const char *rel);

/* The built-in configuration with lake.dir = dir and the landing folder <dir>/landing (its path
 * also written to landing, n bytes). */
struct mdp_config;
void tu_lake_config(const char *dir, struct mdp_config *cfg, char *landing, size_t n);

#endif
