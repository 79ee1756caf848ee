#!/usr/bin/env python
"""Time to reach scikit-learn's optimum: fastlr ``LogisticRegression(solver='lbfgs')``
against scikit-learn's ``LogisticRegression`` (lbfgs, newton-cholesky) and, when
installed, glum, on seeded synthetic problems.

Usage::

    python benchmarks/bench_fullbatch.py              # 1,000,000 x 100 binary (float64,
                                                      # float32), 200,000 x 784 10-class
    python benchmarks/bench_fullbatch.py --quick      # 100,000 x 100, 20,000 x 784: < 2 min
    python benchmarks/bench_fullbatch.py --json fullbatch.json

Method (see benchmarks/README.md):

* The objective is scikit-learn's, ``J(W, b) = C sum_i l(y_i, W x_i + b) + 1/2 ||W||^2``
  with C = 1, evaluated by this script in NumPy in float64 (X converted in row chunks)
  from every contender's fitted ``coef_`` / ``intercept_``.
* The reference optimum J* is computed once per problem by tight solves on X in float64
  (a float32 X is read exactly): binary, scikit-learn newton-cholesky at tol=1e-10;
  10-class (newton-cholesky's Hessian has (784 * 10)^2 entries), the lower J of
  scikit-learn lbfgs and fastlr lbfgs, both at tol=1e-10 (``--multiclass-reference``).
* Each contender is fitted from scratch with tol = 1e-3, 1e-4, ... until its objective
  satisfies J <= J* (1 + 1e-6); that tol's fit is repeated (interleaved over contenders)
  and the median of its fit times is the row's time. The search fit is the first repeat.
* The fastlr "bounds" lines split fastlr's fit time into passes over X (calls of the
  fused ``fastlr._loss.loss_gradient`` x the seconds of one call) and the rest, and
  compare one pass with the time of streaming X once and with what BLAS takes for the
  same products.
"""

import argparse
import contextlib
import gc
import json
import math
import os
import platform
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _p in (HERE, ROOT):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import _data  # noqa: E402
import bench_epoch as _be  # noqa: E402  (context helpers: cpu_model, git_state, ...)
import numpy as np  # noqa: E402

C = 1.0
GAP = 1e-6                      # relative objective gap that counts as "reached"
TOLS = tuple(10.0 ** -e for e in range(3, 11))          # 1e-3 ... 1e-10
REF_TOL = 1e-10
DEFAULT_REPEATS, QUICK_REPEATS = 3, 3
NOISY_SPREAD = 2.0
# Pause before every timed fit: OpenBLAS's worker threads spin for 50-100 ms after each
# BLAS call (scikit-learn's fits, the objective's matrix products), and a fastlr fit
# started inside that window lost a core to them (1M x 100 float32: 0.23 s instead of
# 0.18 s; a two-thread pass over 300,000 x 100 float32: 24 ms after up to 50 ms of pause,
# 16 ms after 100 ms).
SETTLE_S = 0.15
CHUNK_ROWS = 1 << 15            # rows per float64 chunk of the objective

# name, kind, n, d, k, dtype
FULL_PROBLEMS = (
    ("binary", 1_000_000, 100, 2, "float64"),
    ("binary", 1_000_000, 100, 2, "float32"),
    ("10-class", 200_000, 784, 10, "float32"),
)
QUICK_PROBLEMS = (
    ("binary", 100_000, 100, 2, "float64"),
    ("binary", 100_000, 100, 2, "float32"),
    ("10-class", 20_000, 784, 10, "float32"),
)

_median = _be._median


def _problem_label(p):
    kind, n, d, k, dtype = p
    return f"{kind} {n:,} x {d}"


def make_problem(p, seed=0):
    kind, n, d, k, dtype = p
    if k == 2:
        return _data.make_binary(n, d, dtype, seed)
    return _data.make_multiclass(n, d, k, dtype, seed)


# ---------------------------------------------------------------------------------------
# The objective, in float64.
# ---------------------------------------------------------------------------------------

