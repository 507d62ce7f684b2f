/* Fuzz target: the DQDL parser and printer. A document that parses must print, and its printed
 * form must parse and print to the same text (the canonical form is a fixed point). */
#include "mdp/dq.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mdp_dq_doc *doc = NULL, *again = NULL;
    struct mdp_dq_error err;
    if (mdp_dq_parse((const char *)data, size, &doc, &err) != 0) {
        if (err.line < 1 || err.col < 1 || !err.msg[0]) __builtin_trap();
        return 0;
    }
    struct mdp_buf a, b;
    mdp_buf_init(&a);
    mdp_buf_init(&b);
    if (mdp_dq_print_doc(doc, &a) != 0) __builtin_trap();
    if (mdp_dq_parse(a.data, a.len, &again, &err) != 0) __builtin_trap();
    if (mdp_dq_print_doc(again, &b) != 0) __builtin_trap();
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0) __builtin_trap();
    mdp_buf_cleanup(&a);
    mdp_buf_cleanup(&b);
    mdp_dq_doc_free(doc);
    mdp_dq_doc_free(again);
    return 0;
}
