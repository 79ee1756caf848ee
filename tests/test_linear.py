"""LinearRegression: shapes, the exact solver against closed forms and scikit-learn, and
the mini-batch solvers step for step against NumPy and PyTorch.

Objective (``fastlr/_linear.py``): scikit-learn ElasticNet's
``1/(2S) sum_i s_i ||y_i - W x_i - b||^2 + alpha*rho*||W||_1 + alpha*(1-rho)/2*||W||^2``.
The mini-batch solvers step on ``2/k`` times its batch estimate, i.e. on PyTorch's
``F.mse_loss`` (mean over rows AND outputs) plus the penalty times ``2/k``.

Tolerances
----------
* lbfgs against closed forms (lstsq, Ridge): ``f`` is a strongly convex quadratic, lbfgs
  stops when ``max|grad f| <= tol = 1e-12``, so ``||theta - theta*||_2 <= sqrt(p) * tol /
  lambda_min(H)``. ``_quadratic_bound`` computes that bound from the data and every test
  checks it, as well as the 1e-8 relative requirement (observed: ~1e-13).
* scikit-learn ElasticNet / Lasso (coordinate descent, tol=1e-14 on the duality gap):
  both solvers run to tolerances far below the check; observed ~1e-12, the check is
  1e-8 relative to max|coef| (4 orders of headroom). The zero pattern must be
  identical: the true coefficients are exactly 0 or clearly non-zero, so no coefficient
  sits on the soft-threshold boundary.
* NumPy reference: ``rtol=1e-10`` (same float64 arithmetic, different summation order,
  a few ulps per step), torch float64: ``rtol=1e-8`` (torch's own GEMM and loss formulas),
  as in test_torch_parity.py.
"""

import warnings

import numpy as np
import pytest
from _reference_sgd import RefRun, torch_linear_loop

from fastlr import LinearRegression
from fastlr._datasets import quiz_scores

RTOL_REF, ATOL_REF = 1e-10, 1e-12
RTOL_TORCH, ATOL_TORCH = 1e-8, 1e-10
# Estimators run single-threaded: the data are tiny, and on a loaded machine every OpenMP
# region of a full-batch evaluation can cost ~10 ms of waiting for a core.
# test_lbfgs_default_threads_agree checks n_threads=None once.
NT = 1


# ------------------------------------------------------------------------------------
# NumPy reference loop (self-contained; the PyTorch loop it mirrors is in the docstring)
# ------------------------------------------------------------------------------------

def ref_train(X, Y, W0, b0, epochs, batch_size, *, drop_last=False, alpha=0.0,
              fit_intercept=True, **opt):
    """Reference for LinearRegression(solver=..., alpha, l1_ratio=0): (W, b, losses, steps)."""
    k = Y.shape[1]
    run = RefRun("squared", W0, b0, loss_scale=2.0 / k, fit_intercept=fit_intercept, **opt)
    losses = [run.epoch(X, Y, batch_size, drop_last=drop_last, a_l2=alpha)
              for _ in range(epochs)]
    return run.W, run.b, losses, run.steps


def torch_train(torch, X, Y, W0, b0, epochs, batch_size, *, drop_last=False,
                solver="sgd", lr=0.01, momentum=0.0, nesterov=False, criterion="functional"):
    """The lecture loop in PyTorch float64: nn.Linear, F.mse_loss (or nn.MSELoss),
    DataLoader(shuffle=False), torch.optim.SGD / Adam."""
    from torch import nn
    from torch.nn import functional as F
    from torch.utils.data import DataLoader, TensorDataset

    f64 = torch.float64
    Xt, Yt = torch.tensor(X, dtype=f64), torch.tensor(Y, dtype=f64)
    loader = DataLoader(TensorDataset(Xt, Yt), batch_size=batch_size, shuffle=False,
                        drop_last=drop_last)
    mse = F.mse_loss if criterion == "functional" else nn.MSELoss()
    return torch_linear_loop(torch, W0, b0, loader,
                             lambda model, b: mse(model(b[0]), b[1]),  # mean over rows, outputs
                             epochs, solver=solver, lr=lr, momentum=momentum,
                             nesterov=nesterov)


# ------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------

