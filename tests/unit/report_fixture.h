/* The lake of the report's tests (report_fixture.c). */
#ifndef MDP_REPORT_FIXTURE_H
#define MDP_REPORT_FIXTURE_H

#include <stddef.h>

/* "now" for the fixture: half of October 2026 has passed */
#define REPORT_FIXTURE_NOW "2026-10-16T12:00:00Z"

/* Builds the fixture lake in dir (created). Returns 0, or an error code with err set. */
int report_fixture_build(const char *dir, char *err, size_t errsz);

#endif
