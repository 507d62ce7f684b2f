/* Shared by the connectors (src/ingest/<name>/): JSON helpers for exact parsing, the splitter of
 * concatenated JSON (Firehose), NDJSON lines, and small validators. Internal to the ingest module.
 */
#ifndef MDP_INGEST_INTERNAL_H
#define MDP_INGEST_INTERNAL_H

#include "mdp/ingest.h"

#include <json-c/json.h>
#include <stdint.h>
#include <yajl/yajl_parse.h>

/* Parses exactly [p, p+n) as one JSON value (whitespace around it allowed); NULL with *err set. */
json_object *mdp__json_exact(const char *p, size_t n, enum json_tokener_error *err);
/* A tokener for the functions below (the depth limit of mdp__json_exact), or NULL when out of
 * memory; mdp__json_tokener_put gives it back. It is the calling thread's, lent for one check and
 * reused for every record: a tokener per record (or per delivery of ten SQS records) costs an
 * allocation of its parse stack each time. Borrowed again before it is put back, it is a new one. */
json_tokener *mdp__json_tokener(void);
/* Gives back a tokener of mdp__json_tokener to the thread (or frees it). Accepts NULL. */
void mdp__json_tokener_put(json_tokener *tok);
/* An empty duplicate set for one call of mdp_ingest_verdicts, lent by the calling thread as the
 * tokener is (a new one when the thread's is out), or NULL when out of memory; mdp__seen_set_put
 * empties it and gives it back (or frees it). */
struct mdp_strset *mdp__seen_set(void);
void mdp__seen_set_put(struct mdp_strset *s);
/* mdp__json_exact with tok (reset here; NULL: one of its own). The value outlives a reset. */
json_object *mdp__json_exact_tok(json_tokener *tok, const char *p, size_t n,
                                 enum json_tokener_error *err);
/* "json_truncated" when the input ended inside a value, else "json_invalid". */
const char *mdp__json_reason(enum json_tokener_error e);

/* The key of id (n bytes) of kind in a duplicate set, into buf (bn bytes): a canonical UUID
 * (mdp_uuid_parse_canonical) as the byte 0xff, its 16 bytes and the kind, anything else as the
 * text "kind:id". A kind is a constant of letters, so a text key never starts with 0xff and the
 * two forms never meet; a smaller key hashes faster and keeps two days of ids in less memory.
 * Returns the key's length, or 0 when it does not fit (the id then goes unchecked, as before). */
size_t mdp__dedup_key(const char *kind, const char *id, size_t n, char *buf, size_t bn);
/* mdp_check_dup of an id known to be u in canonical text (mdp_uuid_parse_canonical succeeded):
 * the same key, without parsing the text again. kind: a string constant (a literal), which the
 * window then knows by its address. */
struct mdp_uuid;
int mdp__check_dup_uuid(struct mdp_check *ck, const char *kind, const struct mdp_uuid *u);
/* mdp_check_seen of a key of len bytes (e.g. from mdp__dedup_key). */
int mdp__check_seen_n(struct mdp_check *ck, const char *key, size_t len);
/* Start loading where the window (when ck has one) keeps the key of u of kind (a string
 * constant, as for mdp__check_dup_uuid), or a key of len bytes (from mdp__dedup_key), so that the
 * cache miss of its check later overlaps the rest of the record's validation. */
void mdp__check_prefetch_uuid(const struct mdp_check *ck, const char *kind,
                              const struct mdp_uuid *u);
void mdp__check_prefetch_key(const struct mdp_check *ck, const char *key, size_t len);
/* The window's index (src/ingest/dedup.c): 1 if the key (len bytes, as mdp__dedup_key makes it)
 * was seen on the window's day or the day before, else adds it for the day and returns 0;
 * MDP_ERR_NOMEM. _uuid takes the parts of a UUID key (kind: klen bytes; _lit: a string constant,
 * known by its address); the _prefetch ones start the load of the key's slot. */
