/* Fuzz target: the subject locator's matching rule over one raw JSON value (include/mdp/subject.h,
 * mdp_subject_json_match): key columns at any depth, JSON documents inside strings, batches split
 * into records, addresses normalized. Any input gives 0 with matches <= records, MDP_ERR_PARSE or
 * MDP_ERR_NOMEM, never a crash, a hang or a leak. */
#include "mdp/inventory.h"
#include "mdp/subject.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char INVENTORY[] =
    "controller: c\ndpo: d\nsecurity: s\ndatasets:\n"
    "  raw.t.x:\n    store: raw\n    location: raw/t/x\n    purpose: p\n"
    "    legal_basis: contract\n    owner: o\n    subjects: s\n    recipients: r\n"
    "    transfers: none\n    source: s\n    retention: {period: P90D, clock: since_event}\n"
    "    deletion: lifecycle\n"
    "    subject_keys: {user_id: user_id, destination: email, email_hash: email_sha256,"
    " external_ids: external_id, account_id: account_id}\n"
    "    columns: {user_id: pseudonymous, destination: direct, email_hash: pseudonymous,"
    " external_ids: pseudonymous, account_id: pseudonymous}\n";

static char *v_email[] = {"ann@example.com"};
static char *v_sha[] = {"a5e0c9cd2f5c6f7ac10b4b3c0b3e4b2cd8e4d6a48b8f1c3a0d2e1f4a5b6c7d8e"};
static char *v_ext[] = {"111.222", "ChIJabc"};
static char *v_acc[] = {"01890a5d-ac96-774b-bcce-b302099aa001"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct mdp_inventory *inv;
    if (!inv) {
        struct mdp_diag d = {0};
        if (mdp_inventory_load_buffer("fuzz.yaml", INVENTORY, sizeof INVENTORY - 1, &inv, &d))
            __builtin_trap();
    }
    struct mdp_subject s;
    memset(&s, 0, sizeof s);
    s.user_id = "01890a5d-ac96-774b-bcce-b302099a8001";
    s.emails = (struct mdp_subject_keys){v_email, 1, 1};
    s.email_sha = (struct mdp_subject_keys){v_sha, 1, 1};
    s.external_ids = (struct mdp_subject_keys){v_ext, 2, 2};
    s.account_ids = (struct mdp_subject_keys){v_acc, 1, 1};
    int64_t records = -1, matches = -1;
    int rc =
        mdp_subject_json_match(&inv->datasets[0], &s, (const char *)data, size, &records, &matches);
    if (rc == 0 && (records < 1 || matches < 0 || matches > records)) __builtin_trap();
    if (rc != 0 && rc != MDP_ERR_PARSE && rc != MDP_ERR_NOMEM) __builtin_trap();
    return 0;
}
