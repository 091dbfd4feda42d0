/* sessions.c — the sessions of `proact serve`: each one a Runner and its sentence's state, kept
 * in a table of at most --max-sessions, found by a random id, reference-counted while requests
 * use them and dropped after --idle-timeout; and streaming on a session (push words, drain the
 * words written). The implicit SimulEval session is one too, outside the table. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "jobs/jobs.h"
#include "jobs/serve/serve.h"
#include "src/base/common.h"

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
        uint64_t x =
            __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) * 0x9E3779B97F4A7C15ull ^ (uint64_t)(runtime_now() * 1e9);
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

/* Starts a new sentence on the session (its mutex held, or not yet shared). */
int session_begin(Server *s, Session *ss) {
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
    metrics_account(s, ss, runtime_now() - t0); /* the prompt was encoded */
    return 0;
}

void session_free(Session *ss) {
    if (!ss) return;
    runner_free(ss->runner);
    pthread_mutex_destroy(&ss->mu);
    free(ss);
}

/* A session with its own runner; NULL with px_error. traced: its runner reports to stream_trace. */
Session *session_new(Server *s, const HeadSpec *head, int traced) {
    Session *ss = px_calloc(1, sizeof *ss, "a session");
    if (!ss) return NULL;
    if (pthread_mutex_init(&ss->mu, NULL)) {
        free(ss);
        px_error("cannot create a mutex for a session");
        return NULL;
    }
    RunnerOptions ro = s->ropt;
    if (traced) {
        ro.trace = stream_trace;
        ro.trace_ctx = ss;
    }
    ss->runner =
        runner_new(&s->sm.model, s->sm.tokenizer, &s->sm.format, head, s->sm.has_probe ? &s->sm.probe : NULL, &ro);
    if (!ss->runner || session_begin(s, ss)) {
        session_free(ss);
        return NULL;
    }
    make_id(ss->id);
    snprintf(ss->head_spec, sizeof ss->head_spec, "%s", head->spec);
    return ss;
}

/* Drops the sessions unused for longer than the idle timeout (none in use is touched). */
void sweep_idle(Server *s) {
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
    if (n_expired) metrics_sessions(s, 0, n_expired);
}

/* Finds a session by id and takes a reference; NULL if there is none. */
Session *session_acquire(Server *s, const char *id) {
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

void session_retain(Server *s, Session *ss) {
    pthread_mutex_lock(&s->table_mu);
    ss->refs++;
    pthread_mutex_unlock(&s->table_mu);
}

void session_release(Server *s, Session *ss) {
    int free_it;
    pthread_mutex_lock(&s->table_mu);
    ss->refs--;
    ss->last_used = runtime_now();
    free_it = ss->removed && ss->refs == 0;
    pthread_mutex_unlock(&s->table_mu);
    if (free_it) session_free(ss);
}

int session_count(Server *s) {
    pthread_mutex_lock(&s->table_mu);
    int n = s->n_sessions;
    pthread_mutex_unlock(&s->table_mu);
    return n;
}

/* ------------------------------------------------------------------------------------------ */
/* Streaming                                                                                   */

void out_words_free(OutWords *o) {
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
int session_drain(Server *s, Session *ss, OutWords *out) {
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
    metrics_account(s, ss, runtime_now() - t0);
    return rc;
}

/* Queues the words and, if finished, ends the source. The caller checked the state.
 * Returns the number of words queued; on a word the runner refuses (a source longer than its
 * token limit), stops there and sets *err to the reason; the session stays usable. */
int session_push(Server *s, Session *ss, const WordList *words, int finished, char *err, size_t err_size) {
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
    metrics_account(s, ss, 0.0);
    return queued;
}
