"""Robustness: bad inputs and parameters get clear errors, odd-but-valid inputs work, a
property-based fuzz cannot crash the interpreter, no hidden copies of X, pickles, and a
failed fit leaves a fitted estimator as it was."""

import os
import pickle
import re
import signal
import subprocess
import sys
import textwrap
import tracemalloc
import warnings

import numpy as np
import pytest

import fastlr
from fastlr import LogisticRegression
from fastlr._sklearn_compat import ConvergenceWarning, NotFittedError
from fastlr._solvers import DivergenceError
from fastlr._validation import check_array

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastlr.__file__)))


def blobs(n=60, d=4, k=2, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(k, d))
    y = np.arange(n) % k
    X = centers[y] + rng.normal(size=(n, d))
    return X.astype(dtype), y


# --- bad inputs ----------------------------------------------------------------------

def _with(X, i, j, value):
    X = X.copy()
    X[i, j] = value
    return X


X0, Y0 = blobs()


BAD_FIT_INPUTS = [
    # id, fit kwargs, exception, message pattern
    ("X-nan", dict(X=_with(X0, 3, 1, np.nan)), ValueError, r"Input X contains NaN"),
    ("X-inf", dict(X=_with(X0, 3, 1, np.inf)), ValueError, r"Input X contains infinity"),
    ("X-neg-inf", dict(X=_with(X0, 0, 0, -np.inf)), ValueError,
     r"Input X contains infinity"),
    ("X-nan-float32", dict(X=_with(X0, 3, 1, np.nan).astype(np.float32)), ValueError,
     r"Input X contains NaN"),
    ("X-empty-rows", dict(X=X0[:0], y=Y0[:0]), ValueError,
     r"Found array with 0 sample\(s\)"),
    ("X-empty-cols", dict(X=X0[:, :0]), ValueError, r"Found array with 0 feature\(s\)"),
    ("X-1d", dict(X=X0[:, 0]), ValueError, r"Expected 2D array for X, got 1D array"),
    ("X-3d", dict(X=X0.reshape(len(X0), 2, 2)), ValueError, r"Found array with dim 3"),
    ("X-scalar", dict(X=np.float64(3.0)), ValueError, r"Expected 2D array.*scalar"),
    ("X-None", dict(X=None), ValueError, r"got None"),
    ("X-strings", dict(X=np.array([["a", "b"]] * len(X0), dtype=object)), ValueError,
     r"X must contain numbers"),
    ("X-unicode", dict(X=np.array([["a", "b"]] * len(X0)))
     , ValueError, r"X must contain numbers"),
    ("X-objects", dict(X=np.array([[{"a": 1}, 2.0]] * len(X0), dtype=object)), TypeError,
     r"X must contain numbers"),
    ("X-datetime", dict(X=np.zeros((len(X0), 2), dtype="datetime64[D]")), TypeError,
     r"X must contain numbers.*datetime64"),
    ("X-complex", dict(X=X0.astype(complex)), ValueError, r"Complex data not supported"),
    ("X-ragged", dict(X=[[1.0, 2.0], [3.0]], y=[0, 1]), ValueError,
     r"X could not be converted to an array"),
    ("y-short", dict(y=Y0[:-1]), ValueError,
     r"inconsistent numbers of samples: \[60, 59\]"),
    ("y-long", dict(y=np.r_[Y0, 0]), ValueError, r"inconsistent numbers of samples"),
    ("y-one-class", dict(y=np.zeros(len(X0))), ValueError, r"only one class"),
    ("y-nan", dict(y=np.where(np.arange(len(Y0)) == 0, np.nan, Y0)), ValueError,
     r"Input y contains NaN"),
    ("y-inf", dict(y=np.where(np.arange(len(Y0)) == 0, np.inf, Y0)), ValueError,
     r"Input y contains NaN or infinity"),
    ("y-none-label", dict(y=np.array([None] + [0, 1] * 29 + [1], dtype=object)),
     ValueError, r"Input y contains None"),
    ("y-continuous", dict(y=Y0 + 0.5), ValueError, r"continuous values in y"),
    ("y-None", dict(y=None), ValueError,
     r"Expected array-like \(array or non-string sequence\), got None"),
    ("y-3d", dict(y=Y0.reshape(-1, 1, 1)), ValueError, r"y must be 1D"),
    ("sw-negative", dict(sample_weight=-np.ones(len(X0))), ValueError,
     r"Negative values in sample_weight"),
    ("sw-nan", dict(sample_weight=np.where(np.arange(len(X0)) == 2, np.nan, 1.0)),
     ValueError, r"sample_weight contains NaN or infinity"),
    ("sw-inf", dict(sample_weight=np.where(np.arange(len(X0)) == 2, np.inf, 1.0)),
     ValueError, r"sample_weight contains NaN or infinity"),
    ("sw-all-zero", dict(sample_weight=np.zeros(len(X0))), ValueError,
     r"(.*weight.*zero.*)|(.*zero.*weight.*)"),
    ("sw-short", dict(sample_weight=np.ones(3)), ValueError,
     r"sample_weight.shape == \(3,\), expected \(60,\)"),
    ("sw-2d", dict(sample_weight=np.ones((len(X0), 2))), ValueError,
     r"sample_weight must be 1D"),
    ("sw-strings", dict(sample_weight=np.array(["a"] * len(X0))), TypeError,
     r"sample_weight must be numeric"),
    ("coef_init-shape", dict(coef_init=np.zeros((2, 4))), ValueError,
     r"coef_init has shape \(2, 4\), expected \(1, 4\)"),
    ("coef_init-features", dict(coef_init=np.zeros((1, 3))), ValueError,
     r"coef_init has shape \(1, 3\), expected \(1, 4\)"),
    ("coef_init-nan", dict(coef_init=np.full((1, 4), np.nan)), ValueError,
     r"coef_init contains NaN"),
    ("intercept_init-shape", dict(intercept_init=np.zeros(3)), ValueError,
     r"intercept_init has shape \(3,\), expected \(1,\)"),
]


