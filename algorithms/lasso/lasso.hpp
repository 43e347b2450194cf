#pragma once

#include "algorithms/data/libsvm_loader.hpp"
#include "algorithms/schedule/schedule.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

/// Lasso by scheduled coordinate descent (STRADS), in double precision, with
/// scikit-learn's objective
///
///   P(b) = (1/2n) ||y~ - X~ b||^2 + alpha ||b||_1
///
/// where X~ and y~ are X and y with their column means subtracted when an
/// intercept is fitted (and X, y otherwise). X~ is never formed: a row block
/// keeps the residual as u + s, u the residual of the uncentred sparse part
/// (one value per row) and s a scalar shift shared by the rows.
///
/// "Centring" below means some x_mean_j is not 0; without it the extra
/// terms are skipped (they would add exact zeros).
///
/// Arithmetic order, fixed so that a distributed run doing the same
/// operations in the same order gets identical bits (every sum below runs
/// left to right in the order given):
/// - center_of: x_mean_j = (sum of column j's stored values in row order) /
///   n; y_mean = (sum of y in row order) / n.
/// - row_block, at b = 0: u_i = y_i - y_mean, s = 0, U = sum of u over the
///   block's rows in order; per feature over the block's stored entries in
///   row order: c_j = sum x_ij, q_j = sum (x_ij - m_j)^2 then
///   q_j += (rows - stored) * m_j * m_j (m = x_mean; with m_j = 0 this is
///   the plain sum of squares).
/// - apply, for each key in order with delta d != 0 (a zero change is
///   skipped: it would change nothing but the sign of a zero): u_i -= x_ij *
///   d for the stored entries in row order; then, when centring, s += m_j * d
///   and U -= c_j * d.
/// - partial_sums, per key: t = sum x_ij * u_i over the stored entries in
///   row order; when centring t = t + (s * c_j - m_j * (U + rows * s));
///   out[2i] = t + beta[i] * q_j, out[2i+1] = q_j.
/// - gap_partial: xtr_j = t as above for every feature; over the rows in
///   order, with r_i = u_i + s: rr = sum r_i * r_i, ry = sum r_i * y~_i,
///   yy = sum y~_i * y~_i.
/// - Blocks are combined in block order: the first block's values, then
///   `+=` each next block's (gap_terms::add does the same per field).
/// - coordinate_update(a, b) = soft_threshold(a / n, alpha) / (b / n).
/// - ||b||_1 and x_mean . b run over the features in index order.
namespace metronome::algorithms::lasso {

/// Column means of X and the mean of y, subtracted when fitting an
/// intercept.
struct centering {
  std::vector<double> x_mean; ///< one per feature; zeros without intercept
  double y_mean = 0;
};

/// The centring of `d` as scikit-learn does it for fit_intercept (exact
/// column and target means, in the order documented above), or zeros of the
/// right size when `fit_intercept` is false.
centering center_of(const regression_data& d, bool fit_intercept);

/// The terms of the duality gap that sum over rows, for one row block or
/// (after add) the whole problem.
struct gap_terms {
  std::vector<double> xtr; ///< X~^T r over the rows, every feature
  double rr = 0;           ///< r . r
  double ry = 0;           ///< r . y~
  double yy = 0;           ///< y~ . y~

  /// Adds `other` field by field (`xtr` taken as zeros while empty).
  void add(const gap_terms& other);
};

/// Rows [begin, end) of a problem, stored by column (CSC), with their
/// residual r = y~ - X~ b, starting at b = 0: what one STRADS worker holds.
class row_block {
public:
  /// Copies rows [begin, end) of `d`; `c` is center_of(d, ...) (the same for
  /// every block). Throws std::out_of_range for a bad range and
  /// std::invalid_argument when `c` does not match `d`.
  row_block(const regression_data& d, std::size_t begin, std::size_t end,
            const centering& c);

  /// Commits changes: residual -= X~_j * deltas[i] for j = keys[i].
  void apply(const std::uint64_t* keys, const double* deltas, std::size_t n);

  /// STRADS' two partial sums for coordinates `keys`, whose current values
  /// are `beta`: out[2i] = sum x~_ij r_i + beta[i] * sum x~_ij^2 and
  /// out[2i+1] = sum x~_ij^2, over this block's rows (`out` holds 2n).
  void partial_sums(const std::uint64_t* keys, const double* beta,
                    std::size_t n, double* out) const;

