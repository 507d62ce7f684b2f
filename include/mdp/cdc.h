/* Change data capture from Supabase's PostgreSQL over logical replication (docs/cdc.md): a
 * decoder of the pgoutput protocol (protocol versions 1 and 2, the messages of the PostgreSQL
 * manual's "Logical Replication Message Formats"), and the consumer behind `mdp cdc setup|run|lag`,
 * which writes each group of committed transactions to raw/supabase_cdc/<table>/dt=D/ before it
 * confirms their LSN to the server. The decoder is pure (no I/O), so the fuzz target drives it. */
#ifndef MDP_CDC_H
#define MDP_CDC_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include "mdp/buf.h"
#include "mdp/err.h"

struct mdp_lake;

/* ---- LSNs ---- */
/* Writes lsn as PostgreSQL prints it ("16/B374D848") into out (at least 18 bytes). */
void mdp_lsn_format(uint64_t lsn, char out[18]);
/* Parses "X/Y" (hexadecimal halves) into *out_lsn. Returns 0 or MDP_ERR_PARSE. */
int mdp_lsn_parse(const char *s, uint64_t *out_lsn);

/* ---- the pgoutput decoder ---- */
struct mdp_pgo;

struct mdp_pgo_col {
    char *name;
    uint32_t type_oid;
    int32_t typmod;
    int key; /* part of the replica identity (the primary key by default) */
};

/* A relation as its last Relation message described it (owned by the decoder). */
struct mdp_pgo_rel {
    uint32_t oid;
    char *nspname, *relname;
    char replident; /* 'd' default (primary key), 'n' nothing, 'f' full, 'i' index */
    int ncols;
    struct mdp_pgo_col *cols;
};

/* One column value of a tuple: kind 'n' (NULL), 'u' (an unchanged TOASTed value, not sent), 't'
 * (text form) or 'b' (binary form); data/len point into the decoded message. */
struct mdp_pgo_value {
    char kind;
    const char *data;
    uint32_t len;
};

struct mdp_pgo_tuple {
    int ncols;
    const struct mdp_pgo_value *v;
};

/* A decoded message; everything it points to is borrowed from the decoder and the message bytes,
 * valid until the next decode call. Fields not listed for a kind are zero. */
struct mdp_pgo_msg {
    char kind;        /* the message type byte: B C O R Y I U D T M S E c A */
    uint64_t lsn;     /* B: final (commit) LSN; C, c: commit LSN; O: LSN at the origin; M */
    uint64_t end_lsn; /* C, c: end of the commit record (what a consumer confirms) */
    int64_t time_us;  /* B, C, c: commit time, microseconds since 2000-01-01 UTC */
    uint32_t xid;     /* B; S, c, A; changes inside a streamed block */
    uint32_t subxid;  /* A */
    uint8_t flags;    /* C, c, M; T: 1 cascade, 2 restart identity; S: 1 first segment */
    const struct mdp_pgo_rel *rel; /* R, I, U, D */
    char old_kind;                 /* U, D: 'K' (key columns), 'O' (whole old row) or 0 */
    struct mdp_pgo_tuple old_tuple, new_tuple;
    int nrels; /* T */
    const struct mdp_pgo_rel *const *rels;
    const char *name;    /* O: origin; Y: type name; M: prefix */
    const char *nspname; /* Y */
    uint32_t type_oid;   /* Y */
    const char *content; /* M */
    uint32_t content_len;
};

/* A decoder for protocol version proto (1..4; 2 adds the streaming messages). *out (NULL on
 * failure) is freed by the caller with mdp_pgo_free. Returns 0, MDP_ERR_INVALID (proto),
 * MDP_ERR_NOMEM. */
int mdp_pgo_new(int proto, struct mdp_pgo **out);
/* Frees p and the relations it holds (NULL is fine). */
void mdp_pgo_free(struct mdp_pgo *p);
/* Decodes one pgoutput message (the payload of an XLogData message; msg is borrowed and must
 * outlive *out) that the server sent at lsn. A Relation message replaces the decoder's relation of
 * that oid. Returns 0 with *out filled, MDP_ERR_PARSE with d naming the LSN for a message cut short
 * or malformed, of an unknown type, or about a relation no Relation message described,
 * MDP_ERR_NOMEM. */
int mdp_pgo_decode(struct mdp_pgo *p, const void *msg, size_t len, uint64_t lsn,
                   struct mdp_pgo_msg *out, struct mdp_diag *d);
/* Returns the relation of oid (borrowed, valid until the next decode call), or NULL. */
const struct mdp_pgo_rel *mdp_pgo_relation(const struct mdp_pgo *p, uint32_t oid);

