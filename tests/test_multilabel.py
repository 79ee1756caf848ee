"""Multi-label classification: LogisticRegression with y a 0/1 indicator matrix (n, L).

The multilabel head is one sigmoid + binary cross-entropy per label, sharing nothing but
the data. Its per-sample loss is the SUM over labels of the BCE (``_solvers.py``; the
kernel's ``l_i = sum_c log(1 + e^z_ic) - y_ic z_ic``), and the mini-batch solvers step on
the batch MEAN over rows of that sum (``loss_scale = 1``). Consequences tested here:

* exact solver: the objective ``C sum_i sum_c s_i w_ic l_ic + 1/2 ||W||^2`` is a sum of L
  independent binary objectives, so each label's row of coef_ is the binary
  LogisticRegression of that label at the same C (and same class weights);
* sgd / adam: the batch loss is ``(1/|B|) sum_{i in B} sum_c l_ic``. torch's
  ``BCEWithLogitsLoss()`` default ``reduction='mean'`` divides by ``|B| * L`` (it
  averages over rows AND labels), so the PyTorch loop that fastlr reproduces uses
  ``BCEWithLogitsLoss(reduction='sum')(z, y) / |B|`` -- equivalently the default mean
  times L (equal up to rounding; checked below).

Tolerances: as in test_torch_parity.py (NumPy reference 1e-10 relative, torch float64
1e-8). For the exact solver, see ``_strong_convexity_bound``.
"""

import numpy as np
import pytest
from _reference import sigmoid
from _reference_sgd import RefRun, torch_linear_loop
from fastlr._loss import simd_level

from fastlr import LogisticRegression

RTOL_REF, ATOL_REF = 1e-10, 1e-12
RTOL_TORCH, ATOL_TORCH = 1e-8, 1e-10
NT = 1  # tiny data: single-threaded estimators (an OpenMP region per pass costs more)


# ------------------------------------------------------------------------------------
# NumPy reference loop (self-contained)
# ------------------------------------------------------------------------------------

def ref_multilabel(X, Y, W0, b0, epochs, batch_size, *, drop_last=False, sw=None, lw=None,
                   wd=0.0, **opt):
    run = RefRun("multilabel", W0, b0, **opt)
    losses = [run.epoch(X, Y.astype(np.float64), batch_size, drop_last=drop_last, sw=sw,
                        lw=lw, a_l2=wd) for _ in range(epochs)]
    return run.W, run.b, losses, run.steps


def torch_multilabel(torch, X, Y, W0, b0, epochs, batch_size, *, drop_last=False,
                     solver="sgd", lr=0.01, momentum=0.0, nesterov=False, wd=0.0,
                     label_weights=None, reduction="sum"):
    """PyTorch float64 loop with BCEWithLogitsLoss.

    ``reduction='sum'``: loss = BCEWithLogitsLoss(reduction='sum')(z, y) / |B|;
    ``reduction='mean_times_L'``: loss = BCEWithLogitsLoss()(z, y) * L (the default
    reduction averages over |B| * L entries). ``label_weights`` (L, 2) = (w0, w1) per
    label becomes ``weight=w0, pos_weight=w1 / w0``: torch's per-element loss is
    ``-weight_c [pos_weight_c y log s(z) + (1 - y) log(1 - s(z))]``, i.e. w1 on the
    positives and w0 on the negatives."""
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    f64 = torch.float64
    L = Y.shape[1]
    kw = {}
    if label_weights is not None:
        kw = dict(weight=torch.tensor(label_weights[:, 0], dtype=f64),
                  pos_weight=torch.tensor(label_weights[:, 1] / label_weights[:, 0],
                                          dtype=f64))
    if reduction == "sum":
        crit = nn.BCEWithLogitsLoss(reduction="sum", **kw)
        criterion = lambda z, t: crit(z, t) / z.shape[0]  # noqa: E731
    elif reduction == "mean":
        criterion = nn.BCEWithLogitsLoss(**kw)  # torch's default: NOT fastlr's loss
    else:
        crit = nn.BCEWithLogitsLoss(**kw)
        criterion = lambda z, t: crit(z, t) * L  # noqa: E731
    loader = DataLoader(TensorDataset(torch.tensor(X, dtype=f64),
                                      torch.tensor(Y, dtype=f64)),
                        batch_size=batch_size, shuffle=False, drop_last=drop_last)
    return torch_linear_loop(torch, W0, b0, loader,
                             lambda model, b: criterion(model(b[0]), b[1]), epochs,
                             solver=solver, lr=lr, momentum=momentum, nesterov=nesterov,
                             weight_decay=wd)  # the decay term is on W only, not b


