/* checkpoint.c — collective HDF5 checkpoints (layout in checkpoint.h). */
#include "io/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <hdf5.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "io/files.h"
#include "io/h5util.h"
#include "io/hf_model.h"
#include "mpi/hdf5_mpio.h"
#include "src/base/common.h"
#include "src/base/fault.h"

#define KIND "proact checkpoint" /* what a file missing our attributes is not */

/* ---------------------------------------------------------------- checksums */

/* A checksum that adds up over slices: the sum over elements of (value bits) * (2 * global index
 * + 1), mod 2^64. Each rank sums the part it holds and an allreduce gives the whole dataset's.
 * An odd weight makes any single flipped bit change the sum; the index weights catch moved or
 * swapped values; and it vectorises (checksumming must not dominate reading). */
static uint64_t slice_checksum(const void *data, size_t elem, size_t count, size_t first_index) {
    uint64_t sum = 0;
    const unsigned char *p = data;
    if (elem == 4) {
        const uint32_t *w = (const uint32_t *)p; /* float datasets: 4-byte aligned */
        for (size_t i = 0; i < count; i++)
            sum += (uint64_t)(w[i] ^ 0x9e3779b9u) * (2 * (uint64_t)(first_index + i) + 1);
        return sum;
    }
    for (size_t i = 0; i < count; i++) {
        uint64_t bits = 0;
        memcpy(&bits, p + i * elem, elem);
        sum += (bits ^ 0x9e3779b97f4a7c15ULL) * (2 * (uint64_t)(first_index + i) + 1);
    }
    return sum;
}

/* Data is read and written in pieces of this many bytes, each checksummed right before it is
 * written or right after it is read, while it is in the core's cache: checksumming a whole
 * dataset in a pass of its own reads it from memory once more, which cost about as much as the
 * transfer itself (docs/performance.md). */
#define PIECE_BYTES ((size_t)256 << 10)

/* A checksum attribute as created, before the data is written: the final one has the same size,
 * so writing it over this after the data needs no new space in the file. */
#define CHECKSUM_PLACEHOLDER "0000000000000000"

/* ---------------------------------------------------------------- small HDF5 helpers */

static void model_shape_text(const Model *m, char *buf, size_t size) {
    const ModelConfig *c = &m->cfg;
    snprintf(buf, size, "%s vocab=%d hidden=%d layers=%d heads=%d kv_heads=%d head_dim=%d ff=%d tied=%d params=%zu",
             model_arch_name(c->arch), c->vocab_size, c->hidden_size, c->n_layers, c->n_heads, c->n_kv_heads,
             c->head_dim, c->intermediate_size, c->tie_embeddings, m->n_params);
}

/* ---------------------------------------------------------------- writing */

/* The part [lo, hi) of tensor t (global indices) this rank writes: a 1/size slice of it when the
 * data is replicated on every rank, or what lies in [own_lo, own_hi) when it is sharded. */
static void owned_part(const ParamTensor *t, int replicated, size_t own_lo, size_t own_hi, int rank, int size,
                       size_t *lo, size_t *hi) {
    if (replicated) {
        size_t base = t->numel / size, extra = t->numel % size;
        size_t first = rank * base + ((size_t)rank < extra ? (size_t)rank : extra);
        *lo = t->offset + first;
        *hi = *lo + base + ((size_t)rank < extra ? 1 : 0);
    } else {
        *lo = PX_MAX(own_lo, t->offset);
        *hi = PX_MIN(own_hi, t->offset + t->numel);
        if (*hi < *lo) *hi = *lo;
    }
}

/* One dataset of a checkpoint as it is written: created with its checksum before any data goes to
 * disk, then this rank's part of the data written into it. */
typedef struct {
    char name[320]; /* "group/tensor", for messages */
    hid_t id;
    hid_t type;           /* H5T_NATIVE_FLOAT or H5T_NATIVE_INT64 */
    size_t elem;          /* bytes per value */
    const void *slice;    /* this rank's part of the data */
    hsize_t start, count; /* its place in the dataset (count 0: this rank writes none of it) */
    uint64_t sum;         /* the checksum of this rank's part, summed as it is written */
} DataPart;

/* A checkpoint being written: the file, its groups and every dataset, open until the end. */
typedef struct {
    const World *w;
    const char *tmp; /* the file being written (step-N.h5.tmp) */
    int step;
    hid_t file, dcpl, gcpl;
    hid_t groups[5]; /* model, optim, optim/exp_avg, optim/exp_avg_sq, state */
    DataPart *parts;
    int n_parts, cap_parts;
} CheckpointWrite;

/* Creates the 1-D dataset `group/name` of `numel` elements with a placeholder for its checksum
 * (collective: every rank calls it for every dataset, with its own slice [start, start + count)
 * of it, at `slice`). */
