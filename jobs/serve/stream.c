/* stream.c — POST /v1/sessions/ID/stream (docs/serving.md, "Watching it decide"): the server plays
 * a sentence on the session at a given pace (ms per source word) and sends what happens as
 * Server-Sent Events: each source word as it arrives, each READ/WRITE decision with the head's cue
 * and threshold, each written word, and at the end the prediction with its AL/LAAL and the
 * computation time. The page (web/) and curl read the same stream.
 *
 * A Player runs on its own thread: it sleeps until the next word is due, then, under the
 * session's mutex, pushes the word and steps the runner; the runner's trace (stream_trace) and
 * the written words become events in the player's buffer. MHD reads that buffer through a
 * content-reader callback, which suspends the connection while the buffer is empty; the player
 * resumes it whenever it adds an event. The player and the response each hold a reference. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobs/jobs.h"
#include "jobs/serve/serve.h"
#include "src/base/common.h"
#include "src/metrics/latency.h"

#define STREAM_MAX_MS_PER_WORD 5000 /* the slowest pace a stream accepts */
#define STREAM_SLEEP_SLICE_MS 50    /* a sleeping player looks at its stop flags this often */
#define STREAM_DRAIN_S 5            /* at shutdown, how long the last events may take to reach clients */

/* Which cue the head compares with its threshold, and how: WRITE when value <op> threshold. */
typedef struct {
    const char *name, *write_when; /* write_when: ">=" or "<=", NULL without a threshold */
    double threshold;
} HeadCue;

typedef struct Player {
    Server *s;
    Session *ss;
    pthread_mutex_t mu; /* guards the buffer, conn, suspended, finished, cancelled, refs */
    Conn *conn;         /* NULL once MHD freed the response */
    char *buf;          /* SSE text not yet read by MHD: buf[off..len) */
    size_t off, len, cap;
    int suspended, finished, cancelled, refs;
    /* the sentence; touched by the player thread only */
    HeadCue cue; /* the session's head's */
    int min_lag, max_lag;
    char *text; /* the source words, each NUL-terminated, one after the other */
    int n_words, ms_per_word;
    double t0;       /* monotonic time of the first word */
    double compute;  /* seconds spent in the runner */
    int n_decisions; /* READ/WRITE decisions so far */
    double *delays;  /* [n_words_out] source words read when each word was written */
    int n_out, cap_out;
    char *prediction; /* the written words, space-separated */
    size_t pred_len;
    int failed; /* an error event was sent */
} Player;

static double ms_since(double t0) { return round((runtime_now() - t0) * 1e6) / 1e3; }

static void player_unref(Player *p) {
    pthread_mutex_lock(&p->mu);
    int last = --p->refs == 0;
    pthread_mutex_unlock(&p->mu);
    if (!last) return;
    pthread_mutex_destroy(&p->mu);
    free(p->buf);
    free(p->text);
    free(p->delays);
    free(p->prediction);
    free(p);
}

/* Appends one event (its data: the compact JSON of j, reference taken) and wakes the connection.
 * A failure to allocate drops the event (the client sees a gap, the stream goes on). */
static void emit(Player *p, const char *event, json_t *j) {
    char *data = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(j);
    if (!data) return;
    size_t need = strlen("event: \ndata: \n\n") + strlen(event) + strlen(data);
    pthread_mutex_lock(&p->mu);
    if (p->off == p->len) p->off = p->len = 0;
    if (p->len + need + 1 > p->cap) {
        size_t cap = PX_MAX(p->len + need + 1, 2 * p->cap);
        char *bigger = realloc(p->buf, cap);
        if (!bigger) {
            pthread_mutex_unlock(&p->mu);
            free(data);
            return;
        }
        p->buf = bigger;
        p->cap = cap;
    }
    p->len += (size_t)snprintf(p->buf + p->len, p->cap - p->len, "event: %s\ndata: %s\n\n", event, data);
    if (p->suspended && p->conn) {
        p->suspended = 0;
        MHD_resume_connection(p->conn);
    }
    pthread_mutex_unlock(&p->mu);
    free(data);
}

