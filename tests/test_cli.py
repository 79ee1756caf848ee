"""The command line: ``python -m fastlr [demo | fit | predict]`` (fastlr/_cli.py).

Runs in-process through ``main(argv)`` with small CSV files written to tmp_path, plus one
subprocess run of ``python -m fastlr --help``."""

import csv
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import fastlr
from fastlr import LinearRegression, LogisticRegression, _cli
from fastlr._datasets import load_breast_cancer, quiz_scores, softmax_toy

main = _cli.main
FAST = ["--n-threads", "1"]   # tiny problems: one thread avoids the parallel overhead


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


def read_output(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


@pytest.fixture(scope="module")
def cancer(tmp_path_factory):
    """Breast cancer with an id column, a text column and string labels."""
    X, y, names = load_breast_cancer()
    header = ["id", *names, "site", "diagnosis"]
    rows = [[i, *map(repr, map(float, x)), "clinic" + str(i % 3),
             "malignant" if t else "benign"] for i, (x, t) in enumerate(zip(X, y, strict=True))]
    path = write_csv(tmp_path_factory.mktemp("data") / "cancer.csv", header, rows)
    return path, X, np.where(y == 1, "malignant", "benign"), names


@pytest.fixture(scope="module")
def quiz(tmp_path_factory):
    X, y = quiz_scores()
    rows = [[*map(repr, x.tolist()), repr(float(t[0]))] for x, t in zip(X, y, strict=True)]
    path = write_csv(tmp_path_factory.mktemp("data") / "quiz.csv",
                     ["quiz1", "quiz2", "quiz3", "final"], rows)
    return path, X, y[:, 0]


def run(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def load(path):
    with open(path, "rb") as f:
        return pickle.load(f)


# -- fit + predict -----------------------------------------------------------------------
def test_logistic_fit_predict_roundtrip(cancer, tmp_path, capsys):
    path, X, y, names = cancer
    model_file = str(tmp_path / "cancer.pkl")
    code, out, err = run(capsys, ["fit", path, "--target", "diagnosis", "--exclude", "id",
                                  "--standardize", "--test-size", "0.25",
                                  "--output", model_file, *FAST])
    assert code == 0, err
    assert "note: skipping non-numeric column(s): site" in err
    assert "2 classes: benign (357), malignant (212)" in out
    assert "427 train / 142 test rows (stratified, seed 0)" in out
    for line in ("accuracy", "log-loss", "iterations in", f"saved model to {model_file}"):
        assert line in out
    acc_train, acc_test = map(float, next(
        ln for ln in out.splitlines() if ln.strip().startswith("accuracy")).split()[1:])
    assert acc_train > 0.97 and acc_test > 0.93

    bundle = load(model_file)
    assert bundle["features"] == names and bundle["target"] == "diagnosis"
    assert bundle["model_type"] == "logistic" and bundle["fastlr_version"] == fastlr.__version__
    model = bundle["model"]
    assert isinstance(model, LogisticRegression) and model.solver == "lbfgs"
    assert list(model.classes_) == ["benign", "malignant"]
    # the scaler holds the statistics of the training rows of the seeded stratified split
    train, test = _cli.train_test_split(y, 0.25, 0, stratify=True)
    assert len(train) == 427 and len(np.intersect1d(train, test)) == 0
    np.testing.assert_allclose(bundle["mean"], X[train].mean(axis=0))
    np.testing.assert_allclose(bundle["scale"], X[train].std(axis=0))

    preds = str(tmp_path / "preds.csv")
    code, out, err = run(capsys, ["predict", model_file, path, "--proba", "-o", preds])
    assert code == 0, err
    assert "wrote 569 predictions" in err and out == ""
    header, rows = read_output(preds)
    assert header == ["prediction", "proba_benign", "proba_malignant"]
    Xs = (X - bundle["mean"]) / bundle["scale"]
    assert [r[0] for r in rows] == model.predict(Xs).tolist()
    proba = np.array([[float(v) for v in r[1:]] for r in rows])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(proba, model.predict_proba(Xs))
    assert np.mean(np.array([r[0] for r in rows]) == y) > 0.95


def test_predict_to_stdout_reordered_columns(cancer, tmp_path, capsys):
    path, X, y, names = cancer
    model_file = str(tmp_path / "m.pkl")
    feats = ["worst_area", "mean_radius", "worst_concave_points"]
    code, out, err = run(capsys, ["fit", path, "-t", "diagnosis", "--features", ",".join(feats),
                                  "--solver", "adam", "--learning-rate", "0.05",
                                  "--batch-size", "64", "--max-iter", "30", "--tol", "none",
                                  "-s", "--test-size", "0", "-o", model_file, *FAST])
    assert code == 0, err
    assert "30 epochs in" in out and "569 train / 0 test rows" in out and "site" not in err
    # a file holding only the needed columns, in another order, plus an extra one
    cols = [names.index(f) for f in feats]
    sub = write_csv(tmp_path / "new.csv", ["extra", *reversed(feats)],
                    [["x", *map(repr, map(float, X[i, cols[::-1]]))] for i in range(10)])
    code, out, err = run(capsys, ["predict", model_file, sub])
    assert code == 0, err
    lines = out.splitlines()
    bundle = load(model_file)
    expected = bundle["model"].predict((X[:10, cols] - bundle["mean"]) / bundle["scale"])
    assert lines == ["prediction", *expected.tolist()]


def test_linear_fit_predict_roundtrip(quiz, tmp_path, capsys):
    path, X, y = quiz
    model_file = str(tmp_path / "quiz.pkl")
    code, out, err = run(capsys, ["fit", path, "--target", "final", "--model", "linear",
                                  "--test-size", "0", "--tol", "1e-10", "--max-iter", "500",
                                  "-o", model_file, *FAST])
    assert code == 0, err
    for metric in ("R^2", "MSE", "RMSE", "MAE"):
        assert any(ln.split()[:1] == [metric] for ln in out.splitlines()), metric
    r2 = float(next(ln for ln in out.splitlines() if ln.split()[:1] == ["R^2"]).split()[1])
    ref = LinearRegression(tol=1e-10, max_iter=500).fit(X, y)
    assert r2 == pytest.approx(ref.score(X, y), abs=1e-4)
    bundle = load(model_file)
    assert bundle["model_type"] == "linear" and bundle["mean"] is None
    assert isinstance(bundle["model"], LinearRegression)

    preds = str(tmp_path / "p.csv")
    assert main(["predict", model_file, path, "--output", preds]) == 0
    header, rows = read_output(preds)
    assert header == ["prediction"]
    np.testing.assert_array_equal([float(r[0]) for r in rows], bundle["model"].predict(X))
    np.testing.assert_allclose([float(r[0]) for r in rows], ref.predict(X), rtol=1e-6)


def test_linear_split_standardized_metrics(cancer, tmp_path, capsys):
    """Regression on a bigger file: a random (unstratified) split, both columns printed."""
    path, X, y, names = cancer
    code, out, err = run(capsys, ["fit", path, "-t", "mean_area", "-m", "linear", "-x", "id",
                                  "--features", "mean_radius,mean_perimeter", "-s",
                                  "--alpha", "0.01", "-o", str(tmp_path / "r.pkl"), *FAST])
    assert code == 0, err
    assert "(random, seed 0)" in out and "alpha=0.01" in out
    r2_line = next(ln for ln in out.splitlines() if ln.split()[:1] == ["R^2"]).split()
    assert len(r2_line) == 3 and float(r2_line[1]) > 0.95 and float(r2_line[2]) > 0.95


def test_multiclass_integer_labels_proba(tmp_path, capsys):
    X, y = softmax_toy()
    path = write_csv(tmp_path / "toy.csv", ["a", "b", "c", "d", "label"],
                     [[*map(repr, x.tolist()), int(t)] for x, t in zip(X, y, strict=True)])
    model_file = str(tmp_path / "toy.pkl")
    code, out, err = run(capsys, ["fit", path, "-t", "label", "--test-size", "0", "--C", "inf",
                                  "-o", model_file, *FAST])
    assert code == 0, err
    bundle = load(model_file)
    assert bundle["model"].classes_.tolist() == [0, 1, 2]
    code, out, err = run(capsys, ["predict", model_file, path, "-p"])
    assert code == 0, err
    rows = list(csv.reader(out.splitlines()))
    assert rows[0] == ["prediction", "proba_0", "proba_1", "proba_2"]
    proba = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert [int(r[0]) for r in rows[1:]] == bundle["model"].predict(X).tolist()
    assert [int(r[0]) for r in rows[1:]] == np.argmax(proba, axis=1).tolist()


def test_default_threads_and_parameters_reach_the_model(quiz, tmp_path, capsys):
    path, X, y = quiz
    model_file = str(tmp_path / "q.pkl")
    code, out, err = run(capsys, ["fit", path, "-t", "final", "-m", "linear", "--solver", "sgd",
                                  "-s", "--alpha", "0.5", "--l1-ratio", "0.25",
                                  "--batch-size", "2", "--learning-rate", "0.01",
                                  "--max-iter", "7", "--tol", "none", "--random-state", "3",
                                  "--no-intercept", "--test-size", "0", "-o", model_file])
    assert code == 0, err
    m = load(model_file)["model"]
    assert (m.solver, m.alpha, m.l1_ratio, m.batch_size, m.learning_rate_init, m.max_iter,
            m.tol, m.random_state, m.fit_intercept, m.n_threads, m.n_iter_) == (
        "sgd", 0.5, 0.25, 2, 0.01, 7, None, 3, False, None, 7)


# -- errors ------------------------------------------------------------------------------
def _error(capsys, argv, *needles):
    code, out, err = run(capsys, argv)
    assert code == 2, (out, err)
    assert "Traceback" not in err
    assert err.startswith("error: ") or ": error: " in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


@pytest.fixture()
def model_file(quiz, tmp_path):
    path = str(tmp_path / "quiz.pkl")
    assert main(["fit", quiz[0], "-t", "final", "-m", "linear", "--test-size", "0",
                 "-o", path, *FAST]) == 0
    return path


def test_file_errors(tmp_path, capsys):
    missing = str(tmp_path / "nope.csv")
    _error(capsys, ["fit", missing, "-t", "y"], "no such file", "nope.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    _error(capsys, ["fit", str(empty), "-t", "y"], "empty.csv is empty")
    blank = tmp_path / "blank.csv"
    blank.write_text("\n  \n")
    _error(capsys, ["fit", str(blank), "-t", "y"], "is empty")
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,b,y\n")
    _error(capsys, ["fit", str(header_only), "-t", "y"], "no data rows")
    no_header = tmp_path / "noheader.csv"
    no_header.write_text("1,2,0\n3,4,1\n")
    _error(capsys, ["fit", str(no_header), "-t", "y"], "no header row")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b,y\n1,2,0\n3,1\n")
    _error(capsys, ["fit", str(ragged), "-t", "y"], "line 3", "2 fields", "3 columns")
    dup = tmp_path / "dup.csv"
    dup.write_text("a,a,y\n1,2,0\n")
    _error(capsys, ["fit", str(dup), "-t", "y"], "duplicate column names", "'a'")
    semi = tmp_path / "semi.csv"
    semi.write_text("a;b;y\n1;2;0\n3;4;1\n")
    _error(capsys, ["fit", str(semi), "-t", "y"], "--delimiter ';'")
    assert main(["fit", str(semi), "-t", "y", "-d", ";", "--test-size", "0",
                 "-o", str(tmp_path / "s.pkl"), *FAST]) == 0
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"a,y\n\xff\xfe,1\n")
    _error(capsys, ["fit", str(binary), "-t", "y"], "not a UTF-8 text file")
    _error(capsys, ["fit", str(tmp_path), "-t", "y"], "is a directory")
    capsys.readouterr()


def test_column_errors(quiz, cancer, tmp_path, capsys):
    path = quiz[0]
    err = _error(capsys, ["fit", path, "-t", "finall"], "target column 'finall'",
                 "did you mean 'final'", "available columns: quiz1, quiz2, quiz3, final")
    _error(capsys, ["fit", path, "-t", "final", "--features", "quiz1,quiz9"],
           "feature column 'quiz9'", "available columns")
    _error(capsys, ["fit", path, "-t", "final", "--exclude", "zzz"], "'zzz'")
    _error(capsys, ["fit", path, "-t", "final", "--features", "quiz1,final"],
           "also listed in --features")
    _error(capsys, ["fit", path, "-t", "final", "--features", "quiz1,quiz1"],
           "more than once")
    only_text = write_csv(tmp_path / "text.csv", ["name", "y"], [["a", 0], ["b", 1]])
    _error(capsys, ["fit", only_text, "-t", "y"], "no numeric feature columns")
    assert err.count("\n") == 1


def test_value_errors(tmp_path, capsys):
    header = ["a", "b", "y"]
    good = [["1.0", "2.0", "0"], ["2.0", "1.5", "1"], ["0.5", "3.0", "0"], ["3.0", "0.5", "1"]]

    def with_cell(row, col, value, name):
        rows = [list(r) for r in good]
        rows[row][col] = value
        return write_csv(tmp_path / name, header, rows)

    bad = with_cell(2, 1, "abc", "text.csv")   # a numeric column with one text cell
    _error(capsys, ["fit", bad, "-t", "y"], "line 4", "column 'b'", "non-numeric", "'abc'")
    _error(capsys, ["fit", bad, "-t", "y", "--features", "a,b"], "line 4", "column 'b'")
    for i, token in enumerate(["", "NA", "nan", "NaN", "?"]):
        path = with_cell(1, 0, token, f"missing{i}.csv")
        _error(capsys, ["fit", path, "-t", "y"], "line 3", "missing value", "column 'a'")
    inf = with_cell(0, 0, "inf", "inf.csv")
    _error(capsys, ["fit", inf, "-t", "y"], "line 2", "column 'a'", "non-finite")
    no_label = with_cell(3, 2, "", "nolabel.csv")
    _error(capsys, ["fit", no_label, "-t", "y"], "line 5", "missing value", "target")
    one_class = write_csv(tmp_path / "one.csv", header, [r[:2] + ["yes"] for r in good])
    _error(capsys, ["fit", one_class, "-t", "y"], "only one class", "'yes'")
    text_target = write_csv(tmp_path / "tt.csv", header, [r[:2] + ["x" + r[2]] for r in good])
    _error(capsys, ["fit", text_target, "-t", "y", "-m", "linear"], "line 2", "non-numeric",
           "--model linear needs a numeric target")
    continuous = write_csv(tmp_path / "cont.csv", header,
                           [[str(i), str(i % 3), str(i * 0.37)] for i in range(40)])
    _error(capsys, ["fit", continuous, "-t", "y"], "continuous", "--model linear")


def test_option_errors(quiz, tmp_path, capsys):
    path = quiz[0]
    _error(capsys, ["fit", path, "-t", "final", "-m", "linear", "--C", "2"],
           "--C applies to --model logistic only")
    _error(capsys, ["fit", path, "-t", "final", "--alpha", "1"],
           "--alpha applies to --model linear only")
    _error(capsys, ["fit", path, "-t", "final", "--tol", "abc"], "--tol", "'abc'")
    _error(capsys, ["fit", path, "-t", "final", "--C", "-1"], "--C")
    _error(capsys, ["fit", path, "-t", "final", "--l1-ratio", "2"], "--l1-ratio")
    _error(capsys, ["fit", path, "-t", "final", "--test-size", "1"], "--test-size")
    _error(capsys, ["fit", path, "-t", "final", "--solver", "newton"], "--solver")
    _error(capsys, ["fit", path], "--target")
    _error(capsys, ["frobnicate"], "invalid choice")
    _error(capsys, ["fit", path, "-t", "final", "-m", "linear",
                    "-o", str(tmp_path / "no" / "dir" / "m.pkl"), *FAST],
           "cannot write the model", "m.pkl")


def test_predict_errors(model_file, quiz, tmp_path, capsys):
    path = quiz[0]
    _error(capsys, ["predict", str(tmp_path / "none.pkl"), path], "no such model file")
    text = tmp_path / "text.pkl"
    text.write_text("quiz1,quiz2\n1,2\n")
    _error(capsys, ["predict", str(text), path], "not a fastlr model file")
    other = tmp_path / "other.pkl"
    other.write_bytes(pickle.dumps({"model": LinearRegression()}))
    _error(capsys, ["predict", str(other), path], "not a fastlr model file")
    truncated = tmp_path / "trunc.pkl"
    truncated.write_bytes(open(model_file, "rb").read()[:50])
    _error(capsys, ["predict", str(truncated), path], "not a fastlr model file")
    _error(capsys, ["predict", model_file, path, "--proba"], "--proba needs a classifier")
    partial = write_csv(tmp_path / "partial.csv", ["quiz2", "other"], [["1", "2"]])
    _error(capsys, ["predict", model_file, partial], "lacks the feature column(s)",
           "quiz1, quiz3", "available columns: quiz2, other")
    bad = write_csv(tmp_path / "bad.csv", ["quiz1", "quiz2", "quiz3"],
                    [["1", "2", "3"], ["1", "", "3"]])
    _error(capsys, ["predict", model_file, bad], "line 3", "missing value", "'quiz2'")
    _error(capsys, ["predict", model_file, str(tmp_path / "nope.csv")], "no such file")
    _error(capsys, ["predict", model_file, path, "-o", str(tmp_path / "x" / "p.csv")],
           "cannot write")


# -- help, demo --------------------------------------------------------------------------
def test_help(capsys):
    code, out, _ = run(capsys, ["--help"])
    assert code == 0
    for text in ("fit", "predict", "demo", "examples:", "--help", "python -m fastlr"):
        assert text in out
    code, out, _ = run(capsys, ["fit", "--help"])
    assert code == 0
    for option in ("--target", "--model", "--solver", "--C", "--alpha", "--l1-ratio",
                   "--max-iter", "--tol", "--batch-size", "--learning-rate",
                   "--random-state", "--test-size", "--features", "--exclude",
                   "--standardize", "--output", "--verbose", "--delimiter", "examples:",
                   "missing value"):
        assert option in out, option
    code, out, _ = run(capsys, ["predict", "--help"])
    assert code == 0
    for option in ("MODEL", "--output", "--proba", "proba_<class>", "stdout", "examples:"):
        assert option in out, option
    code, out, _ = run(capsys, ["--version"])
    assert code == 0 and fastlr.__version__ in out


def test_no_command_runs_the_demo(capsys):
    calls = []
    assert main([], demo=lambda: calls.append(1)) == 0
    assert main(["demo"], demo=lambda: calls.append(2)) == 0
    assert calls == [1, 2]
    from fastlr.__main__ import demo
    from fastlr.__main__ import main as module_main
    assert callable(demo)
    assert module_main([]) == 0
    out = capsys.readouterr().out
    assert "1. Hours studied" in out and "3. Breast cancer" in out and "Total time" in out


def test_python_m_fastlr_help_subprocess():
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastlr.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [root, *filter(None, [os.environ.get("PYTHONPATH")])]))
    # cwd=tests/: a checkout's uncompiled fastlr/ must not shadow the installed package
    res = subprocess.run([sys.executable, "-m", "fastlr", "--help"], capture_output=True,
                         text=True, env=env, timeout=120,
                         cwd=os.path.dirname(os.path.abspath(__file__)))
    assert res.returncode == 0, res.stderr
    assert "fit" in res.stdout and "predict" in res.stdout and "usage:" in res.stdout
