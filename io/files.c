/* fallocate(2), which reserves blocks without glibc's posix_fallocate fallback of writing zeros */
#define _GNU_SOURCE
#include "io/files.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

int file_same(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
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

/* 1 if the line (n bytes, no newline) is a JSON object to keep: its "step", if any, <= last_step. */
static int keep_row(const char *line, size_t n, long last_step) {
    json_t *row = json_loadb(line, n, 0, NULL);
    if (!json_is_object(row)) { /* a line cut short by a crash */
        json_decref(row);
        return 0;
    }
    json_t *step = json_object_get(row, "step");
    int keep = !json_is_integer(step) || json_integer_value(step) <= last_step;
    json_decref(row);
    return keep;
}

int json_log_keep_steps(JsonLog *log, long last_step) {
    json_log_close(log);
    char *data = NULL, *kept = NULL;
    size_t len = 0, n_kept = 0;
    int rc = file_read_all(log->path, &data, &len);
    if (rc == 0 && !(kept = malloc(len + 1))) rc = px_error("%s: out of memory", log->path);
    for (size_t at = 0; rc == 0 && at < len;) {
        const char *end = memchr(data + at, '\n', len - at);
        size_t n = end ? (size_t)(end - (data + at)) : len - at;
        if (end && keep_row(data + at, n, last_step)) { /* a line without its newline was cut short */
            memcpy(kept + n_kept, data + at, n + 1);
            n_kept += n + 1;
        }
        at += n + 1;
    }
    if (rc == 0 && n_kept != len) rc = atomic_write_buffer(log->path, kept, n_kept);
    free(data);
    free(kept);
    if (rc) return -1;
    log->fp = fopen(log->path, "a");
    if (!log->fp) return px_error("%s: cannot open for writing: %s", log->path, strerror(errno));
    return 0;
}

const char *file_strerror(int err) {
    static const struct {
        int value;
        const char *name;
    } names[] = {{ENOSPC, "ENOSPC"}, {EDQUOT, "EDQUOT"}, {EIO, "EIO"}, {EROFS, "EROFS"}, {EFBIG, "EFBIG"}};
    static _Thread_local char text[160];
    const char *name = NULL;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (names[i].value == err) name = names[i].name;
    if (name) snprintf(text, sizeof text, "%s (%s)", strerror(err), name);
    else snprintf(text, sizeof text, "%s", strerror(err));
    return text;
}

int file_reserve(const char *path, long long bytes) {
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    if (fd < 0) return px_error("%s: cannot open to reserve its space: %s", path, strerror(errno));
    int rc = 0;
    if (bytes > 0 && fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)bytes) != 0) {
        int e = errno;
        if (e == EOPNOTSUPP || e == ENOSYS || e == EINVAL) rc = 1; /* this file system cannot: write and see */
        else rc = px_error("%s: cannot reserve %.1f MB: %s", path, bytes / 1e6, file_strerror(e));
    }
    if (close(fd) != 0 && rc == 0)
        rc = px_error("%s: cannot close after reserving its space: %s", path, strerror(errno));
    return rc;
}

void file_release_reserve(const char *path) {
    int fd = open(path, O_WRONLY);
    struct stat st;
    if (fd < 0) return;
    /* a truncation that shrinks the file frees every block past its end (ext4, xfs, tmpfs) */
    if (fstat(fd, &st) == 0 && ftruncate(fd, st.st_size + 1) == 0 && ftruncate(fd, st.st_size) != 0) {
        /* the file now has one byte too many, which HDF5 ignores: harmless */
    }
    close(fd);
}
