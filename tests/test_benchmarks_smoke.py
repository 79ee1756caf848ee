"""Smoke test of benchmarks/bench_epoch.py: runs its main() in-process on a tiny problem
and checks the shape of the report. No timing assertions: timings on a shared machine
say nothing about correctness."""

import importlib.util
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "bench_epoch.py")

HAVE_TORCH = importlib.util.find_spec("torch") is not None


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load_bench():
    return _load(SCRIPT, "_fastlr_bench_epoch")


@pytest.fixture(scope="module")
def bench():
    if not os.path.exists(SCRIPT):
        pytest.skip("benchmarks/ not present (installed package, not a checkout)")
    return _load_bench()


def test_bench_epoch_tiny_run(bench, tmp_path, capsys):
    out = tmp_path / "bench.json"
    # Tiny and fast: 2000 x 10, one repeat, at most 4 timed batches per PyTorch epoch,
    # one torch thread (multi-threaded tiny steps are slow on a busy 2-core machine).
    result = bench.main(["--n", "2000", "--d", "10", "--repeats", "1", "--max-batches",
                         "4", "--torch-threads", "1", "--quiet", "--json", str(out)])
    printed = capsys.readouterr().out

    contenders = ["fastlr", "numpy"]
    if HAVE_TORCH:
        contenders += ["torch-dataloader", "torch-randperm"]
    expected = {(c, dt, s, bs) for c in contenders for dt in ("float64", "float32")
                for s in ("sgd", "adam") for bs in (32, 256, 4096)}
    rows = result["rows"]
    got = [(r["contender"], r["dtype"], r["solver"], r["batch_size"]) for r in rows]
    assert len(got) == len(set(got))
    assert set(got) == expected
    if not HAVE_TORCH:
        assert "torch not importable" in result["context"].get("skipped", "")

    for r in rows:
        assert r["epoch_s"] > 0
        assert r["epoch_over_stream"] > 0
        assert r["ratio_to_fastlr"] > 0
        if r["contender"] == "fastlr":
            assert r["ratio_to_fastlr"] == 1.0
            assert not r["extrapolated"]
    # batch 32 over 2000 rows is 63 batches > 2.5 * 4: the loops extrapolate, fastlr not.
    extrapolated = {(r["contender"], r["batch_size"]) for r in rows if r["extrapolated"]}
    assert extrapolated == {(c, 32) for c in contenders if c != "fastlr"}
    assert all("(extrapolated)" in r["note"] for r in rows if r["extrapolated"])

    # The printed report: context first, then one markdown table line per row.
    assert "fastlr OpenMP enabled" in printed
    assert printed.index("- cpu:") < printed.index("| contender |")
    table_lines = [ln for ln in printed.splitlines() if ln.startswith("| ")]
    assert len(table_lines) == 1 + len(expected)
    assert result["table"] in printed

    saved = json.loads(out.read_text())
    assert len(saved["rows"]) == len(rows)
    assert set(saved["stream"]) == {"float64", "float32"}


def test_data_generators_are_seeded_and_typed(bench):
    import numpy as np

    _data = bench._data

    X, y = _data.make_binary(500, 7, np.float32, seed=3)
    X2, y2 = _data.make_binary(500, 7, np.float32, seed=3)
    assert X.dtype == np.float32 and X.flags.c_contiguous and X.shape == (500, 7)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert set(np.unique(y)) == {0, 1}
    Xm, ym = _data.make_multiclass(600, 5, 4, np.float64, seed=1)
    assert Xm.dtype == np.float64 and Xm.shape == (600, 5)
    assert set(np.unique(ym)) <= set(range(4)) and len(np.unique(ym)) == 4


# ---------------------------------------------------------------------------------------
# bench_fullbatch.py and run.py (same rules: tiny problems, shapes of the report only).
# ---------------------------------------------------------------------------------------

FULLBATCH = os.path.join(ROOT, "benchmarks", "bench_fullbatch.py")
RUN = os.path.join(ROOT, "benchmarks", "run.py")
HAVE_SKLEARN = importlib.util.find_spec("sklearn") is not None
HAVE_MPL = importlib.util.find_spec("matplotlib") is not None