def objective(X, y, coef, intercept, k, C=C):
    """``C * sum_i l_i + 1/2 ||W||^2`` in float64 for ``coef`` (1, d) (binary, class 1
    positive) or (k, d) (multinomial), X converted to float64 in row chunks."""
    W = np.asarray(coef, dtype=np.float64).reshape(-1, X.shape[1])
    b = np.asarray(intercept, dtype=np.float64).reshape(-1)
    total = 0.0
    for s in range(0, X.shape[0], CHUNK_ROWS):
        Xc = np.asarray(X[s:s + CHUNK_ROWS], dtype=np.float64)
        yc = y[s:s + CHUNK_ROWS]
        Z = Xc @ W.T
        Z += b
        if k == 2:
            z = Z[:, 0]
            total += float(np.sum(np.logaddexp(0.0, z) - yc * z))
        else:
            m = Z.max(axis=1)
            lse = m + np.log(np.exp(Z - m[:, None]).sum(axis=1))
            total += float(np.sum(lse - Z[np.arange(len(yc)), yc]))
    return C * total + 0.5 * float(np.dot(W.ravel(), W.ravel()))


# ---------------------------------------------------------------------------------------
# Contenders: one adapter each.
# ---------------------------------------------------------------------------------------

@contextlib.contextmanager
def _counting(owner, attr, counter):
    """Count calls of ``owner.attr`` (a function or method) while the block runs."""
    orig = getattr(owner, attr)

    def wrapped(*a, **kw):
        counter[0] += 1
        return orig(*a, **kw)

    setattr(owner, attr, wrapped)
    try:
        yield
    finally:
        setattr(owner, attr, orig)


class FullBatchContender:
    """One way of fitting the penalised model. ``fit(X, y, tol)`` returns a dict with
    ``coef`` (k', d), ``intercept``, ``n_iter``, ``n_fev`` (objective + gradient
    evaluations, None when not counted), ``fit_s`` and ``computes_in`` (the dtype of the
    fitted coefficients)."""

    name = None

    def unavailable(self):
        return None

    def skip_reason(self, problem):
        """None when the contender runs on this problem, else a note."""
        return None

    def context(self):
        return {}

    def fit(self, X, y, tol):
        raise NotImplementedError


class FastlrLbfgs(FullBatchContender):
    """``fastlr.LogisticRegression(solver='lbfgs', C=1, tol=tol, max_iter=10000)``;
    n_fev from the L-BFGS result (``fastlr._solvers.minimize_lbfgs`` is wrapped, in this
    process only)."""

    def __init__(self, n_threads=None, name="fastlr"):
        self.n_threads = n_threads
        self.name = name

    def context(self):
        from fastlr._loss import simd_level
        from fastlr._openmp_helpers import effective_n_threads, openmp_enabled

        import fastlr
        return {"fastlr version": f"{fastlr.__version__} ({os.path.dirname(fastlr.__file__)}"
                                  f", git {_be.git_state()})",
                "fastlr OpenMP enabled": openmp_enabled(),
                "fastlr simd_level()": simd_level(),
                f"{self.name} n_threads": effective_n_threads(self.n_threads)}

    def fit(self, X, y, tol):
        import fastlr._solvers as solvers
        from fastlr import LogisticRegression
        captured = {}
        orig = solvers.minimize_lbfgs

        def wrapped(*a, **kw):
            res = orig(*a, **kw)
            captured["res"] = res
            return res

        clf = LogisticRegression(solver="lbfgs", C=C, tol=tol, max_iter=10_000,
                                 n_threads=self.n_threads)
        solvers.minimize_lbfgs = wrapped
        try:
            t0 = time.perf_counter()
            clf.fit(X, y)
            t = time.perf_counter() - t0
        finally:
            solvers.minimize_lbfgs = orig
        res = captured.get("res")
        return {"coef": clf.coef_, "intercept": clf.intercept_, "n_iter": int(clf.n_iter_),
                "n_fev": int(res.n_fev) if res is not None else None,
                "message": res.message if res is not None else None,
                "fit_s": t, "computes_in": str(clf.coef_.dtype)}


class SklearnPeer:
    """Mixin for contenders that need scikit-learn (here and in run.py): skipped with a
    note when it is not importable; its version goes into the context."""

    def unavailable(self):
        try:
            import sklearn  # noqa: F401
        except ImportError:
            return "scikit-learn not importable"
        return None

    def context(self):
        import sklearn
        return {"scikit-learn version": sklearn.__version__}


