#include "mpi/hdf5_mpio.h"

#include "mpi/comm.h"
#include "src/base/common.h"

hid_t world_hdf5_fapl(const World *w) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return px_error("HDF5: cannot create a file access property list");
    if (H5Pset_fapl_mpio(fapl, world_comm(w), MPI_INFO_NULL) < 0 || H5Pset_all_coll_metadata_ops(fapl, 1) < 0 ||
        H5Pset_coll_metadata_write(fapl, 1) < 0) {
        H5Pclose(fapl);
        return px_error("HDF5: cannot set MPI-IO file access (is this HDF5 built for MPI?)");
    }
    return fapl;
}

hid_t hdf5_fapl_self(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return px_error("HDF5: cannot create a file access property list");
    if (H5Pset_fapl_mpio(fapl, MPI_COMM_SELF, MPI_INFO_NULL) < 0) {
        H5Pclose(fapl);
        return px_error("HDF5: cannot set MPI-IO file access (is this HDF5 built for MPI?)");
    }
    return fapl;
}