def regression_data(n=200, d=8, k=3, seed=0):
    """Correlated, off-centre features; some true coefficients exactly 0 (for L1)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.linspace(0.5, 2.0, d) + 0.5
    X[:, 1] += 0.5 * X[:, 0]
    w = np.array([1.5, -2.0, 0.0, 0.0, 0.5, 0.0, 3.0, -0.2])[:d]
    Wt = np.stack([w, -w[::-1], 0.5 * w])[:k]
    Y = X @ Wt.T + np.array([1.0, -1.0, 0.3])[:k] + 0.5 * rng.normal(size=(n, k))
    return X, Y


def _design(X, fit_intercept):
    return np.hstack([X, np.ones((X.shape[0], 1))]) if fit_intercept else X


def _quadratic_bound(X, tol, fit_intercept, sw=None, alpha_l2=0.0):
    """sqrt(p) * tol / lambda_min(H): a bound on ||theta - theta*||_2 (per output) when
    the largest entry of the gradient of the strongly convex quadratic f is <= tol."""
    A = _design(X, fit_intercept)
    s = np.ones(X.shape[0]) if sw is None else np.asarray(sw, dtype=np.float64)
    H = (A * s[:, None]).T @ A / s.sum()
    H[:X.shape[1], :X.shape[1]] += alpha_l2 * np.eye(X.shape[1])
    lam = np.linalg.eigvalsh(H)[0]
    assert lam > 1e-3  # well conditioned: the bound is meaningful
    return np.sqrt(A.shape[1]) * tol / lam


def _params(reg):
    """(k, p) matrix of [coef | intercept] rows."""
    W = np.atleast_2d(reg.coef_)
    b = np.atleast_1d(reg.intercept_).reshape(-1, 1)
    return np.hstack([W, b]) if reg.fit_intercept else W


# ------------------------------------------------------------------------------------
# shapes and basic API
# ------------------------------------------------------------------------------------

@pytest.mark.parametrize("solver", ["lbfgs", "sgd", "adam"])
def test_shapes_single_and_multi_output(solver):
    X, Y = regression_data(n=60)
    kw = dict(solver=solver, max_iter=5, n_threads=NT, random_state=0, tol=None)
    r1 = LinearRegression(**kw).fit(X, Y[:, 0])
    assert r1.coef_.shape == (8,)
    assert isinstance(r1.intercept_, float)  # np.float64 is a float
    assert np.ndim(r1.intercept_) == 0
    assert r1.predict(X).shape == (60,)
    assert r1.n_features_in_ == 8
    rk = LinearRegression(**kw).fit(X, Y)
    assert rk.coef_.shape == (3, 8)
    assert rk.intercept_.shape == (3,)
    assert rk.predict(X).shape == (60, 3)
    # a (n, 1) y is one output kept 2-D, as in scikit-learn
    r11 = LinearRegression(**kw).fit(X, Y[:, :1])
    assert r11.coef_.shape == (1, 8) and r11.predict(X).shape == (60, 1)
    # predictions are X W^T + b
    np.testing.assert_allclose(rk.predict(X), X @ rk.coef_.T + rk.intercept_,
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(r1.predict(X), X @ r1.coef_ + r1.intercept_,
                               rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------------
# exact solver
# ------------------------------------------------------------------------------------

@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("multi", [False, True])
def test_lbfgs_equals_lstsq(fit_intercept, multi):
    X, Y = regression_data()
    y = Y if multi else Y[:, 0]
    tol = 1e-12
    reg = LinearRegression(tol=tol, max_iter=1000, fit_intercept=fit_intercept,
                           n_threads=NT).fit(X, y)
    sol = np.linalg.lstsq(_design(X, fit_intercept), y, rcond=None)[0]
    ref = np.atleast_2d(sol.T)  # (k, p)
    got = _params(reg)
    bound = _quadratic_bound(X, tol, fit_intercept)
    assert np.max(np.linalg.norm(got - ref, axis=1)) <= bound
    np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-8 * np.max(np.abs(ref)))
    if not fit_intercept:
        assert np.all(np.atleast_1d(reg.intercept_) == 0.0)


def test_lbfgs_default_threads_agree():
    """n_threads=None only reorders the gradient sums: same optimum."""
    X, Y = regression_data()
    a = LinearRegression(tol=1e-12, n_threads=None).fit(X, Y)
    b = LinearRegression(tol=1e-12, n_threads=1).fit(X, Y)
    bound = _quadratic_bound(X, 1e-12, True)
    assert np.max(np.linalg.norm(_params(a) - _params(b), axis=1)) <= 2 * bound


@pytest.mark.parametrize("multi", [False, True])
@pytest.mark.parametrize("alpha", [0.01, 0.3])
def test_l2_matches_sklearn_ridge(alpha, multi):
    """Ridge minimises ||y - Xw - b||^2 + a ||w||^2 = 2n * f with a = alpha * n."""
    from sklearn.linear_model import Ridge

    X, Y = regression_data()
    y = Y if multi else Y[:, 0]
    n = X.shape[0]
    tol = 1e-12
    reg = LinearRegression(alpha=alpha, l1_ratio=0.0, tol=tol, n_threads=NT).fit(X, y)
    ridge = Ridge(alpha=alpha * n, solver="cholesky").fit(X, y)
    ref = np.hstack([np.atleast_2d(ridge.coef_), np.atleast_1d(ridge.intercept_)[:, None]])
    got = _params(reg)
    # the closed form is itself exact to rounding (cholesky on a well-conditioned system)
    assert np.max(np.linalg.norm(got - ref, axis=1)) <= \
        _quadratic_bound(X, tol, True, alpha_l2=alpha) + 1e-12
    np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-8 * np.max(np.abs(ref)))


@pytest.mark.parametrize("alpha, l1_ratio", [(0.05, 1.0), (0.1, 0.5), (0.3, 0.9)])
def test_l1_matches_sklearn_elasticnet_and_lasso(alpha, l1_ratio):
    from sklearn.linear_model import ElasticNet, Lasso

    X, Y = regression_data()
    y = Y[:, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning from either side
        reg = LinearRegression(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12, max_iter=2000,
                               n_threads=NT).fit(X, y)
        if l1_ratio == 1.0:
            sk = Lasso(alpha=alpha, tol=1e-14, max_iter=100_000).fit(X, y)
        else:
            sk = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-14,
                            max_iter=100_000).fit(X, y)
    scale = np.max(np.abs(sk.coef_))
    np.testing.assert_allclose(reg.coef_, sk.coef_, rtol=1e-8, atol=1e-8 * scale)
    np.testing.assert_allclose(reg.intercept_, sk.intercept_, rtol=1e-8, atol=1e-8 * scale)
    # the same exact zeros (OWL-QN's orthant projection vs coordinate descent's threshold)
    np.testing.assert_array_equal(reg.coef_ == 0.0, sk.coef_ == 0.0)
    assert np.sum(reg.coef_ == 0.0) >= 3  # the L1 part really is active


def test_l1_multi_output_rows_are_separate_elastic_nets():
    """The penalty is entry-wise, so each output is its own ElasticNet."""
    from sklearn.linear_model import ElasticNet

    X, Y = regression_data()
    reg = LinearRegression(alpha=0.1, l1_ratio=0.7, tol=1e-12, max_iter=2000,
                           n_threads=NT).fit(X, Y)
    for j in range(3):
        sk = ElasticNet(alpha=0.1, l1_ratio=0.7, tol=1e-14, max_iter=100_000).fit(X, Y[:, j])
        scale = np.max(np.abs(sk.coef_))
        np.testing.assert_allclose(reg.coef_[j], sk.coef_, rtol=1e-8, atol=1e-8 * scale)
        np.testing.assert_allclose(reg.intercept_[j], sk.intercept_, atol=1e-8 * scale)
        np.testing.assert_array_equal(reg.coef_[j] == 0.0, sk.coef_ == 0.0)


@pytest.mark.parametrize("alpha, l1_ratio", [(0.0, 0.0), (0.05, 0.0), (0.05, 0.7)])
def test_integer_sample_weight_equals_repeated_rows(alpha, l1_ratio):
    """f with weights s is f on the data with row i repeated s_i times (S = sum s = the
    repeated n, so the penalty is the same too). Both runs stop at max|grad| <= 1e-12:
    each is within sqrt(p) tol / lambda_min of the common optimum."""
    X, Y = regression_data()
    sw = np.random.default_rng(3).integers(0, 4, size=X.shape[0])
    kw = dict(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12, max_iter=2000, n_threads=NT)
    a = LinearRegression(**kw).fit(X, Y, sample_weight=sw)
    b = LinearRegression(**kw).fit(np.repeat(X, sw, axis=0), np.repeat(Y, sw, axis=0))
    bound = 2 * _quadratic_bound(X, 1e-12, True, sw=sw, alpha_l2=alpha * (1 - l1_ratio))
    assert np.max(np.linalg.norm(_params(a) - _params(b), axis=1)) <= bound
    np.testing.assert_allclose(_params(a), _params(b), rtol=1e-6, atol=1e-9)
    # and weights do matter
    c = LinearRegression(**kw).fit(X, Y)
    assert np.max(np.abs(_params(a) - _params(c))) > 1e-3


@pytest.mark.parametrize("multi", [False, True])
def test_score_is_r2(multi):
    from sklearn.metrics import r2_score

    X, Y = regression_data()
    y = Y if multi else Y[:, 0]
    reg = LinearRegression(alpha=0.5, tol=1e-10, n_threads=NT).fit(X[:150], y[:150])
    pred = reg.predict(X[150:])
    assert reg.score(X[150:], y[150:]) == pytest.approx(r2_score(y[150:], pred),
                                                        rel=1e-12)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, size=50)
    assert reg.score(X[150:], y[150:], sample_weight=sw) == pytest.approx(
        r2_score(y[150:], pred, sample_weight=sw), rel=1e-12)
    # R^2 of a mean-only fit on the training data is 0; of the OLS fit, the best there is
    ols = LinearRegression(tol=1e-12, n_threads=NT).fit(X, y)
    assert ols.score(X, y) > reg.score(X, y) - 1e-12


@pytest.mark.parametrize("solver", ["lbfgs", "sgd"])
def test_float32_X_keeps_float32(solver):
    X, Y = regression_data(n=80)
    X32 = X.astype(np.float32)
    kw = dict(solver=solver, n_threads=NT, tol=None, max_iter=20, random_state=0)
    if solver == "sgd":
        kw.update(learning_rate_init=0.01, batch_size=16)
    reg = LinearRegression(**kw).fit(X32, Y)
    assert reg.coef_.dtype == np.float32
    assert reg.intercept_.dtype == np.float32
    assert reg.predict(X32).dtype == np.float32
    reg1 = LinearRegression(**kw).fit(X32, Y[:, 0])
    assert reg1.coef_.dtype == np.float32
    if solver == "lbfgs":
        # run to convergence (tol=None: the float32 noise floor): the float32 optimum
        # differs from the float64 one by the data's rounding (6e-8 relative) times
        # cond(H) ~ 50, plus float32 rounding of the iterate: ~1e-5 of max|coef| at most
        # (observed ~3e-8).
        reg = LinearRegression(tol=None, max_iter=300, n_threads=NT).fit(X32, Y)
        ref = LinearRegression(tol=1e-12, n_threads=NT).fit(X, Y)
        scale = np.max(np.abs(ref.coef_))
        np.testing.assert_allclose(reg.coef_, ref.coef_, atol=1e-5 * scale)
        np.testing.assert_allclose(reg.intercept_, ref.intercept_, atol=1e-5 * scale)


# ------------------------------------------------------------------------------------
# the lecture: multivariate linear regression on the quiz scores
# ------------------------------------------------------------------------------------

QUIZ_EPOCHS = 100


def quiz_start(kind):
    if kind == "zeros":          # the lecture: W = zeros, b = zeros
        return np.zeros((1, 3)), np.zeros(1)
    rng = np.random.default_rng(42)
    return rng.normal(scale=0.1, size=(1, 3)), rng.normal(scale=0.1, size=1)


def quiz_fit(W0, b0, *, solver="sgd", lr=1e-5, batch_size=5, epochs=QUIZ_EPOCHS,
             drop_last=False, momentum=0.0, nesterov=False, Y=None):
    x, y = quiz_scores()
    return LinearRegression(solver=solver, learning_rate_init=lr, batch_size=batch_size,
                            max_iter=epochs, tol=None, shuffle=False, drop_last=drop_last,
                            momentum=momentum, nesterovs_momentum=nesterov,
                            n_threads=NT).fit(x, y if Y is None else Y, coef_init=W0,
                                              intercept_init=b0)


def _check(reg, W, b, losses, rtol, atol):
    np.testing.assert_allclose(reg.loss_curve_, losses, rtol=rtol, atol=0)
    np.testing.assert_allclose(reg.coef_, W, rtol=rtol, atol=atol)
    np.testing.assert_allclose(reg.intercept_, b, rtol=rtol, atol=atol)


@pytest.mark.parametrize("start", ["zeros", "random"])
def test_quiz_lecture_full_batch_sgd_matches_reference_and_torch(start, torch1):
    x, y = quiz_scores()
    W0, b0 = quiz_start(start)
    reg = quiz_fit(W0, b0)
    assert reg.coef_.shape == (1, 3) and reg.intercept_.shape == (1,)
    assert reg.n_iter_ == QUIZ_EPOCHS == len(reg.loss_curve_) and reg.t_ == QUIZ_EPOCHS
    W, b, losses, steps = ref_train(x, y, W0, b0, QUIZ_EPOCHS, 5, solver="sgd", lr=1e-5)
    _check(reg, W, b, losses, RTOL_REF, ATOL_REF)
    # the first recorded loss is the MSE at the start (the lecture's printed cost)
    np.testing.assert_allclose(reg.loss_curve_[0], np.mean((x @ W0.T + b0 - y) ** 2),
                               rtol=1e-14)
    assert reg.loss_curve_[-1] < reg.loss_curve_[0] / 100  # it did learn
    for criterion in ("functional", "module"):
        Wt, bt, lt, st = torch_train(torch1, x, y, W0, b0, QUIZ_EPOCHS, 5, solver="sgd",
                                     lr=1e-5, criterion=criterion)
        assert st == reg.t_
        _check(reg, Wt, bt, lt, RTOL_TORCH, ATOL_TORCH)


QUIZ_OPTS = {
    "sgd": dict(solver="sgd", lr=1e-5),
    "momentum": dict(solver="sgd", lr=1e-5, momentum=0.9),
    "nesterov": dict(solver="sgd", lr=1e-5, momentum=0.9, nesterov=True),
    "adam": dict(solver="adam", lr=0.1),
}


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("opt", list(QUIZ_OPTS))
def test_quiz_minibatches_match_reference_and_torch(opt, drop_last, torch1):
    """batch_size=2 on 5 rows: batches of 2, 2, 1 (or 2, 2 with drop_last)."""
    x, y = quiz_scores()
    W0, b0 = quiz_start("random")
    o = QUIZ_OPTS[opt]
    epochs = 30
    reg = quiz_fit(W0, b0, solver=o["solver"], lr=o["lr"], batch_size=2, epochs=epochs,
                   drop_last=drop_last, momentum=o.get("momentum", 0.0),
                   nesterov=o.get("nesterov", False))
    W, b, losses, steps = ref_train(x, y, W0, b0, epochs, 2, drop_last=drop_last, **o)
    assert reg.t_ == steps == epochs * (2 if drop_last else 3)
    _check(reg, W, b, losses, RTOL_REF, ATOL_REF)
    Wt, bt, lt, st = torch_train(torch1, x, y, W0, b0, epochs, 2, drop_last=drop_last, **o)
    assert st == steps
    _check(reg, Wt, bt, lt, RTOL_TORCH, ATOL_TORCH)


@pytest.mark.parametrize("opt", ["sgd", "momentum", "adam"])
def test_multi_output_minibatches_match_torch_mse(opt, torch1):
    """k = 3 outputs: F.mse_loss averages over rows AND outputs; fastlr's loss_scale 2/k
    turns its 1/2 sum_j e_j^2 into exactly that."""
    X, Y = regression_data(n=43, d=5, k=3, seed=4)
    X = (X - X.mean(0)) / X.std(0)
    rng = np.random.default_rng(1)
    W0, b0 = rng.normal(scale=0.3, size=(3, 5)), rng.normal(scale=0.3, size=3)
    o = {"sgd": dict(solver="sgd", lr=0.05), "momentum": dict(solver="sgd", lr=0.02,
                                                               momentum=0.9),
         "adam": dict(solver="adam", lr=0.05)}[opt]
    epochs, bs = 6, 8
    reg = LinearRegression(solver=o["solver"], learning_rate_init=o["lr"],
                           momentum=o.get("momentum", 0.0), batch_size=bs, max_iter=epochs,
                           tol=None, shuffle=False, n_threads=NT).fit(
        X, Y, coef_init=W0, intercept_init=b0)
    W, b, losses, steps = ref_train(X, Y, W0, b0, epochs, bs, **o)
    assert reg.t_ == steps == epochs * 6
    _check(reg, W, b, losses, RTOL_REF, ATOL_REF)
    Wt, bt, lt, _ = torch_train(torch1, X, Y, W0, b0, epochs, bs, **o)
    _check(reg, Wt, bt, lt, RTOL_TORCH, ATOL_TORCH)


def test_minibatch_ridge_penalty_and_no_intercept_match_reference():
    """alpha: the batch objective is 2/k [mse_sum/2 + alpha/2 ||W||^2] (ElasticNet's alpha
    does not scale with n); fit_intercept=False leaves b at its start."""
    X, Y = regression_data(n=43, d=5, k=2, seed=5)
    X = (X - X.mean(0)) / X.std(0)
    rng = np.random.default_rng(2)
    W0, b0 = rng.normal(size=(2, 5)), np.zeros(2)
    for fit_intercept in (True, False):
        reg = LinearRegression(solver="sgd", learning_rate_init=0.05, momentum=0.5,
                               alpha=0.3, batch_size=10, max_iter=5, tol=None,
                               shuffle=False, fit_intercept=fit_intercept,
                               n_threads=NT).fit(X, Y, coef_init=W0, intercept_init=b0)
        W, b, losses, _ = ref_train(X, Y, W0, b0, 5, 10, alpha=0.3,
                                    fit_intercept=fit_intercept, solver="sgd", lr=0.05,
                                    momentum=0.5)
        _check(reg, W, b, losses, RTOL_REF, ATOL_REF)
        if not fit_intercept:
            assert np.all(reg.intercept_ == 0.0)


def test_minibatch_float32_matches_reference_on_rounded_data(double_arithmetic):
    """float32 X, parameters in double, rounded to float32 at the end.

    In double arithmetic X is widened on load: equal to the reference on the rounded data
    to float32 rounding. In float32 arithmetic (the default with AVX-512) each logit also
    carries the rounding of the coefficients to float32, |dz| <= 2**-24 sum_j |x_j w_j|
    (d = 3: no float32 partial sums). The coefficients still agree to ~1e-7 (observed
    5e-8). The loss 1/2 (z - y)^2 moves by |z - y| |dz|, relative 2 |dz| / |z - y|: with
    |z| ~ 100 and |z - y| ~ 1.5 that is ~1e-5 (observed 4.3e-6), hence rtol 1e-4 there.
    A stale float32 coefficient (one step behind, lr 1e-5 x gradients ~1e4) moves the
    loss by more than 1e-2."""
    x, y = quiz_scores()
    W0, b0 = quiz_start("random")

    def fit():
        return LinearRegression(solver="sgd", learning_rate_init=1e-5, batch_size=2,
                                max_iter=20, tol=None, shuffle=False, n_threads=NT).fit(
            x.astype(np.float32), y, coef_init=W0, intercept_init=b0)
    with double_arithmetic:
        reg = fit()
    assert reg.coef_.dtype == np.float32
    W, b, losses, _ = ref_train(x.astype(np.float32).astype(np.float64), y, W0, b0, 20, 2,
                                solver="sgd", lr=1e-5)
    eps32 = float(np.finfo(np.float32).eps)
    np.testing.assert_allclose(reg.coef_, W, rtol=eps32)
    np.testing.assert_allclose(reg.intercept_, b, rtol=eps32)
    np.testing.assert_allclose(reg.loss_curve_, losses, rtol=RTOL_REF)
    reg32 = fit()
    assert reg32.coef_.dtype == np.float32
    np.testing.assert_allclose(reg32.coef_, W, rtol=1e-6)
    np.testing.assert_allclose(reg32.intercept_, b, rtol=1e-6)
    np.testing.assert_allclose(reg32.loss_curve_, losses, rtol=1e-4)


def test_minibatch_converges_to_lstsq():
    """Many epochs of Adam on standardised data approach the exact solution."""
    X, Y = regression_data(n=200, d=5, k=2, seed=6)
    X = (X - X.mean(0)) / X.std(0)
    reg = LinearRegression(solver="adam", learning_rate_init=0.05, batch_size=200,
                           max_iter=600, tol=None, shuffle=False, n_threads=NT).fit(X, Y)
    sol = np.linalg.lstsq(_design(X, True), Y, rcond=None)[0].T
    np.testing.assert_allclose(_params(reg), sol, atol=1e-4)
