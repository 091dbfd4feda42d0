/* hdf5_mpio.h — parallel HDF5's file access over a World's communicator: the one place where
 * HDF5 meets MPI, so io/ opens files collectively without naming an MPI type. */
#ifndef PROACT_HDF5_MPIO_H
#define PROACT_HDF5_MPIO_H

#include <hdf5.h>

#include "mpi/world.h"

/* A new file access property list for collective access by every rank of w (MPI-IO, collective
 * metadata reads and writes). Close it with H5Pclose. Returns a negative id (px_error) on failure. */
hid_t world_hdf5_fapl(const World *w);

/* A new file access property list for one rank reading a file on its own (MPI-IO over
 * MPI_COMM_SELF, independent metadata): each rank opens and reads as with HDF5's default driver,
 * but without the default driver's metadata accumulator, whose reads crash (HDF5 1.10: memmove
 * from NULL) when a corrupt file points a heap or B-tree at an address past the end. For files
 * that may be corrupt. Needs MPI initialised (a World). Close it with H5Pclose. */
hid_t hdf5_fapl_self(void);

#endif