static int create_dataset(CheckpointWrite *cw, int group, const char *group_name, const char *name, hid_t type,
                          size_t elem, size_t numel, const void *slice, size_t start, size_t count) {
    int rc = 0;
    if (cw->n_parts == cw->cap_parts) {
        int cap = cw->cap_parts ? 2 * cw->cap_parts : 64;
        DataPart *bigger = realloc(cw->parts, sizeof *bigger * (size_t)cap);
        if (bigger) cw->parts = bigger, cw->cap_parts = cap;
        else rc = px_error("out of memory listing the checkpoint's datasets");
    }
    if (rc == 0) {
        DataPart *d = &cw->parts[cw->n_parts];
        snprintf(d->name, sizeof d->name, "%s/%s", group_name, name);
        d->type = type;
        d->elem = elem;
        d->sum = 0;
        d->slice = slice;
        d->start = start;
        d->count = count;
        hsize_t dims[1] = {numel};
        hid_t space = H5Screate_simple(1, dims, NULL);
        d->id = space < 0 ? -1 : H5Dcreate2(cw->groups[group], name, type, space, H5P_DEFAULT, cw->dcpl, H5P_DEFAULT);
        if (space >= 0) H5Sclose(space);
        if (d->id < 0) rc = px_error("%s: cannot create dataset '%s'", cw->tmp, d->name);
        else cw->n_parts++;
    }
    if (rc == 0) rc = h5_attr_write_string(cw->parts[cw->n_parts - 1].id, cw->tmp, "checksum", CHECKSUM_PLACEHOLDER);
    return world_agree(cw->w, rc); /* every rank agrees, whatever failed */
}

/* Step 1 of a checkpoint: every group, dataset (its space allocated, no fill) and attribute, i.e.
 * all the metadata, so that one flush writes it before any data (the checksums as placeholders of
 * their final size, written over in step 3b). Collective. */
static int create_layout(CheckpointWrite *cw, const Model *m, const AdamW *opt, const PairSampler *sampler,
                         const CheckpointMeta *meta) {
    static const char *const group_names[5] = {"model", "optim", "optim/exp_avg", "optim/exp_avg_sq", "state"};
    int rc = 0;
    for (int g = 0; g < 5; g++) {
        cw->groups[g] = H5Gcreate2(cw->file, group_names[g], H5P_DEFAULT, cw->gcpl, H5P_DEFAULT);
        if (cw->groups[g] < 0 && rc == 0) rc = px_error("%s: cannot create group '%s'", cw->tmp, group_names[g]);
    }
    if (world_agree(cw->w, rc)) return -1;
    const int sharded = opt->n != m->n_params; /* ZeRO-1: moments [base, base+n) only */
    for (int i = 0; rc == 0 && i < m->n_tensors; i++) {
        const ParamTensor *t = &m->tensors[i];
        size_t lo, hi;
        owned_part(t, 1, 0, 0, meta->rank, meta->size, &lo, &hi);
        rc = create_dataset(cw, 0, "model", t->name, H5T_NATIVE_FLOAT, 4, t->numel, m->params + lo, lo - t->offset,
                            hi - lo);
        owned_part(t, !sharded, opt->base, opt->base + opt->n, meta->rank, meta->size, &lo, &hi);
        if (rc == 0)
            rc = create_dataset(cw, 2, "optim/exp_avg", t->name, H5T_NATIVE_FLOAT, 4, t->numel,
                                opt->m + (lo - opt->base), lo - t->offset, hi - lo);
        if (rc == 0)
            rc = create_dataset(cw, 3, "optim/exp_avg_sq", t->name, H5T_NATIVE_FLOAT, 4, t->numel,
                                opt->v + (lo - opt->base), lo - t->offset, hi - lo);
    }
    /* the sampler's order, replicated: each rank writes a slice; synthetic data has none (empty) */
    int64_t n_order = sampler && sampler->order ? sampler->n : 0;
    ParamTensor order = {.numel = (size_t)n_order};
    size_t lo, hi;
    owned_part(&order, 1, 0, 0, meta->rank, meta->size, &lo, &hi);
    if (rc == 0)
        rc = create_dataset(cw, 4, "state", "sampler_order", H5T_NATIVE_INT64, 8, order.numel,
                            n_order ? sampler->order + lo : NULL, lo, hi - lo);
    /* attributes: the same values on every rank (collective) */
    char shape[512], rng[80];
    model_shape_text(m, shape, sizeof shape);
    const uint64_t *s = sampler ? sampler->rng.s : (const uint64_t[4]){0, 0, 0, 0};
    snprintf(rng, sizeof rng, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, s[0], s[1], s[2], s[3]);
    int64_t ints[] = {CHECKPOINT_FORMAT_VERSION,    meta->step, opt->t, sampler ? sampler->next : 0,
                      sampler ? sampler->epoch : 0, meta->size};
    const char *names[] = {"format_version", "step", "adam_t", "sampler_next", "sampler_epoch", "world_size"};
    hid_t file = cw->file;
    const char *path = cw->tmp;
    for (int i = 0; rc == 0 && i < 6; i++) rc = h5_attr_write(file, path, names[i], H5T_NATIVE_INT64, &ints[i]);
    if (rc == 0)
        rc = h5_attr_write_string(file, path, "format", CHECKPOINT_FORMAT) ||
                     h5_attr_write(file, path, "tokens", H5T_NATIVE_DOUBLE, &meta->tokens) ||
                     h5_attr_write_string(file, path, "sampler_rng", rng) ||
                     h5_attr_write_string(file, path, "model", shape) ||
                     h5_attr_write_string(file, path, "config", meta->config ? meta->config : "")
                 ? -1
                 : 0;
    char *model_json = rc == 0 ? hf_config_text(&m->cfg) : NULL;
    if (rc == 0) rc = !model_json || h5_attr_write_string(file, path, "model_config", model_json) ? -1 : 0;
    free(model_json);
    return world_agree(cw->w, rc);
}

