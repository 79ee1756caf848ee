"""Tests for the fused kernels in fastlr._loss against the NumPy oracle in _reference.py.

Covered, for each head (logistic, softmax, multilabel, squared):

* ``loss_gradient`` == oracle over dtype x sample_weight x read-only/memmap x n_threads x
  row subset;
* 5-point central finite differences of the kernel's own loss == its gradient;
* extreme logits (|z| up to 1e4): finite, warning-free, equal to a stable oracle; a sample
  predicted correctly with a large margin keeps its tiny positive loss;
* n_threads: 1 vs 2 agree, and a given n_threads is bit-for-bit reproducible;
* ``predict_linear`` == oracle (decision and probabilities), rows sum to 1, the logistic
  two-column output is ``[1 - p, p]``;
* ``count_nonfinite``;
* the buffer contract: outputs overwritten and returned, inputs untouched;
* ``float32_arithmetic=True`` (how mini-batch training computes the k-output heads on
  float32 X with AVX-512): within derived float32 rounding bounds of the exact oracle.

Tolerances. Every comparison states the error bound it relies on. Two scales recur:

* The kernels evaluate all arithmetic in double (float32 X is widened on load, which is
  exact; the float32-arithmetic path has its own bounds, ``_float32_bounds``), so kernel
  and oracle compute the same real-valued function, each rounding
  O(n + d) times. Their difference is bounded by a small multiple of
  ``eps * (sum of the magnitudes of the terms being added)``, *not* of the result (a
  gradient entry can be a sum that cancels to ~0). ``_scales`` computes those magnitudes;
  comparisons use ``rtol = 1e-12`` plus ``atol = 1e-12 * scale``. 1e-12 is ~4500 eps,
  an order of magnitude above the ~(n + d) eps ~ 1e-14 worst case for these sizes.
* Results written to a float32 ``out`` are a double rounded once to float32, so they are
  within half a float32 ulp (2**-24 relative) of the double value; one ulp (2**-23) is
  allowed since the double values of kernel and oracle may straddle a rounding boundary.
"""

import subprocess
import sys
import textwrap
import warnings

import _reference as R  # tests/ is on sys.path (pytest rootdir-relative "prepend" import)
import numpy as np
import pytest
from fastlr._openmp_helpers import openmp_enabled

from fastlr import _loss

# Any warning raised by numpy or fastlr in this module (overflow, invalid, deprecation) fails.
pytestmark = pytest.mark.filterwarnings("error")

HEADS = R.HEADS
DTYPES = [np.float64, np.float32]
EPS = np.finfo(np.float64).eps
F32_ULP = 2.0 ** -23
RTOL = 1e-12

# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------

