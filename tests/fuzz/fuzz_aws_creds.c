/* Fuzz target: the AWS credentials chain's readers (src/store/aws.c). Each input is read twice: as
 * the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, the INI format; no key in the
 * environment, the instance metadata service disabled, so nothing leaves the process) by
 * mdp_aws_open, and as a credentials endpoint's JSON answer. Checked: no crash or leak, a refusal
 * comes with a message, and a client that opened says where its credentials came from. */
#include "mdp/aws.h"
#include "mdp/err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static void remove_file(void)
{
    unlink(path);
}

static void setup(void)
{
    static const char *const unset[] = {"AWS_ACCESS_KEY_ID",
                                        "AWS_SECRET_ACCESS_KEY",
                                        "AWS_SESSION_TOKEN",
                                        "AWS_PROFILE",
                                        "AWS_DEFAULT_PROFILE",
                                        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                        "AWS_ENDPOINT_URL",
                                        NULL};
    for (int i = 0; unset[i]; i++)
        unsetenv(unset[i]);
    setenv("AWS_REGION", "eu-central-1", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    snprintf(path, sizeof path, "/tmp/mdp-fuzz-creds-%ld", (long)getpid());
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    atexit(remove_file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) setup();
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    struct mdp_diag d = {0};
    struct mdp_aws *a = NULL;
    if (mdp_aws_open(NULL, &a, &d) == 0) {
        if (!a || !mdp_aws_credentials_source(a)[0]) __builtin_trap();
        mdp_aws_close(a);
    } else if (!d.msg[0]) {
        __builtin_trap();
    }
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    d = (struct mdp_diag){0};
    if (mdp__aws_creds_json_check(text, &d) && !d.msg[0]) __builtin_trap();
    free(text);
    return 0;
}