static void emit_error(Player *p, const char *msg) {
    json_t *j = json_object();
    if (j) json_object_set_new(j, "error", jstr(msg));
    emit(p, "error", j);
    p->failed = 1;
}

/* MHD's content reader: what the player wrote, or a suspended connection until there is more. */
static ssize_t player_read(void *cls, uint64_t pos, char *out, size_t max) {
    Player *p = cls;
    (void)pos;
    pthread_mutex_lock(&p->mu);
    ssize_t n;
    if (p->off < p->len) {
        size_t k = PX_MIN(max, p->len - p->off);
        memcpy(out, p->buf + p->off, k);
        p->off += k;
        n = (ssize_t)k;
    } else if (p->finished) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        p->suspended = 1;
        MHD_suspend_connection(p->conn);
        n = 0;
    }
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* MHD frees the response: the connection is gone (or done); a running player stops early. */
static void player_response_freed(void *cls) {
    Player *p = cls;
    Server *s = p->s;
    pthread_mutex_lock(&p->mu);
    p->cancelled = 1;
    p->conn = NULL;
    pthread_mutex_unlock(&p->mu);
    player_unref(p);
    pthread_mutex_lock(&s->players_mu);
    s->n_streams--;
    pthread_cond_broadcast(&s->players_cv);
    pthread_mutex_unlock(&s->players_mu);
}

static int player_should_stop(Player *p) {
    pthread_mutex_lock(&p->mu);
    int c = p->cancelled;
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_lock(&p->s->players_mu);
    int stopping = p->s->stopping;
    pthread_mutex_unlock(&p->s->players_mu);
    return c || stopping;
}

/* Sleeps until t (monotonic seconds), waking every slice to see whether to stop. 1 = stop. */
static int sleep_until(Player *p, double t) {
    for (;;) {
        if (player_should_stop(p)) return 1;
        double left = t - runtime_now();
        if (left <= 0) return 0;
        double slice = PX_MIN(left, STREAM_SLEEP_SLICE_MS / 1e3);
        struct timespec ts = {(time_t)slice, (long)((slice - (double)(time_t)slice) * 1e9)};
        while (nanosleep(&ts, &ts) && errno == EINTR) {}
    }
}

/* --- the head's cue ----------------------------------------------------------------------- */

static HeadCue head_cue(const HeadSpec *h) {
    switch (h->kind) {
        case HEAD_ENTROPY: return (HeadCue){"entropy", "<=", h->threshold};
        case HEAD_MAXPROB: return (HeadCue){"maxprob", ">=", h->threshold};
        case HEAD_ATTN: return (HeadCue){"attn_front", "<=", h->threshold}; /* READ when the mass is above */
        case HEAD_PROBE: return (HeadCue){"probe", ">=", h->threshold};
        case HEAD_WAITK: return (HeadCue){"lag", ">=", h->k}; /* word j once K + j - 1 words are read */
        default: return (HeadCue){"lag", NULL, 0.0};          /* chunk, offline: a schedule, no threshold */
    }
}

static double cue_value(const char *name, const Cues *c, double probe) {
    if (strcmp(name, "entropy") == 0) return c->entropy;
    if (strcmp(name, "maxprob") == 0) return c->maxprob;
    if (strcmp(name, "attn_front") == 0) return c->attn_front;
    if (strcmp(name, "probe") == 0) return probe;
    return c->lag;
}

/* The runner's trace of a /v1 session: one "decision" event if a player plays on it. Runs under
 * the session's mutex (the player steps the runner), so ss->player is stable. */
