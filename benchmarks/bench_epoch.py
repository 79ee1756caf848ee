#!/usr/bin/env python
"""Time one training epoch of binary logistic regression: fastlr against the same
mini-batch training written as a plain NumPy loop and as a PyTorch loop.

Usage::

    python benchmarks/bench_epoch.py                 # full run: 1,000,000 x 100, ~10 min
    python benchmarks/bench_epoch.py --quick         # 100,000 x 100, < 1 min
    python benchmarks/bench_epoch.py --repeats 5 --json results.json

Every contender trains the same model (``z = x . w + b``, sigmoid, mean binary
cross-entropy, no penalty) with the same optimiser settings (SGD lr=0.01, Adam lr=1e-3)
on the same seeded data, visiting the rows in a fresh random order each epoch. Each
contender is one small adapter class (``Contender`` subclasses below); later benchmarks
(scikit-learn's MLPClassifier / SGDClassifier, memory bandwidth) add adapters.

Timing rules (see benchmarks/README.md):

* Repeats are interleaved (repeat 1 of every contender and configuration, then repeat
  2, ...), so that a burst of noise on the shared machine hits everyone alike; the
  table reports medians over repeats, and ratios are taken within the same run.
* fastlr's epoch is the slope ``(t(max_iter=3) - t(max_iter=1)) / 2`` of ``fit`` times
  (medians), which removes the per-fit overhead (input validation, label encoding); that
  overhead is reported separately.
* Epochs with more than ``2.5 * max_batches`` batches (batch 32 at n = 1,000,000) are
  timed over their first ``max_batches`` batches (default 2000) and extrapolated to the
  full epoch; such rows say "(extrapolated)".
* "stream-X" is the time to read X once (the machine's floor for an epoch): the fastest
  of ``X.sum()`` and ``X @ v`` with BLAS on one thread and on all threads.
* ``OMP_WAIT_POLICY`` is set to PASSIVE unless the environment or ``--omp-wait-policy``
  says otherwise: on a busy shared machine, spinning idle OpenMP threads otherwise make
  multi-threaded steps (PyTorch's above all) 10-100x slower.
"""

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# Benchmark the checkout this script lives in (its in-place build), and find _data.py.
for _p in (HERE, ROOT):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import _data  # noqa: E402
import numpy as np  # noqa: E402

LEARNING_RATE = {"sgd": 0.01, "adam": 1e-3}
BETAS = (0.9, 0.999)
EPS = 1e-8

DEFAULT_N, DEFAULT_D = 1_000_000, 100
QUICK_N = 100_000
DEFAULT_REPEATS, QUICK_REPEATS = 3, 2
DEFAULT_MAX_BATCHES, QUICK_MAX_BATCHES = 2000, 200
EXTRAPOLATE_FACTOR = 2.5   # extrapolate epochs of more than 2.5 * max_batches batches
WARMUP_BATCHES = 20
NOISY_SPREAD = 2.0         # flag rows whose slowest repeat took > 2x the fastest


def _median(xs):
    return statistics.median(xs) if xs else float("nan")