class _SklearnLR(SklearnPeer, FullBatchContender):
    solver = None

    def fit(self, X, y, tol):
        from sklearn.linear_model import LogisticRegression
        from sklearn.linear_model._linear_loss import LinearModelLoss
        clf = LogisticRegression(solver=self.solver, C=C, tol=tol, max_iter=10_000)
        calls = [0]
        with _counting(LinearModelLoss, "loss_gradient", calls):
            t0 = time.perf_counter()
            clf.fit(X, y)
            t = time.perf_counter() - t0
        return {"coef": clf.coef_, "intercept": clf.intercept_,
                "n_iter": int(np.max(clf.n_iter_)),
                "n_fev": calls[0] if self.solver == "lbfgs" else None,
                "fit_s": t, "computes_in": str(clf.coef_.dtype)}


class SklearnLbfgs(_SklearnLR):
    """scikit-learn ``LogisticRegression(solver='lbfgs')`` (scipy L-BFGS-B, gtol=tol);
    n_fev counts ``LinearModelLoss.loss_gradient`` calls."""
    name = "sklearn-lbfgs"
    solver = "lbfgs"


class SklearnNewtonCholesky(_SklearnLR):
    """scikit-learn ``LogisticRegression(solver='newton-cholesky')``."""
    name = "sklearn-newton-cholesky"
    solver = "newton-cholesky"

    def __init__(self, allow_multiclass=False):
        self.allow_multiclass = allow_multiclass

    def skip_reason(self, problem):
        kind, n, d, k, dtype = problem
        if k > 2 and not self.allow_multiclass:
            p = d * k
            return (f"skipped on {kind}: its Hessian has ({d} x {k})^2 = {p * p / 1e6:.0f}M "
                    f"entries, k(k+1)/2 = {k * (k + 1) // 2} products X^T D X "
                    f"(~{k * (k + 1) // 2 * n * d * d * 2 / 1e12:.1f} TFLOP) per iteration "
                    "(--include-slow runs it)")
        return None


class GlumBinomial(FullBatchContender):
    """glum ``GeneralizedLinearRegressor(family='binomial', alpha=1/(C n), l1_ratio=0)``:
    glum minimises the mean half-deviance (the log loss) + alpha/2 ||w||^2, i.e. J/(C n).
    Binary only. Not exercised on the reference machine (glum is not installed)."""
    name = "glum"

    def unavailable(self):
        try:
            import glum  # noqa: F401
        except ImportError:
            return "glum not importable"
        return None

    def context(self):
        import glum
        return {"glum version": getattr(glum, "__version__", "?")}

    def skip_reason(self, problem):
        return "skipped: binary only" if problem[3] > 2 else None

    def fit(self, X, y, tol):
        from glum import GeneralizedLinearRegressor
        reg = GeneralizedLinearRegressor(family="binomial", alpha=1.0 / (C * X.shape[0]),
                                         l1_ratio=0.0, gradient_tol=tol, max_iter=10_000)
        t0 = time.perf_counter()
        reg.fit(X, y)
        t = time.perf_counter() - t0
        coef = np.asarray(reg.coef_).reshape(1, -1)
        return {"coef": coef, "intercept": np.atleast_1d(reg.intercept_),
                "n_iter": int(getattr(reg, "n_iter_", -1)), "n_fev": None, "fit_s": t,
                "computes_in": str(coef.dtype)}


CONTENDERS = {
    "fastlr": FastlrLbfgs,
    "fastlr-1thread": lambda: FastlrLbfgs(n_threads=1, name="fastlr-1thread"),
    "sklearn-lbfgs": SklearnLbfgs,
    "sklearn-newton-cholesky": SklearnNewtonCholesky,
    "glum": GlumBinomial,
}
DEFAULT_CONTENDERS = tuple(CONTENDERS)


# ---------------------------------------------------------------------------------------
# Reference optimum.
# ---------------------------------------------------------------------------------------

