#ifndef CALIBD_CLAPACK_SHIM_H
#define CALIBD_CLAPACK_SHIM_H
/* LAPACK's C interface (Debian liblapacke-dev, with OpenBLAS underneath). */
#include <lapacke.h>
#endif