void stream_trace(void *ctx, const RunnerDecision *d) {
    Session *ss = ctx;
    Player *p = ss->player;
    if (!p) return;
    Cues c = d->cues;
    cues_set_position(&c, d->units_read, d->word_index);
    const Server *s = p->s;
    double probe = s->sm.has_probe ? probe_score(&s->sm.probe, &c) : NAN;
    HeadCue hc = p->cue;
    json_t *j = json_object();
    if (!j) return;
    p->n_decisions++;
    json_object_set_new(j, "n", json_integer(p->n_decisions));
    json_object_set_new(j, "decision", json_string(d->write ? "WRITE" : "READ"));
    json_object_set_new(j, "reason", jstr(d->reason));
    json_object_set_new(j, "word_index", json_integer(d->word_index));
    json_object_set_new(j, "units_read", json_integer(d->units_read));
    json_object_set_new(j, "entropy", json_real(c.entropy));
    json_object_set_new(j, "maxprob", json_real(c.maxprob));
    json_object_set_new(j, "attn_front", json_real(c.attn_front));
    json_object_set_new(j, "probe", isnan(probe) ? json_null() : json_real(probe));
    json_object_set_new(j, "lag", json_real(c.lag));
    json_object_set_new(j, "cue", json_string(hc.name));
    json_object_set_new(j, "value", json_real(cue_value(hc.name, &c, probe)));
    json_object_set_new(j, "threshold", hc.write_when ? json_real(hc.threshold) : json_null());
    json_object_set_new(j, "elapsed_ms", json_real(ms_since(p->t0)));
    emit(p, "decision", j);
}

/* --- playing ------------------------------------------------------------------------------ */

/* Steps the runner until it needs source or is done; a "word" event per written word. The
 * session's mutex is held. 0, or -1 (an error event was sent; the session is broken). */
static int player_drain(Player *p) {
    Session *ss = p->ss;
    double t0 = runtime_now();
    int rc = 0;
    while (!ss->done) {
        RunnerWord w;
        int ev = runner_step(ss->runner, &w);
        if (ev == RUNNER_WORD) {
            const char *text = w.text ? w.text : "";
            size_t n = strlen(text);
            if (p->n_out == p->cap_out) {
                int cap = p->cap_out ? 2 * p->cap_out : 16;
                double *bigger = realloc(p->delays, sizeof(double) * (size_t)cap);
                if (!bigger) {
                    rc = px_error("out of memory collecting the written words");
                    break;
                }
                p->delays = bigger;
                p->cap_out = cap;
            }
            char *pred = realloc(p->prediction, p->pred_len + n + 2);
            if (!pred) {
                rc = px_error("out of memory collecting the written words");
                break;
            }
            p->prediction = pred;
            if (p->pred_len) p->prediction[p->pred_len++] = ' ';
            memcpy(p->prediction + p->pred_len, text, n + 1);
            p->pred_len += n;
            p->delays[p->n_out++] = w.delay;
            ss->words_out++;
            json_t *j = json_object();
            if (j) {
                json_object_set_new(j, "word", jstr(text));
                json_object_set_new(j, "index", json_integer(w.index));
                json_object_set_new(j, "delay", json_integer(w.delay));
                json_object_set_new(j, "elapsed_ms", json_real(ms_since(p->t0)));
            }
            emit(p, "word", j);
            continue;
        }
        if (ev == RUNNER_DONE || (ev == RUNNER_NEED_SOURCE && ss->source_ended)) ss->done = 1;
        else if (ev != RUNNER_NEED_SOURCE) rc = ev >= 0 ? px_error("the runner returned an unknown event %d", ev) : -1;
        break;
    }
    p->compute += runtime_now() - t0;
    metrics_account(p->s, ss, runtime_now() - t0);
    if (rc) {
        ss->broken = 1;
        snprintf(ss->failure, sizeof ss->failure, "%s", px_error_message());
        emit_error(p, ss->failure);
    }
    return rc;
}

