/* serve.c — `proact serve`: the streaming runner behind an HTTP server (libmicrohttpd + jansson).
 * Recipe: load the exported model -> check the head -> bind the socket -> start the daemon (a pool
 * of worker threads) -> wait for SIGINT/SIGTERM -> stop the daemon -> free everything.
 *
 * Two protocols share one model (docs/serving.md):
 *   - SimulEval's remote-agent protocol on one implicit session: POST /reset, PUT /input (a JSON
 *     Segment), GET /output (a JSON Segment), GET /;
 *   - sessions for concurrent clients: POST /v1/sessions, POST /v1/sessions/ID/input,
 *     GET /v1/sessions/ID/output, POST /v1/sessions/ID/reset, GET|DELETE /v1/sessions/ID;
 * plus GET /healthz and GET /metrics (Prometheus text).
 *
 * Threads: MHD runs the requests on its worker pool. Every session owns a Runner (the Model,
 * Tokenizer and StreamFormat are shared, read-only) and a mutex that serializes the requests on
 * it. The session table has its own mutex, and sessions are reference-counted so that a DELETE or
 * an idle expiry never frees a session that another request is using. Lock order: a session's
 * mutex, then the tokenizer, metrics or table mutex; the table mutex is never held while waiting
 * for a session. tokenizer_encode is not thread-safe: the runners share one tokenizer mutex
 * through RunnerOptions.encode_guard. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/stream_model.h"
#include "jobs/jobs.h"
#include "src/base/common.h"
#include "src/stream/runner.h"
#include "src/base/utf8.h"
#include "src/text/words.h"

#define SERVE_ID_LEN 32        /* hex characters of a session id */
#define SERVE_MAX_CODE 600     /* HTTP status codes counted: 0..599 */
#define SERVE_DRAIN_BYTES ((unsigned long long)64 << 20) /* an over-limit body read and dropped */
#define SERVE_JSON_TYPE "application/json"
#define SERVE_METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

static void usage(FILE *out) {
    fprintf(out,
            "usage: proact serve --model DIR [--head SPEC] [--port P] [--host ADDR] [--max-sessions N]\n"
            "                    [--idle-timeout SEC] [--max-body BYTES] [--workers N] [--threads N]\n"
            "                    [--temperature T] [--top-p P] [--seed S]\n\n"
            "Serves the exported streaming model in DIR over HTTP (docs/serving.md):\n"
            "  SimulEval's remote-agent protocol   POST /reset, PUT /input, GET /output, GET /\n"
            "  sessions for concurrent clients     POST /v1/sessions, POST /v1/sessions/ID/input,\n"
            "                                      GET /v1/sessions/ID/output, POST /v1/sessions/ID/reset,\n"
            "                                      GET|DELETE /v1/sessions/ID\n"
            "  GET /healthz, GET /metrics (Prometheus text format)\n\n"
            "options:\n"
            "  --model DIR          exported model directory (config.json, model.safetensors, tokenizer.json,\n"
            "                       proact.json)\n"
            "  --head SPEC          decision head (default: the model's default_head): %s\n"
            "  --port P             TCP port (default 8080; 0 picks a free one)\n"
            "  --host ADDR          address to listen on (default 127.0.0.1; 0.0.0.0 or :: for all)\n"
            "  --max-sessions N     concurrent /v1 sessions (default 16); one more gets 429\n"
            "  --idle-timeout SEC   drop /v1 sessions unused for SEC seconds (default 300; 0 = never)\n"
            "  --max-body BYTES     largest request body (default 1048576); larger gets 413\n"
            "  --workers N          HTTP worker threads (default 4)\n"
            "  --threads N          OpenBLAS threads per computation (default 1: sessions run in parallel)\n"
            "  --temperature T      0 = greedy (default); > 0 samples\n"
            "  --top-p P            nucleus mass when sampling (default 1)\n"
            "  --seed S             sampling seed (default 1)\n\n"
            "Prints 'listening on http://HOST:PORT (head SPEC, model DIR)' once it accepts requests.\n"
            "SIGINT or SIGTERM stops it cleanly (exit 0).\n",
            head_spec_help());
}

/* ------------------------------------------------------------------------------------------ */
/* State                                                                                       */

/* One stream: a Runner and where its current sentence is. */
typedef struct {
    char id[SERVE_ID_LEN + 1];
    char head_spec[sizeof(((HeadSpec *)0)->spec)];
    pthread_mutex_t mu; /* serializes the requests on this session; guards everything below */
    Runner *runner;
    int source_ended;   /* runner_end_source was called for this sentence */
    int done;           /* the runner said RUNNER_DONE */
    int broken;         /* the runner failed: only a reset helps */
    char failure[320];  /* why, when broken */
    int words_pushed;   /* source words of this sentence */
    int words_out;      /* target words handed out in this sentence */
    double t_start;     /* monotonic time of the sentence's first input; < 0 before it */
    RunnerStats last;   /* the runner's counters at the last metrics update */
    const char *limit;  /* which limit ended the sentence, if one did */
    /* guarded by the table mutex */
    int refs;
    int removed;
    double last_used;
} Session;

typedef struct {
    pthread_mutex_t mu;
    uint64_t requests[SERVE_MAX_CODE];
    uint64_t src_words_read, tgt_words_written, tokens, sessions_created, sessions_expired;
    double seconds;
} Metrics;

typedef struct {
    StreamModel sm;
    HeadSpec default_head;
    RunnerOptions ropt;
    int max_source_words; /* per sentence: each word is at least one token */
    /* limits */
    int max_sessions;
    double idle_timeout;
    size_t max_body;
    /* sessions */
    pthread_mutex_t table_mu;
    Session **table; /* [max_sessions] */
    int n_sessions;
    Session *simul;  /* the implicit session of the SimulEval protocol */
    pthread_mutex_t tok_mu;
    Metrics metrics;
} Server;

/* Per-request state: the body as it arrives. */
typedef struct {
    char *body;
    size_t len, cap;
    int too_big;
    unsigned long long declared; /* Content-Length, if over the limit */
} Request;

static void encode_guard(void *ctx, int enter) {
    Server *s = ctx;
    if (enter) pthread_mutex_lock(&s->tok_mu);
    else pthread_mutex_unlock(&s->tok_mu);
}

/* ------------------------------------------------------------------------------------------ */
/* Responses                                                                                   */

/* A JSON string of s, replacing invalid UTF-8 by U+FFFD (json_string refuses it). */
static json_t *jstr(const char *s) {
    size_t len = strlen(s);
    if (utf8_valid(s, len, NULL)) return json_stringn(s, len);
    char *fixed = malloc(UTF8_SANITIZED_MAX(len) + 1);
    if (!fixed) return NULL;
    size_t n = utf8_sanitize(s, len, fixed, NULL);
    json_t *j = json_stringn(fixed, n);
    free(fixed);
    return j;
}