# ------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------

def multilabel_data(n=300, d=5, L=4, seed=1, noise=1.5):
    """Non-separable labels (logit noise) with different base rates per label."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Z = X @ rng.normal(size=(L, d)).T + np.linspace(-1.0, 1.5, L) + noise * rng.normal(
        size=(n, L))
    Y = (Z > 0).astype(np.int64)
    assert np.all(Y.sum(0) >= 2) and np.all(Y.sum(0) <= n - 2)  # both values present
    return X, Y


def _start(L, d, seed=3):
    rng = np.random.default_rng(seed)
    return rng.normal(scale=0.3, size=(L, d)), rng.normal(scale=0.3, size=L)


def _fit(X, Y, W0, b0, *, solver, lr, batch_size, epochs, C=np.inf, drop_last=False,
         **kw):
    return LogisticRegression(solver=solver, learning_rate_init=lr, batch_size=batch_size,
                              max_iter=epochs, tol=None, shuffle=False, C=C,
                              drop_last=drop_last, n_threads=NT, **kw).fit(
        X, Y, coef_init=W0, intercept_init=b0)


def _check(clf, W, b, losses, rtol, atol):
    np.testing.assert_allclose(clf.loss_curve_, losses, rtol=rtol, atol=0)
    np.testing.assert_allclose(clf.coef_, W, rtol=rtol, atol=atol)
    np.testing.assert_allclose(clf.intercept_, b, rtol=rtol, atol=atol)


# ------------------------------------------------------------------------------------
# API, shapes, prediction
# ------------------------------------------------------------------------------------

@pytest.mark.parametrize("solver", ["lbfgs", "sgd", "adam"])
def test_shapes_predict_and_predict_proba(solver):
    X, Y = multilabel_data()
    clf = LogisticRegression(solver=solver, learning_rate_init=0.05, max_iter=20, tol=None,
                             random_state=0, n_threads=NT).fit(X, Y)
    n, L = Y.shape
    assert clf.coef_.shape == (L, 5) and clf.intercept_.shape == (L,)
    np.testing.assert_array_equal(clf.classes_, np.arange(L))
    Z = clf.decision_function(X)
    assert Z.shape == (n, L)
    np.testing.assert_allclose(Z, X @ clf.coef_.T + clf.intercept_, rtol=1e-12, atol=1e-12)
    P = clf.predict_proba(X)
    assert P.shape == (n, L)
    # independent sigmoids: rows do not sum to 1
    np.testing.assert_allclose(P, sigmoid(Z), rtol=1e-12, atol=1e-15)
    assert not np.allclose(P.sum(axis=1), 1.0)
    # log(sigmoid(z)) = -log(1 + e^-z), computed without the cancellation of log(p ~ 1)
    np.testing.assert_allclose(clf.predict_log_proba(X), -np.logaddexp(0.0, -Z),
                               rtol=1e-12, atol=1e-15)
    pred = clf.predict(X)
    assert pred.shape == (n, L)
    assert set(np.unique(pred)) <= {0, 1}
    np.testing.assert_array_equal(pred, (P >= 0.5).astype(pred.dtype))


def test_predict_threshold_is_inclusive():
    """p >= 0.5, i.e. z >= 0, is predicted 1 (a logit of exactly 0 included)."""
    X, Y = multilabel_data(n=40)
    clf = LogisticRegression(max_iter=5, tol=None, n_threads=NT).fit(X, Y)
    clf.coef_ = np.zeros_like(clf.coef_)
    clf.intercept_ = np.array([0.0, -1e-12, 1e-12, 0.0])
    pred = clf.predict(X[:3])
    np.testing.assert_array_equal(pred, np.tile([1, 0, 1, 1], (3, 1)))
    np.testing.assert_array_equal(clf.predict_proba(X[:3])[:, 0], 0.5)


def test_score_is_subset_accuracy():
    from sklearn.metrics import accuracy_score

    X, Y = multilabel_data()
    clf = LogisticRegression(tol=1e-8, n_threads=NT).fit(X[:200], Y[:200])
    pred = clf.predict(X[200:])
    expected = np.mean(np.all(pred == Y[200:], axis=1))
    assert clf.score(X[200:], Y[200:]) == pytest.approx(expected, abs=1e-15)
    assert clf.score(X[200:], Y[200:]) == pytest.approx(accuracy_score(Y[200:], pred))
    # subset accuracy is stricter than the per-label (Hamming) accuracy
    assert expected < np.mean(pred == Y[200:])
    sw = np.random.default_rng(0).uniform(0.1, 2.0, size=100)
    assert clf.score(X[200:], Y[200:], sample_weight=sw) == pytest.approx(
        accuracy_score(Y[200:], pred, sample_weight=sw))


def test_non_binary_indicator_matrix_is_rejected():
    X, Y = multilabel_data(n=40)
    Y2 = Y.copy()
    Y2[0, 0] = 2
    with pytest.raises(ValueError, match="0 and 1"):
        LogisticRegression(n_threads=NT).fit(X, Y2)
    with pytest.raises(ValueError, match="class_weight"):
        LogisticRegression(class_weight=[{0: 1, 1: 2}], n_threads=NT).fit(X, Y)


# ------------------------------------------------------------------------------------
# exact solver: each label is its own binary model
# ------------------------------------------------------------------------------------

def _strong_convexity_bound(X, coef_row, b, y, C, w01, tol, S_bin):
    """A bound on ||theta_multilabel_c - theta_binary||_2 for label c.

    Both runs minimise J_c = C sum_i w_i l_i + 1/2||W_c||^2 (w_i = w01[y_i]): the
    multilabel run stops at max|grad J / (C n)| <= tol, the binary run at
    max|grad J_c / (C S_bin)| <= tol. With H = hessian of J_c / (C n) at the optimum
    (lambda its smallest eigenvalue), ||d theta|| <= sqrt(p) tol (1 + S_bin / n) / lambda;
    a factor 2 covers the change of H over the (tiny) segment between the two points.
    """
    n = X.shape[0]
    A = np.hstack([X, np.ones((n, 1))])
    p = sigmoid(X @ coef_row + b)
    w = np.where(y == 1, w01[1], w01[0])
    H = (A * (w * p * (1 - p))[:, None]).T @ A / n
    if np.isfinite(C):
        H[:-1, :-1] += np.eye(X.shape[1]) / (C * n)
    lam = np.linalg.eigvalsh(H)[0]
    return 2 * np.sqrt(A.shape[1]) * tol * (1 + S_bin / n) / lam


CLASS_WEIGHTS = {
    "none": (None, lambda j: None),
    "balanced": ("balanced", lambda j: "balanced"),
    "dicts": ([{0: 1.0, 1: 2.0}, {0: 0.5, 1: 1.0}, {0: 3.0, 1: 1.0}, {1: 0.2}],
              lambda j: [{0: 1.0, 1: 2.0}, {0: 0.5, 1: 1.0}, {0: 3.0, 1: 1.0},
                         {1: 0.2}][j]),
}


@pytest.mark.parametrize("cw_name", list(CLASS_WEIGHTS))
@pytest.mark.parametrize("C", [0.1, 1.0, np.inf])
def test_lbfgs_each_label_equals_binary_model(C, cw_name):
    X, Y = multilabel_data()
    cw_ml, cw_bin = CLASS_WEIGHTS[cw_name]
    tol = 1e-10
    ml = LogisticRegression(C=C, tol=tol, max_iter=1000, class_weight=cw_ml,
                            n_threads=NT).fit(X, Y)
    n = X.shape[0]
    for j in range(Y.shape[1]):
        y = Y[:, j]
        binm = LogisticRegression(C=C, tol=tol, max_iter=1000, class_weight=cw_bin(j),
                                  n_threads=NT).fit(X, y)
        if cw_name == "none":
            w01 = (1.0, 1.0)
        elif cw_name == "balanced":
            w01 = (n / (2 * np.sum(y == 0)), n / (2 * np.sum(y == 1)))
        else:
            d = cw_bin(j)
            w01 = (d.get(0, 1.0), d.get(1, 1.0))
        S_bin = float(np.sum(np.where(y == 1, w01[1], w01[0])))
        bound = _strong_convexity_bound(X, ml.coef_[j], ml.intercept_[j], y, C, w01, tol,
                                        S_bin)
        diff = np.hypot(np.linalg.norm(ml.coef_[j] - binm.coef_[0]),
                        ml.intercept_[j] - binm.intercept_[0])
        assert diff <= bound, (j, diff, bound)
        assert bound < 1e-6  # the check is meaningful
    # class weights do change the multilabel fit
    if cw_name != "none":
        plain = LogisticRegression(C=C, tol=tol, max_iter=1000, n_threads=NT).fit(X, Y)
        assert np.max(np.abs(plain.coef_ - ml.coef_)) > 1e-3


def test_lbfgs_l1_each_label_equals_binary_model():
    """The L1 part is entry-wise too: OWL-QN on the multilabel objective gives each
    label's binary elastic-net solution, with the same exact zeros."""
    X, Y = multilabel_data()
    X = np.hstack([X, np.random.default_rng(9).normal(size=(X.shape[0], 3))])  # noise
    kw = dict(C=0.05, l1_ratio=1.0, tol=1e-10, max_iter=2000, n_threads=NT)
    ml = LogisticRegression(**kw).fit(X, Y)
    assert np.sum(ml.coef_ == 0) >= 4
    for j in range(Y.shape[1]):
        binm = LogisticRegression(**kw).fit(X, Y[:, j])
        np.testing.assert_array_equal(ml.coef_[j] == 0, binm.coef_[0] == 0)
        # both stop at max|pseudo-gradient| <= 1e-10; the minimum-norm subgradient bounds
        # the distance to the optimum like the gradient does above (~1e-8 here);
        # observed <= 3e-10
        np.testing.assert_allclose(ml.coef_[j], binm.coef_[0], atol=1e-7)
        np.testing.assert_allclose(ml.intercept_[j], binm.intercept_[0], atol=1e-7)