/* A failed step of the write, with the errno a disk gave (or PROACT_FAULT injected). */
static int write_failed(const CheckpointWrite *cw, const char *what, int err) {
    if (!err) return px_error("%s: cannot %s: HDF5 failed (disk full?)", cw->tmp, what);
    return px_error("%s: cannot %s: %s", cw->tmp, what, file_strerror(err));
}

/* Writes d's slice in pieces, checksumming each piece right before it goes out (it is then in
 * the cache for the write); 0 or -1 with errno, when the file system gave one, in *err. */
static int write_part(DataPart *d, int *err) {
    hid_t fspace = H5Dget_space(d->id);
    int rc = fspace < 0 ? -1 : 0;
    const hsize_t piece = PIECE_BYTES / d->elem;
    for (hsize_t done = 0; rc == 0 && done < d->count;) {
        hsize_t start = d->start + done, count = PX_MIN(d->count - done, piece);
        const unsigned char *data = (const unsigned char *)d->slice + done * d->elem;
        d->sum += slice_checksum(data, d->elem, count, start);
        hid_t mspace = H5Screate_simple(1, &count, NULL);
        errno = 0;
        if (mspace < 0 || H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, NULL, &count, NULL) < 0 ||
            H5Dwrite(d->id, d->type, mspace, fspace, H5P_DEFAULT, data) < 0)
            rc = -1, *err = errno;
        if (mspace >= 0) H5Sclose(mspace);
        done += count;
    }
    if (fspace >= 0) H5Sclose(fspace);
    return rc;
}

/* Step 3: this rank's part of every dataset, written independently and checksummed as it goes.
 * There is no collective inside, so a failing write fails here, on this rank, which stops; the
 * ranks agree once, after all the data (an agreement per dataset made each rank wait for the
 * other between datasets, which on busy cores cost more than the writes). Collective. */
static int write_data(CheckpointWrite *cw) {
    int rc = 0;
    for (int i = 0; rc == 0 && i < cw->n_parts; i++) {
        DataPart *d = &cw->parts[i];
        int err = fault_injected(FAULT_CKPT_WRITE, cw->w->rank, cw->step, i + 1);
        char what[400];
        snprintf(what, sizeof what, "write dataset '%s'", d->name);
        if (err) rc = err < 0 ? -1 : write_failed(cw, what, err);
        else if (d->count && write_part(d, &err)) rc = write_failed(cw, what, err);
    }
    return world_agree(cw->w, rc);
}

/* Step 3b: the datasets' checksums, each the sum of the ranks' parts (one allreduce for all),
 * written over their placeholders: the same size, so the object headers change in place, in the
 * space reserved in step 1. Collective. */
static int write_checksums(CheckpointWrite *cw) {
    uint64_t *sums = malloc(sizeof *sums * (size_t)(cw->n_parts ? cw->n_parts : 1));
    int rc = sums ? 0 : px_error("out of memory for the checkpoint's checksums");
    char first[1024] = "";
    if (world_agree(cw->w, rc)) {
        free(sums);
        return -1;
    }
    for (int i = 0; i < cw->n_parts; i++) sums[i] = cw->parts[i].sum;
    if (world_agree(cw->w, world_sum_u64(cw->w, sums, cw->n_parts))) {
        free(sums);
        return -1;
    }
    /* the attributes' object headers were just created and flushed, so they are in HDF5's metadata
     * cache; every rank makes every (collective) call whatever failed before, then they agree */
    for (int i = 0; i < cw->n_parts; i++) {
        char hex[17];
        snprintf(hex, sizeof hex, "%016" PRIx64, sums[i]);
        int r = h5_attr_overwrite_string(cw->parts[i].id, cw->tmp, "checksum", hex);
        if (r && rc == 0) rc = r, snprintf(first, sizeof first, "%s", px_error_message());
    }
    if (rc) px_error("%s", first);
    free(sums);
    return world_agree(cw->w, rc);
}

/* Closes everything (collective, whatever failed before: every rank holds the same objects);
 * 0 or -1 (px_error) for this rank's close. */
static int close_all(CheckpointWrite *cw) {
    int rc = 0;
    for (int i = 0; i < cw->n_parts; i++)
        if (H5Dclose(cw->parts[i].id) < 0) rc = -1;
    for (int g = 4; g >= 0; g--)
        if (cw->groups[g] >= 0 && H5Gclose(cw->groups[g]) < 0) rc = -1;
    if (cw->dcpl >= 0) H5Pclose(cw->dcpl);
    if (cw->gcpl >= 0) H5Pclose(cw->gcpl);
    errno = 0;
    if (H5Fclose(cw->file) < 0) rc = -1;
    int err = rc ? errno : fault_injected(FAULT_CKPT_CLOSE, cw->w->rank, cw->step, 0);
    free(cw->parts);
    return rc || err ? (err < 0 ? -1 : write_failed(cw, "close", err)) : 0;
}

static int step_of(const char *name) {
    int step;
    char tail[8];
    return sscanf(name, "step-%d.h5%7s", &step, tail) == 1 ? step : -1;
}

