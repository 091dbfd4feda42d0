/* handlers.c — the endpoints of `proact serve` (docs/serving.md): SimulEval's remote-agent
 * protocol on the implicit session (POST /reset, PUT /input, GET /output), the /v1/sessions API
 * (create, input, output, reset, info, delete), GET / and GET /healthz. Each checks the request,
 * works on its session under the session's mutex, and answers with JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/jobs.h"
#include "jobs/serve/serve.h"
#include "src/base/common.h"

/* ------------------------------------------------------------------------------------------ */
/* Handlers                                                                                    */

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

enum MHD_Result handle_info(Server *s, Conn *conn) {
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
        json_object_set_new(j, "has_probe", json_boolean(s->sm.has_probe));
        json_object_set_new(j, "max_source_words", json_integer(s->max_source_words));
    }
    return reply_json(s, conn, MHD_HTTP_OK, j);
}

enum MHD_Result reply_playing(Server *s, Conn *conn, const Session *ss) {
    return reply_error(s, conn, MHD_HTTP_CONFLICT,
                       "session %s is playing a stream: wait for its end event (or DELETE the session)", ss->id);
}

static json_t *ok_json(void) {
    json_t *j = json_object();
    if (j) json_object_set_new(j, "ok", json_true());
    return j;
}

/* --- SimulEval --- */

enum MHD_Result handle_simul_reset(Server *s, Conn *conn) {
    Session *ss = s->simul;
    pthread_mutex_lock(&ss->mu);
    int rc = session_begin(s, ss);
    pthread_mutex_unlock(&ss->mu);
    if (rc) return reply_runner_failure(s, conn, "starting a sentence");
    return reply_json(s, conn, MHD_HTTP_OK, ok_json());
}

/* A Segment: {"index", "content": string or list, "finished", "is_empty", "data_type", ...}.
 * Extra keys are ignored; words sent after the source finished are ignored. */
enum MHD_Result handle_simul_input(Server *s, Conn *conn, const Request *req) {
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
enum MHD_Result handle_simul_output(Server *s, Conn *conn) {
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

enum MHD_Result handle_create(Server *s, Conn *conn, const Request *req) {
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
    Session *ss = session_new(s, &head, 1);
    if (!ss) return reply_runner_failure(s, conn, "creating a session");
    /* the reply's id and head are copied before the table lock is let go: from then on a sweep
     * (a tiny --idle-timeout) or a DELETE by a client that guessed the id may free the session */
    char id[SERVE_ID_LEN + 1], head_spec[sizeof ss->head_spec];
    memcpy(id, ss->id, sizeof id);
    memcpy(head_spec, ss->head_spec, sizeof head_spec);
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
    metrics_sessions(s, 1, 0);
    char location[64];
    snprintf(location, sizeof location, "/v1/sessions/%s", id);
    json_t *j = json_object();
    if (j) {
        json_object_set_new(j, "id", json_string(id));
        json_object_set_new(j, "head", jstr(head_spec));
    }
    return reply_json_full(s, conn, MHD_HTTP_CREATED, j, NULL, location);
}

enum MHD_Result handle_delete(Server *s, Conn *conn, const char *id) {
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

enum MHD_Result handle_session_info(Server *s, Conn *conn, Session *ss) {
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

enum MHD_Result handle_session_reset(Server *s, Conn *conn, Session *ss) {
    pthread_mutex_lock(&ss->mu);
    if (ss->playing) {
        pthread_mutex_unlock(&ss->mu);
        return reply_playing(s, conn, ss);
    }
    int rc = session_begin(s, ss);
    pthread_mutex_unlock(&ss->mu);
    if (rc) return reply_runner_failure(s, conn, "starting a sentence");
    return reply_json(s, conn, MHD_HTTP_OK, ok_json());
}

/* {"words": [...]} or {"text": "..."}, and "finished". */
enum MHD_Result handle_session_input(Server *s, Conn *conn, Session *ss, const Request *req) {
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
    if (ss->playing) {
        result = reply_playing(s, conn, ss);
    } else if (ss->broken) {
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

enum MHD_Result handle_session_output(Server *s, Conn *conn, Session *ss) {
    OutWords out = {0};
    char failure[sizeof ss->failure], reset[64];
    pthread_mutex_lock(&ss->mu);
    if (ss->playing) {
        pthread_mutex_unlock(&ss->mu);
        return reply_playing(s, conn, ss);
    }
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

/* --- health --- */

enum MHD_Result handle_healthz(Server *s, Conn *conn) {
    json_t *j = json_object();
    if (j) {
        json_object_set_new(j, "status", json_string("ok"));
        json_object_set_new(j, "sessions", json_integer(session_count(s)));
    }
    return reply_json(s, conn, MHD_HTTP_OK, j);
}
