"""LogisticRegression: the estimator contract, labels, dtypes, weights, warm start,
errors. Numerical agreement with NumPy / PyTorch runs lives in test_lectures.py and
test_torch_parity.py; kernel accuracy in test_kernels.py."""

import pickle
import warnings

import numpy as np
import pytest

from fastlr import LogisticRegression
from fastlr._sklearn_compat import ConvergenceWarning, NotFittedError
from fastlr._solvers import DivergenceError
from fastlr._validation import check_array


def blobs(n=120, d=4, k=3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(k, d))
    y = rng.integers(0, k, size=n)
    X = centers[y] + rng.normal(size=(n, d))
    return np.ascontiguousarray(X, dtype=dtype), y


def full_batch(**kw):
    """Deterministic full-batch SGD without penalty: the lecture setting."""
    params = dict(solver="sgd", learning_rate_init=0.05, batch_size=10**6, shuffle=False,
                  max_iter=30, tol=None, C=np.inf)
    params.update(kw)
    return LogisticRegression(**params)


# -- labels and shapes --------------------------------------------------------------------

@pytest.mark.parametrize("labels", [
    np.array([0, 1]), np.array([-1, 1]), np.array(["no", "yes"]), np.array([False, True]),
    np.array([3, 7, 11]), np.array(["a", "b", "c", "d"]),
])
def test_classes_of_any_label_type(labels):
    X, yi = blobs(k=len(labels))
    y = labels[yi]
    clf = LogisticRegression(max_iter=50, learning_rate_init=0.05, random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    pred = clf.predict(X)
    assert pred.dtype == y.dtype
    assert set(np.unique(pred)) <= set(labels)
    k = len(labels)
    assert clf.coef_.shape == ((1, 4) if k == 2 else (k, 4))
    assert clf.intercept_.shape == ((1,) if k == 2 else (k,))
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), k)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    # predict is the most probable class (binary: p > 0.5)
    np.testing.assert_array_equal(pred, clf.classes_[np.argmax(proba, axis=1)])
    assert clf.score(X, y) > 0.9


def test_binary_threshold_and_decision_function():
    X, y = blobs(k=2)
    clf = LogisticRegression(max_iter=30, random_state=0).fit(X, y)
    z = clf.decision_function(X)
    assert z.shape == (len(X),)
    p = clf.predict_proba(X)
    np.testing.assert_allclose(p[:, 1], 1 / (1 + np.exp(-z)), rtol=1e-12)
    np.testing.assert_allclose(z, X @ clf.coef_[0] + clf.intercept_[0], rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), (p[:, 1] > 0.5).astype(int))


def test_predict_log_proba_is_stable():
    X, y = blobs(k=3)
    clf = LogisticRegression(max_iter=30, random_state=0).fit(X, y)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(clf.predict_proba(X)),
                               rtol=1e-9, atol=1e-12)
    # far from the data the probabilities underflow to 0 but their logs stay finite
    lp = clf.predict_log_proba(X * 1e4)
    assert np.all(np.isfinite(lp))


# -- dtypes and copies --------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_input_is_not_copied_and_keeps_dtype(dtype):
    X, y = blobs(dtype=dtype)
    assert check_array(X) is X
    clf = LogisticRegression(max_iter=5, random_state=0).fit(X, y)
    assert clf.coef_.dtype == dtype and clf.intercept_.dtype == dtype
    assert clf.predict_proba(X).dtype == dtype


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_])
def test_other_numeric_input_becomes_float64(dtype):
    X, y = blobs()
    Xc = (X > 0).astype(dtype) if dtype is np.bool_ else np.round(X).astype(dtype)
    clf = LogisticRegression(max_iter=5, random_state=0).fit(Xc, y)
    assert clf.coef_.dtype == np.float64


def test_non_contiguous_readonly_and_list_inputs():
    X, y = blobs()
    ref = full_batch().fit(X, y)
    Xf = np.asfortranarray(X)
    Xro = X.copy()
    Xro.setflags(write=False)
    for Xi in (Xf, Xro, X.tolist(), np.repeat(X, 2, axis=1)[:, ::2]):
        clf = full_batch().fit(Xi, list(y))
        np.testing.assert_array_equal(clf.coef_, ref.coef_)


def test_pandas_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = blobs()
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = LogisticRegression(max_iter=5).fit(df, pd.Series(y))
    np.testing.assert_array_equal(clf.feature_names_in_, ["a", "b", "c", "d"])
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(df[["d", "c", "b", "a"]])