/* Removes the step-N.h5.tmp files an earlier process left when it was killed mid-write (one
 * process writes a run's checkpoints at a time): they hold disk space and nothing else. */
static void remove_partial(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        int step;
        char tail[8] = "";
        if (sscanf(e->d_name, "step-%d.h5%7s", &step, tail) == 2 && strcmp(tail, ".tmp") == 0) {
            char path[PX_PATH_MAX + 300];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

/* Removes all but the newest `keep` published checkpoints. */
static void prune(const char *dir, int keep) {
    DIR *d = opendir(dir);
    if (!d) return;
    int steps[4096], n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < 4096;) {
        int s = step_of(e->d_name);
        if (s >= 0) steps[n++] = s;
    }
    closedir(d);
    for (int i = 0; i < n; i++) {
        int newer = 0;
        for (int j = 0; j < n; j++) newer += steps[j] > steps[i];
        if (newer >= keep) {
            char path[PX_PATH_MAX + 64];
            snprintf(path, sizeof path, "%s/step-%08d.h5", dir, steps[i]);
            unlink(path);
        }
    }
}

/* A checkpoint's size, a little over: the data, and the metadata (measured: about 550 bytes a
 * dataset and the config text, twice, as attributes). */
static double checkpoint_bytes(const Model *m, const PairSampler *sampler, const CheckpointMeta *meta) {
    double datasets = 3.0 * m->n_tensors + 1, config = meta->config ? (double)strlen(meta->config) : 0;
    return 3.0 * 4.0 * m->n_params + 8.0 * (sampler ? sampler->n : 0) + 2048.0 * datasets + 2.0 * config + 65536.0;
}

/* The agreed error of a checkpoint that will not be published, with what is kept. */
static int abandoned(const char *run_dir, int step) {
    char why[1024], kept[PX_PATH_MAX + 64];
    snprintf(why, sizeof why, "%s", px_error_message());
    if (checkpoint_latest(run_dir, kept, sizeof kept) == 0)
        return px_error("%s; the checkpoint of step %d is abandoned and %s stays the latest", why, step, kept);
    return px_error("%s; the checkpoint of step %d is abandoned (the run has no earlier one)", why, step);
}

/* A checkpoint is written in steps, each ending with every rank agreeing on its success before
 * the next collective, so that a local failure (a full disk) can never leave the ranks in
 * different collectives, waiting for each other for ever:
 *   0 space check -> create -> 1 layout: all metadata, then flush -> 2 reserve the file's blocks
 *   (rank 0; after this a full disk cannot fail the data writes) -> 3 data, independently, agreed
 *   after each dataset, checksummed as it goes -> 3b the checksums, over their placeholders (in
 *   place) -> 4 close -> 5 publish: rename, `latest`, prune (rank 0).
 * On failure every rank closes the file and rank 0 removes it. What no agreement can catch (a
 * collective inside HDF5 that never returns) is the watchdog's (mpi/watchdog.h). */
int checkpoint_save(const World *w, const char *run_dir, const Model *m, const AdamW *opt, const PairSampler *sampler,
                    const CheckpointMeta *meta, int keep) {
    h5_quiet();
    char dir[PX_PATH_MAX + 16], path[PX_PATH_MAX + 64], tmp[PX_PATH_MAX + 80];
    snprintf(dir, sizeof dir, "%s/checkpoints", run_dir);
    snprintf(path, sizeof path, "%s/step-%08d.h5", dir, meta->step);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (world_agree(w, meta->rank == 0 ? file_mkdirs(dir) : 0)) return -1;
    /* 0. the common case of a full disk, as a clear error before anything is written */
    int rc = 0;
    if (meta->rank == 0) {
        remove_partial(dir);
        struct statvfs fs;
        double need = checkpoint_bytes(m, sampler, meta);
        double have = statvfs(dir, &fs) == 0 ? (double)fs.f_bavail * fs.f_frsize : need;
        if (have < need)
            rc = px_error("%s: not enough disk space for a checkpoint (need %.1f MB, %.1f MB free): disk full?", dir,
                          need / 1e6, have / 1e6);
    }
    /* reserve the blocks of the whole file (the data, and room for the metadata) before HDF5 writes
     * anything, creating it empty: after this a disk that fills cannot fail a write, the collective
     * ones inside HDF5 (from H5Fcreate on) included, which no agreement could catch. HDF5 truncates
     * an existing file only when it is not empty, so the reservation stays. */
    if (rc == 0 && meta->rank == 0) {
        int err = fault_injected(FAULT_CKPT_RESERVE, w->rank, meta->step, 0);
        if (err) rc = err < 0 ? -1 : px_error("%s: cannot reserve its space: %s", tmp, file_strerror(err));
        else if (file_reserve(tmp, (long long)checkpoint_bytes(m, sampler, meta)) < 0) rc = -1;
        if (rc) unlink(tmp);
    }
    if (world_agree(w, rc)) return abandoned(run_dir, meta->step);
    /* create: MPI_File_open is collective and fails on every rank alike */
    CheckpointWrite cw = {.w = w, .tmp = tmp, .step = meta->step, .groups = {-1, -1, -1, -1, -1}};
    hid_t fapl = world_hdf5_fapl(w);
    cw.file = fapl < 0 ? -1 : H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    if (world_agree(w, cw.file < 0 ? px_error("%s: cannot create (is the directory writable?)", tmp) : 0)) {
        if (cw.file >= 0) H5Fclose(cw.file);
        return abandoned(run_dir, meta->step);
    }
    rc = 0;
    int failed = 0;
    /* 1. the layout; datasets get their space now and no fill (their data comes in step 3), and no
     * timestamps (the same state gives the same file) */
    cw.dcpl = H5Pcreate(H5P_DATASET_CREATE);
    cw.gcpl = H5Pcreate(H5P_GROUP_CREATE);
    rc = cw.dcpl < 0 || cw.gcpl < 0 || H5Pset_alloc_time(cw.dcpl, H5D_ALLOC_TIME_EARLY) < 0 ||
                 H5Pset_fill_time(cw.dcpl, H5D_FILL_TIME_NEVER) < 0 || H5Pset_obj_track_times(cw.dcpl, 0) < 0 ||
                 H5Pset_obj_track_times(cw.gcpl, 0) < 0
             ? px_error("%s: cannot set dataset properties", tmp)
             : 0;
    if (!failed) failed = world_agree(w, rc) != 0;
    /* (create_layout agrees after each of its collective parts) */
    if (!failed) failed = create_layout(&cw, m, opt, sampler, meta) != 0;
    errno = 0;
    if (!failed && H5Fflush(cw.file, H5F_SCOPE_LOCAL) < 0) rc = write_failed(&cw, "write its metadata", errno);
    if (rc == 0 && !failed) {
        int err = fault_injected(FAULT_CKPT_FLUSH, w->rank, meta->step, 0);
        if (err) rc = err < 0 ? -1 : write_failed(&cw, "write its metadata", err);
    }
    if (!failed) failed = world_agree(w, rc) != 0;
    /* 3. the data */
    if (!failed) failed = write_data(&cw) != 0;
    if (!failed) failed = write_checksums(&cw) != 0;
    /* 4. close: on every rank, failed or not */
    char why[1024] = "";
    if (failed) snprintf(why, sizeof why, "%s", px_error_message());
    int close_failed = world_agree(w, close_all(&cw)) != 0;
    if (failed) px_error("%s", why); /* the first failure is the one to report */
    if (failed || close_failed) {
        if (meta->rank == 0) unlink(tmp);
        return abandoned(run_dir, meta->step);
    }
    if (meta->rank == 0) file_release_reserve(tmp); /* the room left over for metadata */
    /* 5. publish: rename, then point `latest` at it, then prune */
    if (meta->rank == 0) {
        char latest[PX_PATH_MAX + 32], line[64];
        snprintf(latest, sizeof latest, "%s/latest", dir);
        int n = snprintf(line, sizeof line, "step-%08d.h5\n", meta->step);
        int err = fault_injected(FAULT_CKPT_RENAME, w->rank, meta->step, 0);
        if (err || rename(tmp, path) != 0) {
            rc = err < 0 ? -1 : px_error("%s: cannot rename %s: %s", path, tmp, file_strerror(err ? err : errno));
            unlink(tmp);
        } else if (atomic_write_buffer(latest, line, (size_t)n)) {
            rc = -1; /* `latest` still names the previous one: this one goes, as if never renamed */
            unlink(path);
        } else {
            prune(dir, keep);
        }
    }
    return world_agree(w, rc) ? abandoned(run_dir, meta->step) : 0;
}

static int by_step_desc(const void *a, const void *b) { return *(const int *)b - *(const int *)a; }

int checkpoint_list(const char *run_dir, int *steps, int max) {
    char dir[PX_PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/checkpoints", run_dir);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < max;) {
        int s = step_of(e->d_name);
        if (s >= 0) steps[n++] = s;
    }
    closedir(d);
    qsort(steps, (size_t)n, sizeof *steps, by_step_desc);
    return n;
}

/* ---------------------------------------------------------------- reading */

int checkpoint_latest(const char *run_dir, char *path, size_t size) {
    char latest[PX_PATH_MAX + 32], name[256] = "";
    snprintf(latest, sizeof latest, "%s/checkpoints/latest", run_dir);
    FILE *fp = fopen(latest, "r");
    if (!fp) return px_error("%s: no checkpoint to resume from (%s)", run_dir, strerror(errno));
    int ok = fgets(name, sizeof name, fp) != NULL;
    fclose(fp);
    name[strcspn(name, "\n")] = '\0';
    if (!ok || step_of(name) < 0) return px_error("%s: does not name a checkpoint", latest);
    snprintf(path, size, "%s/checkpoints/%s", run_dir, name);
    return 0;
}

/* Checks, before anything is read, that dataset `name` (open as d, its dataspace fspace) is 1-D
 * with values of class `cls` and `size` bytes each, and gives its length: a corrupt file's rank,
 * type or dims must decide neither how far HDF5 writes into our buffer nor what it converts. */
static int dataset_1d(hid_t d, hid_t fspace, const char *path, const char *name, H5T_class_t cls, size_t size,
                      hsize_t *len) {
    *len = 0;
    int ndims = fspace < 0 ? -1 : H5Sget_simple_extent_ndims(fspace);
    if (ndims != 1 || H5Sget_simple_extent_dims(fspace, len, NULL) != 1)
        return px_error("%s: dataset '%s' is not one-dimensional (%d dimensions; corrupt checkpoint?)", path, name,
                        ndims);
    hid_t type = H5Dget_type(d);
    H5T_class_t c = type < 0 ? H5T_NO_CLASS : H5Tget_class(type);
    size_t got = type < 0 ? 0 : H5Tget_size(type);
    if (type >= 0) H5Tclose(type);
    if (c != cls || got != size) {
        const char *got_name = c == H5T_FLOAT ? "float" : c == H5T_INTEGER ? "integer" : "non-numeric";
        return px_error("%s: dataset '%s' holds %zu-byte %s values, expected %zu-byte %s ones (corrupt checkpoint?)",
                        path, name, got, got_name, size, cls == H5T_FLOAT ? "float" : "integer");
    }
    return 0;
}

/* Reads [lo, hi) of tensor t's dataset into dst[global - base], and checksums the part of it in
 * [ck_lo, ck_hi) (global indices) piece by piece as it arrives (PIECE_BYTES). */
static int read_checksummed(hid_t d, hid_t fspace, const ParamTensor *t, float *dst, size_t base, size_t lo, size_t hi,
                            size_t ck_lo, size_t ck_hi, uint64_t *sum, const char *path, const char *name) {
    *sum = 0;
    for (size_t at = lo; at < hi;) {
        hsize_t start = at - t->offset, count = PX_MIN((hsize_t)(hi - at), (hsize_t)(PIECE_BYTES / sizeof(float)));
        hid_t mspace = H5Screate_simple(1, &count, NULL);
        int rc = mspace < 0 || H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, NULL, &count, NULL) < 0 ||
                         H5Dread(d, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, dst + (at - base)) < 0
                     ? px_error("%s: cannot read dataset '%s' (truncated or corrupt?)", path, name)
                     : 0;
        if (mspace >= 0) H5Sclose(mspace);
        if (rc) return rc;
        size_t end = at + count, c_lo = PX_MAX(at, ck_lo), c_hi = PX_MIN(end, ck_hi);
        if (c_lo < c_hi) *sum += slice_checksum(dst + (c_lo - base), 4, c_hi - c_lo, c_lo - t->offset);
        at = end;
    }
    return 0;
}