def _tight_fit(solver_name, X64, y):
    """One tight solve on float64 X. Returns (method text, J, seconds, iterations)."""
    if solver_name == "fastlr":
        from fastlr import LogisticRegression
        how = f"fastlr lbfgs tol={REF_TOL:g}"
        est = LogisticRegression(solver="lbfgs", C=C, tol=REF_TOL, max_iter=100_000)
    else:
        from sklearn.linear_model import LogisticRegression
        solver = "newton-cholesky" if solver_name == "sklearn-newton-cholesky" else "lbfgs"
        how = f"scikit-learn {solver} tol={REF_TOL:g}"
        est = LogisticRegression(solver=solver, C=C, tol=REF_TOL, max_iter=100_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        est.fit(X64, y)
        t = time.perf_counter() - t0
    k = 2 if est.coef_.shape[0] == 1 else est.coef_.shape[0]
    return how, objective(X64, y, est.coef_, est.intercept_, k), t, int(np.max(est.n_iter_))


def reference_optimum(X, y, k, multiclass_reference="both"):
    """J* by tight solves on X in float64 (a float32 X is read exactly): binary,
    scikit-learn newton-cholesky; 10-class, the lower of scikit-learn lbfgs and fastlr
    lbfgs (``multiclass_reference='both'``), or one of them. Returns a dict."""
    X64 = X if X.dtype == np.float64 else X.astype(np.float64)
    try:
        import sklearn  # noqa: F401
        have_sklearn = True
    except ImportError:
        have_sklearn = False
    if k == 2:
        solvers = ["sklearn-newton-cholesky" if have_sklearn else "fastlr"]
    elif multiclass_reference == "both":
        solvers = ["sklearn-lbfgs", "fastlr"] if have_sklearn else ["fastlr"]
    else:
        solvers = [multiclass_reference if multiclass_reference == "fastlr" or not
                   have_sklearn else "sklearn-lbfgs"]
        if not have_sklearn:
            solvers = ["fastlr"]
    solves = [_tight_fit(s, X64, y) for s in solvers]
    del X64
    best = min(solves, key=lambda r: r[1])
    parts = [f"{how}: J = {J:.12g} ({it} iterations, {_fmt_s(t)} s)"
             for how, J, t, it in solves]
    method = "; ".join(parts) + " -- on X in float64"
    if len(solves) > 1:
        method += (f"; J* = the lower, the two differ by "
                   f"{abs(solves[0][1] - solves[1][1]) / abs(best[1]):.1e} relative")
    return {"J_star": best[1], "method": method, "seconds": sum(r[2] for r in solves),
            "n_iter": best[3], "solves": [{"method": h, "J": J, "seconds": t, "n_iter": it}
                                          for h, J, t, it in solves]}


# ---------------------------------------------------------------------------------------
# What bounds fastlr: passes over X, iterations, threads.
# ---------------------------------------------------------------------------------------

def fastlr_pass_times(X, y, k, coef, intercept, repeats=5):
    """Seconds of one ``fastlr._loss.loss_gradient`` call (one fused pass over X: loss
    and gradient) with the threads lbfgs uses and with one thread; the stream-X floor
    (X.sum(), X @ v with all BLAS threads); and what BLAS takes for the same products
    (``Z = X @ W.T`` and ``X.T @ R``, the two passes of scikit-learn's loss_gradient)."""
    from fastlr._loss import loss_gradient, threads_for
    from fastlr._openmp_helpers import effective_n_threads
    head = "logistic" if k == 2 else "softmax"
    kk = 1 if k == 2 else k
    n, d = X.shape
    W = np.ascontiguousarray(np.asarray(coef, dtype=np.float64).reshape(kk, d))
    b = np.ascontiguousarray(np.asarray(intercept, dtype=np.float64).reshape(kk))
    Y = np.ascontiguousarray(y, dtype=np.float64).reshape(-1, 1)
    gW, gb = np.empty((kk, d)), np.empty(kk)
    nt = threads_for(n, kk * d, effective_n_threads(None))
    v = np.ones(d, dtype=X.dtype)
    Wt = W.astype(X.dtype).T.copy()
    R = np.ones((n, kk), dtype=X.dtype)
    # fastlr's passes first (1 and nt threads alternating), BLAS afterwards: OpenBLAS's
    # worker threads spin for a while after each call and would take the core that
    # fastlr's second OpenMP thread needs (measured: a 2-thread pass as slow as 1 thread).
    groups = (
        {"pass_s": lambda: loss_gradient(head, X, Y, None, W, b, gW, gb, None, nt),
         "pass_1thread_s": lambda: loss_gradient(head, X, Y, None, W, b, gW, gb, None, 1)},
        {"sum_s": lambda: X.sum(),
         "gemv_s": lambda: X @ v,
         "blas_s": lambda: (X @ Wt, X.T @ R)},
    )
    out = {"threads": nt}
    # warm-up, ~0.2 s of passes: on the reference VM the first ~0.1 s of two-thread work
    # in a process ran at one-thread speed
    t_end = time.perf_counter() + 0.2
    while time.perf_counter() < t_end:
        groups[0]["pass_s"]()
    for fns in groups:
        times = {key: [] for key in fns}
        for _ in range(repeats):       # interleaved, so that noise hits all alike
            for key, fn in fns.items():
                t0 = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - t0)
        out.update({key: _median(ts) for key, ts in times.items()})
    out["stream_s"] = min(out["sum_s"], out["gemv_s"])
    out["flops_per_pass"] = 4.0 * n * d * kk          # forward + gradient multiply-adds x2
    return out


