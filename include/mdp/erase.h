/* Erasure (GDPR Art. 17, docs/privacy.md §6): `mdp dsar erase` as a journaled job over every store
 * the data inventory lists, its certificate, the hash-chained erasure log and its verification.
 *
 * The job writes its plan first (_meta/erasure/pending/<id>.json: every object, file, row and
 * item it will touch; it names the subject in clear because a rerun needs the ids, and it is
 * removed when the certificate is written), then runs idempotent steps, each leaving every file in
 * its old or its new state, so a kill -9 anywhere is finished by running the same erasure again:
 * a ledger entry (_meta/ledger/, the retention ledger) listing every raw rewrite; Supabase rows (one
 * transaction, child tables first); state-store items; raw objects (rewritten without the person's
 * records, new content-addressed name, old deleted after the new is written, curate's record of
 * what it took in updated); landing and quarantine objects (rewritten in place); published Parquet
 * files holding the person (rewritten by DuckDB into a new run folder, a new manifest, then the old
 * files deleted; superseded files holding the person deleted); the serving snapshot; leftovers of
 * unfinished writes holding the person; the state store compacted so deleted items leave the file.
 * Then an independent re-scan of every store (mdp_erase_scan), and the certificate: JSON without
 * personal data (the subject by keyed hash), per store what was removed or rewritten (counts, old
 * and new SHA-256), the scan's result, a SHA-256 and an HMAC-SHA256 over it, appended to
 * _meta/erasure/log/<seq>.json, each entry naming the previous entry's hash. */
#ifndef MDP_ERASE_H
#define MDP_ERASE_H

#include <stddef.h>
#include <stdint.h>
#include "mdp/buf.h"
#include "mdp/err.h"

struct mdp_inventory;
struct mdp_lake;
struct mdp_engine;
struct mdp_config;

#define MDP_ERASE_KEY_MAX 64

/* The key of the certificates' HMAC and of the subject's keyed hashes. */
struct mdp_erase_key {
    unsigned char key[MDP_ERASE_KEY_MAX];
    size_t len;
    char source[96]; /* "env:<NAME>" (the configured pseudonym key) or "state:erasure/hmac_key" */
};

/* Fills k with the configured pseudonym key when the environment variable env_name (may be NULL)
 * is set and not empty (its bytes, at most MDP_ERASE_KEY_MAX), else with the lake's own erasure
 * key: 32 random bytes kept in the state store (table "erasure", item "hmac_key"), made when
 * missing if create is non-zero. Returns 0, MDP_ERR_NOT_FOUND (no key yet and create is 0: k is
 * empty, len 0), MDP_ERR_IO, MDP_ERR_CRYPTO or MDP_ERR_NOMEM, with d. */
int mdp_erase_key_load(struct mdp_lake *lake, const char *env_name, int create,
                       struct mdp_erase_key *k, struct mdp_diag *d);

struct mdp_erase_opts {
    const char *user_id;       /* the subject: a user_id, or NULL with email */
    const char *email;         /* or the address */
    const char *conninfo;      /* Supabase (libpq connection string, never logged); NULL: skipped */
    struct mdp_erase_key *key; /* len 0: the lake has no key yet; the run makes it (not a
                                  dry run, and only for a subject that exists) */
    const struct mdp_config *cfg; /* the GA4 source (user deletion requests); NULL: none */
    int dry_run;                  /* only the plan: nothing written */
    const char *crash_after; /* fault-injection builds: a step after which the job kills itself */
    /* NULL, or called once (not in a dry run) when the subject is known or a pending plan found,
     * before anything is written: the CLI takes the lake's lease there (mdp/lease.h), so an
     * unknown person changes nothing. A non-zero return ends the run with it (d set by begin). */
    int (*begin)(void *ud, struct mdp_diag *d);
    void *begin_ud;
};

/* Erases the subject of o from every store of the lake (see above). e runs the Parquet rewrites
 * and lookups. With dry_run out (the caller's buffer, reset and filled; freed with
 * mdp_buf_cleanup) receives the plan as JSON (the subject by keyed hash) and nothing changes;
 * else the certificate as appended to the erasure log. Returns 0, MDP_ERR_NOT_FOUND (no such user
 * in the lake, its Supabase or a pending erasure: nothing changed), MDP_ERR_INVALID (neither id
 * nor address), MDP_ERR_CONFLICT (the re-scan found survivors: the certificate is written anyway,
 * saying so), or the failing step's error (MDP_ERR_IO, MDP_ERR_ENGINE, MDP_ERR_PARSE,
 * MDP_ERR_NOMEM) with d; the plan stays pending and a rerun finishes it. */
int mdp_erase_run(const struct mdp_inventory *inv, struct mdp_lake *lake, struct mdp_engine *e,
                  const struct mdp_erase_opts *o, struct mdp_buf *out, struct mdp_diag *d);

/* One survivor the scan found: where (a lake key, "parquet:<key>" or "supabase:<table>"), what
 * matched ("user_id", "email", "email_sha256") and how many rows (-1 for bytes). Borrowed for the
 * call. */
typedef int (*mdp_erase_survivor_cb)(const char *where, const char *what, int64_t n, void *ud);

/* The independent re-scan: walks the lake's folder on disk (every file: temporary files, the
 * state store and its log, superseded run folders, landing; not _meta/erasure/, which holds the
 * pending plan) and greps the bytes of each for the user id, the address and its SHA-256 (ASCII
 * case-insensitively; the serving snapshot for the id's 16 bytes), queries every Parquet file
 * through DuckDB (each row as text), and with conninfo every Supabase table of the inventory by
 * its subject keys. email may be NULL. cb (may be NULL) sees each survivor; *out_files and
 * *out_survivors (may be NULL) count files scanned and survivors. Returns 0 (also with
 * survivors), or MDP_ERR_IO / MDP_ERR_ENGINE / MDP_ERR_NOMEM with d. */
int mdp_erase_scan(const struct mdp_inventory *inv, struct mdp_lake *lake, struct mdp_engine *e,
                   const char *user_id, const char *email, const char *conninfo,
                   mdp_erase_survivor_cb cb, void *ud, int64_t *out_files, int64_t *out_survivors,
                   struct mdp_diag *d);

/* Checks a certificate (text, len bytes, borrowed): its SHA-256 and HMAC under key, that the
 * erasure log holds it unchanged at its seq, and the log's chain up to it. With user_id or email
 * (may be NULL: the subject is known to the one asking) also that the certificate is about that
 * subject and the survivor scan again (conninfo as mdp_erase_scan). report (the caller's buffer,
 * reset and filled) gets one line per check. Returns 0 when all hold, MDP_ERR_PARSE naming the
 * first that fails (a tampered certificate, a broken chain, another subject), MDP_ERR_CONFLICT
 * when the scan finds survivors, or MDP_ERR_IO / MDP_ERR_ENGINE / MDP_ERR_NOMEM, with d. */
int mdp_erase_verify(const struct mdp_inventory *inv, struct mdp_lake *lake, struct mdp_engine *e,
                     const struct mdp_erase_key *key, const char *text, size_t len,
                     const char *user_id, const char *email, const char *conninfo,
                     struct mdp_buf *report, struct mdp_diag *d);

#endif