static void count_request(Server *s, unsigned code) {
    pthread_mutex_lock(&s->metrics.mu);
    s->metrics.requests[code < SERVE_MAX_CODE ? code : 0]++;
    pthread_mutex_unlock(&s->metrics.mu);
}

/* Queues body (malloc'ed, taken over) with the given status. allow: the Allow header, or NULL. */
static enum MHD_Result queue_body(Server *s, struct MHD_Connection *conn, unsigned code, char *body, size_t len,
                                  const char *type, const char *allow, const char *location) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    if (location) MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, location);
    enum MHD_Result ok = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    if (ok == MHD_YES) count_request(s, code);
    return ok;
}

/* The last resort when even building the error body fails. */
static enum MHD_Result queue_static_error(Server *s, struct MHD_Connection *conn) {
    static const char msg[] = "{\"error\":\"out of memory building the response\"}";
    char *body = malloc(sizeof msg);
    if (!body) return MHD_NO;
    memcpy(body, msg, sizeof msg);
    return queue_body(s, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, body, sizeof msg - 1, SERVE_JSON_TYPE, NULL, NULL);
}

/* Queues the JSON value j (its reference is taken, also on failure). */
static enum MHD_Result reply_json_full(Server *s, struct MHD_Connection *conn, unsigned code, json_t *j,
                                       const char *allow, const char *location) {
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
    json_decref(j);
    if (!text) return queue_static_error(s, conn);
    size_t len = strlen(text);
    /* a trailing newline makes curl output readable */
    char *body = realloc(text, len + 2);
    if (!body) {
        free(text);
        return queue_static_error(s, conn);
    }
    body[len] = '\n';
    body[len + 1] = '\0';
    return queue_body(s, conn, code, body, len + 1, SERVE_JSON_TYPE, allow, location);
}

static enum MHD_Result reply_json(Server *s, struct MHD_Connection *conn, unsigned code, json_t *j) {
    return reply_json_full(s, conn, code, j, NULL, NULL);
}

/* {"error": "..."} with the given status; allow: the Allow header of a 405. */
__attribute__((format(printf, 5, 6))) static enum MHD_Result reply_error_allow(Server *s, struct MHD_Connection *conn,
                                                                               unsigned code, const char *allow,
                                                                               const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (code >= 500) fprintf(stderr, "proact: serve: %u: %s\n", code, msg); /* the operator should see these */
    json_t *j = json_object();
    if (j) json_object_set_new(j, "error", jstr(msg));
    return reply_json_full(s, conn, code, j, allow, NULL);
}

#define reply_error(s, conn, code, ...) reply_error_allow(s, conn, code, NULL, __VA_ARGS__)

/* ------------------------------------------------------------------------------------------ */
/* Sessions                                                                                    */

static void make_id(char *out) {
    unsigned char raw[SERVE_ID_LEN / 2];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n <= 0) break;
        got += (size_t)n;
    }
    if (got < sizeof raw) { /* no entropy source: ids stay unique, only not unguessable */
        static uint64_t counter;
        uint64_t x = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) * 0x9E3779B97F4A7C15ull ^
                     (uint64_t)(runtime_now() * 1e9);
        for (size_t i = 0; i < sizeof raw; i++) {
            x ^= x >> 29;
            x *= 0xBF58476D1CE4E5B9ull;
            raw[i] = (unsigned char)(x >> 56);
        }
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[SERVE_ID_LEN] = '\0';
}

