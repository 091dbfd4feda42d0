#include "io/h5util.h"

#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"

void h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

int h5_attr_write(hid_t loc, const char *path, const char *name, hid_t type, const void *value) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = space < 0 ? -1 : H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    int rc = attr < 0 || H5Awrite(attr, type, value) < 0 ? px_error("%s: cannot write attribute '%s'", path, name) : 0;
    if (attr >= 0) H5Aclose(attr);
    if (space >= 0) H5Sclose(space);
    return rc;
}

int h5_attr_write_string(hid_t loc, const char *path, const char *name, const char *value) {
    size_t len = strlen(value);
    hid_t type = H5Tcopy(H5T_C_S1);
    int rc = type < 0 || H5Tset_size(type, len ? len : 1) < 0 ? px_error("%s: cannot create attribute '%s'", path, name)
                                                              : h5_attr_write(loc, path, name, type, len ? value : "");
    if (type >= 0) H5Tclose(type);
    return rc;
}

int h5_attr_write_i64(hid_t loc, const char *path, const char *name, int64_t value) {
    return h5_attr_write(loc, path, name, H5T_NATIVE_INT64, &value);
}

static int attr_missing(hid_t loc, const char *path, const char *name, const char *kind) {
    return H5Aexists(loc, name) <= 0 ? px_error("%s: not a %s (attribute '%s' missing)", path, kind, name) : 0;
}

int h5_attr_read_string(hid_t loc, const char *path, const char *name, const char *kind, char **out) {
    *out = NULL;
    if (attr_missing(loc, path, name, kind)) return -1;
    hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t ftype = attr < 0 ? -1 : H5Aget_type(attr);
    int rc = 0;
    if (ftype < 0 || H5Tget_class(ftype) != H5T_STRING) {
        rc = px_error("%s: attribute '%s' is not a string", path, name);
    } else {
        size_t len = H5Tget_size(ftype);
        char *buf = calloc(len + 1, 1);
        hid_t mtype = H5Tcopy(H5T_C_S1);
        if (!buf || mtype < 0 || H5Tset_size(mtype, len) < 0 || H5Aread(attr, mtype, buf) < 0) {
            rc = px_error("%s: cannot read attribute '%s'", path, name);
            free(buf);
        } else {
            *out = buf;
        }
        if (mtype >= 0) H5Tclose(mtype);
    }
    if (ftype >= 0) H5Tclose(ftype);
    if (attr >= 0) H5Aclose(attr);
    return rc;
}

int h5_attr_read_i64(hid_t loc, const char *path, const char *name, const char *kind, int64_t *out) {
    if (attr_missing(loc, path, name, kind)) return -1;
    hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    int rc = attr < 0 || H5Aread(attr, H5T_NATIVE_INT64, out) < 0
                 ? px_error("%s: cannot read attribute '%s'", path, name)
                 : 0;
    if (attr >= 0) H5Aclose(attr);
    return rc;
}
