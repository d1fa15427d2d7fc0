#ifndef CALIBD_CGSL_SHIM_H
#define CALIBD_CGSL_SHIM_H
/* GNU Scientific Library (Debian libgsl-dev): non-linear least squares,
   B-splines and filters. */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_vector.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_bspline.h>
#include <gsl/gsl_multifit.h>
#include <gsl/gsl_filter.h>
#include <gsl/gsl_statistics_double.h>
#include <gsl/gsl_sort.h>
#endif