def _timed(fn, repeats):
    """Median wall time of ``fn()`` over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return _median(times)


def _all_threads():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _openmp_loaded():
    """True when an OpenMP runtime is already mapped into this process (Linux), after
    which OMP_WAIT_POLICY is no longer read."""
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:
        return any(m == "torch" or m.startswith("fastlr.") for m in sys.modules)
    return any(lib in maps for lib in ("libgomp", "libiomp", "libomp"))


def _loadavg():
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except (AttributeError, OSError):
        return "n/a"


# ---------------------------------------------------------------------------------------
# Contenders: one adapter each.
# ---------------------------------------------------------------------------------------

class Contender:
    """One way of running an epoch. Subclasses set ``name`` and implement ``run``.

    ``run(solver, batch_size, max_batches, seed)`` trains a fresh model from zeros and
    returns ``(t_fixed, t_batches, n_batches, timed_batches)``: the seconds spent on the
    once-per-epoch work (the shuffle), the seconds spent on the first ``timed_batches``
    of the epoch's ``n_batches`` batches. ``measure`` turns that into an epoch time,
    extrapolating when only part of the epoch ran. Adapters that time a whole ``fit``
    (fastlr) override ``measure`` and ``summarize`` instead.
    """

    name = None
    extrapolates = True

    def unavailable(self):
        """None when the contender can run here, else a short reason."""
        return None

    def context(self):
        """Extra lines for the context block (threads, versions)."""
        return {}

    def setup(self, X, y):
        self.X, self.y = X, y

    def teardown(self):
        self.X = self.y = None

    def n_batches(self, batch_size):
        return -(-self.X.shape[0] // batch_size)

    def warmup(self, solver, batch_size, max_batches):
        self.run(solver, batch_size, min(WARMUP_BATCHES, max_batches), seed=12345)

    def run(self, solver, batch_size, max_batches, seed):
        raise NotImplementedError

    def measure(self, solver, batch_size, max_batches, seed):
        nb = self.n_batches(batch_size)
        limit = max_batches if nb > EXTRAPOLATE_FACTOR * max_batches else None
        t_fixed, t_batches, nb, timed = self.run(solver, batch_size, limit, seed)
        epoch = t_fixed + t_batches * nb / timed
        return {"epoch_s": epoch, "n_batches": nb, "timed_batches": timed,
                "extrapolated": timed < nb}

    def summarize(self, results):
        epoch = _median([r["epoch_s"] for r in results])
        extrapolated = any(r["extrapolated"] for r in results)
        row = {"epoch_s": epoch, "times_s": [r["epoch_s"] for r in results],
               "n_batches": results[0]["n_batches"],
               "timed_batches": results[0]["timed_batches"],
               "extrapolated": extrapolated}
        if extrapolated:
            row["note"] = (f"(extrapolated) from {results[0]['timed_batches']} of "
                           f"{results[0]['n_batches']} batches")
        return row


class FastlrContender(Contender):
    """``fastlr.LogisticRegression(...).fit`` with max_iter=1 and 3; epoch = slope."""

    extrapolates = False

    def __init__(self, n_threads=None, name="fastlr"):
        self.n_threads = n_threads
        self.name = name

    def context(self):
        from fastlr._openmp_helpers import effective_n_threads, openmp_enabled

        import fastlr
        return {f"{self.name} n_threads": effective_n_threads(self.n_threads),
                "fastlr OpenMP enabled": openmp_enabled(),
                "fastlr version": f"{fastlr.__version__} ({os.path.dirname(fastlr.__file__)}, "
                          f"git {git_state()})"}

    def _estimator(self, solver, batch_size, max_iter):
        from fastlr import LogisticRegression
        return LogisticRegression(
            solver=solver, batch_size=batch_size, learning_rate_init=LEARNING_RATE[solver],
            max_iter=max_iter, tol=None, C=np.inf, shuffle=True, random_state=0,
            n_threads=self.n_threads)

    def _fit_time(self, solver, batch_size, max_iter, X=None, y=None):
        clf = self._estimator(solver, batch_size, max_iter)
        X = self.X if X is None else X
        y = self.y if y is None else y
        t0 = time.perf_counter()
        clf.fit(X, y)
        return time.perf_counter() - t0

    def warmup(self, solver, batch_size, max_batches):
        m = min(self.X.shape[0], max(2 * batch_size, 5000))
        self._fit_time(solver, batch_size, 1, self.X[:m], self.y[:m])

    def measure(self, solver, batch_size, max_batches, seed):
        return {"fit1_s": self._fit_time(solver, batch_size, 1),
                "fit3_s": self._fit_time(solver, batch_size, 3),
                "n_batches": self.n_batches(batch_size)}

    def summarize(self, results):
        # the median of each repeat's own slope: a repeat's two fits run back to back, so
        # a slow spell of the machine lands on both, where a difference of the two medians
        # could pair a fast 1-epoch fit with a slow 3-epoch one
        t1 = _median([r["fit1_s"] for r in results])
        t3 = _median([r["fit3_s"] for r in results])
        slopes = [(r["fit3_s"] - r["fit1_s"]) / 2.0 for r in results]
        epoch = _median(slopes)
        row = {"fit1_s": t1, "fit3_s": t3, "times_s": slopes,
               "n_batches": results[0]["n_batches"],
               "timed_batches": results[0]["n_batches"], "extrapolated": False}
        if epoch <= 0:   # noise swamped the slope: fall back to a whole 1-epoch fit
            epoch = t1
            row["note"] = "slope <= 0 (noise): fit(max_iter=1) time shown"
        row["epoch_s"] = epoch
        row["fit_overhead_s"] = t1 - epoch
        return row


class NumpyContender(Contender):
    """Plain NumPy: per-batch Python loop over a fresh permutation, gradient by BLAS."""

    name = "numpy"

    def context(self):
        return {"numpy version": np.__version__}

    def setup(self, X, y):
        self.X, self.y = X, y.astype(X.dtype)

    def run(self, solver, batch_size, max_batches, seed):
        X, y = self.X, self.y
        n, d = X.shape
        dt = X.dtype
        theta = np.zeros(d + 1, dtype=dt)       # [w, b]
        w = theta[:d]
        g = np.empty(d + 1, dtype=dt)
        gw = g[:d]
        m = np.zeros(d + 1, dtype=dt)
        v = np.zeros(d + 1, dtype=dt)
        lr = LEARNING_RATE[solver]
        b1, b2 = BETAS
        step = 0
        nb = -(-n // batch_size)
        timed = nb if max_batches is None else min(nb, max_batches)
        rng = np.random.default_rng(seed)

        t0 = time.perf_counter()
        idx = rng.permutation(n)
        t1 = time.perf_counter()
        for i in range(timed):
            sel = idx[i * batch_size:(i + 1) * batch_size]
            Xb = X[sel]
            z = Xb @ w
            z += theta[d]
            z *= 0.5                            # sigmoid(z) = (1 + tanh(z / 2)) / 2
            np.tanh(z, out=z)
            z += 1.0
            z *= 0.5
            z -= y[sel]                         # p - y
            z *= 1.0 / len(sel)                 # batch mean
            np.matmul(z, Xb, out=gw)            # Xb.T @ (p - y) / B
            g[d] = z.sum()
            if solver == "sgd":
                g *= lr
                theta -= g
            else:
                step += 1
                m *= b1
                m += (1.0 - b1) * g
                v *= b2
                v += (1.0 - b2) * (g * g)
                denom = np.sqrt(v)
                denom *= 1.0 / math.sqrt(1.0 - b2 ** step)
                denom += EPS
                theta -= (lr / (1.0 - b1 ** step)) * (m / denom)
        t2 = time.perf_counter()
        return t1 - t0, t2 - t1, nb, timed


class _TorchContender(Contender):
    """PyTorch: nn.Linear(d, 1) in X's dtype, BCEWithLogitsLoss, torch.optim.SGD/Adam."""

    def __init__(self, n_threads=None):
        self.n_threads = n_threads

    def unavailable(self):
        try:
            import torch  # noqa: F401
        except ImportError:
            return "torch not importable"
        return None

    def context(self):
        import torch
        return {"torch version": torch.__version__,
                "torch threads": self._threads()}

    def _threads(self):
        return self.n_threads or _all_threads()

    def setup(self, X, y):
        import torch
        self.torch = torch
        self._old_threads = torch.get_num_threads()
        torch.set_num_threads(self._threads())
        self.X, self.y = X, y
        self.Xt = torch.from_numpy(X)                                   # no copy
        self.yt = torch.from_numpy(y.astype(X.dtype)).reshape(-1, 1)

    def teardown(self):
        torch = getattr(self, "torch", None)
        if torch is not None:
            torch.set_num_threads(self._old_threads)
        self.Xt = self.yt = self.X = self.y = None

    def _model(self, solver):
        torch = self.torch
        model = torch.nn.Linear(self.Xt.shape[1], 1, dtype=self.Xt.dtype)
        with torch.no_grad():
            model.weight.zero_()
            model.bias.zero_()
        if solver == "sgd":
            opt = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE[solver])
        else:
            opt = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE[solver],
                                   betas=BETAS, eps=EPS)
        return model, opt, torch.nn.BCEWithLogitsLoss()

    @staticmethod
    def _step(model, opt, loss_fn, xb, yb):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()