# ------------------------------------------------------------------------------------
# mini-batch solvers: NumPy reference and PyTorch, step for step
# ------------------------------------------------------------------------------------

OPTS = {
    "sgd": dict(solver="sgd", lr=0.1),
    "momentum": dict(solver="sgd", lr=0.05, momentum=0.9),
    "nesterov": dict(solver="sgd", lr=0.05, momentum=0.9, nesterov=True),
    "adam": dict(solver="adam", lr=0.01),
}
N, BATCH, EPOCHS = 103, 16, 4  # a short last batch of 7


def _est_kw(o):
    return dict(momentum=o.get("momentum", 0.0), nesterovs_momentum=o.get("nesterov", False))


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("opt", list(OPTS))
def test_minibatch_matches_numpy_reference(opt, drop_last):
    X, Y = multilabel_data(n=N)
    W0, b0 = _start(4, 5)
    o = OPTS[opt]
    clf = _fit(X, Y, W0, b0, solver=o["solver"], lr=o["lr"], batch_size=BATCH,
               epochs=EPOCHS, drop_last=drop_last, **_est_kw(o))
    W, b, losses, steps = ref_multilabel(X, Y, W0, b0, EPOCHS, BATCH, drop_last=drop_last,
                                         **o)
    assert clf.t_ == steps == EPOCHS * (6 if drop_last else 7)
    assert clf.n_iter_ == EPOCHS
    _check(clf, W, b, losses, RTOL_REF, ATOL_REF)