/* Metrics from the runner's counters since the last update (they restart at every sentence). */
static void account(Server *s, Session *ss, double seconds) {
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

/* Starts a new sentence on the session (its mutex held, or not yet shared). */
static int session_begin(Server *s, Session *ss) {
    double t0 = runtime_now();
    if (runner_begin(ss->runner)) {
        ss->broken = 1;
        snprintf(ss->failure, sizeof ss->failure, "%s", px_error_message());
        return -1;
    }
    ss->source_ended = ss->done = ss->broken = 0;
    ss->words_pushed = ss->words_out = 0;
    ss->t_start = -1.0;
    ss->limit = NULL;
    memset(&ss->last, 0, sizeof ss->last);
    account(s, ss, runtime_now() - t0); /* the prompt was encoded */
    return 0;
}

static void session_free(Session *ss) {
    if (!ss) return;
    runner_free(ss->runner);
    pthread_mutex_destroy(&ss->mu);
    free(ss);
}

/* A session with its own runner; NULL with px_error. */
static Session *session_new(Server *s, const HeadSpec *head) {
    Session *ss = px_calloc(1, sizeof *ss, "a session");
    if (!ss) return NULL;
    if (pthread_mutex_init(&ss->mu, NULL)) {
        free(ss);
        px_error("cannot create a mutex for a session");
        return NULL;
    }
    ss->runner = runner_new(&s->sm.model, s->sm.tokenizer, &s->sm.format, head, s->sm.has_probe ? &s->sm.probe : NULL,
                            &s->ropt);
    if (!ss->runner || session_begin(s, ss)) {
        session_free(ss);
        return NULL;
    }
    make_id(ss->id);
    snprintf(ss->head_spec, sizeof ss->head_spec, "%s", head->spec);
    return ss;
}

/* Drops the sessions unused for longer than the idle timeout (none in use is touched). */
static void sweep_idle(Server *s) {
    if (s->idle_timeout <= 0) return;
    double now = runtime_now();
    Session *expired[64];
    int n_expired = 0;
    pthread_mutex_lock(&s->table_mu);
    for (int i = 0; i < s->n_sessions && n_expired < (int)(sizeof expired / sizeof expired[0]);) {
        Session *ss = s->table[i];
        if (ss->refs == 0 && now - ss->last_used > s->idle_timeout) {
            ss->removed = 1;
            expired[n_expired++] = ss;
            s->table[i] = s->table[--s->n_sessions];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&s->table_mu);
    for (int i = 0; i < n_expired; i++) session_free(expired[i]);
    if (n_expired) {
        pthread_mutex_lock(&s->metrics.mu);
        s->metrics.sessions_expired += (uint64_t)n_expired;
        pthread_mutex_unlock(&s->metrics.mu);
    }
}

/* Finds a session by id and takes a reference; NULL if there is none. */
static Session *session_acquire(Server *s, const char *id) {
    Session *found = NULL;
    pthread_mutex_lock(&s->table_mu);
    for (int i = 0; i < s->n_sessions; i++) {
        if (strcmp(s->table[i]->id, id) == 0) {
            found = s->table[i];
            found->refs++;
            found->last_used = runtime_now();
            break;
        }
    }
    pthread_mutex_unlock(&s->table_mu);
    return found;
}

static void session_release(Server *s, Session *ss) {
    int free_it;
    pthread_mutex_lock(&s->table_mu);
    ss->refs--;
    ss->last_used = runtime_now();
    free_it = ss->removed && ss->refs == 0;
    pthread_mutex_unlock(&s->table_mu);
    if (free_it) session_free(ss);
}

static int session_count(Server *s) {
    pthread_mutex_lock(&s->table_mu);
    int n = s->n_sessions;
    pthread_mutex_unlock(&s->table_mu);
    return n;
}

/* ------------------------------------------------------------------------------------------ */
/* Streaming                                                                                   */

typedef struct {
    char *text;
    int delay, index;
    double elapsed_ms;
} OutWord;

typedef struct {
    OutWord *w;
    int n, cap;
} OutWords;

static void out_words_free(OutWords *o) {
    for (int i = 0; i < o->n; i++) free(o->w[i].text);
    free(o->w);
    o->w = NULL;
    o->n = o->cap = 0;
}

static double elapsed_ms(const Session *ss) {
    return ss->t_start < 0 ? 0.0 : round((runtime_now() - ss->t_start) * 1e6) / 1e3;
}

/* Runs the runner until it needs source or is done, collecting the words it writes.
 * 0, or -1 with px_error (the session is then broken until a reset). */
static int session_drain(Server *s, Session *ss, OutWords *out) {
    if (ss->done || ss->broken) return 0;
    double t0 = runtime_now();
    int rc = 0;
    for (;;) {
        RunnerWord w;
        int ev = runner_step(ss->runner, &w);
        if (ev == RUNNER_WORD) {
            if (out->n == out->cap) {
                int cap = out->cap ? 2 * out->cap : 16;
                OutWord *bigger = realloc(out->w, sizeof(OutWord) * (size_t)cap);
                if (!bigger) {
                    rc = px_error("out of memory collecting the written words");
                    break;
                }
                out->w = bigger;
                out->cap = cap;
            }
            char *text = strdup(w.text ? w.text : "");
            if (!text) {
                rc = px_error("out of memory collecting the written words");
                break;
            }
            out->w[out->n++] = (OutWord){text, w.delay, w.index, elapsed_ms(ss)};
            ss->words_out++;
            continue;
        }
        if (ev == RUNNER_DONE) {
            ss->done = 1;
            break;
        }
        if (ev == RUNNER_NEED_SOURCE) {
            /* with the whole source given the runner cannot want more; finish rather than let
             * a client wait for ever */
            if (ss->source_ended) ss->done = 1;
            break;
        }
        if (ev >= 0) px_error("the runner returned an unknown event %d", ev);
        rc = -1;
        break;
    }
    if (rc) {
        ss->broken = 1;
        snprintf(ss->failure, sizeof ss->failure, "%s", px_error_message());
    }
    if (ss->done) {
        RunnerStats st;
        runner_stats(ss->runner, &st);
        if (st.stopped_by_limit) ss->limit = st.limit ? st.limit : "a limit";
    }
    account(s, ss, runtime_now() - t0);
    return rc;
}

/* Words of one input, split on whitespace; the strings point into the JSON values. */
typedef struct {
    const char **p;
    size_t *len;
    int n, cap;
} WordList;

static void word_list_free(WordList *l) {
    free(l->p);
    free(l->len);
    memset(l, 0, sizeof *l);
}

/* Appends the whitespace-separated words of text[0..len). 0, or -1 with msg (a 400 reason). */
static int word_list_add(WordList *l, const char *text, size_t len, const char *field, char *msg, size_t msg_size) {
    size_t bad;
    if (!utf8_valid(text, len, &bad)) {
        snprintf(msg, msg_size, "%s: invalid UTF-8 at byte %zu", field, bad);
        return -1;
    }
    if (memchr(text, '\0', len)) {
        snprintf(msg, msg_size, "%s: contains a NUL character", field);
        return -1;
    }
    WordSpan *spans = NULL;
    int n = split_words(text, len, &spans);
    if (n < 0) {
        snprintf(msg, msg_size, "%s", px_error_message());
        return -1;
    }
    if (l->n + n > l->cap) {
        int cap = PX_MAX(l->n + n, 2 * l->cap + 8);
        const char **p = realloc(l->p, sizeof(char *) * (size_t)cap);
        if (p) l->p = p;
        size_t *ln = realloc(l->len, sizeof(size_t) * (size_t)cap);
        if (ln) l->len = ln;
        if (!p || !ln) {
            free(spans);
            snprintf(msg, msg_size, "out of memory reading the words");
            return -1;
        }
        l->cap = cap;
    }
    for (int i = 0; i < n; i++) {
        l->p[l->n] = text + spans[i].start;
        l->len[l->n++] = spans[i].len;
    }
    free(spans);
    return 0;
}

/* Queues the words and, if finished, ends the source. The caller checked the state.
 * Returns the number of words queued; on a word the runner refuses (a source longer than its
 * token limit), stops there and sets *err to the reason; the session stays usable. */
static int session_push(Server *s, Session *ss, const WordList *words, int finished, char *err, size_t err_size) {
    if (ss->t_start < 0) ss->t_start = runtime_now();
    int queued = 0;
    err[0] = '\0';
    for (int i = 0; i < words->n; i++) {
        if (runner_push_word(ss->runner, words->p[i], words->len[i])) {
            snprintf(err, err_size, "source word %d of this request: %s (%d earlier words of it were queued)", i + 1,
                     px_error_message(), queued);
            break;
        }
        ss->words_pushed++;
        queued++;
    }
    if (!err[0] && finished && !ss->source_ended) {
        runner_end_source(ss->runner);
        ss->source_ended = 1;
    }
    account(s, ss, 0.0);
    return queued;
}

/* ------------------------------------------------------------------------------------------ */
/* Request bodies                                                                              */

static const char *json_type_name(const json_t *j) {
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

/* Parses the body as a JSON object: *out = the object, or NULL for an empty body when
 * allow_empty. 0, or -1 with msg (a 400 reason). */
static int parse_body(const Request *req, int allow_empty, json_t **out, char *msg, size_t msg_size) {
    *out = NULL;
    size_t start = 0;
    while (start < req->len && strchr(" \t\r\n", req->body[start]) && req->body[start]) start++;
    if (start == req->len) {
        if (allow_empty) return 0;
        snprintf(msg, msg_size, "the request body is empty: expected a JSON object");
        return -1;
    }
    size_t bad;
    if (!utf8_valid(req->body, req->len, &bad)) {
        snprintf(msg, msg_size, "the request body is not valid UTF-8 (byte %zu)", bad);
        return -1;
    }
    json_error_t err;
    json_t *j = json_loadb(req->body, req->len, JSON_REJECT_DUPLICATES, &err);
    if (!j) {
        snprintf(msg, msg_size, "malformed JSON at line %d, column %d: %s", err.line, err.column, err.text);
        return -1;
    }
    if (!json_is_object(j)) {
        snprintf(msg, msg_size, "the request body must be a JSON object, not %s", json_type_name(j));
        json_decref(j);
        return -1;
    }
    *out = j;
    return 0;
}

/* Fails on keys outside `known` (a NULL-terminated list). */
static int check_keys(json_t *obj, const char *const *known, char *msg, size_t msg_size) {
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        int ok = 0;
        for (int i = 0; known[i]; i++)
            if (strcmp(key, known[i]) == 0) ok = 1;
        if (!ok) {
            char list[256] = "";
            for (int i = 0; known[i]; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s\"%s\"", i ? ", " : "", known[i]);
            snprintf(msg, msg_size, "unknown field \"%.64s\" (expected %s)", key, list);
            return -1;
        }
    }
    return 0;
}

/* An optional boolean field: *out unchanged when absent (or null if allow_null). */
static int get_bool(json_t *obj, const char *key, int allow_null, int *out, char *msg, size_t msg_size) {
    json_t *v = json_object_get(obj, key);
    if (!v || (allow_null && json_is_null(v))) return 0;
    if (!json_is_boolean(v)) {
        snprintf(msg, msg_size, "\"%s\" must be a boolean, not %s", key, json_type_name(v));
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

/* A string or an array of strings, split into words. */
static int get_words(json_t *obj, const char *key, WordList *words, char *msg, size_t msg_size) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return 0;
    if (json_is_string(v)) {
        char field[80];
        snprintf(field, sizeof field, "\"%s\"", key);
        return word_list_add(words, json_string_value(v), json_string_length(v), field, msg, msg_size);
    }
    if (!json_is_array(v)) {
        snprintf(msg, msg_size, "\"%s\" must be a string or an array of strings, not %s", key, json_type_name(v));
        return -1;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        char field[80];
        snprintf(field, sizeof field, "\"%s\"[%zu]", key, i);
        if (!json_is_string(e)) {
            snprintf(msg, msg_size, "%s must be a string, not %s", field, json_type_name(e));
            return -1;
        }
        if (word_list_add(words, json_string_value(e), json_string_length(e), field, msg, msg_size)) return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Handlers                                                                                    */

typedef struct MHD_Connection Conn;

static enum MHD_Result reply_runner_failure(Server *s, Conn *conn, const char *what) {
    return reply_error(s, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s failed: %s", what, px_error_message());
}

/* The runner failed on this sentence: 500 the first time, 409 on later requests. */
static enum MHD_Result failed_sentence(Server *s, Conn *conn, int earlier, const char *failure, const char *reset) {
    if (earlier)
        return reply_error(s, conn, MHD_HTTP_CONFLICT,
                           "this sentence failed earlier (%s): POST %s to start the next one", failure, reset);
    return reply_error(s, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "decoding failed: %s; POST %s to start the next one",
                       failure, reset);
}

static enum MHD_Result handle_info(Server *s, Conn *conn) {
    char info[PX_PATH_MAX + 512];
    snprintf(info, sizeof info,
             "proact streaming model %s (%s -> %s), head %s; SimulEval remote protocol at /reset /input /output, "
             "sessions at /v1/sessions",
             s->sm.dir, s->sm.src_lang, s->sm.tgt_lang, s->default_head.spec);
    json_t *j = json_object();
    if (j) {
        json_object_set_new(j, "info", jstr(info));
        json_object_set_new(j, "model", jstr(s->sm.dir));
        json_object_set_new(j, "head", jstr(s->default_head.spec));
        json_object_set_new(j, "src_lang", jstr(s->sm.src_lang));
        json_object_set_new(j, "tgt_lang", jstr(s->sm.tgt_lang));
    }
    return reply_json(s, conn, MHD_HTTP_OK, j);
}

static json_t *ok_json(void) {
    json_t *j = json_object();
    if (j) json_object_set_new(j, "ok", json_true());
    return j;
}

/* --- SimulEval --- */

static enum MHD_Result handle_simul_reset(Server *s, Conn *conn) {
    Session *ss = s->simul;
    pthread_mutex_lock(&ss->mu);
    int rc = session_begin(s, ss);
    pthread_mutex_unlock(&ss->mu);
    if (rc) return reply_runner_failure(s, conn, "starting a sentence");
    return reply_json(s, conn, MHD_HTTP_OK, ok_json());
}

/* A Segment: {"index", "content": string or list, "finished", "is_empty", "data_type", ...}.
 * Extra keys are ignored; words sent after the source finished are ignored. */
static enum MHD_Result handle_simul_input(Server *s, Conn *conn, const Request *req) {
    char msg[512];
    json_t *body = NULL;
    WordList words = {0};
    int finished = 0;
    if (parse_body(req, 0, &body, msg, sizeof msg)) return reply_error(s, conn, MHD_HTTP_BAD_REQUEST, "%s", msg);
    json_t *dt = json_object_get(body, "data_type");
    int bad = 1;
    if (dt && !json_is_null(dt) && !json_is_string(dt))
        snprintf(msg, sizeof msg, "\"data_type\" must be a string or null, not %s", json_type_name(dt));
    else if (dt && json_is_string(dt) && strcmp(json_string_value(dt), "text") != 0)
        snprintf(msg, sizeof msg, "\"data_type\" \"%.32s\" is not supported: this server reads text segments",
                 json_string_value(dt));
    else
        bad = get_bool(body, "finished", 1, &finished, msg, sizeof msg) ||
              get_words(body, "content", &words, msg, sizeof msg);
    if (bad) {
        json_decref(body);
        word_list_free(&words);
        return reply_error(s, conn, MHD_HTTP_BAD_REQUEST, "%s", msg);
    }
    Session *ss = s->simul;
    enum MHD_Result result;
    pthread_mutex_lock(&ss->mu);
    if (ss->broken) {
        result = reply_error(s, conn, MHD_HTTP_CONFLICT,
                             "this sentence failed earlier (%s): POST /reset to start the next one", ss->failure);
    } else if (ss->source_ended || ss->done) {
        result = reply_json(s, conn, MHD_HTTP_OK, ok_json()); /* SimulEval keeps sending empty segments */
    } else if (ss->words_pushed + words.n > s->max_source_words) {
        result = reply_error(s, conn, MHD_HTTP_BAD_REQUEST,
                             "too many source words for one sentence: at most %d (the model reads at most %d tokens)",
                             s->max_source_words, s->max_source_words);
    } else {
        char err[768];
        session_push(s, ss, &words, finished, err, sizeof err);
        result = err[0] ? reply_error(s, conn, MHD_HTTP_BAD_REQUEST, "%s", err)
                        : reply_json(s, conn, MHD_HTTP_OK, ok_json());
    }
    pthread_mutex_unlock(&ss->mu);
    json_decref(body);
    word_list_free(&words);
    return result;
}

/* The words written since the last GET as a Segment. */
static enum MHD_Result handle_simul_output(Server *s, Conn *conn) {
    Session *ss = s->simul;
    OutWords out = {0};
    char failure[sizeof ss->failure];
    pthread_mutex_lock(&ss->mu);
    int index = ss->words_out, was_broken = ss->broken;
    int rc = session_drain(s, ss, &out);
    int finished = ss->done;
    memcpy(failure, ss->failure, sizeof failure);
    pthread_mutex_unlock(&ss->mu);
    if (was_broken || rc) {
        out_words_free(&out);
        return failed_sentence(s, conn, was_broken, failure, "/reset");
    }
    size_t len = 0;
    for (int i = 0; i < out.n; i++) len += strlen(out.w[i].text) + 1;
    char *content = malloc(len + 1);
    json_t *j = json_object();
    if (content && j) {
        size_t pos = 0;
        for (int i = 0; i < out.n; i++) {
            size_t n = strlen(out.w[i].text);
            if (i) content[pos++] = ' ';
            memcpy(content + pos, out.w[i].text, n);
            pos += n;
        }
        content[pos] = '\0';
        json_object_set_new(j, "index", json_integer(index));
        json_object_set_new(j, "content", jstr(content));
        json_object_set_new(j, "finished", json_boolean(finished));
        json_object_set_new(j, "is_empty", json_boolean(out.n == 0));
        json_object_set_new(j, "data_type", json_string("text"));
    } else {
        json_decref(j);
        j = NULL;
    }
    free(content);
    out_words_free(&out);
    return reply_json(s, conn, MHD_HTTP_OK, j);
}

/* --- sessions --- */

static enum MHD_Result handle_create(Server *s, Conn *conn, const Request *req) {
    char msg[512];
    json_t *body = NULL;
    static const char *const known[] = {"head", NULL};
    if (parse_body(req, 1, &body, msg, sizeof msg) || (body && check_keys(body, known, msg, sizeof msg))) {
        json_decref(body);
        return reply_error(s, conn, MHD_HTTP_BAD_REQUEST, "%s", msg);
    }
    HeadSpec head = s->default_head;
    json_t *h = body ? json_object_get(body, "head") : NULL;
    int bad = 0;
    if (h && !json_is_null(h) && !json_is_string(h)) {
        snprintf(msg, sizeof msg, "\"head\" must be a string, not %s", json_type_name(h));
        bad = 1;
    } else if (h && json_is_string(h) && stream_model_head(&s->sm, json_string_value(h), &head)) {
        snprintf(msg, sizeof msg, "\"head\": %s", px_error_message());
        bad = 1;
    }
    json_decref(body); /* h is not used past here */
    if (bad) return reply_error(s, conn, MHD_HTTP_BAD_REQUEST, "%s", msg);

    pthread_mutex_lock(&s->table_mu);
    int full = s->n_sessions >= s->max_sessions;
    pthread_mutex_unlock(&s->table_mu);
    if (full)
        return reply_error(s, conn, MHD_HTTP_TOO_MANY_REQUESTS,
                           "too many sessions: the server holds at most %d (--max-sessions); delete one first",
                           s->max_sessions);
    Session *ss = session_new(s, &head);
    if (!ss) return reply_runner_failure(s, conn, "creating a session");
    pthread_mutex_lock(&s->table_mu);
    full = s->n_sessions >= s->max_sessions;
    if (!full) {
        ss->last_used = runtime_now();
        s->table[s->n_sessions++] = ss;
    }
    pthread_mutex_unlock(&s->table_mu);
    if (full) {
        session_free(ss);
        return reply_error(s, conn, MHD_HTTP_TOO_MANY_REQUESTS,
                           "too many sessions: the server holds at most %d (--max-sessions); delete one first",
                           s->max_sessions);
    }
    pthread_mutex_lock(&s->metrics.mu);
    s->metrics.sessions_created++;
    pthread_mutex_unlock(&s->metrics.mu);
    /* the id and head are immutable once created: no lock needed to read them */
    char location[64];
    snprintf(location, sizeof location, "/v1/sessions/%s", ss->id);
    json_t *j = json_object();
    if (j) {
        json_object_set_new(j, "id", json_string(ss->id));
        json_object_set_new(j, "head", jstr(ss->head_spec));
    }
    return reply_json_full(s, conn, MHD_HTTP_CREATED, j, NULL, location);
}

static enum MHD_Result handle_delete(Server *s, Conn *conn, const char *id) {
    Session *found = NULL;
    int free_it = 0;
    pthread_mutex_lock(&s->table_mu);
    for (int i = 0; i < s->n_sessions; i++) {
        if (strcmp(s->table[i]->id, id) == 0) {
            found = s->table[i];
            s->table[i] = s->table[--s->n_sessions];
            found->removed = 1;
            free_it = found->refs == 0;
            break;
        }
    }
    pthread_mutex_unlock(&s->table_mu);
    if (!found)
        return reply_error(s, conn, MHD_HTTP_NOT_FOUND, "no session '%.64s' (deleted, expired, or never made)", id);
    if (free_it) session_free(found);
    json_t *j = json_object();
    if (j) {
        json_object_set_new(j, "deleted", json_string(id));
    }
    return reply_json(s, conn, MHD_HTTP_OK, j);
}

static enum MHD_Result handle_session_info(Server *s, Conn *conn, Session *ss) {
    RunnerStats st;
    pthread_mutex_lock(&ss->mu);
    runner_stats(ss->runner, &st);
    json_t *j = json_object();
    if (j) {
        json_object_set_new(j, "id", json_string(ss->id));
        json_object_set_new(j, "head", jstr(ss->head_spec));
        json_object_set_new(j, "words_pushed", json_integer(ss->words_pushed));
        json_object_set_new(j, "words_read", json_integer(st.words_read));
        json_object_set_new(j, "words_written", json_integer(ss->words_out));
        json_object_set_new(j, "source_finished", json_boolean(ss->source_ended));
        json_object_set_new(j, "finished", json_boolean(ss->done));
    }
    pthread_mutex_unlock(&ss->mu);
    return reply_json(s, conn, MHD_HTTP_OK, j);
}

static enum MHD_Result handle_session_reset(Server *s, Conn *conn, Session *ss) {
    pthread_mutex_lock(&ss->mu);
    int rc = session_begin(s, ss);
    pthread_mutex_unlock(&ss->mu);
    if (rc) return reply_runner_failure(s, conn, "starting a sentence");
    return reply_json(s, conn, MHD_HTTP_OK, ok_json());
}

/* {"words": [...]} or {"text": "..."}, and "finished". */
static enum MHD_Result handle_session_input(Server *s, Conn *conn, Session *ss, const Request *req) {
    char msg[512];
    json_t *body = NULL;
    WordList words = {0};
    int finished = 0;
    static const char *const known[] = {"words", "text", "finished", NULL};
    if (parse_body(req, 0, &body, msg, sizeof msg) || check_keys(body, known, msg, sizeof msg)) {
        json_decref(body);
        return reply_error(s, conn, MHD_HTTP_BAD_REQUEST, "%s", msg);
    }
    json_t *wv = json_object_get(body, "words"), *tv = json_object_get(body, "text");
    int bad = 0;
    if (wv && !json_is_null(wv) && !json_is_array(wv)) {
        snprintf(msg, sizeof msg, "\"words\" must be an array of strings, not %s", json_type_name(wv));
        bad = 1;
    } else if (tv && !json_is_null(tv) && !json_is_string(tv)) {
        snprintf(msg, sizeof msg, "\"text\" must be a string, not %s", json_type_name(tv));
        bad = 1;
    } else if (wv && tv && !json_is_null(wv) && !json_is_null(tv)) {
        snprintf(msg, sizeof msg, "give either \"words\" or \"text\", not both");
        bad = 1;
    } else {
        bad = get_bool(body, "finished", 0, &finished, msg, sizeof msg) ||
              get_words(body, "words", &words, msg, sizeof msg) || get_words(body, "text", &words, msg, sizeof msg);
    }
    if (bad) {
        json_decref(body);
        word_list_free(&words);
        return reply_error(s, conn, MHD_HTTP_BAD_REQUEST, "%s", msg);
    }
    enum MHD_Result result;
    pthread_mutex_lock(&ss->mu);
    if (ss->broken) {
        result = reply_error(s, conn, MHD_HTTP_CONFLICT,
                             "this sentence failed earlier (%s): POST /v1/sessions/%s/reset to start the next one",
                             ss->failure, ss->id);
    } else if ((ss->source_ended || ss->done) && words.n > 0) {
        result = reply_error(s, conn, MHD_HTTP_CONFLICT,
                             "the source of this sentence is finished: POST /v1/sessions/%s/reset to start the "
                             "next one",
                             ss->id);
    } else if (ss->words_pushed + words.n > s->max_source_words) {
        result = reply_error(s, conn, MHD_HTTP_BAD_REQUEST,
                             "too many source words for one sentence: at most %d (the model reads at most %d tokens)",
                             s->max_source_words, s->max_source_words);
    } else if (ss->done) {
        json_t *j = json_object();
        if (j) json_object_set_new(j, "queued", json_integer(0));
        result = reply_json(s, conn, MHD_HTTP_OK, j);
    } else {
        char err[768];
        int queued = session_push(s, ss, &words, finished, err, sizeof err);
        if (err[0]) {
            result = reply_error(s, conn, MHD_HTTP_BAD_REQUEST, "%s", err);
        } else {
            json_t *j = json_object();
            if (j) json_object_set_new(j, "queued", json_integer(queued));
            result = reply_json(s, conn, MHD_HTTP_OK, j);
        }
    }
    pthread_mutex_unlock(&ss->mu);
    json_decref(body);
    word_list_free(&words);
    return result;
}

static enum MHD_Result handle_session_output(Server *s, Conn *conn, Session *ss) {
    OutWords out = {0};
    char failure[sizeof ss->failure], reset[64];
    pthread_mutex_lock(&ss->mu);
    int was_broken = ss->broken;
    int rc = session_drain(s, ss, &out);
    int finished = ss->done;
    const char *limit = ss->limit;
    memcpy(failure, ss->failure, sizeof failure);
    pthread_mutex_unlock(&ss->mu);
    if (was_broken || rc) {
        out_words_free(&out);
        snprintf(reset, sizeof reset, "/v1/sessions/%s/reset", ss->id);
        return failed_sentence(s, conn, was_broken, failure, reset);
    }
    json_t *j = json_object(), *arr = json_array();
    if (j && arr) {
        for (int i = 0; i < out.n; i++) {
            json_t *w = json_object();
            if (!w) break;
            json_object_set_new(w, "word", jstr(out.w[i].text));
            json_object_set_new(w, "delay", json_integer(out.w[i].delay));
            json_object_set_new(w, "elapsed_ms", json_real(out.w[i].elapsed_ms));
            json_object_set_new(w, "index", json_integer(out.w[i].index));
            json_array_append_new(arr, w);
        }
        json_object_set_new(j, "words", arr);
        json_object_set_new(j, "finished", json_boolean(finished));
        if (finished && limit) json_object_set_new(j, "limit", jstr(limit));
    } else {
        json_decref(j);
        json_decref(arr);
        j = NULL;
    }
    out_words_free(&out);
    return reply_json(s, conn, MHD_HTTP_OK, j);
}

/* --- health and metrics --- */

static enum MHD_Result handle_healthz(Server *s, Conn *conn) {
    json_t *j = json_object();
    if (j) {
        json_object_set_new(j, "status", json_string("ok"));
        json_object_set_new(j, "sessions", json_integer(session_count(s)));
    }
    return reply_json(s, conn, MHD_HTTP_OK, j);
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

static enum MHD_Result handle_metrics(Server *s, Conn *conn) {
    Metrics m;
    pthread_mutex_lock(&s->metrics.mu);
    memcpy(m.requests, s->metrics.requests, sizeof m.requests);
    m.src_words_read = s->metrics.src_words_read;
    m.tgt_words_written = s->metrics.tgt_words_written;
    m.tokens = s->metrics.tokens;
    m.seconds = s->metrics.seconds;
    m.sessions_created = s->metrics.sessions_created;
    m.sessions_expired = s->metrics.sessions_expired;
    pthread_mutex_unlock(&s->metrics.mu);
    int active = session_count(s);

    TextBuf b = {0};
    metric_header(&b, "proact_requests_total", "counter", "HTTP requests answered, by status code.");
    for (int code = 0; code < SERVE_MAX_CODE; code++)
        if (m.requests[code]) tb_printf(&b, "proact_requests_total{code=\"%d\"} %llu\n", code,
                                        (unsigned long long)m.requests[code]);
    metric_header(&b, "proact_active_sessions", "gauge", "Sessions open under /v1/sessions.");
    tb_printf(&b, "proact_active_sessions %d\n", active);
    metric_header(&b, "proact_sessions_created_total", "counter", "Sessions created under /v1/sessions.");
    tb_printf(&b, "proact_sessions_created_total %llu\n", (unsigned long long)m.sessions_created);
    metric_header(&b, "proact_sessions_expired_total", "counter", "Sessions dropped after the idle timeout.");
    tb_printf(&b, "proact_sessions_expired_total %llu\n", (unsigned long long)m.sessions_expired);
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

/* ------------------------------------------------------------------------------------------ */
/* Routing                                                                                     */

static int is(const char *method, const char *m) { return strcmp(method, m) == 0; }

static enum MHD_Result wrong_method(Server *s, Conn *conn, const char *method, const char *url, const char *allow) {
    return reply_error_allow(s, conn, MHD_HTTP_METHOD_NOT_ALLOWED, allow,
                             "method %.16s is not allowed on %.128s (allowed: %s)", method, url, allow);
}

static enum MHD_Result route_session(Server *s, Conn *conn, const char *method, const char *url, const Request *req) {
    const char *rest = url + strlen("/v1/sessions/");
    const char *slash = strchr(rest, '/');
    size_t id_len = slash ? (size_t)(slash - rest) : strlen(rest);
    const char *action = slash ? slash + 1 : "";
    if (id_len == 0 || strchr(action, '/'))
        return reply_error(s, conn, MHD_HTTP_NOT_FOUND, "no such path: %.128s", url);
    char id[SERVE_ID_LEN + 1];
    int id_ok = id_len == SERVE_ID_LEN;
    if (id_ok) {
        memcpy(id, rest, SERVE_ID_LEN);
        id[SERVE_ID_LEN] = '\0';
    }
    const char *allow;
    int method_ok;
    if (!*action) {
        allow = "GET, DELETE";
        method_ok = is(method, "GET") || is(method, "DELETE");
    } else if (strcmp(action, "input") == 0 || strcmp(action, "reset") == 0) {
        allow = "POST";
        method_ok = is(method, "POST");
    } else if (strcmp(action, "output") == 0) {
        allow = "GET";
        method_ok = is(method, "GET");
    } else {
        return reply_error(s, conn, MHD_HTTP_NOT_FOUND, "no such path: %.128s", url);
    }
    if (!method_ok) return wrong_method(s, conn, method, url, allow);
    if (!id_ok) return reply_error(s, conn, MHD_HTTP_NOT_FOUND, "no session '%.*s'", (int)PX_MIN(id_len, 64), rest);
    if (!*action && is(method, "DELETE")) return handle_delete(s, conn, id);
    Session *ss = session_acquire(s, id);
    if (!ss)
        return reply_error(s, conn, MHD_HTTP_NOT_FOUND,
                           "no session '%s' (deleted, expired after %.0f s idle, or never made)", id, s->idle_timeout);
    enum MHD_Result r;
    if (!*action) r = handle_session_info(s, conn, ss);
    else if (strcmp(action, "input") == 0) r = handle_session_input(s, conn, ss, req);
    else if (strcmp(action, "output") == 0) r = handle_session_output(s, conn, ss);
    else r = handle_session_reset(s, conn, ss);
    session_release(s, ss);
    return r;
}

static enum MHD_Result route(Server *s, Conn *conn, const char *method, const char *url, const Request *req) {
    if (strcmp(url, "/") == 0)
        return is(method, "GET") ? handle_info(s, conn) : wrong_method(s, conn, method, url, "GET");
    if (strcmp(url, "/reset") == 0)
        return is(method, "POST") ? handle_simul_reset(s, conn) : wrong_method(s, conn, method, url, "POST");
    if (strcmp(url, "/input") == 0)
        return is(method, "PUT") || is(method, "POST") ? handle_simul_input(s, conn, req)
                                                       : wrong_method(s, conn, method, url, "PUT, POST");
    if (strcmp(url, "/output") == 0)
        return is(method, "GET") ? handle_simul_output(s, conn) : wrong_method(s, conn, method, url, "GET");
    if (strcmp(url, "/healthz") == 0)
        return is(method, "GET") ? handle_healthz(s, conn) : wrong_method(s, conn, method, url, "GET");
    if (strcmp(url, "/metrics") == 0)
        return is(method, "GET") ? handle_metrics(s, conn) : wrong_method(s, conn, method, url, "GET");
    if (strcmp(url, "/v1/sessions") == 0)
        return is(method, "POST") ? handle_create(s, conn, req) : wrong_method(s, conn, method, url, "POST");
    if (strncmp(url, "/v1/sessions/", strlen("/v1/sessions/")) == 0) return route_session(s, conn, method, url, req);
    return reply_error(s, conn, MHD_HTTP_NOT_FOUND, "no such path: %.128s", url);
}

/* MHD calls this once after the headers, once per piece of the body, and once at the end. */
static enum MHD_Result on_request(void *cls, Conn *conn, const char *url, const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size, void **con_cls) {
    Server *s = cls;
    Request *req = *con_cls;
    if (!req) {
        req = calloc(1, sizeof *req);
        if (!req) return MHD_NO;
        *con_cls = req;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            errno = 0;
            char *end;
            unsigned long long n = strtoull(cl, &end, 10);
            if (end != cl && (errno == ERANGE || n > s->max_body)) {
                req->too_big = 1;
                req->declared = n;
                /* A client that waits for "100 Continue" sends nothing more: answer now. Others are
                 * already sending the body; answering before reading it would close the connection
                 * under them (a broken pipe, no response), so a body up to SERVE_DRAIN_BYTES past
                 * the limit is read and discarded first, and only a larger one gets the answer at
                 * once. */
                const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
                int waits = expect && strcasecmp(expect, "100-continue") == 0;
                if (waits || errno == ERANGE || n - s->max_body > SERVE_DRAIN_BYTES)
                    return reply_error(s, conn, 413 /* Content Too Large */,
                                       "the request body (%s bytes) is larger than the limit of %zu bytes (--max-body)",
                                       cl, s->max_body);
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (req->too_big) return MHD_YES;
        if (req->len + n > s->max_body) { /* no Content-Length (chunked): discard the rest */
            req->too_big = 1;
            free(req->body);
            req->body = NULL;
            req->len = req->cap = 0;
            return MHD_YES;
        }
        if (req->len + n + 1 > req->cap) {
            size_t cap = PX_MAX(req->len + n + 1, PX_MIN(2 * req->cap, s->max_body + 1));
            char *bigger = realloc(req->body, cap);
            if (!bigger) return MHD_NO;
            req->body = bigger;
            req->cap = cap;
        }
        memcpy(req->body + req->len, upload_data, n);
        req->len += n;
        req->body[req->len] = '\0';
        return MHD_YES;
    }
    if (req->too_big && req->declared)
        return reply_error(s, conn, 413 /* Content Too Large */,
                           "the request body (%llu bytes) is larger than the limit of %zu bytes (--max-body)",
                           req->declared, s->max_body);
    if (req->too_big)
        return reply_error(s, conn, 413 /* Content Too Large */,
                           "the request body is larger than the limit of %zu bytes (--max-body)", s->max_body);
    sweep_idle(s);
    return route(s, conn, method, url, req);
}

static void on_completed(void *cls, Conn *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    Request *req = *con_cls;
    if (req) {
        free(req->body);
        free(req);
        *con_cls = NULL;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* The command                                                                                 */

static int shutdown_pipe[2] = {-1, -1};
static volatile sig_atomic_t shutdown_signal;

static void on_signal(int sig) {
    int saved = errno;
    shutdown_signal = sig;
    if (shutdown_pipe[1] >= 0) {
        ssize_t unused = write(shutdown_pipe[1], "x", 1);
        (void)unused;
    }
    errno = saved;
}

/* Binds and listens on host:port; the socket, or -1 with px_error. *family = its address family. */
static int open_listener(const char *host, int port, int *family, int *bound_port) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", port);
    int gai = getaddrinfo(host, port_text, &hints, &res);
    if (gai) return px_error("--host %s: %s", host, gai_strerror(gai));
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0) {
            *family = ai->ai_family;
            break;
        }
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) return px_error("cannot listen on %s port %d: %s", host, port, strerror(err));
    struct sockaddr_storage addr;
    socklen_t alen = sizeof addr;
    if (getsockname(fd, (struct sockaddr *)&addr, &alen) == 0) {
        if (addr.ss_family == AF_INET) *bound_port = ntohs(((struct sockaddr_in *)&addr)->sin_port);
        else if (addr.ss_family == AF_INET6) *bound_port = ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    return fd;
}

static void server_free(Server *s) {
    if (s->table)
        for (int i = 0; i < s->n_sessions; i++) session_free(s->table[i]);
    free(s->table);
    session_free(s->simul);
    stream_model_free(&s->sm);
    pthread_mutex_destroy(&s->table_mu);
    pthread_mutex_destroy(&s->tok_mu);
    pthread_mutex_destroy(&s->metrics.mu);
}

int cmd_serve(int argc, char **argv) {
    enum { O_MAX_SESSIONS = 1000, O_IDLE, O_MAX_BODY, O_WORKERS, O_TEMP, O_TOP_P, O_SEED };
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"head", required_argument, 0, 'H'},
                                         {"port", required_argument, 0, 'p'},
                                         {"host", required_argument, 0, 'a'},
                                         {"max-sessions", required_argument, 0, O_MAX_SESSIONS},
                                         {"idle-timeout", required_argument, 0, O_IDLE},
                                         {"max-body", required_argument, 0, O_MAX_BODY},
                                         {"workers", required_argument, 0, O_WORKERS},
                                         {"threads", required_argument, 0, 't'},
                                         {"temperature", required_argument, 0, O_TEMP},
                                         {"top-p", required_argument, 0, O_TOP_P},
                                         {"seed", required_argument, 0, O_SEED},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *model_dir = NULL, *head_spec = NULL, *host = "127.0.0.1";
    long port = 8080, max_sessions = 16, max_body = 1 << 20, workers = 4, threads = 1;
    double idle = 300.0, temperature = 0.0, top_p = 1.0;
    unsigned long long seed = 1;
    int c, bad = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:H:p:a:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_dir = optarg; break;
        case 'H': head_spec = optarg; break;
        case 'a': host = optarg; break;
        case 'p': bad = parse_long_opt("--port", optarg, 0, 65535, &port); break;
        case O_MAX_SESSIONS: bad = parse_long_opt("--max-sessions", optarg, 1, 100000, &max_sessions); break;
        case O_IDLE: bad = parse_double_opt("--idle-timeout", optarg, 0, 1e9, &idle); break;
        case O_MAX_BODY: bad = parse_long_opt("--max-body", optarg, 64, 1L << 30, &max_body); break;
        case O_WORKERS: bad = parse_long_opt("--workers", optarg, 1, 256, &workers); break;
        case 't': bad = parse_long_opt("--threads", optarg, 0, 1024, &threads); break;
        case O_TEMP: bad = parse_double_opt("--temperature", optarg, 0, 100, &temperature); break;
        case O_TOP_P: bad = parse_double_opt("--top-p", optarg, 1e-6, 1, &top_p); break;
        case O_SEED: {
            char *end;
            errno = 0;
            seed = strtoull(optarg, &end, 10);
            if (end == optarg || *end || errno || optarg[0] == '-')
                bad = px_error("--seed: expected a non-negative integer, got '%s'", optarg);
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (bad) return job_fail(px_error_message());
    }
    if (!model_dir || optind < argc) {
        usage(stderr);
        return 2;
    }

    runtime_set_threads((int)threads);
    runtime_report_blas();
    Server *s = calloc(1, sizeof *s);
    if (!s) return job_fail("out of memory");
    pthread_mutex_init(&s->table_mu, NULL);
    pthread_mutex_init(&s->tok_mu, NULL);
    pthread_mutex_init(&s->metrics.mu, NULL);
    int status = 0, listen_fd = -1;
    struct MHD_Daemon *daemon = NULL;
    struct sigaction old_int, old_term, old_pipe;
    int signals_set = 0;

    if (stream_model_load(model_dir, &s->sm)) {
        status = job_fail(px_error_message());
        goto done_model;
    }
    if (stream_model_head(&s->sm, head_spec ? head_spec : s->sm.default_head, &s->default_head)) {
        status = job_fail(px_error_message());
        goto done;
    }
    runner_options_default(&s->ropt);
    s->ropt.temperature = (float)temperature;
    s->ropt.top_p = (float)top_p;
    s->ropt.seed = seed;
    s->ropt.encode_guard = encode_guard;
    s->ropt.encode_guard_ctx = s;
    s->max_source_words = PX_MAX(s->sm.model.cfg.max_seq_len, 1);
    s->max_sessions = (int)max_sessions;
    s->idle_timeout = idle;
    s->max_body = (size_t)max_body;
    s->table = px_calloc((size_t)max_sessions, sizeof(Session *), "the session table");
    if (!s->table || !(s->simul = session_new(s, &s->default_head))) {
        status = job_fail(px_error_message());
        goto done;
    }

    int family = AF_INET, bound_port = (int)port;
    listen_fd = open_listener(host, (int)port, &family, &bound_port);
    if (listen_fd < 0) {
        status = job_fail(px_error_message());
        goto done;
    }
    if (pipe(shutdown_pipe)) {
        status = job_fail("cannot create the shutdown pipe");
        goto done;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    struct sigaction ign = {0};
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old_pipe);
    signals_set = 1;

    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    if (family == AF_INET6) flags |= MHD_USE_IPv6;
    daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, listen_fd,
                              MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)workers, MHD_OPTION_NOTIFY_COMPLETED,
                              on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1024, MHD_OPTION_END);
    if (!daemon) {
        status = job_fail("cannot start the HTTP server (libmicrohttpd)");
        goto done;
    }
    listen_fd = -1; /* the daemon owns it now */

    const char *lb = family == AF_INET6 ? "[" : "", *rb = family == AF_INET6 ? "]" : "";
    printf("listening on http://%s%s%s:%d (head %s, model %s)\n", lb, host, rb, bound_port, s->default_head.spec,
           model_dir);
    fflush(stdout);

    /* wait for a signal; sweep idle sessions now and then */
    while (!shutdown_signal) {
        struct pollfd pfd = {.fd = shutdown_pipe[0], .events = POLLIN};
        int n = poll(&pfd, 1, 1000);
        if (n < 0 && errno != EINTR) break;
        sweep_idle(s);
    }
    fprintf(stderr, "proact: serve: %s, shutting down\n", shutdown_signal == SIGINT ? "SIGINT" : "SIGTERM");

done:
    if (daemon) MHD_stop_daemon(daemon);
    if (listen_fd >= 0) close(listen_fd);
    if (signals_set) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGPIPE, &old_pipe, NULL);
    }
    for (int i = 0; i < 2; i++)
        if (shutdown_pipe[i] >= 0) {
            close(shutdown_pipe[i]);
            shutdown_pipe[i] = -1;
        }
    server_free(s);
    free(s);
    return status;
done_model:
    pthread_mutex_destroy(&s->table_mu);
    pthread_mutex_destroy(&s->tok_mu);
    pthread_mutex_destroy(&s->metrics.mu);
    free(s);
    return status;
}