class TorchDataLoaderContender(_TorchContender):
    """DataLoader(TensorDataset(X, y), batch_size, shuffle=True), the tutorial loop."""

    name = "torch-dataloader"

    def run(self, solver, batch_size, max_batches, seed):
        torch = self.torch
        from torch.utils.data import DataLoader, TensorDataset
        model, opt, loss_fn = self._model(solver)
        gen = torch.Generator().manual_seed(seed)
        loader = DataLoader(TensorDataset(self.Xt, self.yt), batch_size=batch_size,
                            shuffle=True, generator=gen)
        nb = len(loader)
        timed = nb if max_batches is None else min(nb, max_batches)
        t0 = time.perf_counter()
        # The sampler's randperm happens on the first next(): it is inside the timed
        # batches (and so scaled when extrapolating; ~1% of an epoch, it does not matter).
        for i, (xb, yb) in enumerate(loader):
            if i == timed:
                break
            self._step(model, opt, loss_fn, xb, yb)
        t1 = time.perf_counter()
        return 0.0, t1 - t0, nb, timed


class TorchRandpermContender(_TorchContender):
    """perm = torch.randperm(n) each epoch, batches X_t[perm[s:e]] (no DataLoader)."""

    name = "torch-randperm"

    def run(self, solver, batch_size, max_batches, seed):
        torch = self.torch
        model, opt, loss_fn = self._model(solver)
        Xt, yt = self.Xt, self.yt
        n = Xt.shape[0]
        nb = -(-n // batch_size)
        timed = nb if max_batches is None else min(nb, max_batches)
        gen = torch.Generator().manual_seed(seed)
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        t1 = time.perf_counter()
        for i in range(timed):
            ib = perm[i * batch_size:(i + 1) * batch_size]
            self._step(model, opt, loss_fn, Xt[ib], yt[ib])
        t2 = time.perf_counter()
        return t1 - t0, t2 - t1, nb, timed


CONTENDERS = {
    "fastlr": FastlrContender,
    "fastlr-1thread": lambda: FastlrContender(n_threads=1, name="fastlr-1thread"),
    "numpy": NumpyContender,
    "torch-dataloader": TorchDataLoaderContender,
    "torch-randperm": TorchRandpermContender,
}
DEFAULT_CONTENDERS = ("fastlr", "numpy", "torch-dataloader", "torch-randperm")


# ---------------------------------------------------------------------------------------
# Machine context and the stream-X floor.
# ---------------------------------------------------------------------------------------

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return platform.processor() or platform.machine()
    model, flags = None, set()
    for line in info.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model is None:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
    simd = [f for f in ("avx2", "fma", "avx512f") if f in flags]
    return f"{model or platform.machine()} (SIMD: {', '.join(simd) or 'no avx2'})"


def git_state():
    """Commit of the checkout and how many files under fastlr/ differ from it."""
    import subprocess
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "fastlr"],
                               capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "n/a"
    if not head:
        return "not a git checkout"
    n_dirty = len([ln for ln in dirty.splitlines() if ln.strip()])
    return f"{head}" + (f" + {n_dirty} uncommitted change(s) under fastlr/" if n_dirty else "")


