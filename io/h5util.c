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

int h5_attr_overwrite_string(hid_t loc, const char *path, const char *name, const char *value) {
    size_t len = strlen(value);
    hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t ftype = attr < 0 ? -1 : H5Aget_type(attr);
    hid_t mtype = ftype < 0 ? -1 : H5Tcopy(H5T_C_S1);
    int rc = 0;
    if (mtype < 0) rc = px_error("%s: cannot open attribute '%s'", path, name);
    else if (H5Tget_class(ftype) != H5T_STRING || H5Tis_variable_str(ftype) != 0 || H5Tget_size(ftype) != len)
        rc = px_error("%s: attribute '%s' is not a string of %zu bytes, cannot write it in place", path, name, len);
    else if (H5Tset_size(mtype, len) < 0 || H5Awrite(attr, mtype, value) < 0)
        rc = px_error("%s: cannot write attribute '%s'", path, name);
    if (mtype >= 0) H5Tclose(mtype);
    if (ftype >= 0) H5Tclose(ftype);
    if (attr >= 0) H5Aclose(attr);
    return rc;
}

static int attr_missing(hid_t loc, const char *path, const char *name, const char *kind) {
    return H5Aexists(loc, name) <= 0 ? px_error("%s: not a %s (attribute '%s' missing)", path, kind, name) : 0;
}

/* Opens attribute `name` of loc and checks, before anything is read, that it holds one value
 * (scalar) of class `want`; on success *attr and *type are open (the caller closes both). */
static int attr_open_checked(hid_t loc, const char *path, const char *name, const char *kind, H5T_class_t want,
                             const char *what, hid_t *attr, hid_t *type) {
    *attr = *type = -1;
    if (attr_missing(loc, path, name, kind)) return -1;
    *attr = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t space = *attr < 0 ? -1 : H5Aget_space(*attr);
    hssize_t points = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
    if (space >= 0) H5Sclose(space);
    *type = *attr < 0 ? -1 : H5Aget_type(*attr);
    int rc = 0;
    if (*type < 0 || points < 0) rc = px_error("%s: cannot read attribute '%s' (corrupt file?)", path, name);
    else if (H5Tget_class(*type) != want) rc = px_error("%s: attribute '%s' is not %s", path, name, what);
    else if (points != 1)
        rc = px_error("%s: attribute '%s' holds %lld values, expected one (corrupt file?)", path, name,
                      (long long)points);
    if (rc) {
        if (*type >= 0) H5Tclose(*type);
        if (*attr >= 0) H5Aclose(*attr);
        *attr = *type = -1;
    }
    return rc;
}

int h5_attr_read_string(hid_t loc, const char *path, const char *name, const char *kind, char **out) {
    *out = NULL;
    hid_t attr, ftype;
    if (attr_open_checked(loc, path, name, kind, H5T_STRING, "a string", &attr, &ftype)) return -1;
    int rc = 0;
    /* the length comes from the file: bound it before allocating */
    size_t len = H5Tget_size(ftype);
    if (H5Tis_variable_str(ftype) != 0)
        rc = px_error("%s: attribute '%s' is a variable-length string, proact writes fixed-length ones", path, name);
    else if (len == 0 || len > H5_ATTR_STRING_MAX)
        rc = px_error("%s: attribute '%s' claims %zu bytes, more than the %d MB a string attribute may hold "
                      "(corrupt file?)",
                      path, name, len, H5_ATTR_STRING_MAX >> 20);
    char *buf = rc ? NULL : calloc(len + 1, 1);
    hid_t mtype = rc ? -1 : H5Tcopy(H5T_C_S1);
    if (rc == 0 && (!buf || mtype < 0 || H5Tset_size(mtype, len) < 0 || H5Aread(attr, mtype, buf) < 0))
        rc = px_error("%s: cannot read attribute '%s'", path, name);
    if (rc == 0) *out = buf;
    else free(buf);
    if (mtype >= 0) H5Tclose(mtype);
    H5Tclose(ftype);
    H5Aclose(attr);
    return rc;
}

int h5_attr_read_i64(hid_t loc, const char *path, const char *name, const char *kind, int64_t *out) {
    hid_t attr, ftype;
    if (attr_open_checked(loc, path, name, kind, H5T_INTEGER, "an integer", &attr, &ftype)) return -1;
    int rc = H5Aread(attr, H5T_NATIVE_INT64, out) < 0 ? px_error("%s: cannot read attribute '%s'", path, name) : 0;
    H5Tclose(ftype);
    H5Aclose(attr);
    return rc;
}
