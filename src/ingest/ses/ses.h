/* The ses connector's run state (its init hook makes it; every check of the run gets it as
 * mdp_check.state). Internal to src/ingest/ses/; the unit tests build one to check signatures. */
#ifndef MDP_INGEST_SES_H
#define MDP_INGEST_SES_H

struct mdp__ses_state {
    int verify;       /* check SNS signatures */
    char *cert_cache; /* folder of signing certificates by SHA-256 of their URL, or NULL */
};

#endif