@pytest.mark.parametrize("solver", ["lbfgs", "sgd"])
@pytest.mark.parametrize("case", BAD_FIT_INPUTS, ids=[c[0] for c in BAD_FIT_INPUTS])
def test_bad_fit_inputs(case, solver):
    _, kwargs, exc, match = case
    kwargs = dict(kwargs)
    X = kwargs.pop("X", X0)
    y = kwargs.pop("y", Y0)
    clf = LogisticRegression(solver=solver, max_iter=3)
    with pytest.raises(exc, match=match):
        clf.fit(X, y, **kwargs)
    assert not hasattr(clf, "coef_")


def test_sparse_X_is_rejected_with_a_clear_message():
    sp = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match=r"Sparse data was passed.*dense data is required"):
        LogisticRegression().fit(sp.csr_matrix(X0), Y0)
    clf = LogisticRegression().fit(X0, Y0)
    with pytest.raises(TypeError, match="Sparse"):
        clf.predict(sp.csr_matrix(X0))


def test_pandas_missing_values_are_reported_as_nan():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X0[:, :2], columns=["a", "b"]).astype("Float64")
    df.iloc[4, 1] = pd.NA
    with pytest.raises(ValueError, match="Input X contains NaN"):
        LogisticRegression().fit(df, Y0)
    # nullable dtypes without missing values just work
    df = pd.DataFrame({"a": pd.array(np.arange(60) % 7, dtype="Int64"), "b": X0[:, 1]})
    clf = LogisticRegression().fit(df, Y0)
    ref = LogisticRegression().fit(df.to_numpy(dtype=float), Y0)
    np.testing.assert_allclose(clf.coef_, ref.coef_)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba",
                                    "decision_function", "score"])
