/* The actions of an alarm's change of state (include/mdp/quality.h): a shell command, killed when
 * it runs longer than alarms.action_timeout_seconds, or a webhook POST of a CloudWatch-like JSON
 * notification, each attempt limited to alarms.webhook_timeout_ms and retried on transport
 * errors, 429 and 5xx alarms.webhook_retries times with a doubling backoff from 0.5 s. So an
 * action never holds the caller longer than its limits add up to, and its outcome (attempts,
 * status, error) is recorded in the history, not raised. A webhook URL may carry a secret (chat
 * webhooks do), so records and logs name only its host. */
#include "mdp/alloc.h"
#include "mdp/log.h"
#include "mdp/quality.h"
#include "mdp/time.h"
#include "mdp/net.h"
#include "quality_internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR) {
    }
}

/* "https://user:pw@host:443/path?x" -> "host:443" */
static void url_host(const char *url, char *out, size_t n)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t len = strcspn(p, "/?#");
    const char *at = memchr(p, '@', len);
    if (at) {
        len -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    snprintf(out, n, "%.*s", (int)len, p);
}

static int run_command(const struct mdp_config *cfg, const struct mdp_alarm *a, const char *cmd,
                       enum mdp_alarm_state from, enum mdp_alarm_state to, const char *reason,
                       struct mdp_buf *rec)
{
    /* the environment of the command: ours plus the change (built before fork) */
    size_t ne = 0;
    while (environ && environ[ne])
        ne++;
    char **envp = mdp_calloc(ne + 6, sizeof *envp);
    char vars[5][512];
    if (!envp)
        return mdp_buf_puts(rec, "{\"type\":\"command\",\"ok\":false,\"error\":\"out of "
                                 "memory\"}"),
               0;
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "MDP_ALARM_", 10) != 0) envp[k++] = environ[i];
    snprintf(vars[0], sizeof vars[0], "MDP_ALARM_NAME=%s", a->name);
    snprintf(vars[1], sizeof vars[1], "MDP_ALARM_STATE=%s", mdp_alarm_state_name(to));
    snprintf(vars[2], sizeof vars[2], "MDP_ALARM_OLD_STATE=%s", mdp_alarm_state_name(from));
    snprintf(vars[3], sizeof vars[3], "MDP_ALARM_REASON=%s", reason);
    snprintf(vars[4], sizeof vars[4], "MDP_ALARM_METRIC=%s", a->metric);
    for (int i = 0; i < 5; i++)
        envp[k++] = vars[i];
    envp[k] = NULL;
    int64_t t0 = mdp_time_now_ms(), limit = cfg->alarms_action_timeout_s * 1000;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        int fd = open("/dev/null", O_RDONLY);
        if (fd >= 0) dup2(fd, 0);
        dup2(2, 1); /* its output goes to our stderr, never into our results */
        execle("/bin/sh", "sh", "-c", cmd, (char *)NULL, envp);
        _exit(127);
    }
    free(envp);
    if (pid < 0) {
        mdp_buf_printf(rec, "{\"type\":\"command\",\"ok\":false,\"error\":\"fork: %s\"}",
                       strerror(errno));
        return 0;
    }
    int status = 0, done = 0;
    while (!done) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR)) {
            done = w == pid ? 1 : -1;
            break;
        }
        if (mdp_time_now_ms() - t0 >= limit) break;
        sleep_ms(10);
    }
    int64_t ms = mdp_time_now_ms() - t0;
    if (!done) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        mdp_buf_printf(rec,
                       "{\"type\":\"command\",\"ok\":false,\"ms\":%lld,\"error\":\"killed after "
                       "%ld s (alarms.action_timeout_seconds)\"}",
                       (long long)ms, cfg->alarms_action_timeout_s);
        mdp_log(MDP_LOG_WARN, "alarm command timed out", LOG_STR("alarm", a->name), MDP_LF_END);
        return 0;
    }
    int ok = done > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    int code = done > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    mdp_buf_printf(rec, "{\"type\":\"command\",\"ok\":%s,\"ms\":%lld,\"exit\":%d}",
                   ok ? "true" : "false", (long long)ms, code);
    if (!ok)
        mdp_log(MDP_LOG_WARN, "alarm command failed", LOG_STR("alarm", a->name),
                LOG_INT("exit", code), MDP_LF_END);
    return ok;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

