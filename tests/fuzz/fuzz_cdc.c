/* Fuzz target: the pgoutput decoder (src/cdc/pgoutput.c). The input is a replication stream: one
 * byte choosing the protocol version, then messages, each a 4-byte big-endian length and that many
 * bytes (copied to an exact-size buffer, so a read past a message's end is a sanitizer report).
 * A message decodes or fails with a message naming its LSN; a decoded change's tuples have the
 * columns of its relation and every value lies inside the message. LSNs format and parse back. */
#include "mdp/cdc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_tuple(const struct mdp_pgo_rel *rel, const struct mdp_pgo_tuple *t,
                        const uint8_t *m, size_t n)
{
    if (!rel || t->ncols != rel->ncols) __builtin_trap();
    for (int i = 0; i < t->ncols; i++) {
        const struct mdp_pgo_value *v = &t->v[i];
        if (v->kind == 't' || v->kind == 'b') {
            if ((const uint8_t *)v->data < m || (const uint8_t *)v->data + v->len > m + n)
                __builtin_trap();
        } else if (v->kind != 'n' && v->kind != 'u') {
            __builtin_trap();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    struct mdp_pgo *p = NULL;
    if (mdp_pgo_new(1 + data[0] % 2, &p)) return 0;
    size_t i = 1;
    uint64_t lsn = 0x16B3748;
    while (i + 4 <= size) {
        size_t n = (size_t)data[i] << 24 | (size_t)data[i + 1] << 16 | (size_t)data[i + 2] << 8 |
                   data[i + 3];
        i += 4;
        if (n > size - i) n = size - i;
        uint8_t *m = malloc(n ? n : 1);
        if (!m) break;
        memcpy(m, data + i, n);
        i += n;
        struct mdp_pgo_msg msg;
        struct mdp_diag d = {0};
        int rc = mdp_pgo_decode(p, m, n, lsn, &msg, &d);
        if (rc && (rc != MDP_ERR_PARSE || !strstr(d.msg, "LSN 0/"))) {
            if (rc != MDP_ERR_NOMEM) __builtin_trap();
        }
        if (!rc) {
            if (msg.kind == 'I' || msg.kind == 'U') check_tuple(msg.rel, &msg.new_tuple, m, n);
            if (msg.old_kind) check_tuple(msg.rel, &msg.old_tuple, m, n);
            for (int k = 0; msg.kind == 'T' && k < msg.nrels; k++)
                if (!msg.rels[k] || mdp_pgo_relation(p, msg.rels[k]->oid) != msg.rels[k])
                    __builtin_trap();
            if (msg.kind == 'R' && mdp_pgo_relation(p, msg.rel->oid) != msg.rel) __builtin_trap();
        }
        free(m);
        lsn += n + 24;
    }
    mdp_pgo_free(p);
    char s[18];
    uint64_t v = 0, back;
    for (size_t k = 0; k < size && k < 8; k++)
        v = v << 8 | data[k];
    mdp_lsn_format(v, s);
    if (mdp_lsn_parse(s, &back) || back != v) __builtin_trap();
    return 0;
}