/* One dataset as read: this rank's part of its checksum and the checksum the file holds. */
typedef struct {
    char name[256]; /* "group/tensor" */
    uint64_t sum;
    char *want; /* malloc'ed */
} DatasetSum;

/* Reads [lo, hi) of tensor t's dataset into dst[global - base], checksums [ck_lo, ck_hi) of it
 * into ds->sum and gives the file's checksum in ds->want. Local: the parts of the ranks, disjoint
 * and covering the dataset, are added up once all is read (when every rank reads everything, each
 * checksums a 1/size slice of it). */
static int read_tensor(hid_t file, const char *group, const ParamTensor *t, float *dst, size_t base, size_t lo,
                       size_t hi, size_t ck_lo, size_t ck_hi, const char *path, DatasetSum *ds) {
    char *name = ds->name;
    snprintf(name, sizeof ds->name, "%s/%s", group, t->name);
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    int rc = 0;
    hsize_t dims = 0;
    hid_t fspace = d < 0 ? -1 : H5Dget_space(d);
    if (d < 0) rc = px_error("%s: dataset '%s' missing or unreadable (corrupt checkpoint?)", path, name);
    else if (dataset_1d(d, fspace, path, name, H5T_FLOAT, sizeof(float), &dims)) rc = -1;
    else if (dims != t->numel)
        rc = px_error("%s: dataset '%s' has %llu elements, the model expects %zu", path, name, (unsigned long long)dims,
                      t->numel);
    if (rc == 0) rc = read_checksummed(d, fspace, t, dst, base, lo, hi, ck_lo, ck_hi, &ds->sum, path, name);
    if (rc == 0) rc = h5_attr_read_string(d, path, "checksum", KIND, &ds->want);
    if (fspace >= 0) H5Sclose(fspace);
    if (d >= 0) H5Dclose(d);
    return rc;
}

