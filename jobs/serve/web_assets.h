/* web_assets.h — the files of the page (jobs/serve/web/), embedded into the binary at build time
 * (jobs/serve/embed_web.cmake writes web_assets.c into the build directory). */
#ifndef PROACT_JOBS_SERVE_WEB_ASSETS_H
#define PROACT_JOBS_SERVE_WEB_ASSETS_H

#include <stddef.h>

typedef struct {
    const char *name;          /* the file's name in jobs/serve/web/ ("index.html") */
    const unsigned char *data; /* its bytes */
    size_t len;
} WebAsset;

extern const WebAsset web_assets[];
extern const int n_web_assets;

#endif