@pytest.mark.parametrize("k", [2, 3])
def test_predict_with_wrong_number_of_features(method, k):
    X, y = blobs(k=k)
    clf = LogisticRegression().fit(X, y)
    args = (X[:, :3], y) if method == "score" else (X[:, :3],)
    with pytest.raises(ValueError, match="X has 3 features, but LogisticRegression is "
                                         "expecting 4 features as input"):
        getattr(clf, method)(*args)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        getattr(clf, method)(_with(X, 0, 0, np.nan), *args[1:])


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("task", ["binary", "softmax", "multilabel", "regression"])
def test_lbfgs_finds_nonfinite_X_in_its_first_pass(task, dtype, value):
    # lbfgs has no finiteness pass of its own over X: its first evaluation reads every
    # row, and a non-finite entry makes that row's gradient non-finite even when the row
    # has zero weight, the coefficients start at zero, or (softmax, -inf) the entry only
    # drives one wrong class's probability to 0. The error must be the usual one, and a
    # fitted estimator must keep its fit.
    from fastlr import LinearRegression
    rng = np.random.default_rng(5)
    n, d = 20000, 12
    X = rng.normal(size=(n, d)).astype(dtype)
    if task == "regression":
        y, est = X[:, :2] @ np.ones((2, 3)), LinearRegression(n_threads=2)
    elif task == "multilabel":
        y, est = (X[:, :3] > 0).astype(int), LogisticRegression(n_threads=2)
    else:
        y, est = np.arange(n) % (2 if task == "binary" else 4), LogisticRegression(n_threads=2)
    est.set_params(max_iter=5, tol=None).fit(X, y)
    before = est.coef_.copy()
    sw = np.ones(n)
    for row in (1, n // 2 + 7, n - 1):
        bad = X.copy()
        bad[row, 3] = value
        sw[row] = 0.0 if row == 1 else 1.0
        word = "NaN" if np.isnan(value) else "infinity"
        with pytest.raises(ValueError, match=f"Input X contains {word}"):
            est.fit(bad, y, sample_weight=sw)
        np.testing.assert_array_equal(est.coef_, before)


@pytest.mark.parametrize("row", [0, 9998, 19999])   # first block, second thread, last row
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [2, 3])
def test_predict_finds_infinity_in_any_row(k, dtype, row):
    # Prediction checks X only when a logit is not finite. +inf times a positive
    # coefficient is a logit of +inf, whose probability (1.0) is finite: the kernel must
    # still report it, in whichever thread and row block it is.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(20000, 20)).astype(dtype)
    y = np.arange(20000) % k
    clf = LogisticRegression(max_iter=3, tol=None, n_threads=2).fit(X[:200], y[:200])
    col = int(np.argmax(clf.coef_[0]))
    bad = X.copy()
    bad[row, col] = np.inf
    for method in ("predict", "predict_proba", "decision_function"):
        with pytest.raises(ValueError, match="Input X contains infinity"):
            getattr(clf, method)(bad)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba",
                                    "decision_function", "score"])
def test_unfitted(method):
    args = (X0, Y0) if method == "score" else (X0,)
    with pytest.raises(NotFittedError, match="not fitted yet") as info:
        getattr(LogisticRegression(), method)(*args)
    assert isinstance(info.value, ValueError) and isinstance(info.value, AttributeError)


# --- parameters ----------------------------------------------------------------------