def blas_threads():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return ", ".join(f"{i.get('internal_api')}={i.get('num_threads')}"
                     for i in threadpool_info()) or "none found"


def stream_times(X, repeats):
    """Seconds to read X once (medians): X.sum(), and X @ v (BLAS gemv) on one thread
    and on all threads. 'best' is the fastest: the floor an epoch is compared with."""
    v = np.ones(X.shape[1], dtype=X.dtype)
    out = {"sum_s": _timed(lambda: X.sum(), repeats)}
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        out["gemv_1thread_s"] = None
        out["note"] = "threadpoolctl not installed: BLAS thread count not controlled"
    else:
        with threadpool_limits(limits=1):
            out["gemv_1thread_s"] = _timed(lambda: X @ v, repeats)
    out["gemv_all_threads_s"] = _timed(lambda: X @ v, repeats)
    out["best_s"] = min(t for k, t in out.items() if k.endswith("_s") and t is not None)
    out["bytes"] = int(X.nbytes)
    out["best_GBps"] = X.nbytes / out["best_s"] / 1e9
    # Not a floor, context for shuffled epochs: what NumPy pays to read the rows once in
    # a random order (4096-row chunks gathered with np.take into a cache-sized buffer,
    # then summed; 1 thread), i.e. the gather every batch of the numpy loop does.
    out["gather_shuffled_s"] = _timed(lambda: _gather_sum(X), max(3, repeats // 3))
    return out


def _gather_sum(X, chunk=4096, seed=0):
    n = X.shape[0]
    perm = np.random.default_rng(seed).permutation(n)
    buf = np.empty((min(chunk, n), X.shape[1]), dtype=X.dtype)
    acc = np.zeros(X.shape[1], dtype=X.dtype)
    for s in range(0, n, chunk):
        idx = perm[s:s + chunk]
        rows = buf[:len(idx)]
        np.take(X, idx, axis=0, out=rows)
        acc += rows.sum(axis=0)
    return acc


# ---------------------------------------------------------------------------------------
# Driver.
# ---------------------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help=f"n={QUICK_N:,}, {QUICK_REPEATS} repeats, batch 32 extrapolated "
                        f"from {QUICK_MAX_BATCHES} batches: under a minute")
    p.add_argument("--repeats", type=int, default=None,
                   help=f"timed repeats per row (default {DEFAULT_REPEATS}, "
                        f"--quick {QUICK_REPEATS})")
    p.add_argument("--n", type=int, default=None,
                   help=f"samples (default {DEFAULT_N:,}, --quick {QUICK_N:,})")
    p.add_argument("--d", type=int, default=DEFAULT_D, help="features (default 100)")
    p.add_argument("--dtypes", default="float64,float32")
    p.add_argument("--solvers", default="sgd,adam")
    p.add_argument("--batch-sizes", default="32,256,4096")
    p.add_argument("--contenders", default=",".join(DEFAULT_CONTENDERS),
                   help=f"comma-separated, from {', '.join(CONTENDERS)}")
    p.add_argument("--max-batches", type=int, default=None,
                   help="batches timed when an epoch has more than 2.5x as many, then "
                        f"extrapolated (default {DEFAULT_MAX_BATCHES}, --quick "
                        f"{QUICK_MAX_BATCHES})")
    p.add_argument("--torch-threads", type=int, default=None,
                   help="torch.set_num_threads for the PyTorch loops (default: all usable "
                        "cores, the thread count fastlr uses by default)")
    p.add_argument("--omp-wait-policy", choices=("passive", "active", "inherit"),
                   default=None,
                   help="OMP_WAIT_POLICY for fastlr's and torch's OpenMP runtimes. Default: "
                        "the environment's OMP_WAIT_POLICY when set, else 'passive': idle "
                        "OpenMP threads then sleep instead of spinning, which on a busy "
                        "shared machine otherwise makes multi-threaded steps 10-100x "
                        "slower. 'inherit' leaves the environment alone (unset means the "
                        "runtime's own default, which spins)")
    p.add_argument("--seed", type=int, default=0, help="data seed")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = p.parse_args(argv)
    if args.n is None:
        args.n = QUICK_N if args.quick else DEFAULT_N
    if args.repeats is None:
        args.repeats = QUICK_REPEATS if args.quick else DEFAULT_REPEATS
    if args.max_batches is None:
        args.max_batches = QUICK_MAX_BATCHES if args.quick else DEFAULT_MAX_BATCHES
    args.dtypes = [np.dtype(s.strip()).name for s in args.dtypes.split(",") if s.strip()]
    args.solvers = [s.strip() for s in args.solvers.split(",") if s.strip()]
    args.batch_sizes = [int(s) for s in args.batch_sizes.split(",") if s.strip()]
    args.contenders = [s.strip() for s in args.contenders.split(",") if s.strip()]
    for s in args.solvers:
        if s not in LEARNING_RATE:
            p.error(f"unknown solver {s!r}; choose from {sorted(LEARNING_RATE)}")
    for c in args.contenders:
        if c not in CONTENDERS:
            p.error(f"unknown contender {c!r}; choose from {', '.join(CONTENDERS)}")
    if args.repeats < 1 or args.n < 1 or args.d < 1 or args.max_batches < 1:
        p.error("--repeats, --n, --d and --max-batches must be positive")
    return args


def _fmt_s(x):
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:.3g}" if x < 100 else f"{x:.0f}"