@pytest.fixture(scope="module")
def fullbatch():
    if not os.path.exists(FULLBATCH):
        pytest.skip("benchmarks/ not present (installed package, not a checkout)")
    return _load(FULLBATCH, "_fastlr_bench_fullbatch")


@pytest.fixture(scope="module")
def runner():
    if not os.path.exists(RUN):
        pytest.skip("benchmarks/ not present (installed package, not a checkout)")
    return _load(RUN, "_fastlr_bench_run")


def test_fullbatch_objective_at_zero(fullbatch):
    import numpy as np

    X, y = fullbatch._data.make_binary(300, 4, np.float32, seed=0)
    J = fullbatch.objective(X, y, np.zeros((1, 4)), np.zeros(1), 2)
    assert J == pytest.approx(300 * np.log(2.0), rel=1e-12)
    Xm, ym = fullbatch._data.make_multiclass(200, 3, 5, np.float64, seed=0)
    Jm = fullbatch.objective(Xm, ym, np.zeros((5, 3)), np.zeros(5), 5)
    assert Jm == pytest.approx(200 * np.log(5.0), rel=1e-12)


def test_bench_fullbatch_tiny_run(fullbatch, tmp_path, capsys):
    out = tmp_path / "fullbatch.json"
    result = fullbatch.main(["--quick", "--n-binary", "3000", "--n-multiclass", "300",
                             "--repeats", "1", "--settle-s", "0", "--multiclass-reference",
                             "fastlr", "--quiet", "--json", str(out)])
    printed = capsys.readouterr().out

    problems = {("binary 3,000 x 100", "float64"), ("binary 3,000 x 100", "float32"),
                ("10-class 300 x 784", "float32")}
    assert {(p["problem"], p["dtype"]) for p in result["problems"]} == problems
    rows = result["rows"]
    names = ["fastlr", "fastlr-1thread"]
    if HAVE_SKLEARN:
        names += ["sklearn-lbfgs", "sklearn-newton-cholesky"]
    else:
        assert "scikit-learn not importable" in result["context"]["skipped"]
    if importlib.util.find_spec("glum") is None:
        assert "glum not importable" in result["context"]["skipped"]
    got = {(r["contender"], r["problem"], r["dtype"]) for r in rows}
    assert {(c, p, dt) for c in names for p, dt in problems} <= got
    assert len(got) == len(rows)
    for r in rows:
        if r.get("skipped"):
            assert r["contender"] == "sklearn-newton-cholesky" and "10-class" in r["problem"]
            continue
        assert r["fit_s"] > 0 and r["ratio_to_fastlr"] > 0 and r["n_iter"] >= 1
        if r["tol"] is None:
            # scikit-learn's lbfgs on float32 X can stall short of J* (1 + 1e-6) (its
            # float32 loss); the row says so instead of a tol
            assert r["contender"].startswith("sklearn") and r["dtype"] == "float32"
            assert "NOT REACHED" in r["note"]
            continue
        assert r["gap"] <= fullbatch.GAP
        if r["contender"].startswith("fastlr"):
            assert r["n_fev"] >= r["n_iter"]
        if r["contender"] == "fastlr":
            assert r["ratio_to_fastlr"] == 1.0
    assert all(r["tol"] is not None for r in rows if r["contender"].startswith("fastlr"))
    assert len(result["bounds"]) == 3
    assert all(b["pass_s"] > 0 and "fastlr bounds" in b["text"] for b in result["bounds"])

    assert printed.index("- cpu:") < printed.index("| contender |")
    assert "fastlr simd_level()" in printed and "reference (" in printed
    assert result["table"] in printed
    saved = json.loads(out.read_text())
    assert len(saved["rows"]) == len(rows)
    assert all("_params" not in s for r in saved["rows"] for s in r.get("steps", []))