@pytest.mark.parametrize("opt", ["momentum", "adam"])
@pytest.mark.parametrize("reduction", ["sum", "mean_times_L"])
def test_minibatch_matches_torch_bce_with_logits(opt, reduction, torch1):
    """Equal to BCEWithLogitsLoss(reduction='sum') / |B| and to the default mean * L;
    NOT to the default mean alone (that is the loss divided by L, i.e. a step L times
    smaller for SGD)."""
    X, Y = multilabel_data(n=N)
    W0, b0 = _start(4, 5)
    o = OPTS[opt]
    clf = _fit(X, Y, W0, b0, solver=o["solver"], lr=o["lr"], batch_size=BATCH,
               epochs=EPOCHS, **_est_kw(o))
    W, b, losses, steps = torch_multilabel(torch1, X, Y, W0, b0, EPOCHS, BATCH,
                                           reduction=reduction, **o)
    assert clf.t_ == steps
    _check(clf, W, b, losses, RTOL_TORCH, ATOL_TORCH)


def test_torch_default_mean_reduction_is_a_different_loss(torch1):
    """Guard for the comparison above: torch's default reduction averages over rows AND
    labels, i.e. it is fastlr's batch loss divided by L, and SGD on it takes other
    steps."""
    X, Y = multilabel_data(n=N)
    W0, b0 = _start(4, 5)
    clf = _fit(X, Y, W0, b0, solver="sgd", lr=0.1, batch_size=BATCH, epochs=2)
    Wm, _, lm, _ = torch_multilabel(torch1, X, Y, W0, b0, 2, BATCH, solver="sgd", lr=0.1,
                                    reduction="mean")
    assert np.max(np.abs(Wm - clf.coef_)) > 1e-3
    # one forward pass from the start: the first batch loss is exactly 1/L of fastlr's
    _, _, l1, _ = torch_multilabel(torch1, X[:BATCH], Y[:BATCH], W0, b0, 1, BATCH,
                                   solver="sgd", lr=0.1, reduction="mean")
    first = _fit(X[:BATCH], Y[:BATCH], W0, b0, solver="sgd", lr=0.1, batch_size=BATCH,
                 epochs=1)
    np.testing.assert_allclose(first.loss_curve_[0], 4 * l1[0], rtol=1e-12)


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_minibatch_l2_penalty_matches_reference_and_torch(opt, torch1):
    """C finite: weight_decay = 1 / (C n) on W only, one penalty for all labels."""
    X, Y = multilabel_data(n=N)
    W0, b0 = _start(4, 5)
    o = OPTS[opt]
    C = 0.05
    wd = 1.0 / (C * N)
    clf = _fit(X, Y, W0, b0, solver=o["solver"], lr=o["lr"], batch_size=BATCH,
               epochs=EPOCHS, C=C)
    W, b, losses, _ = ref_multilabel(X, Y, W0, b0, EPOCHS, BATCH, wd=wd, **o)
    _check(clf, W, b, losses, RTOL_REF, ATOL_REF)
    Wt, bt, lt, _ = torch_multilabel(torch1, X, Y, W0, b0, EPOCHS, BATCH, wd=wd, **o)
    _check(clf, Wt, bt, lt, RTOL_TORCH, ATOL_TORCH)
    _, _, losses0, _ = ref_multilabel(X, Y, W0, b0, EPOCHS, BATCH, **o)
    assert abs(losses0[0] - losses[0]) > 1e-4  # the penalty is not negligible