def test_pickle_roundtrip_predicts_identically():
    for dtype in (np.float32, np.float64):
        X, y = blobs(dtype=dtype)
        clf = LogisticRegression(max_iter=10, random_state=0).fit(X, y)
        clone = pickle.loads(pickle.dumps(clf))
        np.testing.assert_array_equal(clone.predict_proba(X), clf.predict_proba(X))
        np.testing.assert_array_equal(clone.predict(X), clf.predict(X))


def test_get_set_params_and_repr():
    clf = LogisticRegression(C=0.5, solver="sgd")
    params = clf.get_params()
    assert params["C"] == 0.5 and params["solver"] == "sgd"
    clf.set_params(C=2.0, max_iter=7)
    assert clf.C == 2.0 and clf.max_iter == 7
    assert "C=2.0" in repr(clf)
    with pytest.raises(ValueError, match="Invalid parameter"):
        clf.set_params(not_a_param=1)


# -- weights ------------------------------------------------------------------------------

def test_uniform_sample_weight_two_equals_double_learning_rate():
    # With full-batch SGD and no penalty, weights s_i = 2 double every gradient, which is
    # exactly (bit for bit: scaling by 2 is exact) a doubled learning rate.
    X, y = blobs(k=3)
    a = full_batch(learning_rate_init=0.1).fit(X, y, sample_weight=np.full(len(X), 2.0))
    b = full_batch(learning_rate_init=0.2).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)


def test_zero_weights_drop_rows():
    # A zero weight removes a row's contribution; the batch mean still divides by the
    # batch size, so the equivalent fit without those rows has lr scaled by n_kept / n.
    X, y = blobs(k=2)
    sw = np.ones(len(X))
    sw[::3] = 0.0
    keep = sw > 0
    a = full_batch(learning_rate_init=0.3).fit(X, y, sample_weight=sw)
    b = full_batch(learning_rate_init=0.3 * keep.sum() / len(X)).fit(X[keep], y[keep])
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-11)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-11, atol=1e-14)


def test_class_weight_matches_sample_weight():
    X, y = blobs(k=3)
    counts = np.bincount(y)
    balanced = len(y) / (3 * counts)
    a = full_batch(class_weight="balanced").fit(X, y)
    b = full_batch().fit(X, y, sample_weight=balanced[y])
    np.testing.assert_array_equal(a.coef_, b.coef_)
    c = full_batch(class_weight={0: 2.0, 2: 0.5}).fit(X, y)
    d = full_batch().fit(X, y, sample_weight=np.array([2.0, 1.0, 0.5])[y])
    np.testing.assert_array_equal(c.coef_, d.coef_)


# -- training behaviour -------------------------------------------------------------------

@pytest.mark.parametrize("solver,extra", [("adam", {}), ("sgd", {"momentum": 0.9}),
                                          ("sgd", {"momentum": 0.9,
                                                   "nesterovs_momentum": True})])
def test_warm_start_continues_optimizer_state(solver, extra):
    # 4 epochs, then 3 more with warm_start, equal 7 epochs in one go (same batches:
    # the PRNG state is carried over too).
    X, y = blobs(k=3)
    common = dict(solver=solver, batch_size=16, learning_rate_init=0.01, tol=None,
                  random_state=3, **extra)
    one = LogisticRegression(max_iter=7, **common).fit(X, y)
    two = LogisticRegression(max_iter=4, warm_start=True, **common).fit(X, y)
    two.set_params(max_iter=3).fit(X, y)
    np.testing.assert_array_equal(one.coef_, two.coef_)
    np.testing.assert_array_equal(one.intercept_, two.intercept_)
    assert two.t_ == one.t_


def test_coef_init_and_intercept_init_are_the_start():
    X, y = blobs(k=2)
    W0 = np.array([[0.1, -0.2, 0.3, 0.05]])
    b0 = np.array([0.7])
    clf = full_batch(max_iter=0).fit(X, y, coef_init=W0, intercept_init=b0)
    np.testing.assert_array_equal(clf.coef_, W0)
    np.testing.assert_array_equal(clf.intercept_, b0)
    with pytest.raises(ValueError, match=r"coef_init has shape \(2, 4\), expected \(1, 4\)"):
        full_batch().fit(X, y, coef_init=np.zeros((2, 4)))


def test_fit_intercept_false_keeps_zero_intercept():
    X, y = blobs(k=3)
    clf = LogisticRegression(fit_intercept=False, max_iter=10, random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.intercept_, 0.0)