# (param, bad value, exception, the allowed range or choices as they appear in the message)
BAD_PARAMS = [
    ("C", 0.0, ValueError, "(0.0, inf]"),
    ("C", -1, ValueError, "(0.0, inf]"),
    ("C", -np.inf, ValueError, "(0.0, inf]"),
    ("C", np.nan, ValueError, "(0.0, inf]"),
    ("C", "1", TypeError, "(0.0, inf]"),
    ("l1_ratio", 1.5, ValueError, "[0.0, 1.0]"),
    ("l1_ratio", -0.1, ValueError, "[0.0, 1.0]"),
    ("l1_ratio", None, TypeError, "[0.0, 1.0]"),
    ("solver", "newton", ValueError, "['adam', 'lbfgs', 'sgd']"),
    ("solver", None, ValueError, "['adam', 'lbfgs', 'sgd']"),
    ("batch_size", 0, ValueError, "[1, inf)"),
    ("batch_size", -3, ValueError, "[1, inf)"),
    ("batch_size", 2.5, TypeError, "[1, inf)"),
    ("batch_size", "big", ValueError, "['auto']"),
    ("learning_rate_init", 0.0, ValueError, "(0.0, inf)"),
    ("learning_rate_init", -1.0, ValueError, "(0.0, inf)"),
    ("learning_rate_init", np.inf, ValueError, "(0.0, inf)"),
    ("learning_rate_init", "fast", TypeError, "(0.0, inf)"),
    ("momentum", 1.5, ValueError, "[0.0, 1.0]"),
    ("momentum", -0.5, ValueError, "[0.0, 1.0]"),
    ("beta_1", 1.0, ValueError, "[0.0, 1.0)"),
    ("beta_1", -0.1, ValueError, "[0.0, 1.0)"),
    ("beta_2", 1.0, ValueError, "[0.0, 1.0)"),
    ("beta_2", np.nan, ValueError, "[0.0, 1.0)"),
    ("epsilon", 0.0, ValueError, "(0.0, inf)"),
    ("epsilon", -1e-8, ValueError, "(0.0, inf)"),
    ("max_iter", -1, ValueError, "[0, inf)"),
    ("max_iter", 2.5, TypeError, "[0, inf)"),
    ("max_iter", "10", TypeError, "[0, inf)"),
    ("tol", -1e-3, ValueError, "[0.0, inf) or None"),
    ("tol", np.inf, ValueError, "[0.0, inf) or None"),
    ("tol", "x", TypeError, "[0.0, inf) or None"),
    ("n_threads", 0, ValueError, "positive int, -1 (all cores) or None"),
    ("n_threads", 1.5, TypeError, "an int"),
    ("n_threads", "all", TypeError, "an int"),
    ("n_iter_no_change", 0, ValueError, "[1, inf)"),
    ("n_iter_no_change", 1.0, TypeError, "[1, inf)"),
    ("class_weight", "auto", ValueError, "a dict, 'balanced' or None"),
    ("class_weight", [1, 2], ValueError, "a dict, 'balanced' or None"),
    ("class_weight", {0: -1.0}, ValueError, "finite non-negative number"),
    ("class_weight", {0: np.nan}, ValueError, "finite non-negative number"),
    ("class_weight", {5: 1.0}, ValueError, "not one of the classes in y"),
    ("random_state", "seed", TypeError, "None, an int >= 0, a numpy Generator or a "
                                        "RandomState"),
    ("random_state", -1, ValueError, "None, an int >= 0"),
    ("random_state", 1.5, TypeError, "None, an int >= 0"),
    ("fit_intercept", "yes", TypeError, "bool (True or False)"),
    ("fit_intercept", None, TypeError, "bool (True or False)"),
    ("verbose", -1, ValueError, "[0, inf)"),
    ("verbose", 1.5, TypeError, "[0, inf)"),
    ("shuffle", "no", TypeError, "bool (True or False)"),
    ("drop_last", 1, TypeError, "bool (True or False)"),
    ("warm_start", "x", TypeError, "bool (True or False)"),
]


def _value_in_message(param, value, msg):
    if isinstance(value, dict):  # the offending entry is named
        key = next(iter(value))
        return f"{key!r}" in msg
    return repr(value) in msg


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
@pytest.mark.parametrize("case", BAD_PARAMS,
                         ids=[f"{p}={v!r}" for p, v, _, _ in BAD_PARAMS])
def test_bad_parameters_name_parameter_value_and_range(case, solver):
    param, value, exc, allowed = case
    params = {"solver": solver, param: value} if param != "solver" else {param: value}
    clf = LogisticRegression(**params)  # __init__ stores, never validates
    assert getattr(clf, param) is value
    with pytest.raises(exc) as info:
        clf.fit(X0, Y0)
    msg = str(info.value)
    assert param in msg, msg
    assert _value_in_message(param, value, msg), msg
    assert allowed in msg, msg
    assert not hasattr(clf, "coef_")
    assert getattr(clf, param) is value  # the user's value, untouched


def test_inf_C_is_allowed():
    clf = LogisticRegression(C=np.inf).fit(X0, Y0)
    assert np.all(np.isfinite(clf.coef_))


def test_numpy_scalar_parameters_are_accepted():
    clf = LogisticRegression(C=np.float32(0.5), max_iter=np.int64(50),
                             batch_size=np.int32(8), solver="sgd", tol=None,
                             random_state=np.int64(3)).fit(X0, Y0)
    assert np.all(np.isfinite(clf.coef_))


