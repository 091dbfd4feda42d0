#include "io/atomic_file.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "src/base/common.h"

int atomic_write(const char *path, AtomicWriteBody body, void *ctx) {
    /* The pid keeps two processes writing the same path from sharing a temporary file. */
    char tmp[PX_PATH_MAX + 32];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp)
        return px_error("%.200s...: path too long", path);
    FILE *fp = fopen(tmp, "wb");
    if (!fp) return px_error("%s: cannot create %s: %s", path, tmp, strerror(errno));
    errno = 0;
    int ok = body(fp, ctx) == 0 && fflush(fp) == 0 && fsync(fileno(fp)) == 0;
    int e = errno;
    if (fclose(fp) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        return px_error("%s: write failed: %s", path, e ? strerror(e) : "I/O error");
    }
    return 0;
}

typedef struct {
    const void *data;
    size_t len;
} Buffer;

static int write_buffer(FILE *fp, void *ctx) {
    const Buffer *b = ctx;
    return b->len == 0 || fwrite(b->data, 1, b->len, fp) == b->len ? 0 : -1;
}

int atomic_write_buffer(const char *path, const void *data, size_t len) {
    Buffer b = {data, len};
    return atomic_write(path, write_buffer, &b);
}