/* Reads every tensor's three datasets (this rank's parts, checksummed as they come), then checks
 * every checksum with one allreduce: no collective per dataset, so no rank waits for another
 * between them. Stops at this rank's first failure, whose message stays in *error. Collective.
 * 0, or -1 with px_error: this rank's own failure, or else the first dataset, among those every
 * rank read, whose checksum does not match. */
static int read_tensors(const World *w, hid_t file, const char *path, Model *m, AdamW *opt, char *error,
                        size_t error_size) {
    const int n = 3 * m->n_tensors, sharded = opt->n != m->n_params;
    DatasetSum *ds = calloc((size_t)n + 1, sizeof *ds);
    /* the sums, then a flag per dataset: 1 from this rank's first failure on */
    uint64_t *all = calloc(2 * (size_t)n + 1, sizeof *all);
    if (world_agree(w, !ds || !all ? px_error("out of memory checking a checkpoint's checksums") : 0)) {
        snprintf(error, error_size, "%s", px_error_message());
        free(ds);
        free(all);
        return -1;
    }
    int first_bad = n;
    for (int i = 0; first_bad == n && i < m->n_tensors; i++) {
        const ParamTensor *t = &m->tensors[i];
        size_t lo = t->offset, hi = t->offset + t->numel, mlo = lo, mhi = hi;
        if (sharded) { /* ZeRO-1: the moments of [base, base + n) */
            mlo = PX_MAX(opt->base, lo);
            mhi = PX_MAX(mlo, PX_MIN(opt->base + opt->n, hi));
        }
        /* what this rank checksums: a 1/size slice of what every rank reads, all it reads of a shard */
        size_t clo, chi;
        owned_part(t, 1, 0, 0, w->rank, w->size, &clo, &chi);
        size_t cmlo = sharded ? mlo : clo, cmhi = sharded ? mhi : chi;
        if (read_tensor(file, "model", t, m->params, 0, lo, hi, clo, chi, path, &ds[3 * i])) first_bad = 3 * i;
        else if (read_tensor(file, "optim/exp_avg", t, opt->m, opt->base, mlo, mhi, cmlo, cmhi, path, &ds[3 * i + 1]))
            first_bad = 3 * i + 1;
        else if (read_tensor(file, "optim/exp_avg_sq", t, opt->v, opt->base, mlo, mhi, cmlo, cmhi, path,
                             &ds[3 * i + 2]))
            first_bad = 3 * i + 2;
    }
    int rc = first_bad < n ? -1 : 0;
    if (rc) snprintf(error, error_size, "%s", px_error_message());
    for (int k = 0; k < n; k++) all[k] = ds[k].sum, all[n + k] = k >= first_bad;
    /* every rank takes part in the sum, whatever failed, so none waits forever */
    int sum_failed = world_sum_u64(w, all, 2 * n) != 0;
    if (rc == 0 && sum_failed) rc = -1, snprintf(error, error_size, "%s", px_error_message());
    /* the first dataset some rank could not read: the checksums before it are complete */
    int read_by_all = 0;
    while (read_by_all < n && all[n + read_by_all] == 0) read_by_all++;
    for (int k = 0; rc == 0 && k < read_by_all; k++) {
        char hex[17];
        snprintf(hex, sizeof hex, "%016" PRIx64, all[k]);
        if (strcmp(hex, ds[k].want) != 0) {
            rc = px_error("%s: dataset '%s' does not match its checksum (corrupt checkpoint)", path, ds[k].name);
            snprintf(error, error_size, "%s", px_error_message());
        }
    }
    for (int k = 0; k < n; k++) free(ds[k].want);
    free(ds);
    free(all);
    return rc;
}

