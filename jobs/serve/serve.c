/* serve.c — `proact serve`: the streaming runner behind an HTTP server (libmicrohttpd + jansson).
 * Recipe: parse the options -> load the exported model -> check the head -> bind the socket ->
 * start the daemon (a pool of worker threads) -> wait for SIGINT/SIGTERM, sweeping idle sessions
 * -> stop the daemon -> free everything.
 *
 * Two protocols share one model (docs/serving.md):
 *   - SimulEval's remote-agent protocol on one implicit session: POST /reset, PUT /input (a JSON
 *     Segment), GET /output (a JSON Segment), GET /;
 *   - sessions for concurrent clients: POST /v1/sessions, POST /v1/sessions/ID/input,
 *     GET /v1/sessions/ID/output, POST /v1/sessions/ID/reset, GET|DELETE /v1/sessions/ID;
 * plus GET /healthz and GET /metrics (Prometheus text). jobs/serve/serve.h says which file holds
 * what, and how the threads share the state. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jobs/jobs.h"
#include "jobs/options.h"
#include "jobs/serve/serve.h"
#include "src/base/common.h"
#include "src/model/gemv.h"

static void encode_guard(void *ctx, int enter) {
    Server *s = ctx;
    if (enter) pthread_mutex_lock(&s->tok_mu);
    else pthread_mutex_unlock(&s->tok_mu);
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
    decode_weights_free(&s->dw);
    stream_model_free(&s->sm);
    pthread_mutex_destroy(&s->table_mu);
    pthread_mutex_destroy(&s->tok_mu);
    pthread_mutex_destroy(&s->metrics.mu);
    pthread_mutex_destroy(&s->players_mu);
    pthread_cond_destroy(&s->players_cv);
}

int cmd_serve(int argc, char **argv) {
    const char *model_dir = NULL, *head_spec = NULL, *host = "127.0.0.1";
    int port = 8080, max_sessions = 16, max_body = 1 << 20, workers = 4, threads = 1, client_timeout = 60, opt_status;
    int kv_bf16 = 0;
    DecodeWeightType wtype = DECODE_FP32;
    double idle = 300.0;
    float temperature = 0.0f, top_p = 1.0f;
    uint64_t seed = 1;
    char head_help[1024];
    snprintf(head_help, sizeof head_help, "decision head (default: the model's default_head): %s", head_spec_help());
    const Opt table[] = {
        OPT("model", 'm', OPT_STRING, &model_dir, "DIR",
            "exported model directory (config.json, model.safetensors,\n"
            "tokenizer.json, proact.json); default: $PROACT_MODEL, else\n"
            "the shipped models/" STREAM_MODEL_SHIPPED),
        OPT("head", 'H', OPT_STRING, &head_spec, "SPEC", head_help),
        OPT("port", 'p', OPT_INT, &port, "P", "TCP port (default 8080; 0 picks a free one)", .min = 0, .max = 65535),
        OPT("host", 'a', OPT_STRING, &host, "ADDR",
            "address to listen on (default 127.0.0.1; 0.0.0.0 or :: for\n"
            "all)"),
        OPT("max-sessions", 0, OPT_INT, &max_sessions, "N", "concurrent /v1 sessions (default 16); one more gets 429",
            .min = 1, .max = 100000),
        OPT("idle-timeout", 0, OPT_DOUBLE, &idle, "SEC",
            "drop /v1 sessions unused for SEC seconds (default 300;\n"
            "0 = never)",
            .lo = 0, .hi = 1e9),
        OPT("client-timeout", 0, OPT_INT, &client_timeout, "SEC",
            "close a connection silent for SEC seconds, or whose\n"
            "request body is not complete SEC seconds after its\nheaders (default 60; 0 = never)",
            .min = 0, .max = 86400),
        OPT("max-body", 0, OPT_INT, &max_body, "BYTES", "largest request body (default 1048576); larger gets 413",
            .min = 64, .max = 1L << 30),
        OPT("workers", 0, OPT_INT, &workers, "N", "HTTP worker threads (default 4)", .min = 1, .max = 256),
        OPT("threads", 't', OPT_INT, &threads, "N",
            "OpenBLAS threads per computation (default 1: sessions run\n"
            "in parallel)",
            .min = 0, .max = 1024),
        OPT("temperature", 0, OPT_FLOAT, &temperature, "T", "0 = greedy (default); > 0 samples", .lo = 0, .hi = 100),
        OPT("top-p", 0, OPT_FLOAT, &top_p, "P", "nucleus mass when sampling (default 1)", .lo = 1e-6, .hi = 1),
        OPT("seed", 0, OPT_U64, &seed, "S", "sampling seed (default 1)"),
        DECODE_OPTS(wtype, kv_bf16),
        {0}};
    Opts o = {.command = "serve", .opts = table};
    o.about = "Serves the exported streaming model in DIR over HTTP (docs/serving.md):\n"
              "  SimulEval's remote-agent protocol   POST /reset, PUT /input, GET /output, GET /\n"
              "  sessions for concurrent clients     POST /v1/sessions, POST /v1/sessions/ID/input,\n"
              "                                      GET /v1/sessions/ID/output, POST /v1/sessions/ID/reset,\n"
              "                                      GET|DELETE /v1/sessions/ID\n"
              "  a sentence played at a pace         POST /v1/sessions/ID/stream (Server-Sent Events)\n"
              "  a page to watch it decide           GET / from a browser (Accept: text/html)\n"
              "  GET /healthz, GET /metrics (Prometheus text format)\n";
    o.notes = "Prints 'listening on http://HOST:PORT (head SPEC, model DIR)' once it accepts requests.\n"
              "SIGINT or SIGTERM stops it cleanly (exit 0).\n" STREAM_MODEL_LOCATE_HELP;
    if (opts_parse(&o, argc, argv, &opt_status)) return opt_status;
    char dir[PX_PATH_MAX];
    const char *origin;
    if (stream_model_locate(model_dir, dir, sizeof dir, &origin)) {
        fprintf(stderr, "proact serve: error: %s\n", px_error_message());
        return 1;
    }
    if (origin) fprintf(stderr, "proact serve: model %s (%s)\n", dir, origin);
    model_dir = dir;

    runtime_set_threads((int)threads);
    runtime_report_blas();
    Server *s = calloc(1, sizeof *s);
    if (!s) return job_fail("out of memory");
    pthread_mutex_init(&s->table_mu, NULL);
    pthread_mutex_init(&s->tok_mu, NULL);
    pthread_mutex_init(&s->metrics.mu, NULL);
    pthread_mutex_init(&s->players_mu, NULL);
    pthread_cond_init(&s->players_cv, NULL);
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
    s->ropt.temperature = temperature;
    s->ropt.top_p = top_p;
    s->ropt.seed = seed;
    s->ropt.encode_guard = encode_guard;
    s->ropt.encode_guard_ctx = s;
    s->ropt.kv_bf16 = kv_bf16;
    if (decode_weights_for(&s->dw, &s->sm.model, wtype, &s->ropt)) { /* one copy, shared by every session */
        status = job_fail(px_error_message());
        goto done;
    }
    if (wtype != DECODE_FP32)
        fprintf(stderr, "proact serve: %s weights (%s kernels)\n", decode_weight_type_name(wtype), gemv_describe());
    s->max_source_words = PX_MAX(s->sm.model.cfg.max_seq_len, 1);
    s->max_sessions = (int)max_sessions;
    s->idle_timeout = idle;
    s->max_body = (size_t)max_body;
    s->client_timeout = client_timeout;
    s->table = px_calloc((size_t)max_sessions, sizeof(Session *), "the session table");
    if (!s->table || !(s->simul = session_new(s, &s->default_head, 0))) {
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

    /* streams suspend their connection while they wait for the next decision */
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME;
    if (family == AF_INET6) flags |= MHD_USE_IPv6;
    daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, listen_fd,
                              MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)workers, MHD_OPTION_NOTIFY_COMPLETED,
                              on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)client_timeout,
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
    streams_stop(s);
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
    pthread_mutex_destroy(&s->players_mu);
    pthread_cond_destroy(&s->players_cv);
    free(s);
    return status;
}