/* Pushes source word i (0-based), or ends the source (i == n_words), and steps the runner. */
static int player_step(Player *p, int i, const char **word) {
    Session *ss = p->ss;
    int rc = 0;
    pthread_mutex_lock(&ss->mu);
    if (i < p->n_words) {
        json_t *j = json_object();
        if (j) {
            json_object_set_new(j, "index", json_integer(i + 1));
            json_object_set_new(j, "word", jstr(*word));
            json_object_set_new(j, "elapsed_ms", json_real(ms_since(p->t0)));
        }
        emit(p, "source", j);
        if (runner_push_word(ss->runner, *word, strlen(*word))) {
            char msg[700];
            snprintf(msg, sizeof msg, "source word %d: %s", i + 1, px_error_message());
            emit_error(p, msg);
            rc = -1;
        } else {
            ss->words_pushed++;
        }
        *word += strlen(*word) + 1;
    } else {
        runner_end_source(ss->runner);
        ss->source_ended = 1;
    }
    if (!rc) rc = player_drain(p);
    pthread_mutex_unlock(&ss->mu);
    return rc;
}

/* The "end" event: the prediction, its delays, AL and LAAL (SimulEval's, |Y| = the prediction's
 * length: there is no reference), the time spent computing and the whole time. */
static void player_end(Player *p) {
    RunnerStats st;
    pthread_mutex_lock(&p->ss->mu);
    runner_stats(p->ss->runner, &st);
    const char *limit = st.stopped_by_limit ? (st.limit ? st.limit : "a limit") : NULL;
    p->ss->limit = limit;
    pthread_mutex_unlock(&p->ss->mu);
    LatencyScores ls;
    int have_latency = p->n_out > 0 && latency_scores(p->delays, p->n_out, p->n_words, p->n_out, 0, &ls) == 0;
    json_t *j = json_object(), *delays = json_array();
    if (!j || !delays) {
        json_decref(j);
        json_decref(delays);
        return;
    }
    for (int i = 0; i < p->n_out; i++) json_array_append_new(delays, json_integer((json_int_t)p->delays[i]));
    json_object_set_new(j, "prediction", jstr(p->prediction ? p->prediction : ""));
    json_object_set_new(j, "delays", delays);
    json_object_set_new(j, "source_length", json_integer(p->n_words));
    json_object_set_new(j, "prediction_length", json_integer(p->n_out));
    json_object_set_new(j, "decisions", json_integer(p->n_decisions));
    json_object_set_new(j, "AL", have_latency ? json_real(ls.AL) : json_null());
    json_object_set_new(j, "LAAL", have_latency ? json_real(ls.LAAL) : json_null());
    json_object_set_new(j, "compute_ms", json_real(round(p->compute * 1e6) / 1e3));
    json_object_set_new(j, "elapsed_ms", json_real(ms_since(p->t0)));
    json_object_set_new(j, "limit", limit ? jstr(limit) : json_null());
    emit(p, "end", j);
}

/* The "start" event: the head, the cue it compares with its threshold, the source. */
static void player_start(Player *p) {
    json_t *j = json_object(), *words = json_array();
    if (!j || !words) {
        json_decref(j);
        json_decref(words);
        return;
    }
    const char *w = p->text;
    for (int i = 0; i < p->n_words; i++, w += strlen(w) + 1) json_array_append_new(words, jstr(w));
    json_object_set_new(j, "session", json_string(p->ss->id));
    json_object_set_new(j, "head", jstr(p->ss->head_spec));
    json_object_set_new(j, "cue", json_string(p->cue.name));
    json_object_set_new(j, "threshold", p->cue.write_when ? json_real(p->cue.threshold) : json_null());
    json_object_set_new(j, "write_when", p->cue.write_when ? json_string(p->cue.write_when) : json_null());
    json_object_set_new(j, "min_lag", json_integer(p->min_lag));
    json_object_set_new(j, "max_lag", json_integer(p->max_lag));
    json_object_set_new(j, "ms_per_word", json_integer(p->ms_per_word));
    json_object_set_new(j, "source", words);
    emit(p, "start", j);
}