/* ---- the consumer ---- */
struct mdp_cdc_opts {
    const char *dsn;             /* the connection string (borrowed) */
    const char *slot;            /* replication slot name */
    const char *publication;     /* publication name */
    const char *const *tables;   /* NULL-ended tables of schema public, for setup */
    int once;                    /* stop when caught up with the server's WAL at the start */
    int64_t duration_ms;         /* stop after this long (0: no limit) */
    int64_t flush_ms;            /* the longest a committed change waits for its group's write */
    int64_t status_ms;           /* standby status updates at least this often */
    int64_t lag_interval_ms;     /* lag snapshots to _meta/metrics/cdc/ this often (0: never) */
    int64_t reconnect_ms;        /* give up after this long without a connection */
    size_t group_bytes;          /* write a group once its objects reach this many bytes */
    volatile sig_atomic_t *stop; /* set by a signal handler: finish the group and stop */
    int64_t curate_every_ms;     /* run curate this often while streaming (0: never) */
    /* What a curate tick runs (`mdp curate`'s code path), called in a child process of its own
     * (fork) so that the stream goes on; it opens what it needs itself (DuckDB, the lake, the
     * state store) and returns 0 or an error with d. Between its start and its end no group is
     * written, so it sees only groups whose checkpoint is written and confirmed. */
    int (*curate)(void *ud, struct mdp_diag *d);
    void *curate_ud;
    int stream; /* ask for protocol version 2 with streaming of in-progress transactions when the
                   server offers it (PostgreSQL 14+); else version 1 */
    const char *spill_dir;   /* where streamed transactions spill (NULL: TMPDIR or /tmp) */
    int64_t spill_max_bytes; /* the most a streamed transaction may spill (0: 8 GiB) */
};

struct mdp_cdc_stats {
    int64_t txns, changes, objects, bytes, skipped_txns, reconnects, drift, warnings;
    int64_t curate_runs, curate_failures;   /* curate ticks finished, and of those failed */
    int64_t streamed_txns, streamed_aborts; /* v2: streamed transactions committed, aborted */
    int proto;                              /* the protocol version of the last session */
    uint64_t confirmed_lsn;
};

/* Creates, when missing, the publication (FOR TABLE the opts' tables; tables missing from an
 * existing publication are added) and the logical replication slot (pgoutput), and records the
 * slot's start LSN under _meta/state/supabase_cdc/<slot>/slot.json. A line per action and a
 * warning per table that cannot publish deletes (no primary key and replica identity DEFAULT or
 * NOTHING) are appended to report (the caller's). Returns 0, MDP_ERR_IO (connection, SQL, with
 * SQLSTATE), MDP_ERR_INVALID (a name), MDP_ERR_NOMEM, with d. */
int mdp_cdc_setup(struct mdp_lake *lake, const struct mdp_cdc_opts *o, struct mdp_buf *report,
                  struct mdp_diag *d);
/* Streams changes from the slot into the lake until told to stop (opts: once, duration, stop),
 * resuming after its checkpoint and across dropped connections. With curate_every_ms it runs
 * o->curate in a child process at that interval; a failed tick is logged and counted, and the
 * next tick retries (CDC goes on). With o->stream, transactions the server streams before their
 * commit are buffered per transaction (spilled to an unlinked file under spill_dir) and written
 * at their Stream Commit, dropped at their (or a subtransaction's) Stream Abort. Fills *stats
 * (the caller's). Not thread-safe (it forks). Returns 0, MDP_ERR_PARSE (a message it cannot decode: nothing after the last checkpoint is
 * confirmed), MDP_ERR_IO (connection lost for longer than reconnect_ms, SQL, the store),
 * MDP_ERR_NOSPACE (also a streamed transaction over spill_max_bytes), MDP_ERR_NOMEM, with d. */
int mdp_cdc_run(struct mdp_lake *lake, const struct mdp_cdc_opts *o, struct mdp_cdc_stats *stats,
                struct mdp_diag *d);

struct mdp_cdc_lag {
    int64_t lag_bytes; /* server's current WAL position minus the slot's confirmed flush */
    double lag_s;      /* since the consumer last confirmed, when lag_bytes > 0; else 0 */
    int active;        /* a consumer is connected to the slot */
    char confirmed_lsn[18], current_lsn[18];
};
/* Measures the slot's lag on a normal connection and, with record non-zero, writes it as a
 * snapshot to _meta/metrics/cdc/dt=D/ (the alarms' cdc.slot_lag_bytes and cdc.slot_lag_s read
 * those). Fills *out (the caller's). Returns 0, MDP_ERR_NOT_FOUND (no such slot), MDP_ERR_IO,
 * MDP_ERR_NOMEM, with d. */
int mdp_cdc_lag_measure(struct mdp_lake *lake, const char *dsn, const char *slot, int record,
                        struct mdp_cdc_lag *out, struct mdp_diag *d);

#endif
