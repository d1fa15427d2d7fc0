#ifndef CALIBD_CFITSIO_SHIM_H
#define CALIBD_CFITSIO_SHIM_H

/* cfitsio's long names (fits_open_file, ...) are macros Swift cannot see;
   the Swift code calls the short names (ffopen, ...) declared here. */
#include <fitsio.h>

#endif
