"""Faults during training: Ctrl-C, threads, divergence leave estimators consistent."""

import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import fastlr
from fastlr import LinearRegression, LogisticRegression
from fastlr._solvers import DivergenceError

CHILD = textwrap.dedent(r"""
    import signal, sys, time, threading
    import numpy as np
    from fastlr import LogisticRegression

    solver = sys.argv[1]
    # a shell's background job ('pytest &' in a script) starts with SIGINT ignored, and
    # Python then keeps it ignored: install the handler a terminal session would have
    signal.signal(signal.SIGINT, signal.default_int_handler)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200_000, 50))
    y = (X[:, 0] > 0).astype(int)
    clf = LogisticRegression(solver="adam", max_iter=2, random_state=0).fit(X[:500], y[:500])
    before = clf.coef_.copy()
    params = dict(max_iter=10_000, tol=None, random_state=0)
    if solver != "lbfgs":
        params.update(batch_size=64)
    else:
        # columns scaled 1e-3 .. 1e3: ill-conditioned enough that L-BFGS runs its 10,000
        # iterations (~20 s) whatever the last bits of its dot products; on the unscaled
        # problem it can stop at rounding level ("no progress") well within the second
        X = X * np.logspace(-3, 3, X.shape[1])
    clf.set_params(solver=solver, **params)
    # deliver SIGINT to ourselves 1 s into the fit, from another thread
    t_sig = []
    def interrupt():
        time.sleep(1.0)
        t_sig.append(time.perf_counter())
        signal.raise_signal(signal.SIGINT)
    threading.Thread(target=interrupt, daemon=True).start()
    t_fit = time.perf_counter()
    try:
        clf.fit(X, y)
        print(f"NOT INTERRUPTED: the fit returned after {time.perf_counter() - t_fit:.2f} s "
              f"and {clf.n_iter_} iterations; signal raised: {bool(t_sig)}")
        sys.exit(3)
    except KeyboardInterrupt:
        delay = time.perf_counter() - t_sig[0]
    unchanged = clf.coef_.shape == before.shape and np.array_equal(clf.coef_, before)
    print(f"delay={delay:.3f} unchanged={unchanged} solver={clf.solver}")
""")


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_ctrl_c_interrupts_quickly_and_keeps_previous_fit(tmp_path, solver):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    # the child imports the same fastlr as this process, however it was installed
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastlr.__file__)))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, str(script), solver], capture_output=True,
                          text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fields = dict(kv.split("=") for kv in proc.stdout.split())
    # "within about a second": the loop hands the GIL back every ~0.1 s of work; the
    # bound leaves room for a loaded 2-core machine.
    assert float(fields["delay"]) < 2.0, proc.stdout
    assert fields["unchanged"] == "True", proc.stdout


def _data(seed, n=3000, d=20):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = (X @ rng.standard_normal(d) + rng.standard_normal(n) > 0).astype(int)
    return X, y


@pytest.mark.parametrize("solver", ["lbfgs", "adam", "sgd"])
def test_parallel_threads_give_sequential_results(solver):
    """The solvers release the GIL; estimators fitted concurrently in threads get
    exactly the coefficients they get one after another."""
    datasets = [_data(seed) for seed in range(4)]
    params = dict(solver=solver, max_iter=15, tol=None, random_state=1, n_threads=1,
                  batch_size=32, learning_rate_init=0.01)
    sequential = [LogisticRegression(**params).fit(X, y).coef_ for X, y in datasets]
    results = [None] * len(datasets)
    errors = []

    def work(i):
        try:
            X, y = datasets[i]
            results[i] = LogisticRegression(**params).fit(X, y).coef_
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(datasets))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for seq, par in zip(sequential, results, strict=True):
        np.testing.assert_array_equal(seq, par)


def test_same_estimator_refit_in_threads_is_consistent():
    """Two threads refitting different clones of one configuration never see each
    other's state (no module-level buffers)."""
    X, y = _data(7)
    ref = LinearRegression(solver="adam", max_iter=5, tol=None, random_state=0,
                           learning_rate_init=0.01).fit(X, y.astype(float))
    out = []
    threads = [threading.Thread(target=lambda: out.append(
        LinearRegression(solver="adam", max_iter=5, tol=None, random_state=0,
                         learning_rate_init=0.01).fit(X, y.astype(float)).coef_))
        for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in out:
        np.testing.assert_array_equal(c, ref.coef_)


@pytest.mark.parametrize("est", [
    LinearRegression(solver="sgd", learning_rate_init=10.0, max_iter=50, tol=None),
    LinearRegression(solver="adam", learning_rate_init=1e300, max_iter=5, tol=None,
                     beta_1=0.0),
])
def test_divergence_names_the_parameter_and_keeps_previous_state(est):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 5)) * 100
    y = X @ rng.standard_normal(5)
    good = LinearRegression(max_iter=50).fit(X, y)
    lr = est.learning_rate_init
    est.set_params(learning_rate_init=0.001, max_iter=3).fit(X, y)
    before = est.coef_.copy()
    with pytest.raises(DivergenceError, match="learning_rate_init"):
        est.set_params(learning_rate_init=lr, max_iter=50).fit(X, y)
    np.testing.assert_array_equal(est.coef_, before)
    assert np.all(np.isfinite(good.coef_))


class _FakeTTY:
    def __init__(self):
        self.parts = []

    def isatty(self):
        return True

    def write(self, s):
        self.parts.append(s)

    def flush(self):
        pass


def test_progress_line_updates_in_place_on_a_terminal():
    from fastlr._solvers import _Progress

    tty = _FakeTTY()
    p = _Progress(1, max_iter=2, n_batches=10, stream=tty)
    p.MIN_INTERVAL = 0.0
    p.update(1, 5, 0.5)
    p.update(1, 10, 0.4)
    p.line("Epoch 1/2, loss = 0.4")
    text = "".join(tty.parts)
    assert text.startswith("\rEpoch 1/2 | batch 5/10 | loss 0.500000")
    assert "s left" in text and text.endswith("Epoch 1/2, loss = 0.4\n")
    # not a terminal: only the per-epoch lines
    plain = _FakeTTY()
    plain.isatty = lambda: False
    q = _Progress(1, max_iter=2, n_batches=10, stream=plain)
    q.update(1, 5, 0.5)
    q.line("Epoch 1/2, loss = 0.4")
    assert "".join(plain.parts) == "Epoch 1/2, loss = 0.4\n"