LABEL_DICTS = [{0: 1.0, 1: 2.0}, {0: 0.5, 1: 1.0}, {0: 3.0, 1: 1.0}, {0: 1.0, 1: 0.2}]


@pytest.mark.parametrize("opt", ["momentum", "adam"])
def test_per_label_class_weights_match_torch_weight_and_pos_weight(opt, torch1):
    """class_weight=[{0: w0, 1: w1}, ...] == BCEWithLogitsLoss(weight=w0,
    pos_weight=w1/w0) per label."""
    X, Y = multilabel_data(n=N)
    W0, b0 = _start(4, 5)
    o = OPTS[opt]
    lw = np.array([[d[0], d[1]] for d in LABEL_DICTS])
    clf = _fit(X, Y, W0, b0, solver=o["solver"], lr=o["lr"], batch_size=BATCH,
               epochs=EPOCHS, class_weight=LABEL_DICTS, **_est_kw(o))
    W, b, losses, _ = ref_multilabel(X, Y, W0, b0, EPOCHS, BATCH, lw=lw, **o)
    _check(clf, W, b, losses, RTOL_REF, ATOL_REF)
    for reduction in ("sum", "mean_times_L"):
        Wt, bt, lt, _ = torch_multilabel(torch1, X, Y, W0, b0, EPOCHS, BATCH,
                                         label_weights=lw, reduction=reduction, **o)
        _check(clf, Wt, bt, lt, RTOL_TORCH, ATOL_TORCH)