def bounds_line(problem, row, row1, pt):
    """One human-readable line: what fastlr's fit time is made of."""
    kind, n, d, k, dtype = problem
    fit, n_fev, n_iter = row["fit_s"], row.get("n_fev"), row["n_iter"]
    passes = (n_fev or 0) * pt["pass_s"]
    share = passes / fit if fit > 0 else float("nan")
    gflops = pt["flops_per_pass"] / pt["pass_s"] / 1e9
    text = (f"fastlr bounds ({_problem_label(problem)} {dtype}): fit {_fmt_s(fit)} s = "
            f"{n_iter} iterations, {n_fev} evaluations ({(n_fev or 0) / max(n_iter, 1):.2f} "
            f"per iteration) x {_fmt_s(pt['pass_s'])} s per fused pass over X "
            f"({pt['threads']} thread(s); 1 thread {_fmt_s(pt['pass_1thread_s'])} s) = "
            f"{_fmt_s(passes)} s ({100 * share:.0f}% of the fit; passes timed apart from the fits"
            f") + {_fmt_s(fit - passes)} s other (validation, labels, L-BFGS algebra). "
            f"One pass = "
            f"{pt['pass_s'] / pt['stream_s']:.1f} x stream-X ({_fmt_s(pt['stream_s'])} s, "
            f"{X_bytes(problem) / pt['stream_s'] / 1e9:.1f} GB/s), {gflops:.1f} GFLOP/s; "
            f"BLAS X @ W^T + X^T @ R (scikit-learn's two passes) {_fmt_s(pt['blas_s'])} s")
    if row1 is not None and row1.get("fit_s"):
        text += (f". n_threads=1 fit {_fmt_s(row1['fit_s'])} s = "
                 f"{row1['fit_s'] / fit:.2f} x the default")
    return text


def X_bytes(problem):
    kind, n, d, k, dtype = problem
    return n * d * np.dtype(dtype).itemsize


# ---------------------------------------------------------------------------------------
# Driver.
# ---------------------------------------------------------------------------------------

def _fmt_s(x):
    return _be._fmt_s(x)


def _fmt_gap(g):
    if g is None or not math.isfinite(g):
        return "n/a"
    return f"{g:.1e}"


def search_tol(contender, X, y, k, J_star, tols, max_fit_s, progress, label,
               settle=SETTLE_S):
    """Fit with tol = tols[0], tols[1], ... until J <= J* (1 + GAP). Returns
    ``(chosen_step or None, steps)``; each step is a dict (tol, J, gap, fit_s, ...)."""
    steps = []
    for tol in tols:
        time.sleep(settle)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = contender.fit(X, y, tol)
        params = (r.pop("coef"), r.pop("intercept"))
        J = objective(X, y, params[0], params[1], k)
        step = dict(r, tol=tol, J=J, gap=(J - J_star) / abs(J_star), _params=params,
                    warnings=sorted({type(w.message).__name__ for w in caught}))
        steps.append(step)
        progress(f"[{label}] {contender.name} tol={tol:g}: {step['fit_s']:.3f} s, "
                 f"{step['n_iter']} iterations, gap {step['gap']:.2e}")
        if step["gap"] <= GAP:
            return step, steps
        if step["fit_s"] > max_fit_s:
            step["note"] = f"search stopped: one fit took more than {max_fit_s:g} s"
            break
        if len(steps) > 1 and step["J"] == steps[-2]["J"] and \
                step["n_iter"] == steps[-2]["n_iter"]:
            step["note"] = ("search stopped: a tighter tol no longer changes the fit (the "
                            "solver stops on its own criterion first)")
            break
    return None, steps