int checkpoint_load(const World *w, const char *path, Model *m, AdamW *opt, PairSampler *sampler,
                    CheckpointMeta *meta) {
    h5_quiet();
    /* each rank reads on its own, through MPI-IO: HDF5's default driver crashes on some corrupt
     * files (hdf5_fapl_self) */
    hid_t fapl = hdf5_fapl_self();
    hid_t file = fapl >= 0 && access(path, R_OK) == 0 ? H5Fopen(path, H5F_ACC_RDONLY, fapl) : -1;
    if (fapl >= 0) H5Pclose(fapl);
    int rc = file < 0 ? px_error("%s: cannot open checkpoint (missing, truncated or not HDF5)", path) : 0;
    char *format = NULL, *shape = NULL, *rng = NULL, *config = NULL, want[512];
    int64_t version = 0, step = 0, adam_t = 0, next = 0, epoch = 0;
    if (rc == 0)
        rc = h5_attr_read_string(file, path, "format", KIND, &format) ||
                     h5_attr_read_i64(file, path, "format_version", KIND, &version)
                 ? -1
                 : 0;
    int incompatible = 0;
    if (rc == 0 && strcmp(format, CHECKPOINT_FORMAT) != 0) rc = px_error("%s: not a proact checkpoint", path);
    if (rc == 0 && version != CHECKPOINT_FORMAT_VERSION) {
        rc = px_error("%s: checkpoint format version %lld, this proact reads version %d", path, (long long)version,
                      CHECKPOINT_FORMAT_VERSION);
        incompatible = 1;
    }
    if (rc == 0)
        rc = h5_attr_read_i64(file, path, "step", KIND, &step) ||
                     h5_attr_read_i64(file, path, "adam_t", KIND, &adam_t) ||
                     h5_attr_read_i64(file, path, "sampler_next", KIND, &next) ||
                     h5_attr_read_i64(file, path, "sampler_epoch", KIND, &epoch) ||
                     h5_attr_read_string(file, path, "model", KIND, &shape) ||
                     h5_attr_read_string(file, path, "sampler_rng", KIND, &rng) ||
                     h5_attr_read_string(file, path, "config", KIND, &config)
                 ? -1
                 : 0;
    /* the counters and the sampler's generator, against what they can be */
    if (rc == 0 && (step < 0 || step > INT32_MAX || adam_t < 0 || adam_t > INT32_MAX))
        rc = px_error("%s: attribute 'step' (%lld) or 'adam_t' (%lld) is out of range (corrupt checkpoint)", path,
                      (long long)step, (long long)adam_t);
    if (rc == 0 && (strlen(rng) != 64 || strspn(rng, "0123456789abcdef") != 64))
        rc = px_error("%s: attribute 'sampler_rng' is not 64 hex digits (corrupt checkpoint)", path);
    model_shape_text(m, want, sizeof want);
    if (rc == 0 && strcmp(shape, want) != 0) {
        rc = px_error("%s: checkpoint of another model (%s); the config gives %s", path, shape, want);
        incompatible = 1;
    }
    /* tensors: every rank reads all parameters and its part of the moments (collective sums) */
    char first_error[1024] = ""; /* the first failing dataset, not the last, is the one to report */
    int all = world_any(w, rc != 0);
    if (all == 0) {
        rc = read_tensors(w, file, path, m, opt, first_error, sizeof first_error);
        all = world_any(w, rc != 0);
    }
    if (all == 0 && rc == 0 && sampler && sampler->order) {
        hid_t d = H5Dopen2(file, "state/sampler_order", H5P_DEFAULT);
        hid_t sp = d < 0 ? -1 : H5Dget_space(d);
        hsize_t n = 0;
        if (d < 0) rc = px_error("%s: dataset 'state/sampler_order' missing", path);
        else if (dataset_1d(d, sp, path, "state/sampler_order", H5T_INTEGER, sizeof(int64_t), &n)) rc = -1;
        else if ((int64_t)n != sampler->n ||
                 H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, sampler->order) < 0)
            rc = px_error("%s: the sampler state does not fit the data (%llu examples saved, %lld now)", path,
                          (unsigned long long)n, (long long)sampler->n);
        for (int64_t k = 0; rc == 0 && k < sampler->n; k++)
            if (sampler->order[k] < 0 || sampler->order[k] >= sampler->n)
                rc = px_error("%s: the saved sampler order names example %lld of %lld (corrupt checkpoint)", path,
                              (long long)sampler->order[k], (long long)sampler->n);
        if (rc == 0 && (next < 0 || next > sampler->n || epoch < 0 || epoch > INT32_MAX))
            rc = px_error("%s: the saved sampler position (example %lld, epoch %lld) is out of range (corrupt "
                          "checkpoint)",
                          path, (long long)next, (long long)epoch);
        if (sp >= 0) H5Sclose(sp);
        if (d >= 0) H5Dclose(d);
        sampler->next = next;
        sampler->epoch = (int)epoch;
        for (int k = 0; rc == 0 && k < 4; k++) {
            char part[17];
            memcpy(part, rng + 16 * k, 16);
            part[16] = '\0';
            sampler->rng.s[k] = strtoull(part, NULL, 16);
        }
    }
    opt->t = (int)adam_t;
    if (meta) {
        meta->step = (int)step;
        meta->config = NULL;
    }
    free(format), free(shape), free(rng), free(config);
    if (file >= 0) H5Fclose(file);
    if (rc && first_error[0]) px_error("%s", first_error);
    return rc && incompatible ? CHECKPOINT_INCOMPATIBLE : rc;
}