def test_tol_stops_early_and_warns_at_max_iter():
    X, y = blobs(k=2)
    clf = LogisticRegression(solver="adam", max_iter=500, tol=1e-2, n_iter_no_change=3,
                             learning_rate_init=0.05, random_state=0).fit(X, y)
    assert clf.n_iter_ < 500 and len(clf.loss_curve_) == clf.n_iter_
    for solver in ("adam", "lbfgs"):
        with pytest.warns(ConvergenceWarning, match="max_iter=2"):
            LogisticRegression(solver=solver, max_iter=2, tol=1e-4, random_state=0).fit(X, y)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            clf = LogisticRegression(solver=solver, max_iter=2, tol=None,
                                     random_state=0).fit(X, y)
        assert clf.n_iter_ == 2


def test_verbose_prints_one_line_per_epoch(capsys):
    X, y = blobs(k=2)
    LogisticRegression(solver="adam", max_iter=3, tol=None, verbose=1).fit(X, y)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Epoch")]
    assert len(lines) == 3 and "loss" in lines[0] and "time" in lines[0]


def test_verbose_lbfgs_prints_iterations(capsys):
    X, y = blobs(k=2)
    clf = LogisticRegression(max_iter=4, tol=None, verbose=1).fit(X, y)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Iteration")]
    assert len(lines) == clf.n_iter_ == len(clf.loss_curve_) and "objective" in lines[0]


def test_penalty_shrinks_coefficients():
    X, y = blobs(k=2)
    common = dict(max_iter=50, learning_rate_init=0.05, tol=None, random_state=0)
    loose = LogisticRegression(C=np.inf, **common).fit(X, y)
    tight = LogisticRegression(C=1e-3, **common).fit(X, y)
    assert np.linalg.norm(tight.coef_) < 0.5 * np.linalg.norm(loose.coef_)


def test_l1_reaches_exact_zeros():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 10))
    y = (X[:, 0] - X[:, 1] > 0).astype(int)   # only two informative features
    for solver in ("sgd", "adam"):
        clf = LogisticRegression(solver=solver, l1_ratio=1.0, C=0.05, max_iter=100,
                                 learning_rate_init=0.01, batch_size=32, tol=None,
                                 random_state=0).fit(X, y)
        assert np.sum(clf.coef_ == 0.0) >= 5, (solver, clf.coef_)
        assert clf.coef_[0, 0] > 0 and clf.coef_[0, 1] < 0


def test_multilabel_equals_separate_binary_models():
    # Multi-label BCE sums the labels' losses, so each label's row follows the binary
    # model trained on that label alone (same batches, same updates).
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 5))
    Y = (X @ rng.normal(size=(5, 3)) + rng.normal(size=(80, 3)) > 0).astype(int)
    ml = full_batch().fit(X, Y)
    assert ml.coef_.shape == (3, 5)
    assert ml.predict_proba(X).shape == (80, 3)
    assert ml.predict(X).shape == (80, 3)
    for j in range(3):
        single = full_batch().fit(X, Y[:, j])
        np.testing.assert_allclose(ml.coef_[j], single.coef_[0], rtol=1e-12, atol=1e-15)


# -- errors -------------------------------------------------------------------------------

def test_unfitted_raises_not_fitted_error():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        LogisticRegression().predict(np.zeros((2, 2)))


@pytest.mark.parametrize("param,value,match", [
    ("C", 0.0, "C must be in the range"),
    ("C", -1, "C must be in the range"),
    ("l1_ratio", 1.5, "l1_ratio must be in the range"),
    ("solver", "newton", "solver must be one of"),
    ("batch_size", 0, "batch_size must be in the range"),
    ("batch_size", "big", "batch_size must be one of"),
    ("learning_rate_init", 0.0, "learning_rate_init must be in the range"),
    ("momentum", 1.5, "momentum must be in the range"),
    ("beta_1", 1.0, "beta_1 must be in the range"),
    ("beta_2", -0.1, "beta_2 must be in the range"),
    ("epsilon", 0.0, "epsilon must be in the range"),
    ("max_iter", -1, "max_iter must be in the range"),
    ("tol", -1e-3, "tol must be in the range"),
    ("n_iter_no_change", 0, "n_iter_no_change must be in the range"),
    ("n_threads", 0, "n_threads must be a positive int"),
    ("class_weight", "auto", "class_weight must be a dict, 'balanced' or None"),
    ("random_state", "seed", "random_state must be None, an int"),
])
def test_bad_parameters_are_named(param, value, match):
    X, y = blobs(k=2)
    with pytest.raises((ValueError, TypeError), match=match):
        LogisticRegression(**{param: value}).fit(X, y)