  /// This block's terms of the duality gap, O(nnz + rows).
  gap_terms gap_partial() const;

  /// r . r over the block's rows in order, r_i = u_i + s, O(rows).
  double residual_norm2() const;

  /// The number of rows in the block.
  std::size_t rows() const { return u_.size(); }

private:
  double centred_dot(std::size_t j) const;

  std::vector<std::size_t> start_; ///< per feature, into rows_ and values_
  std::vector<std::uint32_t> row_; ///< row within the block
  std::vector<double> value_;
  std::vector<double> mean_;   ///< x_mean, empty when not centring
  std::vector<double> colsum_; ///< c_j, empty when not centring
  std::vector<double> sq_;     ///< q_j
  std::vector<double> y_;      ///< y~ of the block's rows
  std::vector<double> u_;      ///< residual of the uncentred part
  double shift_ = 0;           ///< s
  double u_sum_ = 0;           ///< U
};

/// sign(z) * max(|z| - gamma, 0).
double soft_threshold(double z, double gamma);

/// The new value of a coordinate from its summed partial sums `a` and `b`
/// over `n` samples: soft_threshold(a / n, alpha) / (b / n), or 0 when
/// b == 0 (a column that is zero after centring).
double coordinate_update(double a, double b, std::size_t n, double alpha);

/// P(b) = rr / (2n) + alpha * ||beta||_1 for a residual of squared norm rr.
double objective(double rr, std::size_t n, double alpha,
                 const std::vector<double>& beta);

/// scikit-learn's duality gap (cd_fast.pyx enet_coordinate_descent with no
/// l2 term, at its alpha = n * alpha) divided by n, so that it bounds
/// P(b) - P(b*) for the (1/2n)-scaled objective; >= 0 up to rounding.
double duality_gap(const gap_terms& total, std::size_t n, double alpha,
                   const std::vector<double>& beta);

/// tol * ||y~||^2 / n: scikit-learn's stopping threshold on that scale.
double gap_threshold(double tol, const gap_terms& total, std::size_t n);

/// y_mean - x_mean . beta (0 without intercept).
double intercept(const centering& c, const std::vector<double>& beta);

/// The smallest alpha for which b = 0 is optimal: max_j |x~_j . y~| / n.
double alpha_max(const regression_data& d, const centering& c);

/// A run of scheduled_descent.
struct settings {
  double alpha = 1.0; ///< l1 weight, > 0
  double tol = 1e-4;  ///< stop when gap <= tol * ||y~||^2 / n
  bool fit_intercept = false;
  std::uint64_t gap_every = 10; ///< rounds between gaps; 0: only at the end
  std::uint64_t max_rounds = 100000;
};

/// The outcome of a run.
struct result {
  std::vector<double> beta;
  double intercept = 0;
  double objective = 0; ///< P(beta)
  double gap = 0;       ///< duality_gap at beta
  std::uint64_t rounds = 0;
  std::uint64_t updates = 0; ///< coordinates updated, over all rounds
  bool converged = false;    ///< gap <= gap_threshold(tol)
};

/// The serial reference of the distributed algorithm. The rows are split
/// into `blocks` row_blocks with data_shard(samples, blocks, i). Each round:
/// S = schedule.next({}); every block applies the previous round's changes,
/// then computes partial_sums for S at the current b_S; the sums are
/// combined in block order; every b_j of S is set to coordinate_update of
/// its sums (all from the same residual, as in Shotgun and STRADS); the
/// changes go to schedule.observe and to the blocks next round. Every
/// `gap_every` rounds the blocks apply the round's changes at once, their
/// gap_terms are combined in block order, and the run stops when
/// duality_gap <= gap_threshold(tol); it also stops after max_rounds rounds
/// (or if the schedule returns no coordinate). With the `cyclic` schedule
/// and schedule_size 1 this is serial cyclic coordinate descent. Different
/// `blocks` give the same result up to rounding, not the same bits. Throws
/// std::invalid_argument for blocks of 0 or more than the samples, no
/// samples or features, alpha not above 0 or tol below 0.
result scheduled_descent(const regression_data& d, const settings& s,
                         coordinate_scheduler& schedule, std::size_t blocks);

} // namespace metronome::algorithms::lasso
