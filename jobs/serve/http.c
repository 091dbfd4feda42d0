/* http.c — the HTTP layer of `proact serve` (libmicrohttpd): the request callbacks (body reading
 * with the --max-body limit and 413s, and the --client-timeout deadline for slow bodies), routing
 * to the endpoints of handlers.c, stream.c and web.c (404, 405 with Allow), JSON responses and {"error": ...} bodies,
 * and reading request bodies (JSON objects, booleans, words as text or lists, all checked, every
 * fault a 400 with its reason). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jobs/jobs.h"
#include "jobs/serve/serve.h"
#include "src/base/common.h"
#include "src/base/utf8.h"
#include "src/text/words.h"

/* ------------------------------------------------------------------------------------------ */
/* Responses                                                                                   */

/* A JSON string of s, replacing invalid UTF-8 by U+FFFD (json_string refuses it). */
json_t *jstr(const char *s) {
    size_t len = strlen(s);
    if (utf8_valid(s, len, NULL)) return json_stringn(s, len);
    char *fixed = malloc(UTF8_SANITIZED_MAX(len) + 1);
    if (!fixed) return NULL;
    size_t n = utf8_sanitize(s, len, fixed, NULL);
    json_t *j = json_stringn(fixed, n);
    free(fixed);
    return j;
}

/* Queues body (malloc'ed, taken over) with the given status. allow: the Allow header, or NULL. */
enum MHD_Result queue_body(Server *s, Conn *conn, unsigned code, char *body, size_t len, const char *type,
                           const char *allow, const char *location) {
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
    if (ok == MHD_YES) metrics_count_request(s, code);
    return ok;
}

/* The last resort when even building the error body fails. */
enum MHD_Result queue_static_error(Server *s, Conn *conn) {
    static const char msg[] = "{\"error\":\"out of memory building the response\"}";
    char *body = malloc(sizeof msg);
    if (!body) return MHD_NO;
    memcpy(body, msg, sizeof msg);
    return queue_body(s, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, body, sizeof msg - 1, SERVE_JSON_TYPE, NULL, NULL);
}

/* Queues the JSON value j (its reference is taken, also on failure). */
enum MHD_Result reply_json_full(Server *s, Conn *conn, unsigned code, json_t *j, const char *allow,
                                const char *location) {
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

enum MHD_Result reply_json(Server *s, Conn *conn, unsigned code, json_t *j) {
    return reply_json_full(s, conn, code, j, NULL, NULL);
}

/* {"error": "..."} with the given status; allow: the Allow header of a 405. */
enum MHD_Result reply_error_allow(Server *s, Conn *conn, unsigned code, const char *allow, const char *fmt, ...) {
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

/* ------------------------------------------------------------------------------------------ */
/* Request bodies                                                                              */

void word_list_free(WordList *l) {
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

const char *json_type_name(const json_t *j) {
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
int parse_body(const Request *req, int allow_empty, json_t **out, char *msg, size_t msg_size) {
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
int check_keys(json_t *obj, const char *const *known, char *msg, size_t msg_size) {
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
int get_bool(json_t *obj, const char *key, int allow_null, int *out, char *msg, size_t msg_size) {
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
int get_words(json_t *obj, const char *key, WordList *words, char *msg, size_t msg_size) {
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
    } else if (strcmp(action, "input") == 0 || strcmp(action, "reset") == 0 || strcmp(action, "stream") == 0) {
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
    else if (strcmp(action, "stream") == 0) r = handle_session_stream(s, conn, ss, req);
    else r = handle_session_reset(s, conn, ss);
    session_release(s, ss);
    return r;
}

static enum MHD_Result route(Server *s, Conn *conn, const char *method, const char *url, const Request *req) {
    if (strcmp(url, "/") == 0) /* a browser gets the page; SimulEval's client (no text/html) the JSON */
        return !is(method, "GET") ? wrong_method(s, conn, method, url, "GET")
               : wants_html(conn) ? handle_web(s, conn, url)
                                  : handle_info(s, conn);
    if (strncmp(url, "/web/", strlen("/web/")) == 0)
        return is(method, "GET") ? handle_web(s, conn, url) : wrong_method(s, conn, method, url, "GET");
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
enum MHD_Result on_request(void *cls, Conn *conn, const char *url, const char *method, const char *version,
                           const char *upload_data, size_t *upload_data_size, void **con_cls) {
    Server *s = cls;
    Request *req = *con_cls;
    if (!req) {
        req = calloc(1, sizeof *req);
        if (!req) return MHD_NO;
        *con_cls = req;
        req->t_headers = runtime_now();
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
        /* A client that dribbles its body (slowloris) keeps the connection from falling silent:
         * past the deadline the connection is closed (libmicrohttpd 0.9 cannot queue a 408 while
         * a body is still arriving). A stalled one is closed by MHD's own --client-timeout. */
        if (s->client_timeout > 0 && runtime_now() - req->t_headers > s->client_timeout) {
            req->timed_out = 1;
            return MHD_NO;
        }
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

void on_completed(void *cls, Conn *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    Request *req = *con_cls;
    (void)conn;
    if (req && (req->timed_out || toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED)) metrics_client_timeout(cls);
    if (req) {
        free(req->body);
        free(req);
        *con_cls = NULL;
    }
}
