#include "io/files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/atomic_file.h"
#include "src/base/common.h"

int file_read_all(const char *path, char **data, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return px_error("%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    int rc = buf ? 0 : px_error("%s: out of memory", path);
    while (rc == 0) {
        if (n + 1 >= cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger) {
                rc = px_error("%s: out of memory (%zu bytes)", path, cap);
                break;
            }
            buf = bigger;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, fp);
        n += got;
        if (got == 0) {
            if (ferror(fp)) rc = px_error("%s: read error: %s", path, strerror(errno));
            break;
        }
    }
    fclose(fp);
    if (rc) {
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

int file_copy(const char *src, const char *dst) {
    char *data;
    size_t len;
    if (file_read_all(src, &data, &len)) return -1;
    int rc = atomic_write_buffer(dst, data, len);
    free(data);
    return rc;
}

int file_mkdirs(const char *dir) {
    char buf[PX_PATH_MAX];
    if ((size_t)snprintf(buf, sizeof buf, "%s", dir) >= sizeof buf) return px_error("%.200s...: path too long", dir);
    size_t n = strlen(buf);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return px_error("%s: cannot create directory: %s", buf, strerror(errno));
        buf[i] = saved;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) return px_error("%s: not a directory", dir);
    return 0;
}

int json_log_open(JsonLog *log, const char *dir, const char *name) {
    if (file_mkdirs(dir)) return -1;
    if ((size_t)snprintf(log->path, sizeof log->path, "%s/%s", dir, name) >= sizeof log->path)
        return px_error("%.200s...: path too long", dir);
    log->fp = fopen(log->path, "a");
    if (!log->fp) return px_error("%s: cannot open for writing: %s", log->path, strerror(errno));
    return 0;
}

int json_log_line(JsonLog *log, const char *line) {
    if (fprintf(log->fp, "%s\n", line) < 0 || fflush(log->fp) != 0)
        return px_error("%s: write failed: %s", log->path, strerror(errno));
    return 0;
}

void json_log_close(JsonLog *log) {
    if (log->fp) fclose(log->fp);
    log->fp = NULL;
}