def apply_omp_wait_policy(choice):
    """Set OMP_WAIT_POLICY as bench_epoch does (PASSIVE unless the environment or
    ``choice`` says otherwise). Returns ``(note, restore)``."""
    old = os.environ.get("OMP_WAIT_POLICY")
    policy, note = choice, ""
    if policy is None:
        policy = "inherit" if old else "passive"
        note = " (from the environment)" if old else " (benchmark default)"
    if policy != "inherit":
        if _be._openmp_loaded() and (old or "").lower() != policy:
            note += " (set after an OpenMP runtime was loaded: may have no effect)"
        os.environ["OMP_WAIT_POLICY"] = policy.upper()

    def restore():
        if old is None:
            os.environ.pop("OMP_WAIT_POLICY", None)
        else:
            os.environ["OMP_WAIT_POLICY"] = old

    return note, restore


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="100,000 x 100 binary and 20,000 x 784 10-class: under 2 minutes")
    p.add_argument("--repeats", type=int, default=None,
                   help=f"fits per row at the chosen tol (default {DEFAULT_REPEATS})")
    p.add_argument("--problems", default=None,
                   help="comma-separated subset of: binary-float64, binary-float32, "
                        "10-class-float32 (default all)")
    p.add_argument("--n-binary", type=int, default=None, help="rows of the binary problems")
    p.add_argument("--n-multiclass", type=int, default=None,
                   help="rows of the 10-class problem")
    p.add_argument("--contenders", default=",".join(DEFAULT_CONTENDERS),
                   help=f"comma-separated, from {', '.join(CONTENDERS)}")
    p.add_argument("--include-slow", action="store_true",
                   help="also run scikit-learn newton-cholesky on the 10-class problem")
    p.add_argument("--multiclass-reference", choices=("both", "sklearn", "fastlr"),
                   default="both",
                   help="solver(s) of the 10-class reference optimum (tol 1e-10, float64 "
                        "X): the lower J of scikit-learn lbfgs and fastlr lbfgs (default), "
                        "or one of them")
    p.add_argument("--max-fit-s", type=float, default=None,
                   help="stop a contender's tol search after a fit longer than this "
                        "(default 600 s, --quick 60 s)")
    p.add_argument("--settle-s", type=float, default=SETTLE_S,
                   help="pause before every timed fit, so that BLAS threads spinning "
                        f"after the previous step are asleep (default {SETTLE_S})")
    p.add_argument("--omp-wait-policy", choices=("passive", "active", "inherit"),
                   default=None, help="as in bench_epoch.py (default passive)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="PATH")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.repeats is None:
        args.repeats = QUICK_REPEATS if args.quick else DEFAULT_REPEATS
    if args.max_fit_s is None:
        args.max_fit_s = 60.0 if args.quick else 600.0
    base = QUICK_PROBLEMS if args.quick else FULL_PROBLEMS
    problems = []
    for kind, n, d, k, dtype in base:
        if k == 2 and args.n_binary:
            n = args.n_binary
        if k > 2 and args.n_multiclass:
            n = args.n_multiclass
        problems.append((kind, n, d, k, dtype))
    if args.problems:
        want = {s.strip() for s in args.problems.split(",") if s.strip()}
        known = {f"{p[0]}-{p[4]}" for p in problems}
        bad = want - known
        if bad:
            p.error(f"unknown problem(s) {sorted(bad)}; choose from {sorted(known)}")
        problems = [q for q in problems if f"{q[0]}-{q[4]}" in want]
    args.problem_list = problems
    args.contenders = [s.strip() for s in args.contenders.split(",") if s.strip()]
    for c in args.contenders:
        if c not in CONTENDERS:
            p.error(f"unknown contender {c!r}; choose from {', '.join(CONTENDERS)}")
    if args.repeats < 1:
        p.error("--repeats must be positive")
    return args


def format_table(rows):
    head = ("| contender | problem | dtype (X -> coef) | tol used | iterations | "
            "f+g evals | median s | ratio to fastlr | objective rel. gap | note |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        tol = "n/a" if r.get("tol") is None else f"{r['tol']:g}"
        nfev = "" if r.get("n_fev") is None else str(r["n_fev"])
        lines.append(
            f"| {r['contender']} | {r['problem']} | {r['dtype']} -> {r.get('computes_in', '?')}"
            f" | {tol} | {r.get('n_iter', '')} | {nfev} | {_fmt_s(r.get('fit_s'))} | "
            f"{_be._fmt_x(r.get('ratio_to_fastlr'))} | {_fmt_gap(r.get('gap'))} | "
            f"{r.get('note', '')} |")
    return "\n".join(lines)


def main(argv=None):
    """Run the benchmark; print context, table and bounds; return a dict with
    ``context``, ``problems``, ``rows``, ``bounds``, ``table``."""
    args = parse_args(argv)
    note, restore = apply_omp_wait_policy(args.omp_wait_policy)
    try:
        return run(args, note)
    finally:
        restore()


def _progress_fn(quiet):
    def progress(msg):
        if not quiet:
            print(msg, file=sys.stderr, flush=True)
    return progress


def make_contenders(names, include_slow=False):
    contenders, skipped = [], {}
    for key in names:
        c = CONTENDERS[key]()
        if isinstance(c, SklearnNewtonCholesky):
            c.allow_multiclass = include_slow
        reason = c.unavailable()
        if reason:
            skipped[c.name] = reason
        else:
            contenders.append(c)
    return contenders, skipped


def context_block(args, contenders, skipped, omp_note):
    context = {
        "cpu": _be.cpu_model(),
        "cores (usable)": _be._all_threads(),
        "python": platform.python_version(),
        "numpy version": np.__version__,
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "unset"),
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "unset (runtime default)")
                           + omp_note,
        "load average at start (1/5/15 min)": _be._loadavg(),
    }
    for c in contenders:
        context.update(c.context())
    context["thread pools (threadpoolctl)"] = _be.blas_threads()
    context.update({
        "problems": "; ".join(f"{_problem_label(p)} {p[4]}" for p in args.problem_list),
        "objective": f"J = C sum_i l_i + 1/2 ||W||^2, C = {C:g}, evaluated in float64",
        "criterion": f"J <= J* (1 + {GAP:g}); tols tried {', '.join(f'{t:g}' for t in TOLS)}",
        "repeats": f"{args.repeats} fits at the chosen tol (the search fit is the first),"
                   f" each after a {args.settle_s:g} s pause",
    })
    if skipped:
        context["skipped"] = "; ".join(f"{k} ({v})" for k, v in skipped.items())
    return context