int checkpoint_model_config(const char *path, ModelConfig *cfg) {
    h5_quiet();
    hid_t file = access(path, R_OK) == 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
    if (file < 0) return px_error("%s: cannot open checkpoint (missing, truncated or not HDF5)", path);
    char *text = NULL;
    int rc = h5_attr_read_string(file, path, "model_config", KIND, &text);
    hsize_t file_size = 0;
    if (rc == 0 && H5Fget_filesize(file, &file_size) < 0) rc = px_error("%s: cannot read the file's size", path);
    H5Fclose(file);
    if (rc == 0) rc = hf_config_parse(text, path, cfg);
    free(text);
    if (rc) return rc;
    /* the caller allocates the model this describes: a checkpoint holds its parameters and two
     * moments as float32, so a config describing more than the file can hold is corrupt. A lower
     * bound first (embeddings and layer norms), so that an absurd layer count builds no table. */
    double at_least = 4.0 * ((double)cfg->vocab_size * cfg->hidden_size + 2.0 * cfg->n_layers * cfg->hidden_size);
    size_t n = at_least > (double)file_size ? 0 : model_param_count(cfg);
    if (n == 0 || 12.0 * (double)n > (double)file_size)
        return px_error("%s: its model config describes %.0f+ parameters, more than the file (%llu bytes) holds "
                        "(corrupt checkpoint?)",
                        path, n ? (double)n : at_least / 4.0, (unsigned long long)file_size);
    return 0;
}

int checkpoint_resume(const World *w, const char *run_dir, Model *m, AdamW *opt, PairSampler *sampler,
                      CheckpointMeta *meta, char *path, size_t size, CheckpointSkipped skipped, void *ctx) {
    int steps[64], n = checkpoint_list(run_dir, steps, 64);
    if (n == 0)
        return px_error("%s: no checkpoint to resume from (%s/checkpoints is empty or missing)", run_dir, run_dir);
    for (int i = 0; i < n; i++) {
        snprintf(path, size, "%s/checkpoints/step-%08d.h5", run_dir, steps[i]);
        *meta = (CheckpointMeta){0};
        int r = checkpoint_load(w, path, m, opt, sampler, meta);
        double incompatible[1] = {r == CHECKPOINT_INCOMPATIBLE};
        if (world_sum(w, incompatible, 1)) return -1;
        if (world_agree(w, r) == 0) return 0;
        if (incompatible[0] > 0) return -1; /* another model or format: an older checkpoint would not fit either */
        if (skipped) skipped(ctx, px_error_message(), i + 1 < n);
    }
    return px_error("%s: none of its %d checkpoints could be read (see the warnings above)", run_dir, n);
}