static int post_webhook(const struct mdp_config *cfg, const struct mdp_alarm *a, const char *url,
                        enum mdp_alarm_state from, enum mdp_alarm_state to, const char *reason,
                        int64_t now_ms, struct mdp_buf *rec)
{
    char host[256], when[32];
    url_host(url, host, sizeof host);
    mdp_time_format_ms(now_ms, when, sizeof when);
    static const char *const CMP[] = {"GreaterThanOrEqualToThreshold", "GreaterThanThreshold",
                                      "LessThanThreshold", "LessThanOrEqualToThreshold"};
    static const char *const STAT[] = {"Average", "Sum", "Minimum", "Maximum", "SampleCount"};
    struct mdp_buf body;
    mdp_buf_init(&body);
    mdp_buf_puts(&body, "{\"AlarmName\":");
    mdp_buf_json_str(&body, a->name);
    mdp_buf_puts(&body, ",\"AlarmDescription\":");
    if (a->description)
        mdp_buf_json_str(&body, a->description);
    else
        mdp_buf_puts(&body, "null");
    mdp_buf_printf(&body, ",\"NewStateValue\":\"%s\",\"OldStateValue\":\"%s\",\"NewStateReason\":",
                   mdp_alarm_state_name(to), mdp_alarm_state_name(from));
    mdp_buf_json_str(&body, reason);
    mdp_buf_printf(&body, ",\"StateChangeTime\":\"%s\",\"Trigger\":{\"MetricName\":", when);
    mdp_buf_json_str(&body, a->metric);
    mdp_buf_printf(&body,
                   ",\"Statistic\":\"%s\",\"Period\":%lld,\"EvaluationPeriods\":%d,"
                   "\"DatapointsToAlarm\":%d,\"ComparisonOperator\":\"%s\",\"Threshold\":%.17g}}",
                   STAT[a->statistic], (long long)a->period_s, a->evaluation_periods,
                   a->datapoints_to_alarm, CMP[a->cmp], a->threshold);
    if (mdp_buf_error(&body)) {
        mdp_buf_cleanup(&body);
        mdp_buf_puts(rec, "{\"type\":\"webhook\",\"ok\":false,\"error\":\"out of memory\"}");
        return 0;
    }
    long status = 0;
    int attempts = 0, ok = 0;
    char err[CURL_ERROR_SIZE] = "";
    int64_t t0 = mdp_time_now_ms();
    for (long i = 0; i <= cfg->alarms_webhook_retries; i++) {
        if (i) sleep_ms(500LL << (i - 1 < 6 ? i - 1 : 6));
        attempts++;
        CURL *c = curl_easy_init();
        if (!c) {
            snprintf(err, sizeof err, "cannot start an HTTP client");
            break;
        }
        struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
        char ebuf[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body.len);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, cfg->alarms_webhook_timeout_ms);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, cfg->alarms_webhook_timeout_ms);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        mdp_net_curl_tls(c);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
        CURLcode cr = curl_easy_perform(c);
        status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        if (cr == CURLE_OK && status >= 200 && status < 300) {
            ok = 1;
            err[0] = '\0';
            break;
        }
        if (cr != CURLE_OK)
            snprintf(err, sizeof err, "%s", curl_easy_strerror(cr));
        else
            snprintf(err, sizeof err, "HTTP %ld", status);
        mdp_log(MDP_LOG_WARN, "alarm webhook failed", LOG_STR("alarm", a->name),
                LOG_STR("host", host), LOG_STR("error", err), LOG_INT("attempt", attempts),
                MDP_LF_END);
        if (cr == CURLE_OK && status != 429 && status < 500) break; /* a refusal: no retry */
    }
    mdp_buf_cleanup(&body);
    mdp_buf_puts(rec, "{\"type\":\"webhook\",\"host\":");
    mdp_buf_json_str(rec, host);
    mdp_buf_printf(rec, ",\"ok\":%s,\"attempts\":%d,\"status\":%ld,\"ms\":%lld,\"error\":",
                   ok ? "true" : "false", attempts, status, (long long)(mdp_time_now_ms() - t0));
    if (ok)
        mdp_buf_puts(rec, "null}");
    else {
        mdp_buf_json_str(rec, err);
        mdp_buf_putc(rec, '}');
    }
    return ok;
}

int mdp__alarm_action_run(const struct mdp_config *cfg, const struct mdp_alarm *a,
                          const struct mdp_alarm_action *act, enum mdp_alarm_state from,
                          enum mdp_alarm_state to, const char *reason, int64_t now_ms,
                          struct mdp_buf *rec)
{
    if (act->webhook) return post_webhook(cfg, a, act->target, from, to, reason, now_ms, rec);
    return run_command(cfg, a, act->target, from, to, reason, rec);
}
