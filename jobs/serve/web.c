/* web.c — the page of `proact serve` (docs/serving.md, "Watching it decide"): GET / answers a
 * browser (a client whose Accept names text/html) with index.html, and GET /web/NAME with the
 * page's script and style. The files live in jobs/serve/web/ and are embedded at build time
 * (web_assets.h); SimulEval's client, which does not ask for HTML, still gets GET /'s JSON. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/serve/serve.h"
#include "jobs/serve/web_assets.h"

/* Whether the Accept header names text/html (browsers send "text/html,application/xhtml+xml,..."). */
int wants_html(Conn *conn) {
    const char *accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
    if (!accept) return 0;
    char lower[1024]; /* media types are case-insensitive; a longer header is read up to here */
    size_t n_acc = 0;
    for (; accept[n_acc] && n_acc + 1 < sizeof lower; n_acc++)
        lower[n_acc] = (char)tolower((unsigned char)accept[n_acc]);
    lower[n_acc] = '\0';
    for (const char *p = lower; (p = strstr(p, "text/html")) != NULL; p += strlen("text/html")) {
        /* "text/html;q=0" declines it */
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char param[64];
        snprintf(param, sizeof param, "%.*s", (int)(n < sizeof param ? n : sizeof param - 1), p);
        char *q = strstr(param, "q=");
        if (!q || strtod(q + 2, NULL) > 0) return 1;
    }
    return 0;
}

static const char *content_type(const char *name) {
    const char *dot = strrchr(name, '.');
    if (dot && strcmp(dot, ".html") == 0) return "text/html; charset=utf-8";
    if (dot && strcmp(dot, ".js") == 0) return "text/javascript; charset=utf-8";
    if (dot && strcmp(dot, ".css") == 0) return "text/css; charset=utf-8";
    return "application/octet-stream";
}

enum MHD_Result handle_web(Server *s, Conn *conn, const char *url) {
    const char *name = strcmp(url, "/") == 0 ? "index.html" : url + strlen("/web/");
    for (int i = 0; i < n_web_assets; i++) {
        if (strcmp(web_assets[i].name, name) != 0) continue;
        char *body = malloc(web_assets[i].len ? web_assets[i].len : 1);
        if (!body) return queue_static_error(s, conn);
        memcpy(body, web_assets[i].data, web_assets[i].len);
        return queue_body(s, conn, MHD_HTTP_OK, body, web_assets[i].len, content_type(name), NULL, NULL);
    }
    return reply_error(s, conn, MHD_HTTP_NOT_FOUND, "no such path: %.128s", url);
}