def make_problem(head, n=41, d=7, k=3, dtype=np.float64, weights=False, seed=0,
                 soft=False, coef_scale=0.5):
    """Small seeded problem. d = 7 exercises both the 4-wide and the tail loop of dot()."""
    rng = np.random.default_rng(seed)
    k = 1 if head == "logistic" else k
    X = np.ascontiguousarray(rng.standard_normal((n, d)).astype(dtype))
    coef = coef_scale * rng.standard_normal((k, d))
    intercept = coef_scale * rng.standard_normal(k)
    if head == "softmax":
        Y = rng.integers(0, k, size=(n, 1)).astype(np.float64)
    elif head in ("logistic", "multilabel"):
        Y = rng.uniform(size=(n, k)) if soft else rng.integers(0, 2, size=(n, k))
        Y = Y.astype(np.float64)
    else:
        Y = rng.standard_normal((n, k))
    sw = None
    if weights:
        sw = rng.uniform(0.1, 3.0, size=n)
        sw[rng.choice(n, size=max(1, n // 8), replace=False)] = 0.0
    return X, Y, sw, coef, intercept


def kernel(head, X, Y, sw, coef, intercept, rows=None, n_threads=1):
    """Call loss_gradient with NaN-filled outputs and check the buffer contract."""
    k, d = coef.shape
    gW_out = np.full((k, d), np.nan)
    gb_out = np.full(k, np.nan)
    loss, gW, gb = _loss.loss_gradient(head, X, Y, sw, coef, intercept, gW_out, gb_out,
                                       rows=rows, n_threads=n_threads)
    # the returned arrays are the caller's buffers, fully overwritten
    assert np.shares_memory(gW, gW_out) and np.shares_memory(gb, gb_out)
    assert gW.shape == (k, d) and gb.shape == (k,)
    assert isinstance(loss, float)
    return loss, np.array(gW), np.array(gb)


def _onehot_targets(head, Y, k):
    """(n, k) targets in logit space (one-hot for softmax)."""
    if head == "softmax":
        T = np.zeros((Y.shape[0], k))
        T[np.arange(Y.shape[0]), Y[:, 0].astype(np.intp)] = 1.0
        return T
    return Y


def _scales(head, X, Y, sw, coef, intercept):
    """Magnitudes of the terms summed by loss and gradient (see the module docstring).

    Per sample: z_i is a sum of |b| + sum_j |w_j x_ij| (its rounding error is eps times
    that); the residual h(z) - y has terms |h(z)| + |y| plus that error (h' <= 1 for all
    heads); the loss has terms l_i + |y . z| + the z magnitude.
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    s = np.ones(n) if sw is None else np.abs(sw)
    zmag = np.abs(intercept) + np.abs(X) @ np.abs(coef).T          # (n, k)
    Z = R.decision(X, coef, intercept)
    H = np.abs(R.predict(head, X, coef, intercept, proba=True))
    if head == "logistic":
        H = H[:, 1:]
    T = np.abs(_onehot_targets(head, Y, coef.shape[0]))
    a = H + T + zmag                                                 # (n, k)
    loss_terms = R.per_sample_loss(head, Y, Z) + ((T + 1.0) * (np.abs(Z) + zmag)).sum(1)
    sa = s[:, None] * a
    return np.sum(s * loss_terms), sa.T @ np.abs(X), sa.sum(axis=0)


def assert_close(actual, desired, rtol, atol, what=""):
    """|actual - desired| <= atol + rtol |desired| elementwise (atol may be an array)."""
    actual = np.asarray(actual, dtype=np.float64)
    desired = np.asarray(desired, dtype=np.float64)
    assert actual.shape == desired.shape, (what, actual.shape, desired.shape)
    err = np.abs(actual - desired)
    bound = atol + rtol * np.abs(desired)
    ok = err <= bound
    assert np.all(ok), (
        f"{what}: max err/bound = {np.max(err / np.where(bound > 0, bound, np.inf)):.3g}; "
        f"actual={actual[~ok][:5]}, desired={desired[~ok][:5]}")


def assert_matches_oracle(head, result, X, Y, sw, coef, intercept, rtol=RTOL):
    loss, gW, gb = result
    ref_loss, ref_gW, ref_gb = R.loss_grad(head, X, Y, sw, coef, intercept)
    s_loss, s_gW, s_gb = _scales(head, X, Y, sw, coef, intercept)
    assert_close(loss, ref_loss, rtol, rtol * s_loss, "loss")
    assert_close(gW, ref_gW, rtol, rtol * s_gW, "grad_coef")
    assert_close(gb, ref_gb, rtol, rtol * s_gb, "grad_intercept")


def _readonly(a):
    if a is None:
        return None
    a = np.array(a)
    a.setflags(write=False)
    return a


def _memmap(a, path):
    m = np.memmap(path, dtype=a.dtype, mode="w+", shape=a.shape)
    m[:] = a
    m.flush()
    del m
    return np.memmap(path, dtype=a.dtype, mode="r", shape=a.shape)


# ---------------------------------------------------------------------------------------
# loss_gradient == oracle over the grid
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("rows_kind", [None, "subset"])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("mode", ["writeable", "readonly", "memmap"])
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("head", HEADS)
def test_loss_gradient_matches_oracle(head, dtype, weights, mode, n_threads, rows_kind,
                                      tmp_path):
    X, Y, sw, coef, b = make_problem(head, dtype=dtype, weights=weights)
    n = X.shape[0]
    rows = None
    if rows_kind == "subset":
        rows = np.random.default_rng(1).permutation(n)[:29].astype(np.intp)

    snapshot = [None if a is None else a.copy() for a in (X, Y, sw, coef, b, rows)]
    Xk, Yk, swk, ck, bk, rk = X, Y, sw, coef, b, rows
    if mode in ("readonly", "memmap"):
        Xk, Yk, swk, ck, bk, rk = map(_readonly, (X, Y, sw, coef, b, rows))
    if mode == "memmap":
        Xk = _memmap(X, tmp_path / "X.dat")
        assert not Xk.flags.writeable and Xk.flags.c_contiguous

    result = kernel(head, Xk, Yk, swk, ck, bk, rows=rk, n_threads=n_threads)

    # The kernel widens float32 X to double on load (exact) and does all arithmetic in
    # double, so for float32 it computes the same function as the float64 oracle applied
    # to X.astype(float64): the same tolerance as for float64 input applies.
    sel = slice(None) if rows is None else rows
    X64 = X.astype(np.float64)[sel]
    assert_matches_oracle(head, result, X64, Y[sel], None if sw is None else sw[sel],
                          coef, b)

    # inputs untouched
    for before, after in zip(snapshot, (X, Y, sw, coef, b, rows), strict=True):
        if before is not None:
            np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("d", [7, 45, 784])
@pytest.mark.parametrize("k", [3, 7, 10, 13])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("head", ["softmax", "multilabel", "squared"])
def test_blocked_shapes_match_oracle(head, dtype, k, d):
    # The k-output heads run blocks of up to 32 rows x class blocks of 5 and 4 (the last
    # padded), over d in tiles of 4 vectors, then single vectors, then a scalar tail (under
    # AVX-512; other instruction sets take their own paths through the same shapes).
    # 77 shuffled rows = two blocks of 32, one of 12, one leftover row; d = 784 leaves two
    # single vectors, d = 45 one vector and a 5-element tail; k = 7 is 4 + 3 padded, k = 13
    # is 5 + 4 + 4; weights include zeros. Prediction shares the dot products.
    X, Y, sw, coef, b = make_problem(head, n=90, d=d, k=k, dtype=dtype, weights=True,
                                     seed=k + d)
    rows = np.random.default_rng(2).permutation(90)[:77].astype(np.intp)
    X64 = X.astype(np.float64)
    result = kernel(head, X, Y, sw, coef, b, rows=rows)
    assert_matches_oracle(head, result, X64[rows], Y[rows], sw[rows], coef, b)
    for proba in (False, True):
        out = _loss.predict_linear(head, X, coef, b, np.empty((77, k)), proba, 1, rows)
        ref = R.predict(head, X64[rows], coef, b, proba=proba)
        zmag = (np.abs(b) + np.abs(X64[rows]) @ np.abs(coef).T).max(axis=1, keepdims=True)
        assert_close(out, ref, RTOL, RTOL * zmag, "predict")


@pytest.mark.parametrize("head", ["logistic", "multilabel"])
def test_soft_labels_match_oracle(head):
    # BCE heads accept any y in [0, 1]
    X, Y, sw, coef, b = make_problem(head, soft=True, weights=True, seed=3)
    assert np.any((Y > 0) & (Y < 1))
    assert_matches_oracle(head, kernel(head, X, Y, sw, coef, b), X, Y, sw, coef, b)


@pytest.mark.parametrize("d", [1, 2, 3, 4, 5, 8, 9])
@pytest.mark.parametrize("head", HEADS)
def test_feature_counts_around_the_unroll(head, d):
    # dot() unrolls by 4 and finishes with a tail loop: every d mod 4 must be right
    X, Y, sw, coef, b = make_problem(head, n=13, d=d, seed=4)
    assert_matches_oracle(head, kernel(head, X, Y, sw, coef, b), X, Y, sw, coef, b)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("head", HEADS)
def test_rows_with_repeats(head, n_threads):
    # a bootstrap-like index array: duplicates count once per occurrence
    X, Y, sw, coef, b = make_problem(head, weights=True, seed=5)
    rows = np.random.default_rng(6).integers(0, X.shape[0], size=50).astype(np.intp)
    assert len(np.unique(rows)) < len(rows)
    res = kernel(head, X, Y, sw, coef, b, rows=rows, n_threads=n_threads)
    assert_matches_oracle(head, res, X[rows], Y[rows], sw[rows], coef, b)


@pytest.mark.parametrize("head", HEADS)
def test_empty_rows(head):
    X, Y, sw, coef, b = make_problem(head, weights=True)
    loss, gW, gb = kernel(head, X, Y, sw, coef, b, rows=np.empty(0, dtype=np.intp))
    assert loss == 0.0
    np.testing.assert_array_equal(gW, 0.0)
    np.testing.assert_array_equal(gb, 0.0)


@pytest.mark.parametrize("head", HEADS)
def test_empty_data(head):
    # n = 0 (with an empty weight vector): zero loss, zero gradients
    X, Y, sw, coef, b = make_problem(head, weights=True)
    loss, gW, gb = kernel(head, X[:0], Y[:0], sw[:0], coef, b)
    assert loss == 0.0
    np.testing.assert_array_equal(gW, 0.0)
    np.testing.assert_array_equal(gb, 0.0)


@pytest.mark.parametrize("head", HEADS)
def test_unit_weights_equal_no_weights(head):
    # s = 1.0 multiplies exactly, so the two code paths give bit-identical results
    X, Y, _, coef, b = make_problem(head)
    r_none = kernel(head, X, Y, None, coef, b)
    r_ones = kernel(head, X, Y, np.ones(X.shape[0]), coef, b)
    assert r_none[0] == r_ones[0]
    np.testing.assert_array_equal(r_none[1], r_ones[1])
    np.testing.assert_array_equal(r_none[2], r_ones[2])


# ---------------------------------------------------------------------------------------
# Finite differences of the kernel's own loss
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("head", HEADS)
def test_gradient_matches_finite_differences(head, weights):
    X, Y, sw, coef, b = make_problem(head, n=12, d=3, k=3, weights=weights, seed=7)
    loss, gW, gb = kernel(head, X, Y, sw, coef, b)

    def f(W, c):
        return kernel(head, X, Y, sw, W, c)[0]

    # 5-point central difference, h = 1e-3: round-off ~ (18/12) eps |f| / h ~ 3e-13 |f|,
    # truncation h^4 |f^(5)| / 30 ~ 3e-14 |f^(5)|, and |f^(5)| <= sum_i s_i |x_ij|^5 * O(1)
    # ~ 1e2 for this unit-scale data: the FD is good to ~1e-11 absolute. rtol = 1e-7 plus
    # an absolute floor of 1e-9 (1 + |f|) (entries near 0) leaves a wide margin.
    h = 1e-3
    steps = np.array([2.0, 1.0, -1.0, -2.0]) * h
    wts = np.array([-1.0, 8.0, -8.0, 1.0]) / (12.0 * h)
    atol = 1e-9 * (1.0 + abs(loss))

    fd_W = np.empty_like(coef)
    for idx in np.ndindex(coef.shape):
        vals = []
        for t in steps:
            W = coef.copy()
            W[idx] += t
            vals.append(f(W, b))
        fd_W[idx] = wts @ np.array(vals)
    fd_b = np.empty_like(b)
    for c in range(b.shape[0]):
        vals = []
        for t in steps:
            bb = b.copy()
            bb[c] += t
            vals.append(f(coef, bb))
        fd_b[c] = wts @ np.array(vals)

    assert_close(gW, fd_W, 1e-7, atol, "grad_coef vs FD")
    assert_close(gb, fd_b, 1e-7, atol, "grad_intercept vs FD")


# ---------------------------------------------------------------------------------------
# Extreme logits
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("zmax", [30.0, 50.0, 1e3, 1e4])
@pytest.mark.parametrize("head", HEADS)
def test_extreme_logits(head, zmax):
    X, Y, sw, coef, b = make_problem(head, n=20, d=4, k=3, weights=True, seed=8)
    scale = zmax / np.abs(R.decision(X, coef, b)).max()
    coef, b = coef * scale, b * scale
    Z = R.decision(X, coef, b)
    assert np.isclose(np.abs(Z).max(), zmax)

    # Underflow (e^-1e4 -> 0) is the correct rounding and is allowed; overflow, invalid
    # operations and division by zero in the oracle, and any Python warning, are errors.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            loss, gW, gb = kernel(head, X, Y, sw, coef, b)
            ref_loss, ref_gW, ref_gb = R.loss_grad(head, X, Y, sw, coef, b)
            s_loss, s_gW, s_gb = _scales(head, X, Y, sw, coef, b)
            k = coef.shape[0]
            ncol = 2 if head == "logistic" else k
            P = _loss.predict_linear(head, X, coef, b, np.empty((X.shape[0], ncol)),
                                     proba=True)
            ref_P = R.predict(head, X, coef, b, proba=True)

    assert np.isfinite(loss) and loss >= 0.0
    assert np.all(np.isfinite(gW)) and np.all(np.isfinite(gb))
    # The loss is a sum of non-negative terms; the same relative bound as for moderate z.
    assert_close(loss, ref_loss, RTOL, RTOL * s_loss, "loss")
    # The gradient: the kernel forms h(z) - y directly, whose absolute error is ~eps (h and
    # y are O(1) for the classification heads), while the oracle's residual is relatively
    # exact; the absolute scale in _scales already covers that, so the same bound holds.
    assert_close(gW, ref_gW, RTOL, RTOL * s_gW, "grad_coef")
    assert_close(gb, ref_gb, RTOL, RTOL * s_gb, "grad_intercept")

    assert np.all(np.isfinite(P))
    if head != "squared":
        assert np.all((P >= 0.0) & (P <= 1.0))
        # tiny probabilities keep their relative precision (no clipping): the kernel and
        # the oracle each round exp and one division, but z itself carries an absolute
        # error ~eps |z| (up to 2e-12 at |z| = 1e4) that exp turns into a relative one.
        zerr = 64 * EPS * (np.abs(b) + np.abs(X) @ np.abs(coef).T).max()
        assert_close(P, ref_P, 16 * EPS + 2 * zerr, 0.0, "proba")
    if head in ("logistic", "softmax"):
        # k roundings of values summing to 1: |sum - 1| <= k eps
        assert np.all(np.abs(P.sum(axis=1) - 1.0) <= P.shape[1] * EPS)


def _saturated_problem(head, z):
    """A problem whose every sample is predicted correctly with margin z.

    Returns (X, Y, coef, intercept, exact_loss) with the exact loss from log1p(e^-z).
    """
    tiny = np.log1p(np.exp(-z))
    if head == "logistic":
        X = np.array([[1.0], [-1.0]])
        Y = np.array([[1.0], [0.0]])                       # z = +z, y = 1 and z = -z, y = 0
        return X, Y, np.array([[z]]), np.zeros(1), 2 * tiny
    if head == "softmax":
        X = np.array([[1.0], [-1.0]])
        Y = np.array([[0.0], [1.0]])                       # logits (z, 0, 0) / (-z, 0, 0)
        coef = np.array([[z], [0.0], [0.0]])
        # row 0: log(1 + 2 e^-z); row 1: true class 1 ties with class 2, loss log(2 + e^-z)
        return X, Y, coef, np.zeros(3), np.log1p(2 * np.exp(-z)) + np.log(2 + np.exp(-z))
    if head == "multilabel":
        X = np.array([[1.0], [-1.0]])
        Y = np.array([[1.0, 0.0], [0.0, 1.0]])             # logits (z, -z) / (-z, z)
        return X, Y, np.array([[z], [-z]]), np.zeros(2), 4 * tiny
    raise ValueError(head)


@pytest.mark.parametrize("z", [20.0, 30.0, 40.0, 50.0, 100.0, 700.0])
@pytest.mark.parametrize("head", [
    "logistic",
    "softmax",
    "multilabel",
])
def test_saturated_correct_prediction_keeps_tiny_positive_loss(head, z):
    # The loss of a sample predicted correctly with margin z is log1p(e^-z) (4e-18 at
    # z = 40, 1e-304 at z = 700): positive, and computable to full relative precision.
    # exp and log1p are each correct to ~1 ulp and the sum has a handful of terms, so
    # 1e-14 (~45 eps) is a generous relative bound; returning 0 is a 100 % error.
    if head == "softmax":
        # isolate the dominant-true-class sample (the tie row has an O(1) loss)
        X, Y, coef, b, _ = _saturated_problem(head, z)
        X, Y, exact = X[:1], Y[:1], np.log1p(2 * np.exp(-z))
    else:
        X, Y, coef, b, exact = _saturated_problem(head, z)
    loss = kernel(head, X, Y, None, coef, b)[0]
    ref = R.loss_grad(head, X, Y, None, coef, b)[0]
    assert_close(ref, exact, 1e-14, 0.0, "oracle")           # the oracle itself is exact
    assert loss > 0.0
    assert_close(loss, exact, 1e-14, 0.0, "loss")


def test_softmax_tie_row_loss():
    # the non-saturated companion row of _saturated_problem: true class tied at the max
    X, Y, coef, b, _ = _saturated_problem("softmax", 40.0)
    loss = kernel("softmax", X[1:], Y[1:], None, coef, b)[0]
    assert_close(loss, np.log(2 + np.exp(-40.0)), 1e-14, 0.0, "loss")


@pytest.mark.parametrize("z", [20.0, 40.0, 100.0, 700.0])
@pytest.mark.parametrize("head", ["logistic", "softmax", "multilabel"])
def test_saturated_probabilities_not_clipped(head, z):
    # The minority probability is e^-z / (1 + ...) ~ e^-z, a normal double for z <= 700;
    # the kernel must return it (not 0) to ~1 ulp per exp / division: rtol 1e-14.
    X, _, coef, b, _ = _saturated_problem(head, z)
    ncol = 2 if head == "logistic" else coef.shape[0]
    P = _loss.predict_linear(head, X, coef, b, np.empty((X.shape[0], ncol)), proba=True)
    ref = R.predict(head, X, coef, b, proba=True)
    assert np.all(P > 0.0)
    assert_close(P, ref, 1e-14, 0.0, "proba")


# ---------------------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("rows_kind", [None, "subset"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("head", HEADS)
def test_threads_agree_and_are_reproducible(head, dtype, rows_kind):
    X, Y, sw, coef, b = make_problem(head, n=101, dtype=dtype, weights=True, seed=9)
    rows = None
    if rows_kind == "subset":
        rows = np.random.default_rng(10).permutation(101)[:77].astype(np.intp)
    r1 = kernel(head, X, Y, sw, coef, b, rows=rows, n_threads=1)
    for nt in (2, 3):
        ra = kernel(head, X, Y, sw, coef, b, rows=rows, n_threads=nt)
        rb = kernel(head, X, Y, sw, coef, b, rows=rows, n_threads=nt)
        # fixed chunking and fixed-order reduction: bit-identical across runs
        assert ra[0] == rb[0]
        np.testing.assert_array_equal(ra[1], rb[1])
        np.testing.assert_array_equal(ra[2], rb[2])
        # different n_threads only reorder the sums: same bound as against the oracle
        sel = slice(None) if rows is None else rows
        s_loss, s_gW, s_gb = _scales(head, X[sel], Y[sel], sw[sel], coef, b)
        assert_close(ra[0], r1[0], RTOL, RTOL * s_loss, f"loss nt={nt}")
        assert_close(ra[1], r1[1], RTOL, RTOL * s_gW, f"grad_coef nt={nt}")
        assert_close(ra[2], r1[2], RTOL, RTOL * s_gb, f"grad_intercept nt={nt}")


@pytest.mark.parametrize("head", HEADS)
def test_few_rows_many_threads_is_serial(head):
    # n < 2 n_threads falls back to the serial loop: identical to n_threads=1
    X, Y, sw, coef, b = make_problem(head, n=3, weights=True)
    r1 = kernel(head, X, Y, sw, coef, b, n_threads=1)
    r2 = kernel(head, X, Y, sw, coef, b, n_threads=2)
    assert r1[0] == r2[0]
    np.testing.assert_array_equal(r1[1], r2[1])
    np.testing.assert_array_equal(r1[2], r2[2])


_CLAMP_SCRIPT = textwrap.dedent("""
    import importlib.util
    import numpy as np
    # load the extension by path: skips fastlr/__init__ (and its optional imports)
    spec = importlib.util.spec_from_file_location("fastlr._loss", {path!r})
    _loss = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(_loss)
    X = np.random.default_rng(0).standard_normal((20, 3)); X[0, 0] = np.nan
    Xf = np.nan_to_num(X)
    Y = (np.arange(20) % 2).astype(float)[:, None]
    W, b = np.ones((1, 3)), np.zeros(1)
    nt = {nt}
    if "{fn}" == "loss_gradient":
        r1 = _loss.loss_gradient("logistic", Xf, Y, None, W, b, np.empty((1, 3)),
                                 np.empty(1), n_threads=1)
        r = _loss.loss_gradient("logistic", Xf, Y, None, W, b, np.empty((1, 3)),
                                np.empty(1), n_threads=nt)
        assert r[0] == r1[0] and (r[1] == r1[1]).all() and (r[2] == r1[2]).all()
    elif "{fn}" == "predict_linear":
        o1 = _loss.predict_linear("logistic", Xf, W, b, np.empty((20, 1)), n_threads=1)
        o = _loss.predict_linear("logistic", Xf, W, b, np.empty((20, 1)), n_threads=nt)
        assert (o == o1).all()
    else:
        assert _loss.count_nonfinite(X, n_threads=nt) == 1
    print("ok")
""")


@pytest.mark.parametrize("fn", [
    "loss_gradient",
    "predict_linear",
    "count_nonfinite",
])
def test_negative_n_threads_means_one(fn):
    # loss_gradient and predict_linear document-by-code `if n_threads < 1: n_threads = 1`;
    # every entry point should behave the same. Run in a subprocess: the failure mode is
    # an OpenMP runtime abort that would take pytest down with it.
    script = _CLAMP_SCRIPT.format(fn=fn, nt=-1, path=_loss.__file__)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_openmp_reported():
    assert isinstance(openmp_enabled(), bool)


# ---------------------------------------------------------------------------------------
# predict_linear
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["writeable", "readonly", "memmap"])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("proba", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("head", HEADS)
def test_predict_linear_matches_oracle(head, dtype, proba, n_threads, mode, tmp_path):
    X, _, _, coef, b = make_problem(head, n=23, dtype=dtype, seed=11, coef_scale=1.5)
    k = coef.shape[0]
    ncol = 2 if head == "logistic" and proba else k
    Xk, ck, bk = X, coef, b
    if mode != "writeable":
        Xk, ck, bk = map(_readonly, (X, coef, b))
    if mode == "memmap":
        Xk = _memmap(X, tmp_path / "X.dat")
    out = np.full((X.shape[0], ncol), np.nan, dtype=dtype)
    res = _loss.predict_linear(head, Xk, ck, bk, out, proba=proba, n_threads=n_threads)
    assert np.shares_memory(res, out) and res.dtype == dtype and res.shape == out.shape

    X64 = X.astype(np.float64)                   # exact; the kernel works in double
    ref = R.predict(head, X64, coef, b, proba=proba)
    # double-precision part: z has absolute error <= ~(d + 1) eps * zmag, h' <= 1 carries
    # it to the probabilities; 1e-12 * zmag bounds it with a wide margin. float32 output
    # adds one rounding of the double result to float32 (one ulp allowed, see the top).
    zmag = (np.abs(b) + np.abs(X64) @ np.abs(coef).T).max(axis=1, keepdims=True)
    rtol = RTOL if dtype == np.float64 else F32_ULP
    assert_close(res, ref, rtol, RTOL * zmag, "predict")

    if proba and head in ("logistic", "softmax"):
        eps = np.finfo(dtype).eps
        assert np.all(np.abs(res.astype(np.float64).sum(axis=1) - 1.0) <= ncol * eps)
    if proba and head != "squared":
        assert np.all((res >= 0) & (res <= 1))
    if head == "logistic" and proba:
        # two columns [1 - p, p]; column 1 is the same computation as the 1-column output
        out1 = np.full((X.shape[0], 1), np.nan, dtype=dtype)
        p = _loss.predict_linear(head, Xk, ck, bk, out1, proba=True, n_threads=n_threads)
        np.testing.assert_array_equal(res[:, 1], p[:, 0])
        eps = np.finfo(dtype).eps
        assert_close(res[:, 0], 1.0 - p[:, 0].astype(np.float64), 0.0, eps, "1 - p")


@pytest.mark.parametrize("head", HEADS)
def test_predict_linear_threads_identical(head):
    # rows are independent: n_threads cannot change a single bit
    X, _, _, coef, b = make_problem(head, n=57, seed=12)
    k = coef.shape[0]
    for proba in (False, True):
        ncol = 2 if head == "logistic" and proba else k
        o1 = _loss.predict_linear(head, X, coef, b, np.empty((57, ncol)), proba=proba)
        o2 = _loss.predict_linear(head, X, coef, b, np.empty((57, ncol)), proba=proba,
                                  n_threads=2)
        np.testing.assert_array_equal(o1, o2)


@pytest.mark.parametrize("n", [1, 3, 63, 64, 65, 131])
@pytest.mark.parametrize("proba", [False, True])
@pytest.mark.parametrize("head", ["logistic", "softmax"])
def test_predict_linear_row_blocks(head, proba, n):
    # the binary head links blocks of 64 rows (4-row dot groups, a 1-3 row tail); each row
    # must still get its own logit and probability across every block and tail boundary
    X, _, _, coef, b = make_problem(head, n=n, d=21, seed=13, coef_scale=1.5)
    k = coef.shape[0]
    ncol = 2 if head == "logistic" and proba else k
    res = _loss.predict_linear(head, X, coef, b, np.full((n, ncol), np.nan), proba=proba)
    ref = R.predict(head, X, coef, b, proba=proba)
    zmag = (np.abs(b) + np.abs(X) @ np.abs(coef).T).max(axis=1, keepdims=True)
    assert_close(res, ref, RTOL, RTOL * zmag, "predict")


@pytest.mark.parametrize("out_dtype", DTYPES)
@pytest.mark.parametrize("proba", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [1, 5, 8, 16, 21])
def test_predict_logistic_row_independent_of_position(d, dtype, proba, out_dtype):
    # The binary head predicts 8 rows a vector with AVX-512 (a last partial block repeats
    # its last row in the unused lanes; gathered rows take a separate loop), 64-row blocks
    # of 4-row groups otherwise. A row's output must not depend on where it sits: alone,
    # anywhere in a block or the partial block, or gathered through rows=, bit for bit.
    # d covers: only the masked tail (1, 5), no tail (8, 16), full vectors and a tail (21).
    n = 43
    X, _, _, coef, b = make_problem("logistic", n=n, d=d, dtype=dtype, seed=31,
                                    coef_scale=1.5)
    X[5, 0] = np.nan                       # a non-finite row is flagged, others unaffected
    ncol = 2 if proba else 1

    def run(rows=None):
        m = n if rows is None else len(rows)
        out = np.full((m, ncol), np.nan, dtype=out_dtype)
        r = None if rows is None else np.asarray(rows, dtype=np.intp)
        bad = _loss.predict_into("logistic", X, coef, b, out, proba, 1, r)
        return out, bad

    full, bad = run()
    assert bad
    assert np.isnan(full[5]).all() and np.isfinite(np.delete(full, 5, axis=0)).all()
    ref = R.predict("logistic", X.astype(np.float64), coef, b, proba=proba)
    ok = np.arange(n) != 5
    zmag = (np.abs(b) + np.abs(X[ok].astype(np.float64)) @ np.abs(coef).T).max(axis=1,
                                                                                keepdims=True)
    rtol = RTOL if out_dtype == np.float64 else F32_ULP
    assert_close(full[ok], ref[ok], rtol, RTOL * zmag, "predict")
    for i in (0, 7, 8, 41, 42):
        single, _ = run([i])
        np.testing.assert_array_equal(single[0], full[i])
    perm = np.random.default_rng(3).permutation(n)
    for rows in (perm, perm[:13], np.arange(n), [42, 0, 42, 42, 7, 8, 9, 1, 2]):
        part, _ = run(rows)
        np.testing.assert_array_equal(part, full[np.asarray(rows)])
    for lo, hi in ((0, 8), (3, 12), (40, 43), (1, 42)):   # slices: other block boundaries
        out = np.full((hi - lo, ncol), np.nan, dtype=out_dtype)
        _loss.predict_into("logistic", X[lo:hi], coef, b, out, proba, 1)
        np.testing.assert_array_equal(out, full[lo:hi])


@pytest.mark.parametrize("proba", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [1, 5, 8, 21])
@pytest.mark.parametrize("head", ["softmax", "multilabel", "squared"])
def test_predict_k_outputs_row_independent_of_position(head, d, dtype, proba):
    # The k-output heads predict panels of up to 32 rows in groups of 4 (AVX-512; a last
    # group of 1-3 rows repeats its last row), rows in pairs otherwise. A row's outputs must
    # not depend on where it sits: alone, in a panel's last group, across panels, gathered
    # through rows=, or in a slice, bit for bit. n = 75: two full panels and a group of 3.
    n = 75
    X, _, _, coef, b = make_problem(head, n=n, d=d, k=5, dtype=dtype, seed=33,
                                    coef_scale=1.5)
    X[6, 0] = np.nan                       # a non-finite row is flagged, others unaffected
    k = coef.shape[0]

    def run(rows=None, Xs=X):
        m = Xs.shape[0] if rows is None else len(rows)
        out = np.full((m, k), np.nan)
        r = None if rows is None else np.asarray(rows, dtype=np.intp)
        bad = _loss.predict_into(head, Xs, coef, b, out, proba, 1, r)
        return out, bad

    full, bad = run()
    assert bad
    assert np.isnan(full[6]).all() and np.isfinite(np.delete(full, 6, axis=0)).all()
    ok = np.arange(n) != 6
    ref = R.predict(head, X.astype(np.float64), coef, b, proba=proba)
    zmag = (np.abs(b) + np.abs(X[ok].astype(np.float64)) @ np.abs(coef).T).max(axis=1,
                                                                                keepdims=True)
    assert_close(full[ok], ref[ok], RTOL, RTOL * zmag, "predict")
    for i in (0, 3, 31, 32, 63, 64, 72, 74):
        single, _ = run([i])
        np.testing.assert_array_equal(single[0], full[i])
    perm = np.random.default_rng(5).permutation(n)
    for rows in (perm, perm[:13], [74, 0, 74, 74, 31, 32, 9, 1, 2]):
        part, _ = run(rows)
        np.testing.assert_array_equal(part, full[np.asarray(rows)])
    for lo, hi in ((0, 5), (3, 38), (70, 75), (1, 74)):
        part, _ = run(Xs=X[lo:hi])
        np.testing.assert_array_equal(part, full[lo:hi])


@pytest.mark.parametrize("head", HEADS)
def test_predict_threads_chunks_identical(head):
    # Enough work for two threads: the rows go out in chunks taken as threads free up
    # (several per thread, ends not on a 4-row group). Every bit equals one thread's and
    # gathered rows'.
    n = 5003
    X, _, _, coef, b = make_problem(head, n=n, d=61, k=5, dtype=np.float32, seed=34)
    k = coef.shape[0]
    assert _loss.threads_for(n, k * X.shape[1], 2) == 2
    for proba in (False, True):
        ncol = 2 if head == "logistic" and proba else k
        o1 = _loss.predict_linear(head, X, coef, b, np.empty((n, ncol)), proba=proba)
        for nt in (2, 3):
            o2 = _loss.predict_linear(head, X, coef, b, np.empty((n, ncol)), proba=proba,
                                      n_threads=nt)
            np.testing.assert_array_equal(o1, o2)
        rows = np.random.default_rng(6).permutation(n).astype(np.intp)
        o3 = _loss.predict_linear(head, X, coef, b, np.empty((n, ncol)), proba=proba,
                                  n_threads=2, rows=rows)
        np.testing.assert_array_equal(o3, o1[rows])


@pytest.mark.parametrize("dtype", DTYPES)
def test_predict_logistic_large_input_same_rows(dtype):
    # over 4 MB of consecutive rows the binary prediction prefetches in software (another
    # copy of the loop, AVX-512): its rows must equal those of small slices and gathers
    X, _, _, coef, b = make_problem("logistic", n=70_000, d=19, dtype=dtype, seed=32)
    assert X.nbytes > 4 << 20
    n = X.shape[0]
    full = _loss.predict_linear("logistic", X, coef, b, np.empty((n, 2)), proba=True)
    for lo in (0, 12_345, n - 21):
        part = _loss.predict_linear("logistic", X[lo:lo + 21], coef, b, np.empty((21, 2)),
                                    proba=True)
        np.testing.assert_array_equal(part, full[lo:lo + 21])
    rows = np.random.default_rng(4).integers(0, n, size=1000).astype(np.intp)
    part = _loss.predict_linear("logistic", X, coef, b, np.empty((1000, 2)), proba=True,
                                rows=rows)
    np.testing.assert_array_equal(part, full[rows])
    X64 = X[:500].astype(np.float64)
    ref = R.predict("logistic", X64, coef, b, proba=True)
    zmag = (np.abs(b) + np.abs(X64) @ np.abs(coef).T).max(axis=1, keepdims=True)
    assert_close(full[:500], ref, RTOL, RTOL * zmag, "predict")


def test_predict_linear_empty():
    X = np.empty((0, 3))
    out = np.empty((0, 3))
    res = _loss.predict_linear("softmax", X, np.ones((3, 3)), np.zeros(3), out, proba=True)
    assert res.shape == (0, 3)


# ---------------------------------------------------------------------------------------
# count_nonfinite
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES)
def test_count_nonfinite(dtype, n_threads):
    rng = np.random.default_rng(13)
    X = rng.standard_normal((50, 6)).astype(dtype)
    assert _loss.count_nonfinite(X, n_threads=n_threads) == 0
    fin = np.finfo(dtype)
    # extreme finite values are not counted
    X[0, :4] = [fin.max, -fin.max, fin.tiny, fin.smallest_subnormal]
    assert _loss.count_nonfinite(X, n_threads=n_threads) == 0
    pos = rng.choice(X.size, size=17, replace=False)
    X.flat[pos] = np.resize([np.nan, np.inf, -np.inf], 17)
    assert _loss.count_nonfinite(X, n_threads=n_threads) == 17
    assert _loss.count_nonfinite(_readonly(X), n_threads=n_threads) == 17
    X[:] = np.nan
    assert _loss.count_nonfinite(X, n_threads=n_threads) == X.size


def test_count_nonfinite_empty():
    assert _loss.count_nonfinite(np.empty((0, 4))) == 0
    assert _loss.count_nonfinite(np.empty((4, 0), dtype=np.float32)) == 0


# ---------------------------------------------------------------------------------------
# float32 arithmetic (mini-batch training of float32 X, k-output heads, AVX-512)
# ---------------------------------------------------------------------------------------

def _float32_bounds(head, X, Y, sw, coef, intercept):
    """Error bounds of float32 arithmetic against the exact loss and gradient.

    Logits: x . w with w rounded to float32 (|dw| <= u |w|, u = 2**-24), each of 16 lanes
    summing its d / 16 products in float32 by FMA (one rounding each: gamma_L with
    L = d // 16 + 1), the lanes and the last d % 16 columns then added in double:
    |dz_rc| <= (gamma_L + u + 2**-47) sum_j |x_rj w_cj| =: E_r (max over classes).
    Heads: |d(h - y)| <= 2 E_r (softmax: |dp_c| <= 2 p_c max |dz|; sigmoid E / 4;
    identity E). The residuals s_r (h - y) are rounded to float32 (u) and summed over a
    row block of at most 32 rows in float32 (gamma_32); blocks and threads add in double.
    Loss: softmax |dl| <= 2 E, multilabel <= k E (|dl/dz_c| <= 1), squared
    <= sum_c (|z_c - y_c| E + E^2 / 2)."""
    u = 2.0 ** -24
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    k = coef.shape[0]
    s = np.ones(n) if sw is None else np.asarray(sw, dtype=np.float64)
    gamma = lambda m: m * u / (1 - m * u)  # noqa: E731
    E = (gamma(d // 16 + 1) + u + 2.0 ** -47) * (np.abs(X) @ np.abs(coef).T).max(axis=1)
    Z = R.decision(X, coef, intercept)
    A = np.abs(R.residual(head, Y, Z))
    dA = 2 * E[:, None] * s[:, None]                      # |change| of s_r (h - y)
    Aw = s[:, None] * A
    g32 = gamma(32)
    bound_W = 1.01 * ((dA + (u + g32) * (Aw + dA)).T @ np.abs(X)) + 1e-12 * (Aw.T @ np.abs(X))
    bound_b = 1.01 * dA.sum(axis=0) + 1e-12 * Aw.sum(axis=0)
    if head == "softmax":
        dl = 2 * E
    elif head == "multilabel":
        dl = k * E
    else:
        dl = (A * E[:, None] + 0.5 * E[:, None] ** 2).sum(axis=1)
    loss_terms = s * R.per_sample_loss(head, Y, Z)
    bound_loss = 1.01 * np.sum(s * dl) + 1e-12 * np.abs(loss_terms).sum()
    return bound_loss, bound_W, bound_b


@pytest.mark.parametrize("n, k, n_threads", [(7, 3, 1), (70, 10, 1), (70, 3, 2)])
@pytest.mark.parametrize("d", [5, 16, 37, 100, 784])
@pytest.mark.parametrize("head", ["softmax", "multilabel", "squared"])
def test_float32_arithmetic_within_its_rounding_bound(head, d, n, k, n_threads):
    """loss_gradient(float32_arithmetic=True) on float32 X, against the exact (double)
    oracle on the same data: within the rounding bounds of _float32_bounds, entry by
    entry. With AVX-512 the float32 path must run (it differs from double arithmetic);
    elsewhere the flag changes nothing (bit-identical to double arithmetic). Coefficients
    ~ 2 / sqrt(d) keep the logits O(1), where the bounds stay under 1% of the gradient's
    entries (median), so a misplaced or stale float32 coefficient exceeds them."""
    X, Y, sw, coef, intercept = make_problem(head, n=n, d=d, k=k, dtype=np.float32,
                                             weights=True, seed=d + n,
                                             coef_scale=2 / np.sqrt(d))
    k = coef.shape[0]
    out = np.empty((k, d)), np.empty(k)
    loss32, gW32, gb32 = _loss.loss_gradient(head, X, Y, sw, coef, intercept, *out,
                                             n_threads=n_threads, float32_arithmetic=True)
    gW32, gb32 = np.array(gW32), np.array(gb32)
    loss, gW, gb = R.loss_grad(head, X, Y, sw, coef, intercept)
    bound_loss, bound_W, bound_b = _float32_bounds(head, X, Y, sw, coef, intercept)
    assert abs(loss32 - loss) <= bound_loss
    assert np.all(np.abs(gW32 - gW) <= bound_W)
    assert np.all(np.abs(gb32 - gb) <= bound_b)
    loss64, gW64, gb64 = kernel(head, X, Y, sw, coef, intercept, n_threads=n_threads)
    if _loss.simd_level() == "avx512":
        assert not np.array_equal(gW32, gW64)
    else:
        assert loss32 == loss64 and np.array_equal(gW32, gW64) and np.array_equal(gb32, gb64)
