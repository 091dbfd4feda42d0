/* hdf5_mpio.h — parallel HDF5's file access over a World's communicator: the one place where
 * HDF5 meets MPI, so io/ opens files collectively without naming an MPI type. */
#ifndef PROACT_HDF5_MPIO_H
#define PROACT_HDF5_MPIO_H

#include <hdf5.h>

#include "mpi/world.h"

/* A new file access property list for collective access by every rank of w (MPI-IO, collective
 * metadata reads and writes). Close it with H5Pclose. Returns a negative id (px_error) on failure. */
hid_t world_hdf5_fapl(const World *w);

#endif