def _fmt_x(x):
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.2f}"


def format_table(rows, problem=False):
    """The epoch table in markdown; ``problem=True`` adds run.py's problem column."""
    cols = ["contender"] + (["problem"] if problem else []) + [
        "dtype", "solver", "batch", "epoch s (median)", "ratio to fastlr",
        "epoch / stream-X", "note"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = [r["contender"]] + ([r["problem"]] if problem else []) + [
            r["dtype"], r["solver"], r["batch_size"], _fmt_s(r["epoch_s"]),
            _fmt_x(r["ratio_to_fastlr"]), _fmt_x(r["epoch_over_stream"]), r.get("note", "")]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    """Run the benchmark; print context and table; return a dict with ``context``,
    ``stream``, ``rows`` and ``table`` (what --json writes, plus the table text)."""
    args = parse_args(argv)

    def progress(msg):
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    old_policy = os.environ.get("OMP_WAIT_POLICY")
    policy, omp_note = args.omp_wait_policy, ""
    if policy is None:
        policy = "inherit" if old_policy else "passive"
        omp_note = " (from the environment)" if old_policy else " (benchmark default)"
    if policy != "inherit":
        if _openmp_loaded() and (old_policy or "").lower() != policy:
            omp_note += " (set after an OpenMP runtime was loaded: may have no effect)"
        os.environ["OMP_WAIT_POLICY"] = policy.upper()
    try:
        return _run(args, progress, omp_note)
    finally:   # an in-process caller gets its environment back
        if old_policy is None:
            os.environ.pop("OMP_WAIT_POLICY", None)
        else:
            os.environ["OMP_WAIT_POLICY"] = old_policy


def _run(args, progress, omp_note):

    contenders, skipped = [], {}
    for key in args.contenders:
        c = CONTENDERS[key]()
        if isinstance(c, _TorchContender):
            c.n_threads = args.torch_threads
        reason = c.unavailable()
        if reason:
            skipped[c.name] = reason
        else:
            contenders.append(c)

    context = {
        "cpu": cpu_model(),
        "cores (usable)": _all_threads(),
        "python": platform.python_version(),
        "numpy version": np.__version__,
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "unset"),
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "unset (runtime default)")
                           + omp_note,
        "load average at start (1/5/15 min)": _loadavg(),
    }
    for c in contenders:
        context.update(c.context())
    # after the contenders' imports, so that their thread pools (OpenMP) are listed too
    context["thread pools (threadpoolctl)"] = blas_threads()
    context.update({
        "shape": f"{args.n} x {args.d}",
        "dtypes": ", ".join(args.dtypes),
        "solvers": ", ".join(f"{s} (lr={LEARNING_RATE[s]})" for s in args.solvers),
        "batch sizes": ", ".join(map(str, args.batch_sizes)),
        "repeats": args.repeats,
        "extrapolation": f"epochs of > {EXTRAPOLATE_FACTOR * args.max_batches:g} batches "
                         f"timed over {args.max_batches} batches",
    })
    if skipped:
        context["skipped"] = "; ".join(f"{k} ({v})" for k, v in skipped.items())

    print("## fastlr epoch benchmark\n")
    for k, v in context.items():
        print(f"- {k}: {v}")
    print(flush=True)

    rows, stream, overhead = [], {}, {}
    t_start = time.perf_counter()
    for dtype in args.dtypes:
        progress(f"[{dtype}] generating {args.n} x {args.d} data")
        X, y = _data.make_binary(args.n, args.d, dtype, args.seed)
        stream[dtype] = s = stream_times(X, max(11, args.repeats))
        gemv1 = s["gemv_1thread_s"]
        print(f"stream-X ({dtype}, {X.nbytes / 1e6:.0f} MB): X.sum() {_fmt_s(s['sum_s'])} s, "
              f"X @ v 1 thread {_fmt_s(gemv1)} s, all threads "
              f"{_fmt_s(s['gemv_all_threads_s'])} s -> floor {_fmt_s(s['best_s'])} s "
              f"({s['best_GBps']:.1f} GB/s)" + (f" [{s['note']}]" if "note" in s else "")
              + f"; NumPy gather of the rows in shuffled order (np.take, 1 thread): "
                f"{_fmt_s(s['gather_shuffled_s'])} s = "
                f"{s['gather_shuffled_s'] / s['best_s']:.1f} x floor")
        if any(isinstance(c, FastlrContender) for c in contenders):
            from fastlr._validation import check_array
            overhead[dtype] = {"check_array_s": _timed(lambda X=X: check_array(X),
                                                       max(3, args.repeats))}

        configs = [(solver, bs) for solver in args.solvers for bs in args.batch_sizes]
        for c in contenders:
            c.setup(X, y)
        for solver, bs in configs:
            for c in contenders:
                c.warmup(solver, bs, args.max_batches)
        results = {}
        for rep in range(args.repeats):
            for solver, bs in configs:
                for c in contenders:
                    r = c.measure(solver, bs, args.max_batches, seed=rep)
                    results.setdefault((c.name, solver, bs), []).append(r)
                    shown = r.get("epoch_s", (r.get("fit3_s", 0) - r.get("fit1_s", 0)) / 2)
                    progress(f"[{dtype} repeat {rep + 1}/{args.repeats}, "
                             f"{time.perf_counter() - t_start:.0f} s] {c.name} {solver} "
                             f"batch {bs}: {shown:.3f} s/epoch")
        for c in contenders:
            c.teardown()
        del X, y

        for solver, bs in configs:
            base = None
            block = []
            for c in contenders:
                row = {"contender": c.name, "dtype": dtype, "solver": solver,
                       "batch_size": bs, "n": args.n, "d": args.d,
                       "repeats": args.repeats}
                row.update(c.summarize(results[(c.name, solver, bs)]))
                ts = [t for t in row["times_s"] if t > 0]
                if len(ts) > 1 and max(ts) > NOISY_SPREAD * min(ts):
                    row["note"] = "; ".join(filter(None, [
                        row.get("note"), f"noisy: repeats {_fmt_s(min(ts))}-"
                                         f"{_fmt_s(max(ts))} s"]))
                row["epoch_over_stream"] = row["epoch_s"] / s["best_s"]
                if c.name == "fastlr":
                    base = row["epoch_s"]
                block.append(row)
            for row in block:
                row["ratio_to_fastlr"] = row["epoch_s"] / base if base else None
            rows.extend(block)
        fit_oh = [r["fit_overhead_s"] for r in rows
                  if r["dtype"] == dtype and r["contender"] == "fastlr"]
        if fit_oh:
            overhead[dtype]["fit_overhead_s_median"] = _median(fit_oh)
            print(f"fastlr fit overhead ({dtype}): check_array(X) "
                  f"{_fmt_s(overhead[dtype]['check_array_s'])} s; fit(max_iter=1) minus "
                  f"one epoch {_fmt_s(_median(fit_oh))} s (median over rows)")

    context["load average at end (1/5/15 min)"] = _loadavg()
    print(f"load average at end (1/5/15 min): {context['load average at end (1/5/15 min)']}")
    table = format_table(rows)
    print()
    print(table)
    print(f"\n(total {time.perf_counter() - t_start:.0f} s)", flush=True)

    result = {"context": context, "stream": stream, "fastlr_overhead": overhead,
              "rows": rows}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2, default=str)
    result["table"] = table
    return result


if __name__ == "__main__":
    main()
