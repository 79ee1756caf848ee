"""fastlr.plot: loss curves and decision boundaries (matplotlib, Agg backend)."""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastlr
from fastlr import LinearRegression, LogisticRegression
from fastlr._datasets import and_gate, hours_studied, xor_gate

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402

from fastlr.plot import plot_decision_boundary, plot_loss_curve  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _sgd(**kw):
    params = dict(solver="sgd", learning_rate_init=0.1, batch_size=4, shuffle=False,
                  max_iter=200, tol=None, C=np.inf)
    params.update(kw)
    return LogisticRegression(**params)


def _legend(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _boundaries(ax):
    """The decision boundary's pieces: the black lines of a decision-boundary plot."""
    return [line for line in ax.lines if line.get_color() == "k"]


def _scatters(ax):
    return [c for c in ax.collections if isinstance(c, PathCollection)]


@pytest.fixture(scope="module")
def breast_split():
    from fastlr._datasets import load_breast_cancer
    X, y, _ = load_breast_cancer()
    rng = np.random.default_rng(2)
    idx = rng.permutation(len(y))
    tr, va = idx[:400], idx[400:]
    mean, std = X[tr].mean(axis=0), X[tr].std(axis=0)
    Z = (X - mean) / std
    return Z[tr], y[tr], Z[va], y[va]


@pytest.fixture(scope="module")
def three_blobs():
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0], [4.0, 0.0], [2.0, 3.5]])
    X = np.vstack([rng.normal(c, 0.7, size=(30, 2)) for c in centers])
    y = np.repeat(np.array(["a", "b", "c"]), 30)
    return X, y, centers


# -- plot_loss_curve -----------------------------------------------------------------------

def test_loss_curve_training_only():
    X, y = hours_studied()
    clf = _sgd(learning_rate_init=0.01, max_iter=1000).fit(X, y)
    ax = plot_loss_curve(clf)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert len(ax.lines) == 1
    line = ax.lines[0]
    np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 1001))
    np.testing.assert_array_equal(line.get_ydata(), clf.loss_curve_)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("epoch", "loss")
    assert ax.get_title() == "LogisticRegression (solver='sgd')"
    assert _legend(ax) == ["training loss"]
    assert ax.get_yscale() == "linear"


def test_loss_curve_draws_into_given_axes_and_log_scale():
    X, y = and_gate()
    clf = _sgd().fit(X, y)
    fig, (ax1, ax2) = plt.subplots(1, 2)
    assert plot_loss_curve(clf, ax=ax2, log_scale=True) is ax2
    assert len(ax1.lines) == 0 and len(ax2.lines) == 1
    assert ax2.get_yscale() == "log"


def test_loss_curve_lbfgs_counts_iterations():
    X, y = and_gate()
    clf = LogisticRegression(C=10.0).fit(X, y)
    ax = plot_loss_curve(clf)
    assert ax.get_xlabel() == "iteration"
    assert ax.get_title() == "LogisticRegression (solver='lbfgs')"
    assert len(ax.lines[0].get_xdata()) == clf.n_iter_ == len(clf.loss_curve_)


def test_loss_curve_linear_regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=50)
    reg = LinearRegression(solver="adam", learning_rate_init=0.05, max_iter=30, tol=None,
                           random_state=0).fit(X, y)
    ax = plot_loss_curve(reg)
    assert ax.get_title() == "LinearRegression (solver='adam')"
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), reg.loss_curve_)


def test_loss_curve_with_validation_data(breast_split):
    Xtr, ytr, Xva, yva = breast_split
    clf = LogisticRegression(solver="adam", learning_rate_init=0.01, batch_size=32,
                             max_iter=40, tol=None, C=np.inf, random_state=0)
    clf.fit(Xtr, ytr, validation_data=(Xva, yva))
    ax = plot_loss_curve(clf)
    assert len(ax.lines) == 2
    assert _legend(ax) == ["training loss", "validation loss"]
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), clf.validation_loss_curve_)
    np.testing.assert_array_equal(ax.lines[1].get_xdata(), np.arange(1, 41))


def test_loss_curve_marks_best_epoch_of_early_stopping(breast_split):
    Xtr, ytr, Xva, yva = breast_split
    clf = LogisticRegression(solver="adam", learning_rate_init=0.01, batch_size=32,
                             max_iter=300, tol=1e-4, n_iter_no_change=5,
                             early_stopping=True, C=np.inf, random_state=0)
    clf.fit(Xtr, ytr, validation_data=(Xva, yva))
    best = clf.best_iter_
    ax = plot_loss_curve(clf)
    # training, validation, the vertical line at best_iter_, the marker on it
    assert len(ax.lines) == 4
    assert _legend(ax) == ["training loss", "validation loss",
                           f"best epoch ({best}): weights kept"]
    vline, marker = ax.lines[2], ax.lines[3]
    assert list(vline.get_xdata()) == [best, best]
    assert list(marker.get_xdata()) == [best]
    assert marker.get_ydata()[0] == clf.validation_loss_curve_[best - 1]


