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

/* The algorithm tables are exported as mutable C globals, which Swift 6
   refuses to read from concurrent code; these accessors return the same
   constant pointers as functions. */
static inline const gsl_multifit_nlinear_type *calibd_gsl_nlinear_trust(void) { return gsl_multifit_nlinear_trust; }
static inline const gsl_multifit_nlinear_trs *calibd_gsl_nlinear_trs_lm(void) { return gsl_multifit_nlinear_trs_lm; }
static inline const gsl_multifit_nlinear_solver *calibd_gsl_nlinear_solver_cholesky(void) { return gsl_multifit_nlinear_solver_cholesky; }
static inline const gsl_multifit_nlinear_scale *calibd_gsl_nlinear_scale_more(void) { return gsl_multifit_nlinear_scale_more; }
#endif
