/* serve.h — what the files of `proact serve` share (jobs/serve/): the server's state, the
 * sessions, the request being read, and the functions one file offers the others.
 *   serve.c     the command: options, model load, listening socket, start and stop
 *   http.c      libmicrohttpd's callbacks, routing, responses and JSON errors, request bodies
 *   handlers.c  the endpoints: SimulEval's protocol, /v1/sessions, /, /healthz
 *   sessions.c  the session store (ids, references, idle expiry) and streaming on a session
 *   metrics.c   the counters and GET /metrics (Prometheus text)
 *   stream.c    POST /v1/sessions/ID/stream: a sentence played at a pace, its decisions as Server-Sent Events
 *   web.c       the page at GET / (jobs/serve/web/, embedded at build time) for browsers
 *
 * Threads: MHD runs the requests on its worker pool. Every session owns a Runner (the Model,
 * Tokenizer and StreamFormat are shared, read-only) and a mutex that serializes the requests on
 * it. The session table has its own mutex, and sessions are reference-counted so that a DELETE or
 * an idle expiry never frees a session that another request is using. Lock order: a session's
 * mutex, then the tokenizer, metrics or table mutex; the table mutex is never held while waiting
 * for a session. tokenizer_encode is not thread-safe: the runners share one tokenizer mutex
 * through RunnerOptions.encode_guard. A stream (stream.c) runs on its own thread (a Player): it
 * takes the session's mutex per word, and MHD's connection is suspended while it has nothing to
 * send; the server waits for every player before stopping the daemon. */
#ifndef PROACT_JOBS_SERVE_H
#define PROACT_JOBS_SERVE_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "io/stream_model.h"
#include "src/stream/runner.h"

#define SERVE_ID_LEN 32                                  /* hex characters of a session id */
#define SERVE_MAX_CODE 600                               /* HTTP status codes counted: 0..599 */
#define SERVE_DRAIN_BYTES ((unsigned long long)64 << 20) /* an over-limit body read and dropped */
#define SERVE_JSON_TYPE "application/json"
#define SERVE_METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* One stream: a Runner and where its current sentence is. */
typedef struct {
    char id[SERVE_ID_LEN + 1];
    char head_spec[sizeof(((HeadSpec *)0)->spec)];
    pthread_mutex_t mu; /* serializes the requests on this session; guards everything below */
    Runner *runner;
    int source_ended;      /* runner_end_source was called for this sentence */
    int done;              /* the runner said RUNNER_DONE */
    int broken;            /* the runner failed: only a reset helps */
    char failure[320];     /* why, when broken */
    int words_pushed;      /* source words of this sentence */
    int words_out;         /* target words handed out in this sentence */
    double t_start;        /* monotonic time of the sentence's first input; < 0 before it */
    RunnerStats last;      /* the runner's counters at the last metrics update */
    const char *limit;     /* which limit ended the sentence, if one did */
    int playing;           /* a stream (stream.c) drives the runner: other requests get 409 */
    struct Player *player; /* that stream, which the runner's trace reports to (NULL: none) */
    /* guarded by the table mutex */
    int refs;
    int removed;
    double last_used;
} Session;

typedef struct {
    pthread_mutex_t mu;
    uint64_t requests[SERVE_MAX_CODE];
    uint64_t src_words_read, tgt_words_written, tokens, sessions_created, sessions_expired, client_timeouts;
    double seconds;
} Metrics;

typedef struct {
    StreamModel sm;
    HeadSpec default_head;
    RunnerOptions ropt;
    DecodeWeights dw;     /* the decode weights every session's runner reads (ropt.weights) */
    int max_source_words; /* per sentence: each word is at least one token */
    /* limits */
    int max_sessions;
    double idle_timeout;
    size_t max_body;
    int client_timeout; /* seconds: a silent connection is closed; a body must be complete (0 = never) */
    /* sessions */
    pthread_mutex_t table_mu;
    Session **table; /* [max_sessions] */
    int n_sessions;
    Session *simul; /* the implicit session of the SimulEval protocol */
    pthread_mutex_t tok_mu;
    Metrics metrics;
    /* streams (stream.c): running players, stream responses MHD still holds (their last events may be
     * unsent), and whether the server is stopping */
    pthread_mutex_t players_mu;
    pthread_cond_t players_cv;
    int n_players, n_streams, stopping;
} Server;

/* Per-request state: the body as it arrives. */
typedef struct {
    char *body;
    size_t len, cap;
    int too_big;
    unsigned long long declared; /* Content-Length, if over the limit */
    double t_headers;            /* monotonic time the headers were complete */
    int timed_out;               /* the body was late (--client-timeout): the connection is closed */
} Request;

typedef struct MHD_Connection Conn;

/* The words a session wrote, handed out by one request. */
typedef struct {
    char *text;
    int delay, index;
    double elapsed_ms;
} OutWord;

typedef struct {
    OutWord *w;
    int n, cap;
} OutWords;

/* Words of one input, split on whitespace; the strings point into the JSON values. */
typedef struct {
    const char **p;
    size_t *len;
    int n, cap;
} WordList;

/* --- http.c: responses (each counted in the metrics) --- */

/* A JSON string of s, replacing invalid UTF-8 by U+FFFD (json_string refuses it). */
json_t *jstr(const char *s);
/* Queues body (malloc'ed, taken over) with the given status. allow: the Allow header, or NULL. */
enum MHD_Result queue_body(Server *s, Conn *conn, unsigned code, char *body, size_t len, const char *type,
                           const char *allow, const char *location);