static void *player_main(void *arg) {
    Player *p = arg;
    Server *s = p->s;
    Session *ss = p->ss;
    const char *word = p->text;
    player_start(p);
    p->t0 = runtime_now();
    int stopped = 0;
    for (int i = 0; i <= p->n_words && !p->failed; i++) {
        /* word i is due at i * pace; the end of the source comes with the last word */
        if (i < p->n_words && sleep_until(p, p->t0 + i * p->ms_per_word / 1e3)) {
            stopped = 1;
            break;
        }
        if (player_step(p, i, &word)) break;
    }
    if (stopped) emit_error(p, "the stream was stopped (the server is shutting down or the client left)");
    else if (!p->failed) player_end(p);
    pthread_mutex_lock(&ss->mu);
    ss->player = NULL;
    ss->playing = 0;
    pthread_mutex_unlock(&ss->mu);
    pthread_mutex_lock(&p->mu);
    p->finished = 1;
    if (p->suspended && p->conn) {
        p->suspended = 0;
        MHD_resume_connection(p->conn);
    }
    pthread_mutex_unlock(&p->mu);
    player_unref(p);
    session_release(s, ss);
    pthread_mutex_lock(&s->players_mu);
    s->n_players--;
    pthread_cond_broadcast(&s->players_cv);
    pthread_mutex_unlock(&s->players_mu);
    return NULL;
}

/* --- the endpoint ------------------------------------------------------------------------- */

/* Reads {"text": "..." or "words": [...], "ms_per_word": N} into the player's words. 0, or -1 with msg. */
static int read_stream_request(Server *s, const Request *req, Player *p, char *msg, size_t msg_size) {
    json_t *body = NULL;
    WordList words = {0};
    static const char *const known[] = {"text", "words", "ms_per_word", NULL};
    int rc = -1;
    if (parse_body(req, 0, &body, msg, msg_size) || check_keys(body, known, msg, msg_size)) goto done;
    json_t *ms = json_object_get(body, "ms_per_word");
    if (ms && !json_is_integer(ms)) {
        snprintf(msg, msg_size, "\"ms_per_word\" must be an integer, not %s", json_type_name(ms));
        goto done;
    }
    p->ms_per_word = ms ? (int)PX_MAX(-1, PX_MIN(json_integer_value(ms), STREAM_MAX_MS_PER_WORD + 1)) : 0;
    if (p->ms_per_word < 0 || p->ms_per_word > STREAM_MAX_MS_PER_WORD) {
        snprintf(msg, msg_size, "\"ms_per_word\" must be between 0 and %d", STREAM_MAX_MS_PER_WORD);
        goto done;
    }
    if (get_words(body, "text", &words, msg, msg_size) || get_words(body, "words", &words, msg, msg_size)) goto done;
    if (words.n == 0) {
        snprintf(msg, msg_size, "the source text is empty: give \"text\" (or \"words\") with at least one word");
        goto done;
    }
    if (words.n > s->max_source_words) {
        snprintf(msg, msg_size,
                 "too many source words: %d, at most %d in one sentence (the model reads at most %d tokens)", words.n,
                 s->max_source_words, s->max_source_words);
        goto done;
    }
    size_t total = 0;
    for (int i = 0; i < words.n; i++) total += words.len[i] + 1;
    p->text = malloc(total);
    if (!p->text) {
        snprintf(msg, msg_size, "out of memory reading the words");
        goto done;
    }
    char *at = p->text;
    for (int i = 0; i < words.n; i++) {
        memcpy(at, words.p[i], words.len[i]);
        at[words.len[i]] = '\0';
        at += words.len[i] + 1;
    }
    p->n_words = words.n;
    rc = 0;
done:
    json_decref(body);
    word_list_free(&words);
    return rc;
}

/* Starts the player on the session (its `playing` flag set) and queues the event stream; on a
 * failure before the thread runs, clears the flag and frees the player. */
