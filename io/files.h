/* files.h — small file helpers shared by io/ and jobs/. */
#ifndef PROACT_FILES_H
#define PROACT_FILES_H

#include <stddef.h>

/* Reads a whole file into a malloc'ed NUL-terminated buffer; errors name the path. */
int file_read_all(const char *path, char **data, size_t *len);

#endif