int mdp__dedup_seen(struct mdp_dedup_window *w, const char *key, size_t len);
int mdp__dedup_seen_uuid(struct mdp_dedup_window *w, const char *kind, size_t klen,
                         const unsigned char u[16]);
int mdp__dedup_seen_uuid_lit(struct mdp_dedup_window *w, const char *kind,
                             const unsigned char u[16]);
void mdp__dedup_prefetch_uuid(struct mdp_dedup_window *w, const char *kind, size_t klen,
                              const unsigned char u[16]);
void mdp__dedup_prefetch_uuid_lit(struct mdp_dedup_window *w, const char *kind,
                                  const unsigned char u[16]);
void mdp__dedup_prefetch(struct mdp_dedup_window *w, const char *key, size_t len);
/* For tests: numbers the keys of a window that holds none yet from first on (its first
 * mdp_dedup_window_enter made the index), so that a test crosses the numbers' wrap at 2^32
 * without four billion keys. Returns 0, or MDP_ERR_INVALID when the window holds keys. */
int mdp__dedup_number_from(struct mdp_dedup_window *w, uint32_t first);

/* Concatenated JSON values, with or without newlines between them. After a value that does not
 * parse, the splitter resumes where the next value starts: at the opening of the first good value
 * (e.g. {"awsRegion":), which the nested objects of a cut-off value cannot mimic. */
struct mdp__splitter {
    const char *p;
    size_t n, pos;
    const char *lead;
    size_t ll;
    int idx;
    json_tokener *tok; /* borrowed from the caller (mdp__json_tokener), or NULL: one per value */
};
void mdp__splitter_init(struct mdp__splitter *s, const char *p, size_t n);
/* Next value: returns 1 with *out (NULL when it did not parse, then *err says why) and its span,
 * or 0 at the end. */
int mdp__splitter_next(struct mdp__splitter *s, json_object **out, size_t *start, size_t *len,
                       enum json_tokener_error *err);
/* Moves s past a value that another reader took, ending before byte end (whitespace before it is
 * skipped), as mdp__splitter_next would have after parsing it: the next value is read from end. */
void mdp__splitter_took(struct mdp__splitter *s, size_t end);

/* The stream readers of the events, ddb and ses checks read records with yajl and hand to
 * json-c's path whatever yajl might read otherwise. The kinds of value yajl gives them: */
enum mdp__sax_kind {
    MDP__SAX_NULL,
    MDP__SAX_TRUE,
    MDP__SAX_FALSE,
    MDP__SAX_NUMBER,
    MDP__SAX_STRING,
    MDP__SAX_MAP,
    MDP__SAX_ARRAY
};
/* A stream reader: value for every value (kind, and a string's decoded or a number's text; a map
 * or array opens), key for every member name, end at the end of every map and array, each with
 * ud; each returns 0 to stop the parse (the record is then json-c's to read), else 1. A number
 * with an exponent or over 18 characters stops the parse before value: json-c may read it
 * otherwise. */
struct mdp__sax {
    int (*value)(void *ud, enum mdp__sax_kind kind, const char *s, size_t n);
    int (*key)(void *ud, const char *k, size_t n);
    int (*end)(void *ud);
    void *ud;
};
/* A yajl parser calling s (borrowed: it must outlive the parser), or NULL when out of memory;
 * the caller frees it with yajl_free. */
yajl_handle mdp__sax_alloc(const struct mdp__sax *s);
/* The offset of the first byte of [p, p+n) from which yajl and json-c may read a text
 * differently: a \u escape (the two decode odd ones differently), a form feed or a vertical tab
 * (blanks to yajl, not to json-c); n when there is none. Other escapes decode alike. */
size_t mdp__sax_safe_prefix(const char *p, size_t n);
/* Parses all of [p, p+n) with h and frees h. Returns 1 when yajl read it without fault and
 * nothing but blanks (` \t\r\n`, as json-c's exact parse allows) follows byte *end, where the
 * reader saw its one value close (set during the parse); else 0. */
int mdp__sax_parse(yajl_handle h, const char *p, size_t n, const size_t *end);