# --- property-based fuzz, in a subprocess -----------------------------------------------

FUZZ_SCRIPT = textwrap.dedent(r'''
    import faulthandler
    import re
    import sys
    import warnings

    import numpy as np
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from fastlr import LogisticRegression
    from fastlr._solvers import DivergenceError

    faulthandler.enable()
    LOG = open(sys.argv[1], "w", buffering=1)
    MAX_EXAMPLES = int(sys.argv[2])

    # Errors a valid-looking draw may legitimately meet; anything else is a bug.
    DOCUMENTED = [
        r"only one class",
        r"Sample weights are all zero",
        r"product of sample_weight and class_weight is zero",
        r"drop_last=True leaves no complete batch",
        r"No batch to train on",
        r"Input X contains infinity",  # e.g. int64 beyond float range: never drawn
    ]

    SPECIAL = [0.0, 1.0, -1.0, 1e30, -1e30, 1e-30, -1e-30, 1e-300, 5e-324, 3e38, -3e38]


    @st.composite
    def problems(draw):
        n = draw(st.integers(1, 40))
        d = draw(st.integers(1, 6))
        dtype = draw(st.sampled_from(["float64", "float32", "int64", "int32", "uint8"]))
        scale = draw(st.sampled_from([1.0, 1e-30, 1e30, 1e6]))
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        X = rng.normal(size=(n, d)) * scale
        n_special = draw(st.integers(0, 3))
        for _ in range(n_special):
            X[draw(st.integers(0, n - 1)), draw(st.integers(0, d - 1))] = \
                draw(st.sampled_from(SPECIAL))
        if draw(st.booleans()):  # duplicated rows
            X[rng.integers(0, n, size=n // 2)] = X[0]
        if draw(st.booleans()):  # a constant column
            X[:, draw(st.integers(0, d - 1))] = draw(st.sampled_from(SPECIAL))
        if dtype == "float32":
            X = np.clip(X, -3e38, 3e38)
        elif dtype.startswith("int") or dtype == "uint8":
            info = np.iinfo(dtype)
            X = np.clip(np.round(X), max(info.min, -2**62), min(info.max, 2**62))
        X = X.astype(dtype)
        layout = draw(st.sampled_from(["C", "F", "strided", "list", "readonly"]))
        if layout == "F":
            X = np.asfortranarray(X)
        elif layout == "strided":
            X = np.repeat(X, 2, axis=1)[:, ::2]
        elif layout == "list":
            X = X.tolist()
        elif layout == "readonly":
            X.setflags(write=False)

        kind = draw(st.sampled_from(["int", "str", "float", "bool", "multilabel"]))
        k = draw(st.integers(2, 4))
        yi = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
        if kind == "str":
            y = np.array(["ant", "bee", "cat", "dog"])[yi]
        elif kind == "float":
            y = yi.astype(float) * 2.5 - 1.0
            y = np.round(y)  # integral floats are labels
        elif kind == "bool":
            y = yi % 2 == 1
        elif kind == "multilabel":
            y = (rng.random((n, k)) < 0.5).astype(int)
        else:
            y = yi

        params = dict(
            solver=draw(st.sampled_from(["lbfgs", "sgd", "adam"])),
            C=draw(st.sampled_from([1e-3, 1.0, 1e3, np.inf])),
            l1_ratio=draw(st.sampled_from([0.0, 0.5, 1.0])),
            batch_size=draw(st.sampled_from(["auto", 1, 7, 64])),
            learning_rate_init=draw(st.sampled_from([1e-3, 0.1, 10.0])),
            momentum=draw(st.sampled_from([0.0, 0.9])),
            fit_intercept=draw(st.booleans()),
            max_iter=draw(st.sampled_from([1, 5, 20])),
            tol=draw(st.sampled_from([None, 1e-4])),
            drop_last=draw(st.booleans()),
            random_state=0,
        )
        if kind != "multilabel" and draw(st.booleans()):
            params["class_weight"] = "balanced"
        sw = None
        if draw(st.booleans()):
            sw = draw(st.sampled_from([
                np.ones(n), rng.random(n), (rng.random(n) < 0.5) * 1.0, np.full(n, 1e6)]))
        return X, y, params, sw


    def check_fitted(clf, X, y):
        assert np.all(np.isfinite(clf.coef_)), clf.coef_
        assert np.all(np.isfinite(clf.intercept_)), clf.intercept_
        P = clf.predict_proba(X)
        n = len(X)
        assert P.shape[0] == n
        assert np.all(np.isfinite(P)), P
        assert np.all((P >= 0) & (P <= 1)), P
        if not getattr(clf, "_multilabel", False):
            assert P.shape[1] == len(clf.classes_)
            np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-5)
            pred = clf.predict(X)
            assert np.all(np.isin(pred, clf.classes_))
        else:
            assert clf.predict(X).shape == np.shape(y)
        logp = clf.predict_log_proba(X)
        assert not np.any(np.isnan(logp))
        assert 0.0 <= clf.score(X, y) <= 1.0


    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(problems())
    def fuzz(problem):
        X, y, params, sw = problem
        shape = np.shape(X)
        LOG.write(f"{shape} {getattr(X, 'dtype', 'list')} y={np.asarray(y).dtype} "
                  f"{params} sw={None if sw is None else sw[:3]}\n")
        clf = LogisticRegression(**params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)  # incl. Convergence
            warnings.simplefilter("error", category=RuntimeWarning)  # overflow etc.
            try:
                clf.fit(X, y, sample_weight=sw)
            except DivergenceError:
                assert not hasattr(clf, "coef_")
                return
            except (ValueError, TypeError) as exc:
                if not any(re.search(p, str(exc)) for p in DOCUMENTED):
                    raise
                assert not hasattr(clf, "coef_")
                return
            check_fitted(clf, X, y)


    fuzz()
    print("FUZZ-OK")
''')