def test_bad_inputs_get_clear_errors():
    X, y = blobs(k=2)
    clf = LogisticRegression(max_iter=2)
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clf.fit(Xn, y)
    Xn[3, 1] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        clf.fit(Xn, y)
    with pytest.raises(ValueError, match="Expected 2D array"):
        clf.fit(X[:, 0], y)
    with pytest.raises(ValueError, match="Found array with dim 3"):
        clf.fit(X.reshape(len(X), 2, 2), y)
    with pytest.raises(ValueError, match="0 sample"):
        clf.fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.fit(X, y[:-1])
    with pytest.raises(ValueError, match="only one class"):
        clf.fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="Complex data not supported"):
        clf.fit(X.astype(complex), y)
    with pytest.raises(ValueError, match="X must contain numbers"):
        clf.fit(np.array([["a", "b"]] * len(X), dtype=object), y)
    with pytest.raises(ValueError, match="continuous values in y"):
        clf.fit(X, y + 0.5)
    with pytest.raises(ValueError, match="Input y contains NaN"):
        clf.fit(X, np.where(np.arange(len(y)) == 0, np.nan, y))
    with pytest.raises(ValueError, match="Negative values in sample_weight"):
        clf.fit(X, y, sample_weight=-np.ones(len(X)))
    with pytest.raises(ValueError, match="all zero"):
        clf.fit(X, y, sample_weight=np.zeros(len(X)))
    with pytest.raises(ValueError, match="sample_weight contains NaN"):
        clf.fit(X, y, sample_weight=np.full(len(X), np.nan))
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(3,\)"):
        clf.fit(X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="drop_last=True leaves no complete batch"):
        LogisticRegression(solver="sgd", batch_size=1000, drop_last=True).fit(X, y)
    clf.fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but LogisticRegression is "
                                         "expecting 4 features as input"):
        clf.predict(X[:, :3])


def test_divergence_raises_and_keeps_previous_fit():
    X, y = blobs(k=2)
    clf = LogisticRegression(solver="sgd", learning_rate_init=0.1, max_iter=5,
                             random_state=0).fit(X, y)
    coef, intercept = clf.coef_.copy(), clf.intercept_.copy()
    with pytest.raises(DivergenceError, match="Lower learning_rate_init"):
        clf.set_params(learning_rate_init=1e305, C=1e-300).fit(X * 1e3, y)
    np.testing.assert_array_equal(clf.coef_, coef)
    np.testing.assert_array_equal(clf.intercept_, intercept)
    assert clf.learning_rate_init == 1e305  # parameters are the user's, untouched


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [2, 4])
def test_large_inputs_predict_like_the_serial_kernel(dtype, k):
    """Large inputs are split across threads; rows are independent, so the estimator's
    predictions are bit for bit those of the one-thread kernel, rounded once to X's
    dtype (the kernel computes in double)."""
    from fastlr._loss import predict_linear

    X, y = blobs(n=30000, d=30, k=k, dtype=dtype)
    clf = LogisticRegression(max_iter=30, tol=None, n_threads=2).fit(X, y)
    W = np.ascontiguousarray(clf.coef_, dtype=np.float64)
    b = np.ascontiguousarray(clf.intercept_, dtype=np.float64)
    kk = W.shape[0]
    head = "logistic" if k == 2 else "softmax"
    z_ref = predict_linear(head, X, W, b, np.empty((len(X), kk)), False, 1)
    p_ref = predict_linear(head, X, W, b, np.empty((len(X), 2 if k == 2 else kk)), True, 1)
    z = clf.decision_function(X)
    assert z.dtype == dtype
    np.testing.assert_array_equal(z.reshape(len(X), -1), z_ref.astype(dtype))
    np.testing.assert_array_equal(clf.predict_proba(X), p_ref.astype(dtype))
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.int8])
@pytest.mark.parametrize("labels", [[0, 1], [0, 1, 2, 3], [1, 2], [0, 2, 5], [-3, 0, 4]])
def test_encode_labels_matches_numpy_unique(labels, dtype):
    # the O(n) paths of encode_labels (labels 0..k-1 all present; other small ranges)
    # against np.unique(return_inverse=True)
    from fastlr._logistic import encode_labels
    if np.dtype(dtype).kind == "u" and min(labels) < 0:
        pytest.skip("negative labels in an unsigned dtype")
    y = np.random.default_rng(7).choice(np.array(labels, dtype=dtype), size=500)
    classes, yi = encode_labels(y)
    ref_c, ref_i = np.unique(y, return_inverse=True)
    assert classes.dtype == y.dtype and yi.dtype == np.intp
    np.testing.assert_array_equal(classes, ref_c)
    np.testing.assert_array_equal(yi, ref_i.reshape(-1))
