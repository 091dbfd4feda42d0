/* comm.h — inside mpi/ only: the MPI communicator a World carries. */
#ifndef PROACT_MPI_COMM_H
#define PROACT_MPI_COMM_H

#include <mpi.h>

#include "mpi/world.h"

static inline MPI_Comm world_comm(const World *w) { return MPI_Comm_f2c((MPI_Fint)w->comm); }

#endif