def test_fuzz_fit_never_crashes(tmp_path):
    pytest.importorskip("hypothesis")
    script = tmp_path / "fuzz.py"
    script.write_text(FUZZ_SCRIPT)
    log = tmp_path / "examples.log"
    env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, str(script), str(log), "120"], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    tail = log.read_text().splitlines()[-1:] if log.exists() else []
    if proc.returncode < 0:
        sig = signal.Signals(-proc.returncode).name
        pytest.fail(f"fuzz subprocess crashed with {sig}; last example: {tail}\n"
                    f"{proc.stderr[-3000:]}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert "FUZZ-OK" in proc.stdout
    assert len(log.read_text().splitlines()) >= 100


# --- odd but valid inputs ------------------------------------------------------------

def _fit(X, y, solver="lbfgs", **kw):
    params = dict(solver=solver, random_state=0)
    if solver != "lbfgs":
        params.update(learning_rate_init=0.05, max_iter=20, tol=None, shuffle=True)
    params.update(kw)
    return LogisticRegression(**params).fit(X, y)


def _variants(X):
    readonly = X.copy()
    readonly.setflags(write=False)
    wide = np.zeros((X.shape[0], 2 * X.shape[1]), dtype=X.dtype)
    wide[:, ::2] = X
    return {
        "readonly": readonly,
        "fortran": np.asfortranarray(X),
        "strided-columns": wide[:, ::2],
        "strided-rows": np.repeat(X, 2, axis=0)[::2],
        "list": X.tolist(),
        # as read from a big-endian file: same values, same (native) dtype after the check
        "big-endian": X.astype(X.dtype.newbyteorder(">")),
    }


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
@pytest.mark.parametrize("k", [2, 3])
def test_layouts_give_the_same_coefficients(dtype, solver, k, tmp_path):
    X, y = blobs(k=k, dtype=dtype)
    ref = _fit(X, y, solver)
    variants = _variants(X)
    mm = np.memmap(tmp_path / "X.dat", dtype=dtype, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    variants["memmap-readonly"] = np.memmap(tmp_path / "X.dat", dtype=dtype, mode="r",
                                            shape=X.shape)
    variants["memmap"] = mm
    for name, Xv in variants.items():
        clf = _fit(Xv, y, solver)
        expected_dtype = np.float64 if name == "list" else dtype
        assert clf.coef_.dtype == expected_dtype, name
        if name == "list" and dtype == np.float32:
            # the list holds the float32 values exactly; fitting runs in float64
            np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-3, atol=1e-4)
            continue
        np.testing.assert_array_equal(clf.coef_, ref.coef_, err_msg=name)
        np.testing.assert_array_equal(clf.intercept_, ref.intercept_, err_msg=name)
        np.testing.assert_array_equal(clf.predict_proba(Xv), ref.predict_proba(X),
                                      err_msg=name)


def test_readonly_y_and_sample_weight():
    X, y = blobs(k=3)
    sw = np.linspace(0.5, 2.0, len(y))
    ref = LogisticRegression().fit(X, y, sample_weight=sw)
    for a in (X, y, sw):
        a.setflags(write=False)
    clf = LogisticRegression().fit(X, y, sample_weight=sw)
    np.testing.assert_array_equal(clf.coef_, ref.coef_)


def test_pandas_dataframe_records_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = blobs(k=3)
    cols = ["alpha", "beta", "gamma", "delta"]
    df = pd.DataFrame(X, columns=cols)
    clf = LogisticRegression().fit(df, pd.Series(y))
    np.testing.assert_array_equal(clf.feature_names_in_, cols)
    assert clf.n_features_in_ == 4
    ref = LogisticRegression().fit(X, y)
    np.testing.assert_array_equal(clf.coef_, ref.coef_)
    np.testing.assert_array_equal(clf.predict_proba(df), ref.predict_proba(X))
    # A mixed-dtype frame (int and float columns) works too
    df2 = df.assign(alpha=np.round(df["alpha"] * 10).astype(int))
    clf2 = LogisticRegression().fit(df2, y)
    ref2 = LogisticRegression().fit(df2.to_numpy(dtype=float), y)
    np.testing.assert_array_equal(clf2.coef_, ref2.coef_)
    # Renamed columns at predict time are an error; a plain array is accepted
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(df.rename(columns={"alpha": "a"}))
    clf.predict(X)
    # Refitting on an array forgets the names
    clf.fit(X, y)
    assert not hasattr(clf, "feature_names_in_")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_c_contiguous_float_X_is_not_copied(dtype):
    X, _ = blobs(dtype=dtype)
    assert check_array(X) is X
    ro = X.copy()
    ro.setflags(write=False)
    assert check_array(ro) is ro
    # other inputs are converted once, to C-contiguous float64 / the same float dtype
    assert check_array(X.astype(np.int32)).dtype == np.float64
    Xf = np.asfortranarray(X)
    out = check_array(Xf)
    assert out.flags.c_contiguous and out.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", ["lbfgs", "adam", "sgd"])
def test_fit_does_not_copy_X(dtype, solver):
    """Peak traced allocation during fit stays far below X.nbytes (numpy reports its
    buffers to tracemalloc), so neither validation nor the solvers copy X."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20000, 50)).astype(dtype)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    clf = LogisticRegression(solver=solver, max_iter=3, tol=None, random_state=0,
                             learning_rate_init=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        tracemalloc.start()
        try:
            clf.fit(X, y)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < X.nbytes / 4, (peak, X.nbytes)
    tracemalloc.start()
    try:
        clf.predict_proba(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 4, (peak, X.nbytes)


# --- pickles -------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_pickle_round_trip(dtype, k, solver):
    X, y = blobs(k=k, dtype=dtype)
    labels = np.array(["no", "yes", "maybe"])[y]
    clf = _fit(X, labels, solver)
    back = pickle.loads(pickle.dumps(clf))
    assert back.get_params() == clf.get_params()
    np.testing.assert_array_equal(back.classes_, clf.classes_)
    np.testing.assert_array_equal(back.coef_, clf.coef_)
    assert back.coef_.dtype == dtype
    for method in ("predict", "predict_proba", "decision_function", "predict_log_proba"):
        np.testing.assert_array_equal(getattr(back, method)(X), getattr(clf, method)(X),
                                      err_msg=method)
    assert back.score(X, labels) == clf.score(X, labels)
    # A warm start from the unpickled model continues like the original
    if solver == "adam":
        a = clf.set_params(warm_start=True, max_iter=3).fit(X, labels)
        b = back.set_params(warm_start=True, max_iter=3).fit(X, labels)
        np.testing.assert_array_equal(a.coef_, b.coef_)


# --- failed fits leave the fitted state alone ----------------------------------------

def _snapshot(clf):
    return {k: (np.copy(v) if isinstance(v, np.ndarray) else pickle.dumps(v))
            for k, v in vars(clf).items() if k.endswith("_") and not k.startswith("__")}


def _assert_same_state(clf, snap):
    now = _snapshot(clf)
    assert now.keys() == snap.keys()
    for key, value in snap.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(now[key], value, err_msg=key)
        else:
            assert now[key] == value, key


FAILING_REFITS = [
    ("nan-X", {}, lambda X, y: (_with(X, 0, 0, np.nan), y), ValueError),
    ("one-class", {}, lambda X, y: (X, np.zeros_like(y)), ValueError),
    ("bad-C", {"C": -1.0}, lambda X, y: (X, y), ValueError),
    ("bad-solver", {"solver": "newton"}, lambda X, y: (X, y), ValueError),
    ("bad-batch", {"batch_size": 0}, lambda X, y: (X, y), ValueError),
    ("divergence", {"solver": "sgd", "learning_rate_init": 1e305, "C": 1e-300},
     lambda X, y: (X * 1e3, y), DivergenceError),
]


@pytest.mark.filterwarnings("ignore::fastlr._sklearn_compat.ConvergenceWarning")
@pytest.mark.parametrize("first_solver", ["lbfgs", "sgd"])
@pytest.mark.parametrize("case", FAILING_REFITS, ids=[c[0] for c in FAILING_REFITS])
def test_failed_fit_keeps_previous_state(case, first_solver):
    _, params, make, exc = case
    X, y = blobs(k=3)
    clf = _fit(X, y, first_solver, max_iter=5)
    snap = _snapshot(clf)
    proba = clf.predict_proba(X)
    clf.set_params(**params)
    Xb, yb = make(X, y)
    with pytest.raises(exc):
        clf.fit(Xb, yb)
    _assert_same_state(clf, snap)
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    for key, value in params.items():
        assert getattr(clf, key) == value  # the parameters are the user's, untouched


def test_failed_warm_start_fit_keeps_optimizer_state():
    X, y = blobs(k=2)
    clf = _fit(X, y, "adam", warm_start=True, max_iter=3)
    snap = _snapshot(clf)
    state = pickle.dumps(clf._optimizer_state)
    with pytest.raises(ValueError):
        clf.fit(X, y, sample_weight=-np.ones(len(y)))
    _assert_same_state(clf, snap)
    assert pickle.dumps(clf._optimizer_state) == state
    # and it continues as if the failed call never happened
    twin = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clf.fit(X, y).coef_, twin.fit(X, y).coef_)


def test_divergence_message_is_actionable():
    X, y = blobs(k=2)
    with pytest.raises(DivergenceError) as info:
        LogisticRegression(solver="sgd", learning_rate_init=1e305, C=1e-300).fit(X * 1e3, y)
    assert isinstance(info.value, ValueError)
    assert re.search("learning_rate_init", str(info.value))


@pytest.mark.parametrize("dtype", [">f8", ">f4", ">i4"])
def test_big_endian_y_and_sample_weight_for_regression(dtype):
    from fastlr import LinearRegression
    rng = np.random.default_rng(3)
    X = rng.normal(size=(50, 3))
    y = np.round(X @ [1.0, -2.0, 0.5] * 10)
    sw = np.linspace(1.0, 3.0, 50)
    ref = LinearRegression().fit(X, y, sample_weight=sw)
    big = LinearRegression().fit(X.astype(">f8"), y.astype(dtype),
                                 sample_weight=sw.astype(">f8"))
    np.testing.assert_array_equal(big.coef_, ref.coef_)
    np.testing.assert_array_equal(big.predict(X.astype(">f8")), ref.predict(X))