def test_run_tiny_limits_epoch_predict(runner, tmp_path, capsys):
    out, png = tmp_path / "run.json", tmp_path / "epoch.png"
    result = runner.main(["--quick", "--shapes", "binary-float32,10-class-float32",
                          "--n-binary", "1500", "--n-multiclass", "300", "--repeats", "1",
                          "--max-batches", "3", "--batch-sizes", "32,256",
                          "--torch-threads", "1", "--sections", "limits,epoch,predict",
                          "--matmul-n", "64", "--settle-s", "0", "--quiet",
                          "--json", str(out), "--plot", str(png)])
    printed = capsys.readouterr().out

    lim = result["limits"]
    assert lim["read_GBps_1thread"] > 0 and lim["GFLOPs_float32_all"] > 0

    rows = result["epoch"]["rows"]
    contenders = ["fastlr", "fastlr-1thread", "numpy"]
    if HAVE_TORCH:
        contenders += ["torch-dataloader", "torch-randperm"]
    if HAVE_SKLEARN:
        contenders += ["sklearn-mlp"]
    expected = {(c, p, s, b) for c in contenders
                for p in ("binary 1,500 x 100", "10-class 300 x 784")
                for s in ("sgd", "adam") for b in (32, 256)}
    if HAVE_SKLEARN:   # per-sample SGD: one row per shape, batch 1, solver sgd
        expected |= {("sklearn-sgdclassifier", p, "sgd", 1)
                     for p in ("binary 1,500 x 100", "10-class 300 x 784")}
    got = [(r["contender"], r["problem"], r["solver"], r["batch_size"]) for r in rows]
    assert len(got) == len(set(got)) and set(got) == expected
    for r in rows:
        assert r["epoch_s"] > 0 and r["ratio_to_fastlr"] > 0 and r["epoch_over_stream"] > 0
        if r["contender"] == "fastlr":
            assert r["ratio_to_fastlr"] == 1.0

    pred = result["predict"]["rows"]
    want = {"fastlr", "fastlr-1thread"} | ({"sklearn"} if HAVE_SKLEARN else set()) | (
        {"torch-forward"} if HAVE_TORCH else set())
    for p in ("binary 1,500 x 100", "10-class 300 x 784"):
        assert {r["contender"] for r in pred if r["problem"] == p} == want
    assert all(r["rows_per_s"] > 0 for r in pred)

    cases = [t["target"] for t in result["targets"]]
    assert any("stream-X" in c for c in cases)
    if HAVE_TORCH:
        assert any("PyTorch loop" in c for c in cases)
    assert printed.index("- cpu:") < printed.index("## Machine limits")
    for key in ("limits", "epoch", "predict", "targets"):
        assert result["tables"][key] in printed
    if HAVE_MPL:
        assert png.exists() and png.stat().st_size > 0
    saved = json.loads(out.read_text())
    assert len(saved["epoch"]["rows"]) == len(rows)


def test_run_tiny_fullbatch_and_memory(runner, tmp_path, capsys):
    out = tmp_path / "run.json"
    result = runner.main(["--shapes", "binary-float64", "--n-binary", "3000", "--repeats",
                          "1", "--sections", "fullbatch,memory", "--fullbatch-args",
                          "--contenders fastlr", "--memory-contenders",
                          "fastlr-lbfgs,numpy-adam", "--settle-s", "0", "--quiet",
                          "--json", str(out), "--no-plot"])
    printed = capsys.readouterr().out

    fb = result["fullbatch"]["rows"]
    assert [(r["contender"], r["problem"], r["dtype"]) for r in fb] == [
        ("fastlr", "binary 3,000 x 100", "float64")]
    mem = result["memory"]["rows"]
    assert [r["contender"] for r in mem] == ["fastlr-lbfgs", "numpy-adam"]
    for r in mem:
        assert "extra_MB" in r, r.get("note")
        assert r["X_bytes"] == 3000 * 100 * 8 and r["fit_s"] > 0
    assert "VmHWM" in result["memory"]["method"]
    assert any(t["target"].startswith("peak memory") for t in result["targets"])
    assert result["tables"]["memory"] in printed and result["tables"]["fullbatch"] in printed