def run(args, omp_note="", print_header=True, print_table=True):
    progress = _progress_fn(args.quiet)
    # fastlr first: its build facts are the first lines of the context
    contenders, skipped = make_contenders(args.contenders, args.include_slow)
    context = context_block(args, contenders, skipped, omp_note)
    if print_header:
        print("## fastlr full-batch benchmark: time to reach scikit-learn's optimum\n")
        for k, v in context.items():
            print(f"- {k}: {v}")
        print(flush=True)

    rows, problems_out, bounds = [], [], []
    t_start = time.perf_counter()
    for problem in args.problem_list:
        kind, n, d, k, dtype = problem
        label = f"{_problem_label(problem)} {dtype}"
        progress(f"[{label}] generating data")
        X, y = make_problem(problem, args.seed)
        progress(f"[{label}] reference optimum")
        ref = reference_optimum(X, y, k, args.multiclass_reference)
        gc.collect()
        J_star = ref["J_star"]
        pinfo = {"problem": _problem_label(problem), "kind": kind, "n": n, "d": d,
                 "k": k, "dtype": dtype, "X_MB": X.nbytes / 1e6, **ref}
        print(f"reference ({label}): J* = {J_star:.12g}; {ref['method']}", flush=True)

        active = []
        for c in contenders:
            why = c.skip_reason(problem)
            if why:
                rows.append({"contender": c.name, "problem": _problem_label(problem),
                             "dtype": dtype, "fit_s": None, "note": why,
                             "computes_in": "-", "skipped": True})
            else:
                active.append(c)
        # warm-up on a slice (imports, thread pools, first-touch of small buffers)
        m = min(n, 5000)
        for c in active:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                c.fit(X[:m], y[:m], 1e-4)
        found, all_steps, times = {}, {}, {}
        fastlr_tol = None
        for c in active:
            tols = TOLS
            if c.name == "fastlr-1thread" and fastlr_tol is not None:
                tols = tuple(t for t in TOLS if t <= fastlr_tol)
            step, steps = search_tol(c, X, y, k, J_star, tols, args.max_fit_s, progress,
                                     label, args.settle_s)
            found[c.name], all_steps[c.name] = step, steps
            times[c.name] = [step["fit_s"]] if step else []
            if c.name == "fastlr" and step:
                fastlr_tol = step["tol"]
        for rep in range(1, args.repeats):
            for c in active:
                step = found[c.name]
                if step is None:
                    continue
                time.sleep(args.settle_s)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    r = c.fit(X, y, step["tol"])
                times[c.name].append(r["fit_s"])
                progress(f"[{label} repeat {rep + 1}/{args.repeats}, "
                         f"{time.perf_counter() - t_start:.0f} s] {c.name} "
                         f"tol={step['tol']:g}: {r['fit_s']:.3f} s")

        block = []
        for c in active:
            step, steps = found[c.name], all_steps[c.name]
            row = {"contender": c.name, "problem": _problem_label(problem), "dtype": dtype,
                   "n": n, "d": d, "k": k, "steps": steps}
            if step is not None:
                row.update({kk: step[kk] for kk in ("tol", "n_iter", "n_fev", "computes_in",
                                                    "J", "gap", "warnings")})
                row["times_s"] = times[c.name]
                row["fit_s"] = _median(times[c.name])
                ts = times[c.name]
                if len(ts) > 1 and max(ts) > NOISY_SPREAD * min(ts):
                    row["note"] = f"noisy: repeats {_fmt_s(min(ts))}-{_fmt_s(max(ts))} s"
            else:
                last = steps[-1] if steps else {}
                best = min(steps, key=lambda s: s["gap"]) if steps else {}
                row.update({"tol": None, "n_iter": last.get("n_iter"),
                            "n_fev": last.get("n_fev"), "computes_in": last.get("computes_in"),
                            "gap": best.get("gap"), "fit_s": last.get("fit_s"),
                            "times_s": [last.get("fit_s")] if steps else []})
                row["note"] = (f"NOT REACHED: best gap {_fmt_gap(best.get('gap'))} at tol "
                               f"{best.get('tol', float('nan')):g}; time of the tol="
                               f"{last.get('tol', float('nan')):g} fit shown"
                               + (f"; {last['note']}" if last.get("note") else ""))
            if c.name.startswith("sklearn") and dtype == "float32" and step is not None:
                row["note"] = "; ".join(filter(None, [
                    row.get("note"),
                    "float32 X kept (not upcast)" if row["computes_in"] == "float32"
                    else f"float32 X upcast to {row['computes_in']}"]))
            block.append(row)
        base = next((r["fit_s"] for r in block
                     if r["contender"] == "fastlr" and r.get("tol") is not None), None)
        for r in block:
            r["ratio_to_fastlr"] = (r["fit_s"] / base if base and r.get("fit_s") else None)
        min_J = min((s["J"] for r in block for s in r["steps"]), default=J_star)
        pinfo["min_J_seen"] = min_J
        if min_J < J_star * (1 - 1e-9):
            pinfo["warning"] = (f"a contender reached J = {min_J:.12g} < J*: the reference "
                                "was not at the optimum; gaps are relative to J*")
            print(f"WARNING ({label}): {pinfo['warning']}")
        problems_out.append(pinfo)
        rows.extend(block)

        fl = next((r for r in block if r["contender"] == "fastlr"), None)
        if fl is not None and fl.get("tol") is not None:
            progress(f"[{label}] timing fastlr passes")
            coef, intercept = found["fastlr"]["_params"]
            pt = fastlr_pass_times(X, y, k, coef, intercept, repeats=max(5, args.repeats))
            fl1 = next((r for r in block if r["contender"] == "fastlr-1thread"
                        and r.get("tol") is not None), None)
            line = bounds_line(problem, fl, fl1, pt)
            bounds.append({"problem": _problem_label(problem), "dtype": dtype, **pt,
                           "fit_s": fl["fit_s"], "n_fev": fl.get("n_fev"),
                           "n_iter": fl["n_iter"], "text": line})
            print(line, flush=True)
        for r in block:                 # the fitted parameters stay out of the report
            for st in r.get("steps", []):
                st.pop("_params", None)
        del X, y, found, all_steps
        gc.collect()

    context["load average at end (1/5/15 min)"] = _be._loadavg()
    print(f"load average at end (1/5/15 min): {context['load average at end (1/5/15 min)']}")
    table = format_table(rows)
    if print_table:
        print()
        print(table)
    print(f"\n(full batch: {time.perf_counter() - t_start:.0f} s)", flush=True)
    result = {"context": context, "problems": problems_out, "rows": rows, "bounds": bounds}
    if getattr(args, "json", None):
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2, default=str)
    result["table"] = table
    return result


if __name__ == "__main__":
    main()