def test_balanced_label_weights_match_reference():
    """'balanced': label c's 0s weigh n / (2 n0_c), its 1s n / (2 n1_c) (with
    sample weights: weighted counts and n = sum of weights)."""
    X, Y = multilabel_data(n=N)
    W0, b0 = _start(4, 5)
    sw = np.random.default_rng(5).uniform(0.2, 2.0, size=N)
    for s in (None, sw):
        ss = np.ones(N) if s is None else s
        pos = ss @ Y
        lw = np.column_stack([ss.sum() / (2 * (ss.sum() - pos)), ss.sum() / (2 * pos)])
        clf = LogisticRegression(solver="adam", learning_rate_init=0.01, batch_size=BATCH,
                                 max_iter=EPOCHS, tol=None, shuffle=False, C=np.inf,
                                 class_weight="balanced", n_threads=NT).fit(
            X, Y, sample_weight=s, coef_init=W0, intercept_init=b0)
        W, b, losses, _ = ref_multilabel(X, Y, W0, b0, EPOCHS, BATCH, sw=s, lw=lw,
                                         solver="adam", lr=0.01)
        _check(clf, W, b, losses, RTOL_REF, ATOL_REF)


def test_sample_weight_matches_reference():
    """sum_{i in B} s_i sum_c l_ic / |B| (divided by the batch size, not sum s)."""
    X, Y = multilabel_data(n=N)
    W0, b0 = _start(4, 5)
    sw = np.random.default_rng(7).uniform(0.0, 3.0, size=N)
    sw[::10] = 0.0
    clf = LogisticRegression(solver="sgd", learning_rate_init=0.05, momentum=0.9,
                             batch_size=BATCH, max_iter=EPOCHS, tol=None, shuffle=False,
                             C=np.inf, n_threads=NT).fit(
        X, Y, sample_weight=sw, coef_init=W0, intercept_init=b0)
    W, b, losses, _ = ref_multilabel(X, Y, W0, b0, EPOCHS, BATCH, sw=sw, solver="sgd",
                                     lr=0.05, momentum=0.9)
    _check(clf, W, b, losses, RTOL_REF, ATOL_REF)


def test_minibatch_float32_keeps_dtype_and_matches_rounded_reference(double_arithmetic):
    """In double arithmetic, the reference on the widened float32 data to float32
    rounding; in float32 arithmetic (the default with AVX-512), each logit and gradient
    sum also carries float32 rounding (~1e-7 relative) and the parameters are float32,
    so the fit agrees with the reference that rounds its parameters after every step to
    1e-6 of the largest coefficient."""
    X, Y = multilabel_data(n=N)
    W0, b0 = _start(4, 5)
    X32 = X.astype(np.float32)
    with double_arithmetic:
        clf = _fit(X32, Y, W0, b0, solver="adam", lr=0.01, batch_size=BATCH, epochs=EPOCHS)
    assert clf.coef_.dtype == np.float32 and clf.predict_proba(X32).dtype == np.float32
    W, b, losses, _ = ref_multilabel(X32.astype(np.float64), Y, W0, b0, EPOCHS, BATCH,
                                     solver="adam", lr=0.01)
    eps32 = float(np.finfo(np.float32).eps)
    np.testing.assert_allclose(clf.coef_, W, rtol=eps32, atol=ATOL_REF)
    np.testing.assert_allclose(clf.loss_curve_, losses, rtol=RTOL_REF)
    clf32 = _fit(X32, Y, W0, b0, solver="adam", lr=0.01, batch_size=BATCH, epochs=EPOCHS)
    if simd_level() == "avx512":
        W, b, losses, _ = ref_multilabel(X32.astype(np.float64), Y, W0, b0, EPOCHS, BATCH,
                                         solver="adam", lr=0.01, param_dtype=np.float32)
    np.testing.assert_allclose(clf32.coef_, W, rtol=0, atol=1e-6 * np.abs(W).max())
    np.testing.assert_allclose(clf32.intercept_, b, rtol=0, atol=1e-6 * np.abs(b).max())
    np.testing.assert_allclose(clf32.loss_curve_, losses, rtol=1e-6)


def test_minibatch_learns_the_labels():
    X, Y = multilabel_data(n=600, noise=0.3)
    clf = LogisticRegression(solver="adam", learning_rate_init=0.05, batch_size=32,
                             max_iter=30, tol=None, random_state=0, n_threads=NT).fit(
        X[:400], Y[:400])
    exact = LogisticRegression(tol=1e-8, n_threads=NT).fit(X[:400], Y[:400])
    assert clf.score(X[400:], Y[400:]) >= exact.score(X[400:], Y[400:]) - 0.05
    assert np.mean(clf.predict(X[400:]) == Y[400:]) > 0.9
