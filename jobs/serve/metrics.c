/* metrics.c — the counters of `proact serve` and GET /metrics: requests by status code, sessions
 * created and expired, requests dropped for slow clients, words read and written, tokens and
 * seconds of decoding, in Prometheus's text format (version 0.0.4). The counters have their own
 * mutex (Metrics.mu). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/jobs.h"
#include "jobs/serve/serve.h"
#include "src/base/common.h"

void metrics_count_request(Server *s, unsigned code) {
    pthread_mutex_lock(&s->metrics.mu);
    s->metrics.requests[code < SERVE_MAX_CODE ? code : 0]++;
    pthread_mutex_unlock(&s->metrics.mu);
}

/* Metrics from the runner's counters since the last update (they restart at every sentence). */
void metrics_account(Server *s, Session *ss, double seconds) {
    RunnerStats st;
    runner_stats(ss->runner, &st);
    int64_t dread = st.words_read - ss->last.words_read, dwritten = st.words_written - ss->last.words_written;
    int64_t dtok = (st.tokens_decoded + st.tokens_encoded) - (ss->last.tokens_decoded + ss->last.tokens_encoded);
    if (dread < 0) dread = st.words_read;
    if (dwritten < 0) dwritten = st.words_written;
    if (dtok < 0) dtok = st.tokens_decoded + st.tokens_encoded;
    ss->last = st;
    pthread_mutex_lock(&s->metrics.mu);
    s->metrics.src_words_read += (uint64_t)dread;
    s->metrics.tgt_words_written += (uint64_t)dwritten;
    s->metrics.tokens += (uint64_t)dtok;
    s->metrics.seconds += seconds;
    pthread_mutex_unlock(&s->metrics.mu);
}

void metrics_sessions(Server *s, int created, int expired) {
    pthread_mutex_lock(&s->metrics.mu);
    s->metrics.sessions_created += (uint64_t)created;
    s->metrics.sessions_expired += (uint64_t)expired;
    pthread_mutex_unlock(&s->metrics.mu);
}

void metrics_client_timeout(Server *s) {
    pthread_mutex_lock(&s->metrics.mu);
    s->metrics.client_timeouts++;
    pthread_mutex_unlock(&s->metrics.mu);
}

typedef struct {
    char *p;
    size_t len, cap;
    int failed;
} TextBuf;

__attribute__((format(printf, 2, 3))) static void tb_printf(TextBuf *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = PX_MAX(b->cap * 2, b->len + (size_t)n + 256);
        char *bigger = realloc(b->p, cap);
        if (!bigger) {
            b->failed = 1;
            return;
        }
        b->p = bigger;
        b->cap = cap;
    }
}

static void metric_header(TextBuf *b, const char *name, const char *type, const char *help) {
    tb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

enum MHD_Result handle_metrics(Server *s, Conn *conn) {
    Metrics m;
    pthread_mutex_lock(&s->metrics.mu);
    memcpy(m.requests, s->metrics.requests, sizeof m.requests);
    m.src_words_read = s->metrics.src_words_read;
    m.tgt_words_written = s->metrics.tgt_words_written;
    m.tokens = s->metrics.tokens;
    m.seconds = s->metrics.seconds;
    m.sessions_created = s->metrics.sessions_created;
    m.sessions_expired = s->metrics.sessions_expired;
    m.client_timeouts = s->metrics.client_timeouts;
    pthread_mutex_unlock(&s->metrics.mu);
    int active = session_count(s);

    TextBuf b = {0};
    metric_header(&b, "proact_requests_total", "counter", "HTTP requests answered, by status code.");
    for (int code = 0; code < SERVE_MAX_CODE; code++)
        if (m.requests[code])
            tb_printf(&b, "proact_requests_total{code=\"%d\"} %llu\n", code, (unsigned long long)m.requests[code]);
    metric_header(&b, "proact_active_sessions", "gauge", "Sessions open under /v1/sessions.");
    tb_printf(&b, "proact_active_sessions %d\n", active);
    metric_header(&b, "proact_sessions_created_total", "counter", "Sessions created under /v1/sessions.");
    tb_printf(&b, "proact_sessions_created_total %llu\n", (unsigned long long)m.sessions_created);
    metric_header(&b, "proact_sessions_expired_total", "counter", "Sessions dropped after the idle timeout.");
    tb_printf(&b, "proact_sessions_expired_total %llu\n", (unsigned long long)m.sessions_expired);
    metric_header(&b, "proact_client_timeouts_total", "counter",
                  "Requests dropped, their connections closed, because the client was slower than --client-timeout.");
    tb_printf(&b, "proact_client_timeouts_total %llu\n", (unsigned long long)m.client_timeouts);
    metric_header(&b, "proact_source_words_read_total", "counter", "Source words the runners have read.");
    tb_printf(&b, "proact_source_words_read_total %llu\n", (unsigned long long)m.src_words_read);
    metric_header(&b, "proact_target_words_written_total", "counter", "Target words the runners have written.");
    tb_printf(&b, "proact_target_words_written_total %llu\n", (unsigned long long)m.tgt_words_written);
    metric_header(&b, "proact_decode_tokens_total", "counter",
                  "Tokens run through the model: source tokens encoded plus target tokens decoded (refeeds included).");
    tb_printf(&b, "proact_decode_tokens_total %llu\n", (unsigned long long)m.tokens);
    metric_header(&b, "proact_decode_seconds_total", "counter", "Wall-clock seconds spent running the runners.");
    tb_printf(&b, "proact_decode_seconds_total %.6f\n", m.seconds);
    metric_header(&b, "proact_decode_tokens_per_second", "gauge",
                  "proact_decode_tokens_total / proact_decode_seconds_total.");
    tb_printf(&b, "proact_decode_tokens_per_second %.3f\n", m.seconds > 0 ? (double)m.tokens / m.seconds : 0.0);
    if (b.failed) {
        free(b.p);
        return queue_static_error(s, conn);
    }
    return queue_body(s, conn, MHD_HTTP_OK, b.p, b.len, SERVE_METRICS_TYPE, NULL, NULL);
}