static enum MHD_Result start_player(Server *s, Conn *conn, Session *ss, Player *p) {
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, player_read, p, player_response_freed);
    if (!r) {
        pthread_mutex_lock(&ss->mu);
        ss->player = NULL;
        ss->playing = 0;
        pthread_mutex_unlock(&ss->mu);
        player_unref(p);
        return MHD_NO;
    }
    p->refs = 2; /* the response and the thread */
    p->conn = conn;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Accel-Buffering", "no"); /* a proxy in front must not hold events back */
    session_retain(s, ss);
    pthread_mutex_lock(&s->players_mu);
    s->n_players++;
    s->n_streams++; /* until player_response_freed */
    pthread_mutex_unlock(&s->players_mu);
    pthread_attr_t attr;
    pthread_t th;
    int started = pthread_attr_init(&attr) == 0;
    if (started) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        started = pthread_create(&th, &attr, player_main, p) == 0;
        pthread_attr_destroy(&attr);
    }
    if (!started) {
        pthread_mutex_lock(&ss->mu);
        ss->player = NULL;
        ss->playing = 0;
        pthread_mutex_unlock(&ss->mu);
        session_release(s, ss);
        pthread_mutex_lock(&s->players_mu);
        s->n_players--;
        pthread_cond_broadcast(&s->players_cv);
        pthread_mutex_unlock(&s->players_mu);
        pthread_mutex_lock(&p->mu);
        p->refs--; /* the thread's */
        pthread_mutex_unlock(&p->mu);
        MHD_destroy_response(r); /* frees the player */
        return reply_error(s, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "cannot start a thread for the stream");
    }
    enum MHD_Result ok = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    if (ok == MHD_YES) metrics_count_request(s, MHD_HTTP_OK);
    return ok;
}

enum MHD_Result handle_session_stream(Server *s, Conn *conn, Session *ss, const Request *req) {
    char msg[512];
    Player *p = calloc(1, sizeof *p);
    if (!p) return queue_static_error(s, conn);
    if (pthread_mutex_init(&p->mu, NULL)) {
        free(p);
        return reply_error(s, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "cannot create a mutex for the stream");
    }
    p->s = s;
    p->ss = ss;
    p->refs = 1;
    HeadSpec head;
    if (head_parse(ss->head_spec, &head) == 0) {
        p->cue = head_cue(&head);
        p->min_lag = head.min_lag;
        p->max_lag = head.max_lag;
    } else {
        p->cue = (HeadCue){"lag", NULL, 0.0};
    }
    if (read_stream_request(s, req, p, msg, sizeof msg)) {
        player_unref(p);
        return reply_error(s, conn, MHD_HTTP_BAD_REQUEST, "%s", msg);
    }
    pthread_mutex_lock(&s->players_mu);
    int stopping = s->stopping;
    pthread_mutex_unlock(&s->players_mu);
    pthread_mutex_lock(&ss->mu);
    int busy = ss->playing, rc = busy || stopping ? 0 : session_begin(s, ss);
    if (!busy && !stopping && !rc) {
        ss->playing = 1;
        ss->player = p;
    }
    pthread_mutex_unlock(&ss->mu);
    if (busy || stopping || rc) {
        player_unref(p);
        if (busy) return reply_playing(s, conn, ss);
        if (stopping) return reply_error(s, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "the server is shutting down");
        return reply_error(s, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "starting a sentence failed: %s",
                           px_error_message());
    }
    return start_player(s, conn, ss, p);
}

void streams_stop(Server *s) {
    pthread_mutex_lock(&s->players_mu);
    s->stopping = 1;
    while (s->n_players > 0) pthread_cond_wait(&s->players_cv, &s->players_mu);
    /* Every player has written its last event (an error saying why); let MHD send it before the daemon
     * closes the connections, for at most STREAM_DRAIN_S (a client that stopped reading must not
     * hold the shutdown). */
    struct timespec deadline;
    int timed = clock_gettime(CLOCK_REALTIME, &deadline) == 0;
    deadline.tv_sec += STREAM_DRAIN_S;
    while (timed && s->n_streams > 0)
        if (pthread_cond_timedwait(&s->players_cv, &s->players_mu, &deadline) == ETIMEDOUT) break;
    pthread_mutex_unlock(&s->players_mu);
}