def test_loss_curve_needs_a_fitted_estimator():
    with pytest.raises(ValueError, match="not fitted|no loss_curve_|call fit"):
        plot_loss_curve(LogisticRegression())


# -- plot_decision_boundary ---------------------------------------------------------------

def test_decision_boundary_binary():
    X, y = and_gate()
    clf = _sgd(max_iter=1000).fit(X, y)
    fig, ax0 = plt.subplots()
    ax = plot_decision_boundary(clf, X, y, ax=ax0)
    assert ax is ax0
    assert len(ax.images) == 1                       # the probability map
    assert len(fig.axes) == 2                        # ... and its colorbar
    assert fig.axes[1].get_ylabel() == "P(y = 1)"
    image = ax.images[0].get_array()
    assert image.shape == (200, 200)
    assert 0.0 <= image.min() < 0.5 < image.max() <= 1.0
    scatters = _scatters(ax)
    assert [s.get_label() for s in scatters] == ["class 0", "class 1"]
    assert [len(s.get_offsets()) for s in scatters] == [3, 1]
    assert _legend(ax) == ["class 0", "class 1", "decision boundary (P = 0.5)"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x1", "x2")
    assert ax.get_title() == "LogisticRegression (binary)"
    # the black line is where the model says 50%
    (line,) = _boundaries(ax)
    assert line.get_label() == "decision boundary (P = 0.5)"
    vertices = line.get_xydata()
    assert len(vertices) > 10
    np.testing.assert_allclose(clf.predict_proba(vertices)[:, 1], 0.5, atol=0.01)
    # the map covers the points with a margin
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    assert x0 < 0 < 1 < x1 and y0 < 0 < 1 < y1


def test_decision_boundary_binary_flat_probability_draws_no_line():
    """XOR drives W and b to 0: P = 0.5 up to rounding everywhere, no boundary."""
    X, y = xor_gate()
    clf = _sgd(learning_rate_init=1.0, max_iter=2000).fit(
        X, y, coef_init=[[0.3, -0.2]], intercept_init=[0.1])
    ax = plot_decision_boundary(clf, X, y)
    assert len(ax.lines) == 0
    assert _legend(ax) == ["class 0", "class 1"]
    assert any("no decision boundary" in t.get_text() for t in ax.texts)


def test_decision_boundary_binary_without_proba_and_labels():
    X, y = and_gate()
    clf = _sgd(max_iter=1000).fit(X, y)
    fig, ax = plt.subplots()
    plot_decision_boundary(clf, X, ax=ax, proba=False, resolution=50)
    assert len(fig.axes) == 1                        # no colorbar
    rgba = ax.images[0].get_array()
    assert rgba.shape == (50, 50, 4)
    assert np.all(rgba[..., 3] == rgba[0, 0, 3])     # flat colours
    assert [s.get_label() for s in _scatters(ax)] == ["data"]
    assert len(_boundaries(ax)) == 1


def test_decision_boundary_multiclass(three_blobs):
    X, y, centers = three_blobs
    clf = LogisticRegression().fit(X, y)
    fig, ax = plt.subplots()
    plot_decision_boundary(clf, X, y, ax=ax)
    assert len(fig.axes) == 1                        # no colorbar
    assert len(ax.images) == 1
    assert [s.get_label() for s in _scatters(ax)] == ["class a", "class b", "class c"]
    assert _legend(ax) == ["class a", "class b", "class c", "decision boundaries"]
    # each class's border, traced from its side: 3 pieces per pair of neighbours
    lines = _boundaries(ax)
    assert len(lines) == len(ax.lines) >= 3
    assert [line.get_label() for line in lines][0] == "decision boundaries"
    # on a boundary the two best classes tie
    for line in lines:
        P = np.sort(clf.predict_proba(line.get_xydata()), axis=1)
        np.testing.assert_allclose(P[:, -1], P[:, -2], atol=0.02)
    assert ax.get_title() == "LogisticRegression (3 classes)"
    # each blob's centre is painted in its class's colour, strongly (the model is sure)
    rgba = ax.images[0].get_array()
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    palette = [s.get_facecolor()[0][:3] for s in _scatters(ax)]
    for c, center in enumerate(centers):
        col = int(round((center[0] - x0) / (x1 - x0) * (rgba.shape[1] - 1)))
        row = int(round((center[1] - y0) / (y1 - y0) * (rgba.shape[0] - 1)))
        np.testing.assert_allclose(rgba[row, col, :3], palette[c])
        assert rgba[row, col, 3] > 0.5
    assert 0.1 <= rgba[..., 3].min() and rgba[..., 3].max() <= 0.6 + 1e-12


def test_decision_boundary_multiclass_without_proba(three_blobs):
    X, y, _ = three_blobs
    clf = LogisticRegression().fit(X, y)
    ax = plot_decision_boundary(clf, X, y, proba=False, resolution=60)
    alpha = ax.images[0].get_array()[..., 3]
    assert np.all(alpha == alpha[0, 0])


def test_decision_boundary_uses_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = and_gate()
    df = pd.DataFrame(X, columns=["left", "right"])
    clf = LogisticRegression(C=10.0).fit(df, y)
    ax = plot_decision_boundary(clf, df, y)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("left", "right")


@pytest.mark.parametrize("shape", [(4, 3), (4, 1), (4,)])
def test_decision_boundary_needs_two_columns(shape):
    X, y = and_gate()
    clf = LogisticRegression(C=10.0).fit(X, y)
    with pytest.raises(ValueError, match=r"2 features: X must have shape \(n_samples, 2\)"):
        plot_decision_boundary(clf, np.ones(shape))


def test_decision_boundary_needs_a_model_of_two_features():
    rng = np.random.default_rng(0)
    X3 = rng.normal(size=(20, 3))
    clf = LogisticRegression().fit(X3, X3[:, 0] > 0)
    with pytest.raises(ValueError, match="fitted on 2 features; .* fitted on 3"):
        plot_decision_boundary(clf, X3[:, :2])


def test_decision_boundary_needs_a_fitted_classifier():
    X, y = and_gate()
    with pytest.raises(ValueError, match="not fitted"):
        plot_decision_boundary(LogisticRegression(), X, y)
    reg = LinearRegression().fit(X, y.astype(float))
    with pytest.raises(ValueError, match="classifier with predict_proba"):
        plot_decision_boundary(reg, X, y)
    Y = np.column_stack([y, 1 - y])
    multi = LogisticRegression().fit(X, Y)
    with pytest.raises(ValueError, match="multi-label"):
        plot_decision_boundary(multi, X)


def test_decision_boundary_rejects_unknown_labels():
    X, y = and_gate()
    clf = LogisticRegression(C=10.0).fit(X, y)
    with pytest.raises(ValueError, match=r"labels \[7\]"):
        plot_decision_boundary(clf, X, np.array([0, 0, 7, 1]))
    with pytest.raises(ValueError, match="4 samples but y has 3"):
        plot_decision_boundary(clf, X, y[:3])


# -- a real PNG ---------------------------------------------------------------------------

def test_render_png(tmp_path, three_blobs):
    X, y, _ = three_blobs
    clf = _sgd(learning_rate_init=0.1, batch_size=16, shuffle=True, random_state=0,
               max_iter=100).fit(X, y)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    plot_loss_curve(clf, ax=ax1)
    plot_decision_boundary(clf, X, y, ax=ax2)
    path = tmp_path / "plots.png"
    fig.savefig(path, dpi=80)
    assert path.stat().st_size > 10_000
    pixels = matplotlib.image.imread(path)
    assert pixels.shape[:2] == (320, 880)
    assert pixels[..., :3].std() > 0.1              # not a blank canvas
    colours = np.unique((pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 100                        # a shaded map, not a few flat areas


# -- matplotlib missing -------------------------------------------------------------------

def test_import_error_without_matplotlib():
    code = """
import sys
sys.modules["matplotlib"] = None           # make 'import matplotlib' fail
import numpy as np
import fastlr.plot as fp                    # importing the module needs no matplotlib
from fastlr import LogisticRegression
X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
clf = LogisticRegression().fit(X, [0, 0, 0, 1])
for call in (lambda: fp.plot_loss_curve(clf), lambda: fp.plot_decision_boundary(clf, X)):
    try:
        call()
    except ImportError as exc:
        print("ImportError:", exc)
"""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastlr.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    # cwd=tests/: a checkout's uncompiled fastlr/ must not shadow the installed package
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120, cwd=os.path.dirname(os.path.abspath(__file__)))
    assert proc.returncode == 0, proc.stderr
    message = "ImportError: fastlr.plot needs matplotlib: pip install matplotlib"
    assert proc.stdout.splitlines() == [message, message]