/* The last resort when even building the error body fails. */
enum MHD_Result queue_static_error(Server *s, Conn *conn);
/* Queues the JSON value j (its reference is taken, also on failure). */
enum MHD_Result reply_json_full(Server *s, Conn *conn, unsigned code, json_t *j, const char *allow,
                                const char *location);
enum MHD_Result reply_json(Server *s, Conn *conn, unsigned code, json_t *j);
/* {"error": "..."} with the given status; allow: the Allow header of a 405. */
__attribute__((format(printf, 5, 6))) enum MHD_Result reply_error_allow(Server *s, Conn *conn, unsigned code,
                                                                        const char *allow, const char *fmt, ...);
#define reply_error(s, conn, code, ...) reply_error_allow(s, conn, code, NULL, __VA_ARGS__)

/* --- http.c: request bodies; each returns 0, or -1 with msg (the reason of a 400) --- */

const char *json_type_name(const json_t *j);
/* The body as a JSON object: *out = the object, or NULL for an empty body when allow_empty. */
int parse_body(const Request *req, int allow_empty, json_t **out, char *msg, size_t msg_size);
/* Fails on keys outside `known` (a NULL-terminated list). */
int check_keys(json_t *obj, const char *const *known, char *msg, size_t msg_size);
/* An optional boolean field: *out unchanged when absent (or null if allow_null). */
int get_bool(json_t *obj, const char *key, int allow_null, int *out, char *msg, size_t msg_size);
/* A string or an array of strings, split into words. */
int get_words(json_t *obj, const char *key, WordList *words, char *msg, size_t msg_size);
void word_list_free(WordList *l);

/* --- http.c: libmicrohttpd's callbacks (cls is the Server) --- */

enum MHD_Result on_request(void *cls, Conn *conn, const char *url, const char *method, const char *version,
                           const char *upload_data, size_t *upload_data_size, void **con_cls);
void on_completed(void *cls, Conn *conn, void **con_cls, enum MHD_RequestTerminationCode toe);

/* --- handlers.c: the endpoints --- */

enum MHD_Result handle_info(Server *s, Conn *conn);
enum MHD_Result handle_healthz(Server *s, Conn *conn);
enum MHD_Result handle_simul_reset(Server *s, Conn *conn);
enum MHD_Result handle_simul_input(Server *s, Conn *conn, const Request *req);
enum MHD_Result handle_simul_output(Server *s, Conn *conn);
enum MHD_Result handle_create(Server *s, Conn *conn, const Request *req);
enum MHD_Result handle_delete(Server *s, Conn *conn, const char *id);
enum MHD_Result handle_session_info(Server *s, Conn *conn, Session *ss);
enum MHD_Result handle_session_reset(Server *s, Conn *conn, Session *ss);
enum MHD_Result handle_session_input(Server *s, Conn *conn, Session *ss, const Request *req);
enum MHD_Result handle_session_output(Server *s, Conn *conn, Session *ss);
/* The 409 of a request on a session a stream is playing. */
enum MHD_Result reply_playing(Server *s, Conn *conn, const Session *ss);

/* --- stream.c: a sentence played at a pace, as Server-Sent Events --- */

enum MHD_Result handle_session_stream(Server *s, Conn *conn, Session *ss, const Request *req);
/* The runners' trace of /v1 sessions (ctx: the Session): reports to its player, if one plays. */
void stream_trace(void *ctx, const RunnerDecision *d);
/* Stops every player and waits for them (before MHD_stop_daemon: no connection stays suspended). */
void streams_stop(Server *s);

/* --- web.c: the page --- */

/* Whether the client accepts HTML (a browser): then GET / is the page. */
int wants_html(Conn *conn);
/* GET / (the page) and GET /web/NAME (its scripts and styles); 404 for an unknown name. */
enum MHD_Result handle_web(Server *s, Conn *conn, const char *url);

/* --- sessions.c --- */

/* A session with its own runner; NULL with px_error. traced: its runner reports every decision
 * to stream_trace (the /v1 sessions, which can stream; not SimulEval's, whose fixed heads then
 * skip computing cues). */
Session *session_new(Server *s, const HeadSpec *head, int traced);
/* Takes one more reference on a session the caller already holds. */
void session_retain(Server *s, Session *ss);
void session_free(Session *ss);
/* Starts a new sentence on the session (its mutex held, or not yet shared). */
int session_begin(Server *s, Session *ss);
/* Drops the sessions unused for longer than the idle timeout (none in use is touched). */
void sweep_idle(Server *s);
/* Finds a session by id and takes a reference; NULL if there is none. */
Session *session_acquire(Server *s, const char *id);
void session_release(Server *s, Session *ss);
int session_count(Server *s);
/* Runs the runner until it needs source or is done, collecting the words it writes.
 * 0, or -1 with px_error (the session is then broken until a reset). */
int session_drain(Server *s, Session *ss, OutWords *out);
void out_words_free(OutWords *o);
/* Queues the words and, if finished, ends the source; returns the number queued (see sessions.c). */
int session_push(Server *s, Session *ss, const WordList *words, int finished, char *err, size_t err_size);

/* --- metrics.c --- */

void metrics_count_request(Server *s, unsigned code);
/* Adds the runner's counters since the session's last update, and `seconds` of decoding. */
void metrics_account(Server *s, Session *ss, double seconds);
void metrics_sessions(Server *s, int created, int expired);
/* A request dropped because its client was too slow (--client-timeout). */
void metrics_client_timeout(Server *s);
enum MHD_Result handle_metrics(Server *s, Conn *conn);

#endif
