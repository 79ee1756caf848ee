"""Mini-batches of the k-output heads that are a single row block take the optimiser step
inside the gradient pass (fastlr_fuse_t in _kernels.h): each finished tile of the
coefficients' gradient updates the coefficients and the optimiser buffers at once, and the
gradient of W is never stored. The oracle is the same fit with that switched off
(_sgd._set_fused(False): gradient sums first, then fastlr_opt_step), whose correctness the
NumPy-reference and PyTorch parity tests establish: the coefficients must come out with the
same bits, and the loss curve equal up to how the penalty's sum is added up."""

import numpy as np
import pytest

from fastlr import LinearRegression, LogisticRegression, _sgd

pytestmark = pytest.mark.skipif(
    _sgd.fused_batch_rows(100, 8) == 0,
    reason="the fused step needs the AVX-512 kernels in an OpenMP build")

# 9 tiles of 32 columns, one vector of 8, a scalar tail of 5 (stepped by fastlr_opt_step)
D = 301


def _data(n, k, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, D))
    W = rng.standard_normal((k, D)) / np.sqrt(D)
    return X, X @ W.T + 0.3 * rng.standard_normal((n, k))


def _same_fit(make, X, y, unfused, **fit):
    fused = make().fit(X, y, **fit)
    with unfused:
        ref = make().fit(X, y, **fit)
    np.testing.assert_array_equal(fused.coef_, ref.coef_)
    np.testing.assert_array_equal(fused.intercept_, ref.intercept_)
    np.testing.assert_allclose(fused.loss_curve_, ref.loss_curve_, rtol=1e-13)
    return fused


def test_fused_batch_rows():
    # one row block: up to 32 rows, fewer for rows too long for a block to stay in L2
    assert _sgd.fused_batch_rows(D, 8) == 32
    assert 0 < _sgd.fused_batch_rows(100_000, 4) < 32


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("solver,extra", [
    ("sgd", {}), ("sgd", {"momentum": 0.9}),
    ("sgd", {"momentum": 0.9, "nesterovs_momentum": True}), ("adam", {})])
@pytest.mark.parametrize("penalty", [{"C": np.inf}, {"C": 0.5},
                                     {"C": 0.05, "l1_ratio": 0.5}])
@pytest.mark.parametrize("batch_size", [32, 27])       # 400 rows: a short last batch
def test_softmax_fused_step_is_bit_identical(n_threads, solver, extra, penalty, batch_size,
                                             unfused):
    X, Z = _data(400, 10)
    y = np.argmax(Z, axis=1)

    def make():
        return LogisticRegression(solver=solver, batch_size=batch_size, max_iter=2,
                                  tol=None, learning_rate_init=0.02, random_state=0,
                                  n_threads=n_threads, **penalty, **extra)
    fit = _same_fit(make, X, y, unfused)
    assert np.all(np.isfinite(fit.coef_)) and np.abs(fit.coef_).max() > 0
    if "l1_ratio" in penalty:
        assert np.count_nonzero(fit.coef_ == 0) > 0    # the L1 step reached zeros


@pytest.mark.parametrize("n_threads", [1, 2])
def test_float32_weights_no_intercept(n_threads, unfused):
    X, Z = _data(300, 7, seed=1)
    y = np.argmax(Z, axis=1)
    sw = np.random.default_rng(2).uniform(0.2, 2.0, len(y))

    def make():
        return LogisticRegression(solver="adam", batch_size=16, max_iter=2, tol=None,
                                  fit_intercept=False, learning_rate_init=0.01,
                                  random_state=1, n_threads=n_threads)
    fit = _same_fit(make, X.astype(np.float32), y, unfused, sample_weight=sw)
    assert fit.coef_.dtype == np.float32


@pytest.mark.parametrize("n_threads", [1, 2])
def test_multilabel_and_regression(n_threads, unfused):
    X, Z = _data(300, 9, seed=3)

    def make_ml():
        return LogisticRegression(solver="sgd", momentum=0.5, batch_size=32, max_iter=2,
                                  tol=None, learning_rate_init=0.05, random_state=2,
                                  n_threads=n_threads)
    _same_fit(make_ml, X, (Z > 0).astype(int), unfused)

    def make_reg():
        return LinearRegression(solver="adam", batch_size=24, max_iter=2, tol=None,
                                learning_rate_init=0.01, random_state=3,
                                n_threads=n_threads)
    _same_fit(make_reg, X, Z, unfused)


def test_divergence_leaves_the_fit_unchanged():
    # a batch whose loss overflows stops before its step, fused or not
    X, Z = _data(200, 10, seed=4)
    y = np.argmax(Z, axis=1)
    good = LogisticRegression(solver="sgd", batch_size=32, max_iter=1, tol=None,
                              random_state=0, n_threads=1).fit(X, y)
    before = good.coef_.copy()
    good.set_params(learning_rate_init=1e150, max_iter=3)
    with pytest.raises(ValueError, match="diverged"):
        good.fit(X * 1e150, y)
    np.testing.assert_array_equal(good.coef_, before)