/* Next line of [p, p+n) from *pos: 1 with the line's span (without CR LF) and 1-based number. */
int mdp__next_line(const char *p, size_t n, size_t *pos, size_t *start, size_t *len,
                   size_t *lineno);

/* Finds the members names[] (NULL-terminated, at most 32) of o in one walk over its members,
 * which costs less than a hash lookup each: out[i] is the value of names[i], NULL when missing or
 * JSON null (or when o is no object). json-c keeps one member per key (the last), as a lookup
 * would find. Returns a mask with bit i set when names[i] is present, null included. */
unsigned mdp__jmembers(json_object *o, const char *const *names, json_object **out);
/* v's text when v is a string, else NULL. */
const char *mdp__jtext(json_object *v);
/* The string member k of o, or NULL when missing or not a string. */
const char *mdp__jget(json_object *o, const char *k);
/* The object/array member k of o, or NULL. */
json_object *mdp__jobj(json_object *o, const char *k);
json_object *mdp__jarr(json_object *o, const char *k);
/* 1 if s is a UUID (8-4-4-4-12 hex, either case); with version > 0 also that version. */
int mdp__is_uuid(const char *s, int version);
/* Spec 2's ids (user_id, account_id, location_id) are UUIDv7. Checks value s of field: returns
 * NULL when the id may be taken, else the quarantine reason with detail filled: "invalid_id" when
 * s is no UUID, "id_not_uuidv7" when it is another version and ingest.non_v7_ids is quarantine.
 * Under count, another version is taken and *non_v7 is incremented; the caller adds it to
 * counts.non_v7_ids when it takes the record. */
const char *mdp__v7_id(const struct mdp_check *ck, const char *field, const char *s, size_t len,
                       int *non_v7, char *detail, size_t dn);
/* Parses an ISO-8601 timestamp string member; 0 with *ms, or -1. */
int mdp__jtime(json_object *o, const char *k, int64_t *ms);
/* Location text "key:line" or "key#what" into buf. */
const char *mdp__loc(char *buf, size_t n, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A saved API exchange ({"method","url","body"} or {"httpStatus","body"}) gives its body, with the
 * HTTP status (0 when not saved) and request URL; anything else is returned as it is. Borrowed. */
json_object *mdp__api_payload(json_object *o, int *status, const char **url);
/* An API error envelope {"error":{...}} (Google's or the Graph API's): 1 when well-formed, with a
 * summary in detail; -1 when malformed; 0 when payload is not an error. */
int mdp__api_error(json_object *payload, int status, char *detail, size_t n);

/* HTTP for the pulls (src/ingest/http.c). */
struct mdp__http_response {
    long status;
    struct mdp_buf body; /* init with mdp_buf_init; the caller cleans it up */
    long retry_after_s;
};
/* One request: 0 with status and body, or -1 with a transport error in err. auth: bearer token. */
int mdp__http(const char *method, const char *url, const char *content_type, const char *auth,
              const char *body, struct mdp__http_response *out, char *err, size_t en);
/* The same, retried on transport errors, 429 and 5xx (max_retries times, first wait up to base_ms).
 */
int mdp__http_retry(long max_retries, long base_ms, const char *method, const char *url,
                    const char *ctype, const char *auth, const char *body,
                    struct mdp__http_response *out, int *attempts, char *err, size_t en);

/* Opens an API response delivery (ga4, gbp, meta): parses it and unwraps a saved exchange.
 * Returns 1 with *payload (borrowed from *root, which the caller releases) when there is a
 * response to check; 0 when the delivery was handled here (not JSON: quarantined; an API error
 * envelope: counted in counts.extra[api_error_slot]); < 0 on error. */
int mdp__api_open(struct mdp_check *ck, const char *p, size_t n, int api_error_slot,
                  json_object **root, json_object **payload);

/* the connectors (connectors.def) */
#define MDP_CONNECTOR(n) extern const struct mdp_connector MDP__CONNECTOR_##n;
#include "connectors.def"
#undef MDP_CONNECTOR

#endif
