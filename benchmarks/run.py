#!/usr/bin/env python
"""All of fastlr's benchmarks in one process: the machine's limits, one training epoch
against NumPy / PyTorch / scikit-learn loops, time to scikit-learn's optimum (full
batch), predict_proba throughput, and the peak memory of each fit beyond X.

Usage::

    python benchmarks/run.py --quick        # small shapes, under 2 minutes on 2 idle cores
    python benchmarks/run.py                # 1,000,000 x 100 binary (float64, float32),
                                            # 200,000 x 784 10-class float32, 10,000 x 20
    python benchmarks/run.py --sections limits,epoch --json out.json

Sections (``--sections``, default all, in this order):

* ``limits``: memory read bandwidth (a NumPy sum over an array as large as the largest
  X, on one thread and split over one Python thread per core: NumPy releases the GIL)
  and the FLOP rate of a float32 / float64 NumPy matrix product (BLAS, 1 and all threads).
* ``epoch``: one epoch of mini-batch SGD / Adam per contender and batch size, measured
  as ``bench_epoch.py`` does (its adapters, plus scikit-learn's ``MLPClassifier`` with no
  hidden layer and ``SGDClassifier(loss='log_loss')``), as seconds, ratio to fastlr and
  multiple of streaming X once.
* ``fullbatch``: ``bench_fullbatch.py`` (time to reach J* (1 + 1e-6)).
* ``predict``: ``predict_proba`` rows/s: fastlr, scikit-learn, a PyTorch forward pass.
* ``memory``: each contender's fit in a fresh subprocess; peak resident memory during
  the fit minus the resident memory once X exists (``VmHWM`` reset through
  ``/proc/self/clear_refs``), as MB and as a share of X.

Then a summary of the targets of the issue with the measured values (reported, never
asserted), a JSON file and a PNG plot of epoch time against batch size (matplotlib).
See benchmarks/README.md.
"""

import argparse
import gc
import json
import math
import os
import platform
import subprocess
import sys
import threading
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _p in (HERE, ROOT):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import bench_epoch as be  # noqa: E402
import bench_fullbatch as bf  # noqa: E402
import numpy as np  # noqa: E402

SECTIONS = ("limits", "epoch", "fullbatch", "predict", "memory")

# (kind, n, d, k, dtype): bench_fullbatch's problems and a small one (kind "small" is a
# binary problem)
SMALL_SHAPE = ("small", 10_000, 20, 2, "float64")
FULL_SHAPES = bf.FULL_PROBLEMS + (SMALL_SHAPE,)
QUICK_SHAPES = bf.QUICK_PROBLEMS + (SMALL_SHAPE,)
DEFAULT_REPEATS, QUICK_REPEATS = 3, 2
EPOCH_CONTENDERS = ("fastlr", "fastlr-1thread", "numpy", "torch-dataloader",
                    "torch-randperm", "sklearn-mlp", "sklearn-sgdclassifier")
# diagnostic, not in the default set: n_threads=-1 (all cores, given explicitly), with
# which fastlr splits large enough mini-batches across threads (n_threads=None does not)
EXTRA_EPOCH_CONTENDERS = ("fastlr-allthreads",)
MEMORY_CONTENDERS = ("fastlr-lbfgs", "fastlr-adam", "numpy-adam", "torch-randperm-adam",
                     "torch-dataloader-adam", "sklearn-lbfgs", "sklearn-newton-cholesky",
                     "sklearn-mlp-adam", "sklearn-sgdclassifier")
PREDICT_CONTENDERS = ("fastlr", "fastlr-1thread", "sklearn", "torch-forward")
MEMORY_BATCH = 256
MEMORY_METHOD = ("fresh subprocess per fit: imports and a small warm-up fit, then X is "
                 "generated; extra = peak resident set during the fit (VmHWM, reset via "
                 "/proc/self/clear_refs once X exists) minus the resident set at that "
                 "moment")

_median = be._median
_fmt_s = be._fmt_s
_fmt_x = be._fmt_x


def shape_key(shape):
    kind, n, d, k, dtype = shape
    return f"{kind}-{dtype}"


# The same (kind, n, d, k, dtype) shapes as bench_fullbatch: one definition serves both.
shape_label = bf._problem_label
make_data = bf.make_problem


def _interleaved(fns, repeats, settle=0.0, min_time=0.0):
    """Medians of the seconds per call of each callable, repeats interleaved, each after a
    pause of ``settle`` seconds (see bench_fullbatch.SETTLE_S). With ``min_time``, a repeat
    times ``number`` back-to-back calls, enough to last about ``min_time`` (calibrated per
    callable from one call beforehand, the same for all its repeats), and divides: a
    throughput, where one call of well under a millisecond timed alone after the pause
    mostly measures a core waking up. Returns the medians, the per-call times of the
    repeats, and each callable's ``number``."""
    number = dict.fromkeys(fns, 1)
    for key, fn in fns.items() if min_time else ():
        t0 = time.perf_counter()
        fn()
        number[key] = max(1, int(min_time / max(time.perf_counter() - t0, 1e-7)))
    times = {key: [] for key in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            if settle:
                time.sleep(settle)
            t0 = time.perf_counter()
            for _ in range(number[key]):
                fn()
            times[key].append((time.perf_counter() - t0) / number[key])
    return {key: _median(ts) for key, ts in times.items()}, times, number


# ---------------------------------------------------------------------------------------
# Machine limits.
# ---------------------------------------------------------------------------------------

def _parallel_sum(parts):
    out = [None] * len(parts)

    def work(i):
        out[i] = parts[i].sum()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(parts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def machine_limits(nbytes, repeats, matmul_n):
    """Read bandwidth of a NumPy sum over ``nbytes`` of float64 (1 thread; one Python
    thread per core, each summing its share), and matmul FLOP rates. These are ceilings,
    so each figure is the fastest of its repeats (a busy neighbour only ever slows a
    repeat down), after a warm-up of about half a second on all cores."""
    cores = be._all_threads()
    a = np.ones(max(nbytes // 8, 1 << 20))        # touched: every page is resident
    parts = np.array_split(a, cores)
    t_end = time.perf_counter() + 0.5
    while time.perf_counter() < t_end:
        _parallel_sum(parts)
    _, times, _ = _interleaved({"sum_1thread_s": a.sum,
                             "sum_threads_s": lambda parts=parts: _parallel_sum(parts)},
                            max(repeats, 7))
    med = {key: min(ts) for key, ts in times.items()}
    out = {"array_MB": a.nbytes / 1e6, "threads": cores, **med,
           "read_GBps_1thread": a.nbytes / med["sum_1thread_s"] / 1e9,
           "read_GBps_threads": a.nbytes / med["sum_threads_s"] / 1e9}
    a = parts = None
    gc.collect()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    rng = np.random.default_rng(0)
    for dt in ("float32", "float64"):
        A = rng.standard_normal((matmul_n, matmul_n), dtype=dt)
        B = rng.standard_normal((matmul_n, matmul_n), dtype=dt)
        A @ B                                           # warm-up (BLAS threads start)
        flops = 2.0 * matmul_n ** 3
        t_all = min(_timed1(lambda A=A, B=B: A @ B) for _ in range(max(repeats, 5)))
        out[f"matmul_{dt}_all_s"] = t_all
        out[f"GFLOPs_{dt}_all"] = flops / t_all / 1e9
        if threadpool_limits is not None:
            with threadpool_limits(limits=1, user_api="blas"):
                t1 = min(_timed1(lambda A=A, B=B: A @ B) for _ in range(max(repeats, 5)))
            out[f"matmul_{dt}_1thread_s"] = t1
            out[f"GFLOPs_{dt}_1thread"] = flops / t1 / 1e9
    out["matmul_n"] = matmul_n
    return out


def _timed1(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def format_limits(lim):
    lines = ["| measure | value |", "|---|---|",
             f"| memory read, NumPy sum of {lim['array_MB']:.0f} MB float64, 1 thread "
             "(fastest repeat) | "
             f"{lim['read_GBps_1thread']:.1f} GB/s ({_fmt_s(lim['sum_1thread_s'])} s) |",
             f"| memory read, same array in {lim['threads']} parts summed by "
             f"{lim['threads']} Python threads | {lim['read_GBps_threads']:.1f} GB/s "
             f"({_fmt_s(lim['sum_threads_s'])} s) |"]
    for dt in ("float32", "float64"):
        n = lim["matmul_n"]
        txt = f"{lim[f'GFLOPs_{dt}_all']:.0f} GFLOP/s all BLAS threads"
        if f"GFLOPs_{dt}_1thread" in lim:
            txt += f", {lim[f'GFLOPs_{dt}_1thread']:.0f} GFLOP/s 1 thread"
        lines.append(f"| NumPy matmul {n} x {n} @ {n} x {n}, {dt} (fastest repeat) | {txt} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Epoch contenders beyond bench_epoch's: multiclass loops, scikit-learn.
# ---------------------------------------------------------------------------------------

def _optimizer_step(theta, g, m, v, solver, step):
    """torch.optim.SGD / Adam on flat arrays (as bench_epoch's NumPy loop writes it)."""
    lr = be.LEARNING_RATE[solver]
    if solver == "sgd":
        g *= lr
        theta -= g
        return
    b1, b2 = be.BETAS
    m *= b1
    m += (1.0 - b1) * g
    v *= b2
    v += (1.0 - b2) * (g * g)
    denom = np.sqrt(v)
    denom *= 1.0 / math.sqrt(1.0 - b2 ** step)
    denom += be.EPS
    theta -= (lr / (1.0 - b1 ** step)) * (m / denom)


class NumpySoftmaxContender(be.NumpyContender):
    """The NumPy loop for k classes: softmax, mean cross-entropy, G = (P - Y)^T Xb / B."""

    def setup(self, X, y):
        self.X, self.y = X, np.ascontiguousarray(y, dtype=np.intp)
        self.k = int(self.y.max()) + 1

    def run(self, solver, batch_size, max_batches, seed):
        X, y, k = self.X, self.y, self.k
        n, d = X.shape
        dt = X.dtype
        theta = np.zeros(k * d + k, dtype=dt)
        W, bias = theta[:k * d].reshape(k, d), theta[k * d:]
        g = np.empty_like(theta)
        gW, gb = g[:k * d].reshape(k, d), g[k * d:]
        m, v = np.zeros_like(theta), np.zeros_like(theta)
        nb = -(-n // batch_size)
        timed = nb if max_batches is None else min(nb, max_batches)
        rng = np.random.default_rng(seed)
        t0 = time.perf_counter()
        idx = rng.permutation(n)
        t1 = time.perf_counter()
        for i in range(timed):
            sel = idx[i * batch_size:(i + 1) * batch_size]
            B = len(sel)
            Xb = X[sel]
            Z = Xb @ W.T
            Z += bias
            Z -= Z.max(axis=1, keepdims=True)
            np.exp(Z, out=Z)
            Z /= Z.sum(axis=1, keepdims=True)           # P
            Z[np.arange(B), y[sel]] -= 1.0              # P - Y
            Z *= 1.0 / B
            np.matmul(Z.T, Xb, out=gW)
            gb[...] = Z.sum(axis=0)
            _optimizer_step(theta, g, m, v, solver, i + 1)
        t2 = time.perf_counter()
        return t1 - t0, t2 - t1, nb, timed


class _TorchMulticlass:
    """nn.Linear(d, k) and CrossEntropyLoss (mean) instead of the binary head."""

    def setup(self, X, y):
        super().setup(X, y)
        self.yt = self.torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64))
        self.k = int(y.max()) + 1

    def _model(self, solver):
        torch = self.torch
        model = torch.nn.Linear(self.Xt.shape[1], self.k, dtype=self.Xt.dtype)
        with torch.no_grad():
            model.weight.zero_()
            model.bias.zero_()
        lr = be.LEARNING_RATE[solver]
        if solver == "sgd":
            opt = torch.optim.SGD(model.parameters(), lr=lr)
        else:
            opt = torch.optim.Adam(model.parameters(), lr=lr, betas=be.BETAS, eps=be.EPS)
        return model, opt, torch.nn.CrossEntropyLoss()


class TorchDataLoaderMulticlass(_TorchMulticlass, be.TorchDataLoaderContender):
    pass


class TorchRandpermMulticlass(_TorchMulticlass, be.TorchRandpermContender):
    pass


SLOPE_MIN_S = 0.05        # the extra epochs of a slope measurement take at least this long
# ... and of fastlr's, outside --quick: its epochs are tens of milliseconds, and a fit's
# own time varies by that much on this shared machine, so the difference of a 1-epoch
# and a 3-epoch fit swung from 0.0195 to 0.0579 s for one binary float32 row (45fb053)
FASTLR_SLOPE_MIN_S = 0.25
MAX_EXTRA_EPOCHS = 200


class _AdaptiveSlope:
    """Epoch = slope of whole-fit times, ``(t(max_iter=1+E) - t(max_iter=1)) / E``, as
    bench_epoch times fastlr (E = 2 there), so that the per-fit overhead (validation,
    label encoding) stays out. E is 2 unless an epoch is so cheap (the ``small`` shape:
    tens of microseconds) that two of them drown in the noise of a fit; then a pilot
    picks E so that the extra epochs take about ``slope_min_s`` (SLOPE_MIN_S;
    FASTLR_SLOPE_MIN_S for fastlr outside --quick; at most 200 epochs).

    Subclasses provide ``_fit_rows(solver, batch_size, max_iter, m, seed)`` (seconds of
    one fit on the first m rows) and may override ``_rows(batch_size, max_batches)``
    (rows to fit on; fewer than n means the epoch is scaled by n / m)."""

    slope_min_s = SLOPE_MIN_S

    def _rows(self, batch_size, max_batches):
        return self.X.shape[0]

    def _extra(self, solver, batch_size):
        return getattr(self, "_extra_epochs", {}).get((solver, batch_size), 2)

    def warmup(self, solver, batch_size, max_batches):
        n = self.X.shape[0]
        m_small = min(n, max(2 * batch_size, 5000))
        t_small = self._fit_rows(solver, batch_size, 1, m_small, 12345)
        m = self._rows(batch_size, max_batches)
        extra = 2
        if t_small * m / m_small < self.slope_min_s:   # an epoch costs less than this
            t1 = self._fit_rows(solver, batch_size, 1, m, 12345)
            t3 = self._fit_rows(solver, batch_size, 3, m, 12345)
            per = max((t3 - t1) / 2.0, 1e-6)
            extra = int(min(MAX_EXTRA_EPOCHS, max(2, math.ceil(self.slope_min_s / per))))
        if not hasattr(self, "_extra_epochs"):
            self._extra_epochs = {}
        self._extra_epochs[(solver, batch_size)] = extra

    def measure(self, solver, batch_size, max_batches, seed):
        n = self.X.shape[0]
        m = self._rows(batch_size, max_batches)
        extra = self._extra(solver, batch_size)
        return {"fit1_s": self._fit_rows(solver, batch_size, 1, m, seed),
                "fitN_s": self._fit_rows(solver, batch_size, 1 + extra, m, seed),
                "extra_epochs": extra, "m": m, "n": n,
                "n_batches": self.n_batches(batch_size),
                "timed_batches": -(-self.n_batches(batch_size) * m // n)}

    def summarize(self, results):
        n, m, extra = results[0]["n"], results[0]["m"], results[0]["extra_epochs"]
        scale = n / m
        t1 = _median([r["fit1_s"] for r in results])
        tn = _median([r["fitN_s"] for r in results])
        slopes = [(r["fitN_s"] - r["fit1_s"]) / extra * scale for r in results]
        row = {"fit1_s": t1, f"fit{1 + extra}_s": tn, "extra_epochs": extra,
               "times_s": slopes, "n_batches": results[0]["n_batches"],
               "timed_batches": results[0]["timed_batches"], "extrapolated": m < n}
        epoch = _median(slopes)   # each repeat's own slope, as bench_epoch's summarize
        notes = []
        if m < n:
            notes.append(f"(extrapolated) from {row['timed_batches']} of "
                         f"{row['n_batches']} batches")
        if extra > 2:
            notes.append(f"slope over {extra} epochs")
        if epoch <= 0:
            epoch = t1 * scale
            notes.append("slope <= 0 (noise): fit(max_iter=1) time shown")
        row["epoch_s"] = epoch
        row["fit_overhead_s"] = t1 - epoch / scale if epoch > 0 else None
        if notes:
            row["note"] = "; ".join(notes)
        return row


class FastlrEpochContender(_AdaptiveSlope, be.FastlrContender):
    """bench_epoch's fastlr adapter (same estimator, epoch = slope of fit times) with
    the number of extra epochs adapted to tiny problems (see _AdaptiveSlope).

    A fastlr measurement (fits of 1 and 3 epochs) takes a fraction of a second, so each
    repeat takes samples_per_repeat of them (one in --quick): a median over 3 x the
    repeats. A full run on 45fb053 measured one binary float32 epoch (adam, batch 256,
    one thread) at 0.051, 0.037 and 0.033 s in its three repeats (another process on
    the machine): a median of three can land on a slow spell."""

    samples_per_repeat = 3

    def _fit_rows(self, solver, batch_size, max_iter, m, seed):
        return self._fit_time(solver, batch_size, max_iter, self.X[:m], self.y[:m])


class _SklearnEpochContender(_AdaptiveSlope, bf.SklearnPeer, be.Contender):
    """A scikit-learn estimator trained for 1 and 1 + E epochs (``max_iter``); epoch =
    the slope, as for fastlr. An epoch of more than 2.5 x max_batches batches is timed on
    the first ``max_batches * batch`` rows (i.i.d. rows, the same per-batch work) and
    scaled by n / m, like the PyTorch loops."""

    def _estimator(self, solver, batch_size, max_iter, seed):
        raise NotImplementedError

    def _fit_rows(self, solver, batch_size, max_iter, m, seed):
        est = self._estimator(solver, batch_size, max_iter, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            est.fit(self.X[:m], self.y[:m])
            return time.perf_counter() - t0

    def _rows(self, batch_size, max_batches):
        n = self.X.shape[0]
        nb = self.n_batches(batch_size)
        return n if nb <= be.EXTRAPOLATE_FACTOR * max_batches else max_batches * batch_size


class MLPContender(_SklearnEpochContender):
    """``MLPClassifier(hidden_layer_sizes=(), solver=..., batch_size=B, alpha=0)``: no
    hidden layer, so logistic / softmax regression with torch.optim's update rules."""

    name = "sklearn-mlp"

    def _estimator(self, solver, batch_size, max_iter, seed):
        from sklearn.neural_network import MLPClassifier
        return MLPClassifier(
            hidden_layer_sizes=(), solver=solver, alpha=0.0, batch_size=batch_size,
            learning_rate="constant", learning_rate_init=be.LEARNING_RATE[solver],
            momentum=0.0, nesterovs_momentum=False, beta_1=be.BETAS[0],
            beta_2=be.BETAS[1], epsilon=be.EPS, max_iter=max_iter, shuffle=True,
            random_state=seed, tol=0.0, n_iter_no_change=max_iter + 1)


class SGDClassifierContender(_SklearnEpochContender):
    """``SGDClassifier(loss='log_loss', penalty=None, learning_rate='constant',
    eta0=0.01, tol=None)``: per-sample SGD (batch 1); k classes are k one-vs-rest binary
    models, i.e. k passes per epoch. Run once per dtype, with solver 'sgd'; its ratio is
    taken to fastlr's sgd epoch at the smallest batch size."""

    name = "sklearn-sgdclassifier"
    fixed_batch = 1

    def runs(self, solver, batch_size, batch_sizes):
        return solver == "sgd" and batch_size == min(batch_sizes)

    def n_batches(self, batch_size):
        return self.X.shape[0]

    def _rows(self, batch_size, max_batches):
        return self.X.shape[0]           # per-sample updates in compiled code: never scaled

    def _fit_rows(self, solver, batch_size, max_iter, m, seed):
        return super()._fit_rows(solver, 1, max_iter, m, seed)

    def _estimator(self, solver, batch_size, max_iter, seed):
        from sklearn.linear_model import SGDClassifier
        return SGDClassifier(loss="log_loss", penalty=None, learning_rate="constant",
                             eta0=be.LEARNING_RATE["sgd"], max_iter=max_iter, tol=None,
                             shuffle=True, random_state=seed)


def make_epoch_contenders(names, k, torch_threads):
    out, skipped = [], {}
    for key in names:
        if key == "fastlr":
            c = FastlrEpochContender()
        elif key == "fastlr-1thread":
            c = FastlrEpochContender(n_threads=1, name="fastlr-1thread")
        elif key == "fastlr-allthreads":
            c = FastlrEpochContender(n_threads=-1, name="fastlr-allthreads")
        elif key == "numpy":
            c = be.NumpyContender() if k == 2 else NumpySoftmaxContender()
        elif key == "torch-dataloader":
            c = be.TorchDataLoaderContender() if k == 2 else TorchDataLoaderMulticlass()
        elif key == "torch-randperm":
            c = be.TorchRandpermContender() if k == 2 else TorchRandpermMulticlass()
        elif key == "sklearn-mlp":
            c = MLPContender()
        elif key == "sklearn-sgdclassifier":
            c = SGDClassifierContender()
        else:
            raise ValueError(f"unknown epoch contender {key!r}")
        if isinstance(c, be._TorchContender):
            c.n_threads = torch_threads
        reason = c.unavailable()
        if reason:
            skipped[key] = reason
        else:
            out.append(c)
    return out, skipped


def _runs(c, solver, bs, batch_sizes):
    fn = getattr(c, "runs", None)
    return True if fn is None else fn(solver, bs, batch_sizes)


def _stream_probe(X):
    """A callable timing one single-threaded BLAS pass over X (``X @ v``), or None
    without threadpoolctl. fastlr-1thread's measurements each come right after one, so
    that its epoch is compared with a pass over X under the same conditions: the up-front
    stream-X medians caught a slow spell in one full run (0.0395 s for what usually takes
    0.027 s) and a quiet one in others."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    v = np.ones(X.shape[1], dtype=X.dtype)

    def probe():
        with threadpool_limits(limits=1):
            return _timed1(lambda: X @ v)
    return probe


def epoch_section(shape, X, y, stream, args, progress, t_start):
    """bench_epoch's measurement loop over this section's contenders (interleaved
    repeats, medians, ratios to fastlr, epoch / stream-X)."""
    kind, n, d, k, dtype = shape
    probe, probes = _stream_probe(X), {}
    contenders, skipped = make_epoch_contenders(args.epoch_contenders, k, args.torch_threads)
    configs = [(s, bs) for s in args.solvers for bs in args.batch_sizes]
    for c in contenders:
        c.setup(X, y)
        if isinstance(c, FastlrEpochContender) and not args.quick:
            c.slope_min_s = FASTLR_SLOPE_MIN_S
    for solver, bs in configs:
        for c in contenders:
            if _runs(c, solver, bs, args.batch_sizes):
                c.warmup(solver, bs, args.max_batches)
    results = {}
    for rep in range(args.repeats):
        for solver, bs in configs:
            for c in contenders:
                if not _runs(c, solver, bs, args.batch_sizes):
                    continue
                samples = 1 if args.quick else getattr(c, "samples_per_repeat", 1)
                for _ in range(samples):
                    time.sleep(args.settle_s)
                    if probe is not None and c.name == "fastlr-1thread":
                        probes.setdefault((solver, bs), []).append(probe())
                    r = c.measure(solver, bs, args.max_batches, seed=rep)
                    results.setdefault((c.name, solver, bs), []).append(r)
                    if "epoch_s" in r:
                        shown = r["epoch_s"]
                    else:  # slope contenders: fit1_s and fitN_s (N = 1 + extra) or fit3_s
                        extra = r.get("extra_epochs", 2)
                        shown = (r.get("fitN_s", r.get("fit3_s", 0.0)) - r["fit1_s"]) / extra
                        shown *= r.get("n", 1) / r.get("m", 1)
                    progress(f"[epoch {shape_label(shape)} {dtype} repeat {rep + 1}/"
                             f"{args.repeats}, {time.perf_counter() - t_start:.0f} s] "
                             f"{c.name} {solver} batch {bs}: {shown:.3f} s")
    for c in contenders:
        c.teardown()
    rows = []
    floor = stream["best_s"]
    smallest = min(args.batch_sizes)
    for solver, bs in configs:
        block = []
        for c in contenders:
            if (c.name, solver, bs) not in results:
                continue
            fixed = getattr(c, "fixed_batch", None)
            row = {"contender": c.name, "problem": shape_label(shape), "kind": kind,
                   "dtype": dtype, "solver": solver, "batch_size": fixed or bs,
                   "n": n, "d": d, "k": k,
                   "repeats": len(results[(c.name, solver, bs)])}
            row.update(c.summarize(results[(c.name, solver, bs)]))
            ts = [t for t in row["times_s"] if t > 0]
            if len(ts) > 1 and max(ts) > be.NOISY_SPREAD * min(ts):
                row["note"] = "; ".join(filter(None, [
                    row.get("note"), f"noisy: repeats {_fmt_s(min(ts))}-{_fmt_s(max(ts))} s"]))
            if fixed:
                row["note"] = "; ".join(filter(None, [
                    row.get("note"), f"per-sample SGD; ratio vs fastlr at batch {smallest}"
                    + (f"; {k} one-vs-rest passes" if k > 2 else "")]))
            row["epoch_over_stream"] = row["epoch_s"] / floor
            if c.name == "fastlr-1thread" and probes.get((solver, bs)):
                row["stream_1thread_interleaved_s"] = _median(probes[(solver, bs)])
            block.append(row)
        base = next((r["epoch_s"] for r in block if r["contender"] == "fastlr"), None)
        for r in block:
            r["ratio_to_fastlr"] = r["epoch_s"] / base if base else None
        rows.extend(block)
    return rows, skipped


# ---------------------------------------------------------------------------------------
# predict_proba throughput.
# ---------------------------------------------------------------------------------------

# A predict_proba repeat lasts at least about this long (see _interleaved): a throughput
# over back-to-back calls. It was 20 ms (one call of the large shapes). On this project's
# VM, with OMP_WAIT_POLICY=PASSIVE (the benchmark's default), short bursts of work between
# the pauses ran slower than sustained work: fastlr's binary float32 call on 1,000,000 x
# 100 took 11-12 ms per call, the first one too, in bursts of 3 calls every 0.15 s, and
# 8.6-9.1 ms in bursts of 8, the first one too (per-call medians of 8 bursts, in
# alternating processes), so the figure said more about the pause than about the call.
# At 0.1 s every contender's large-shape repeat is a few back-to-back calls.
PREDICT_MIN_TIME_S = 0.1
# Repeats of a shape whose calls are short (below PREDICT_MIN_TIME_S, so many per
# repeat): each repeat is a window that a busy neighbour can slow as a whole, and five
# 20 ms windows were not enough. One full run had fastlr and fastlr-1thread, the same
# single-threaded call on 10,000 x 20, at 53.5 and 39.5 us. Fifteen.
PREDICT_SHORT_REPEATS = 15


def predict_section(shape, X, y, args):
    """Rows per second of predict_proba on all of X (medians, interleaved)."""
    kind, n, d, k, dtype = shape
    from fastlr import LogisticRegression as FastLR
    m = min(n, 20_000)
    fns, skipped, notes = {}, {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = FastLR(max_iter=30).fit(X[:m], y[:m])
        fast1 = FastLR(max_iter=30, n_threads=1).fit(X[:m], y[:m])
    want = args.predict_contenders
    if "fastlr" in want:
        fns["fastlr"] = lambda: fast.predict_proba(X)
    if "fastlr-1thread" in want:
        fns["fastlr-1thread"] = lambda: fast1.predict_proba(X)
    if "sklearn" in want:
        try:
            from sklearn.linear_model import LogisticRegression as SkLR
        except ImportError:
            skipped["sklearn"] = "scikit-learn not importable"
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sk = SkLR(max_iter=30).fit(X[:m], y[:m])
            fns["sklearn"] = lambda: sk.predict_proba(X)
    if "torch-forward" in want:
        try:
            import torch
        except ImportError:
            skipped["torch-forward"] = "torch not importable"
        else:
            old = torch.get_num_threads()
            torch.set_num_threads(args.torch_threads or be._all_threads())
            kk = fast.coef_.shape[0]
            lin = torch.nn.Linear(d, kk, dtype=torch.from_numpy(X[:1]).dtype)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(fast.coef_)))
                lin.bias.copy_(torch.from_numpy(np.ascontiguousarray(fast.intercept_)))
            Xt = torch.from_numpy(X)
            act = torch.sigmoid if kk == 1 else (lambda z: torch.softmax(z, dim=1))

            def fwd():
                with torch.no_grad():
                    return act(lin(Xt))
            fns["torch-forward"] = fwd
            if kk == 1:
                notes["torch-forward"] = "returns P(y=1) only, (n, 1); the others (n, 2)"
    short = False
    for fn in fns.values():                     # warm-up
        t0 = time.perf_counter()
        fn()
        short = short or time.perf_counter() - t0 < PREDICT_MIN_TIME_S
    repeats = max(args.repeats, 3 if args.quick else 5)
    if short and not args.quick:
        repeats = max(repeats, PREDICT_SHORT_REPEATS)
    med, times, number = _interleaved(fns, repeats, settle=args.settle_s,
                                      min_time=PREDICT_MIN_TIME_S)
    if "torch-forward" in fns:
        torch.set_num_threads(old)
    rows = []
    base = med.get("fastlr")
    for key, t in med.items():
        row = {"contender": key, "problem": shape_label(shape), "dtype": dtype, "n": n,
               "d": d, "k": k, "seconds": t, "rows_per_s": n / t, "times_s": times[key],
               "ratio_to_fastlr": t / base if base else None}
        ts = times[key]
        note = notes.get(key, "")
        if number[key] > 1:
            note = "; ".join(filter(None, [note, f"{number[key]} calls per repeat"]))
        row["calls_per_repeat"] = number[key]
        if len(ts) > 1 and max(ts) > be.NOISY_SPREAD * min(ts):
            note = "; ".join(filter(None, [note, f"noisy: repeats {_fmt_s(min(ts))}-"
                                                 f"{_fmt_s(max(ts))} s"]))
        row["note"] = note
        rows.append(row)
    return rows, skipped


def format_predict_table(rows):
    lines = ["| contender | problem | dtype | seconds (median) | rows/s | ratio to fastlr "
             "| note |", "|" + "---|" * 7]
    for r in rows:
        lines.append(f"| {r['contender']} | {r['problem']} | {r['dtype']} | "
                     f"{_fmt_s(r['seconds'])} | {r['rows_per_s']:.3g} | "
                     f"{_fmt_x(r['ratio_to_fastlr'])} | {r.get('note', '')} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Peak memory (subprocesses).
# ---------------------------------------------------------------------------------------

def _status_kb(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _memory_fit(name, k, X_dtype):
    """A callable ``fit(X, y)`` for a memory contender (imports done here)."""
    C_INF = float("inf")
    if name == "fastlr-lbfgs":
        from fastlr import LogisticRegression
        return lambda X, y: LogisticRegression(C=1.0).fit(X, y)
    if name == "fastlr-adam":
        from fastlr import LogisticRegression
        return lambda X, y: LogisticRegression(
            solver="adam", batch_size=MEMORY_BATCH, max_iter=1, tol=None, C=C_INF,
            random_state=0).fit(X, y)
    if name in ("sklearn-lbfgs", "sklearn-newton-cholesky"):
        from sklearn.linear_model import LogisticRegression
        solver = name.split("-", 1)[1]
        return lambda X, y: LogisticRegression(solver=solver, C=1.0).fit(X, y)
    if name == "sklearn-mlp-adam":
        c = MLPContender()
        return lambda X, y: c._estimator("adam", MEMORY_BATCH, 1, 0).fit(X, y)
    if name == "sklearn-sgdclassifier":
        c = SGDClassifierContender()
        return lambda X, y: c._estimator("sgd", 1, 1, 0).fit(X, y)
    loops = {"numpy-adam": "numpy", "torch-randperm-adam": "torch-randperm",
             "torch-dataloader-adam": "torch-dataloader"}
    if name in loops:
        (c,), _ = make_epoch_contenders([loops[name]], k, None)

        def fit(X, y):
            c.setup(X, y)
            try:
                c.run("adam", MEMORY_BATCH, None, 0)
            finally:
                c.teardown()
        return fit
    raise ValueError(f"unknown memory contender {name!r}")


def memory_child(spec):
    """Runs in the subprocess: print one JSON line with the measurement."""
    shape = tuple(spec["shape"])
    kind, n, d, k, dtype = shape
    warnings.simplefilter("ignore")
    fit = _memory_fit(spec["contender"], k, dtype)
    small = (kind, min(n, 2000), d, k, dtype)
    Xs, ys = make_data(small, spec["seed"])
    fit(Xs, ys)                                 # lazy imports, thread pools, buffers
    del Xs, ys
    gc.collect()
    X, y = make_data(shape, spec["seed"])
    gc.collect()
    rss0 = _status_kb("VmRSS")
    reset = _reset_peak()
    t0 = time.perf_counter()
    fit(X, y)
    t = time.perf_counter() - t0
    if reset:
        peak, how = _status_kb("VmHWM"), "VmHWM"
    else:
        import resource
        peak, how = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "ru_maxrss"
    print(json.dumps({"rss_after_X_kB": rss0, "peak_kB": peak, "fit_s": t,
                      "peak_source": how, "X_bytes": int(X.nbytes)}))


def memory_section(shapes, args, progress):
    rows = []
    for shape in shapes:
        kind, n, d, k, dtype = shape
        for name in args.memory_contenders:
            row = {"contender": name, "problem": shape_label(shape), "dtype": dtype,
                   "n": n, "d": d, "k": k, "X_MB": n * d * np.dtype(dtype).itemsize / 1e6}
            if k > 2 and name == "sklearn-newton-cholesky":
                row["note"] = "skipped: (d k)^2 Hessian, see the full-batch section"
                rows.append(row)
                continue
            lib = ("torch" if name.startswith("torch") else
                   "sklearn" if name.startswith("sklearn") else None)
            if lib and _find_spec(lib) is None:
                row["note"] = f"skipped: {lib} not importable"
                rows.append(row)
                continue
            spec = {"shape": list(shape), "contender": name, "seed": args.seed}
            cmd = [sys.executable, os.path.abspath(__file__), "--_memory-child",
                   json.dumps(spec)]
            t0 = time.perf_counter()
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True,
                                      timeout=args.memory_timeout)
            except subprocess.TimeoutExpired:
                row["note"] = f"timed out after {args.memory_timeout:g} s"
                rows.append(row)
                continue
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            if proc.returncode != 0 or not lines:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
                row["note"] = f"failed (exit {proc.returncode}): {tail[0][:200]}"
                rows.append(row)
                continue
            res = json.loads(lines[-1])
            extra = (res["peak_kB"] - res["rss_after_X_kB"]) * 1024 / 1e6
            row.update(res)
            row["extra_MB"] = extra
            row["extra_share_of_X"] = extra / (res["X_bytes"] / 1e6)
            if res["peak_source"] != "VmHWM":
                row["note"] = "ru_maxrss (peak could not be reset: includes data generation)"
            rows.append(row)
            progress(f"[memory {shape_label(shape)} {dtype}] {name}: +{extra:.1f} MB "
                     f"({100 * row['extra_share_of_X']:.1f}% of X), subprocess "
                     f"{time.perf_counter() - t0:.1f} s")
    return rows


def _find_spec(name):
    import importlib.util
    return importlib.util.find_spec(name)


def format_memory_table(rows):
    lines = ["| contender | problem | dtype | X MB | peak beyond X, MB | share of X | "
             "fit s | note |", "|" + "---|" * 8]
    for r in rows:
        if "extra_MB" in r:
            lines.append(f"| {r['contender']} | {r['problem']} | {r['dtype']} | "
                         f"{r['X_MB']:.0f} | {r['extra_MB']:.1f} | "
                         f"{100 * r['extra_share_of_X']:.1f}% | {_fmt_s(r['fit_s'])} | "
                         f"{r.get('note', '')} |")
        else:
            lines.append(f"| {r['contender']} | {r['problem']} | {r['dtype']} | "
                         f"{r['X_MB']:.0f} | n/a | n/a | n/a | {r.get('note', '')} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Targets of the issue (reported with the measured values; never asserted).
# ---------------------------------------------------------------------------------------

def targets(result, quick):
    out = []

    def add(target, case, measured, met):
        out.append({"target": target, "case": case, "measured": measured,
                    "met": None if met is None else bool(met)})

    epoch = result.get("epoch", {}).get("rows", [])
    streams = result.get("epoch", {}).get("stream", {})
    big_bs = [b for b in (32, 4096)]
    for r in epoch:
        if r["kind"] != "binary" or r["contender"] != "fastlr-1thread":
            continue
        s = streams.get(f"{r['kind']}-{r['dtype']}", {})
        ones = [t for t in (s.get("sum_s"), s.get("gemv_1thread_s")) if t]
        if not ones:
            continue
        one = min(ones)                 # reading X once on one thread, up front
        ratio = r["epoch_s"] / one
        inter = r.get("stream_1thread_interleaved_s")
        if inter:
            # judged against the passes timed between the epoch's own measurements
            ratio_i = r["epoch_s"] / inter
            text = (f"{ratio_i:.2f}x ({_fmt_s(r['epoch_s'])} s vs {_fmt_s(inter)} s "
                    f"interleaved; {ratio:.2f}x vs {_fmt_s(one)} s up front)")
        else:
            ratio_i = ratio
            text = f"{ratio:.2f}x ({_fmt_s(r['epoch_s'])} s vs {_fmt_s(one)} s)"
        if 32 <= r["batch_size"] <= 4096:
            add("binary epoch <= 3x stream-X once, 1 thread (batch 32..4096)",
                f"{r['problem']} {r['dtype']} {r['solver']} batch {r['batch_size']}",
                text, ratio_i <= 3.0)
    for r in epoch:
        if r["kind"] != "binary" or r["contender"] != "fastlr" or r["batch_size"] not in big_bs:
            continue
        peers = [q for q in epoch if q["problem"] == r["problem"] and q["dtype"] == r["dtype"]
                 and q["solver"] == r["solver"] and q["batch_size"] == r["batch_size"]
                 and q["contender"].startswith("torch")]
        if not peers:
            continue
        best = min(peers, key=lambda q: q["epoch_s"])
        ratio = best["epoch_s"] / r["epoch_s"]
        need = 40.0 if r["batch_size"] == 32 else 5.0
        add(f"binary epoch >= {need:g}x faster than a PyTorch loop (batch {r['batch_size']})",
            f"{r['problem']} {r['dtype']} {r['solver']}",
            f"{ratio:.1f}x (vs {best['contender']})", ratio >= need)
    for r in epoch:
        if r["k"] <= 2 or r["contender"] != "fastlr" or r["batch_size"] not in big_bs:
            continue
        peers = [q for q in epoch if q["problem"] == r["problem"] and q["dtype"] == r["dtype"]
                 and q["solver"] == r["solver"] and q["batch_size"] == r["batch_size"]
                 and not q["contender"].startswith("fastlr")]
        if not peers:
            continue
        best = min(peers, key=lambda q: q["epoch_s"])
        ratio = best["epoch_s"] / r["epoch_s"]
        need = 5.0 if r["batch_size"] == 32 else 2.0
        add(f"10-class epoch >= {need:g}x faster than the best peer (batch "
            f"{r['batch_size']})", f"{r['problem']} {r['dtype']} {r['solver']}",
            f"{ratio:.1f}x (vs {best['contender']})", ratio >= need)
    pred = result.get("predict", {}).get("rows", [])
    for r in pred:
        if r["contender"] == "torch-forward" and r.get("ratio_to_fastlr"):
            add("predict_proba >= torch forward", f"{r['problem']} {r['dtype']}",
                f"{r['ratio_to_fastlr']:.2f}x", r["ratio_to_fastlr"] >= 1.0)
        if r["contender"] == "sklearn" and r.get("ratio_to_fastlr"):
            add("predict_proba >= 3x scikit-learn", f"{r['problem']} {r['dtype']}",
                f"{r['ratio_to_fastlr']:.2f}x", r["ratio_to_fastlr"] >= 3.0)
    for r in result.get("memory", {}).get("rows", []):
        if r["contender"].startswith("fastlr") and "extra_MB" in r:
            add("peak memory <= X + 10%", f"{r['contender']} {r['problem']} {r['dtype']}",
                f"+{100 * r['extra_share_of_X']:.1f}% of X", r["extra_share_of_X"] <= 0.10)
    fb = result.get("fullbatch", {}).get("rows", [])
    for r in fb:
        if r["contender"] != "sklearn-lbfgs" or not r.get("ratio_to_fastlr"):
            continue
        need = 4.0 if r["k"] == 2 else 3.0
        add(f"full batch >= {need:g}x faster than scikit-learn lbfgs",
            f"{r['problem']} {r['dtype']}", f"{r['ratio_to_fastlr']:.2f}x",
            r["ratio_to_fastlr"] >= need)
    return out


def format_targets(rows, quick):
    lines = ["| target (issue) | case | measured | met |", "|---|---|---|---|"]
    for r in rows:
        met = "n/a" if r["met"] is None else ("yes" if r["met"] else "NO")
        lines.append(f"| {r['target']} | {r['case']} | {r['measured']} | {met} |")
    if quick:
        lines.append("\n(--quick: smaller shapes than the targets are stated for)")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Plot.
# ---------------------------------------------------------------------------------------

def plot_epochs(rows, streams, path):
    """Epoch seconds against batch size, one panel per problem / dtype / solver, one line
    per contender; stream-X floor dashed. Returns the path, or a reason it was skipped."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None, "matplotlib not importable"
    panels = []
    for r in rows:
        key = (r["problem"], r["dtype"], r["solver"])
        if key not in panels:
            panels.append(key)
    if not panels:
        return None, "no epoch rows"
    ncols = 2 if len(panels) > 1 else 1
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.2 * ncols, 3.9 * nrows), squeeze=False)
    order = EPOCH_CONTENDERS + EXTRA_EPOCH_CONTENDERS
    names = sorted({r["contender"] for r in rows},
                   key=lambda c: order.index(c) if c in order else 99)
    cmap = plt.get_cmap("tab10")
    style = {c: (cmap(i % 10), "o-" if c.startswith("fastlr") else "s--")
             for i, c in enumerate(names)}
    for ax, (problem, dtype, solver) in zip(axes.ravel(), panels, strict=False):
        sel = [r for r in rows if (r["problem"], r["dtype"], r["solver"]) ==
               (problem, dtype, solver)]
        for c in names:
            pts = sorted((r["batch_size"], r["epoch_s"]) for r in sel if r["contender"] == c)
            if not pts:
                continue
            color, fmt = style[c]
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, ys, fmt, color=color, label=c, lw=2 if c == "fastlr" else 1.2,
                    ms=5)
        kind = next(r["kind"] for r in sel)
        s = streams.get(f"{kind}-{dtype}")
        if s:
            ax.axhline(s["best_s"], color="k", ls=":", lw=1, label="stream X once")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ticks = sorted({r["batch_size"] for r in sel})
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(t) for t in ticks])
        ax.minorticks_off()
        ax.set_xlim(min(ticks) / 1.6, max(ticks) * 1.6)
        ax.set_title(f"{problem} {dtype}, {solver}", fontsize=10)
        ax.set_xlabel("batch size (sklearn-sgdclassifier: 1, per-sample SGD)"
                      if 1 in ticks else "batch size")
        ax.set_ylabel("seconds per epoch")
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    handles, labels = {}, {}
    for ax in axes.ravel()[:len(panels)]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(lab, h)
    labels = list(handles)
    fig.legend([handles[lab] for lab in labels], labels, loc="lower center",
               ncol=min(len(labels), 4), fontsize=8, frameon=False)
    fig.suptitle("one training epoch (median); lower is better", fontsize=11)
    fig.tight_layout(rect=(0, 0.06 if len(labels) > 4 else 0.04, 1, 0.98))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path, None


# ---------------------------------------------------------------------------------------
# Driver.
# ---------------------------------------------------------------------------------------

def _csv(s):
    return [x.strip() for x in s.split(",") if x.strip()]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="100,000 x 100 binary, 20,000 x 784 10-class, 10,000 x 20; 2 repeats")
    p.add_argument("--sections", default=",".join(SECTIONS),
                   help=f"comma-separated subset of {', '.join(SECTIONS)}")
    p.add_argument("--shapes", default=None,
                   help="comma-separated subset of binary-float64, binary-float32, "
                        "10-class-float32, small-float64 (default all)")
    p.add_argument("--n-binary", type=int, default=None)
    p.add_argument("--n-multiclass", type=int, default=None)
    p.add_argument("--n-small", type=int, default=None)
    p.add_argument("--repeats", type=int, default=None,
                   help=f"default {DEFAULT_REPEATS}, --quick {QUICK_REPEATS}")
    p.add_argument("--matmul-n", type=int, default=None,
                   help="size of the limits section's square matmul (default 2048, "
                        "--quick 1024)")
    p.add_argument("--solvers", default="sgd,adam", help="epoch section (sgd, adam)")
    p.add_argument("--batch-sizes", default=None,
                   help="epoch section (default 32,256,4096; --quick 32,4096)")
    p.add_argument("--epoch-contenders", default=",".join(EPOCH_CONTENDERS))
    p.add_argument("--predict-contenders", default=",".join(PREDICT_CONTENDERS))
    p.add_argument("--memory-contenders", default=None,
                   help="default all (--quick: all but torch-dataloader-adam)")
    p.add_argument("--memory-shapes", default=None,
                   help="shapes of the memory section (default: the binary and 10-class "
                        "ones; --quick: binary-float64)")
    p.add_argument("--memory-timeout", type=float, default=600.0,
                   help="seconds per memory subprocess")
    p.add_argument("--max-batches", type=int, default=None,
                   help="as in bench_epoch.py (default 2000, --quick 200)")
    p.add_argument("--torch-threads", type=int, default=None)
    p.add_argument("--fullbatch-args", default="",
                   help="extra arguments for bench_fullbatch (e.g. '--multiclass-reference "
                        "fastlr'); --quick, --repeats, --seed and --quiet are passed on")
    p.add_argument("--settle-s", type=float, default=None,
                   help="pause before each timed measurement, so that BLAS threads "
                        f"spinning after the previous one are asleep (default {bf.SETTLE_S}"
                        ", --quick 0.1)")
    p.add_argument("--omp-wait-policy", choices=("passive", "active", "inherit"),
                   default=None, help="as in bench_epoch.py (default passive)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", default=os.path.join(HERE, "results"),
                   help="where the JSON and the plot go by default (benchmarks/results/, "
                        "git-ignored)")
    p.add_argument("--json", metavar="PATH", default=None,
                   help="default OUT_DIR/run.json (--quick: run_quick.json)")
    p.add_argument("--plot", metavar="PATH", default=None,
                   help="default OUT_DIR/epoch_vs_batch.png (--quick: ..._quick.png)")
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--_memory-child", dest="memory_child", default=None,
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.memory_child:
        return args
    args.sections = _csv(args.sections)
    for s in args.sections:
        if s not in SECTIONS:
            p.error(f"unknown section {s!r}; choose from {', '.join(SECTIONS)}")
    if args.repeats is None:
        args.repeats = QUICK_REPEATS if args.quick else DEFAULT_REPEATS
    if args.max_batches is None:
        args.max_batches = be.QUICK_MAX_BATCHES if args.quick else be.DEFAULT_MAX_BATCHES
    if args.settle_s is None:
        args.settle_s = 0.1 if args.quick else bf.SETTLE_S
    if args.memory_contenders is None:
        args.memory_contenders = ",".join(c for c in MEMORY_CONTENDERS if not (
            args.quick and c == "torch-dataloader-adam"))
    if args.matmul_n is None:
        args.matmul_n = 1024 if args.quick else 2048
    base = QUICK_SHAPES if args.quick else FULL_SHAPES
    shapes = []
    for kind, n, d, k, dtype in base:
        n = {"binary": args.n_binary, "10-class": args.n_multiclass,
             "small": args.n_small}[kind] or n
        shapes.append((kind, n, d, k, dtype))
    known = [shape_key(s) for s in shapes]
    if args.shapes:
        want = _csv(args.shapes)
        bad = set(want) - set(known)
        if bad:
            p.error(f"unknown shape(s) {sorted(bad)}; choose from {known}")
        shapes = [s for s in shapes if shape_key(s) in want]
    args.shape_list = shapes
    if args.memory_shapes is None:
        mem = ["binary-float64"] if args.quick else [
            "binary-float64", "binary-float32", "10-class-float32"]
    else:
        mem = _csv(args.memory_shapes)
    args.memory_shape_list = [s for s in shapes if shape_key(s) in mem]
    args.solvers = _csv(args.solvers)
    if args.batch_sizes is None:
        args.batch_sizes = "32,4096" if args.quick else "32,256,4096"
    args.batch_sizes = [int(b) for b in _csv(args.batch_sizes)]
    args.epoch_contenders = _csv(args.epoch_contenders)
    args.predict_contenders = _csv(args.predict_contenders)
    args.memory_contenders = _csv(args.memory_contenders)
    for c in args.epoch_contenders:
        if c not in EPOCH_CONTENDERS + EXTRA_EPOCH_CONTENDERS:
            p.error(f"unknown epoch contender {c!r}; choose from "
                    f"{', '.join(EPOCH_CONTENDERS + EXTRA_EPOCH_CONTENDERS)}")
    for c in args.memory_contenders:
        if c not in MEMORY_CONTENDERS:
            p.error(f"unknown memory contender {c!r}; choose from "
                    f"{', '.join(MEMORY_CONTENDERS)}")
    for s in args.solvers:
        if s not in be.LEARNING_RATE:
            p.error(f"unknown solver {s!r}")
    suffix = "_quick" if args.quick else ""
    if args.json is None:
        args.json = os.path.join(args.out_dir, f"run{suffix}.json")
    if args.plot is None:
        args.plot = os.path.join(args.out_dir, f"epoch_vs_batch{suffix}.png")
    return args


def main(argv=None):
    """Run the sections; print context and tables; return a dict (what the JSON holds,
    plus ``tables``)."""
    args = parse_args(argv)
    if args.memory_child:
        memory_child(json.loads(args.memory_child))
        return None
    note, restore = bf.apply_omp_wait_policy(args.omp_wait_policy)
    try:
        return _run(args, note)
    finally:
        restore()


def _context(args, omp_note):
    ctx = {
        "cpu": be.cpu_model(),
        "cores (usable)": be._all_threads(),
        "python": platform.python_version(),
        "numpy version": np.__version__,
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "unset"),
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "unset (runtime default)")
                           + omp_note,
        "load average at start (1/5/15 min)": be._loadavg(),
    }
    ctx.update(bf.FastlrLbfgs().context())
    try:
        import sklearn
        ctx["scikit-learn version"] = sklearn.__version__
    except ImportError:
        ctx["scikit-learn version"] = "not installed (its contenders are skipped)"
    try:
        import torch
        ctx["torch version"] = torch.__version__
        ctx["torch threads"] = args.torch_threads or be._all_threads()
    except ImportError:
        ctx["torch version"] = "not installed (its contenders are skipped)"
    ctx["thread pools (threadpoolctl)"] = be.blas_threads()
    ctx.update({
        "sections": ", ".join(args.sections),
        "shapes": "; ".join(f"{shape_label(s)} {s[4]}" + (f" ({s[3]} classes)" if s[3] > 2
                                                          else "")
                            for s in args.shape_list),
        "repeats": args.repeats,
        "epoch": f"solvers {', '.join(args.solvers)}; batch sizes "
                 f"{', '.join(map(str, args.batch_sizes))}; epochs of > "
                 f"{be.EXTRAPOLATE_FACTOR * args.max_batches:g} batches timed over "
                 f"{args.max_batches} batches",
    })
    return ctx


def _run(args, omp_note):
    def progress(msg):
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    t_start = time.perf_counter()
    context = _context(args, omp_note)
    print("# fastlr benchmarks (benchmarks/run.py" + (" --quick" if args.quick else "")
          + ")\n")
    for k, v in context.items():
        print(f"- {k}: {v}")
    print(flush=True)
    result = {"context": context}
    tables = {}
    skipped = {}

    if "limits" in args.sections:
        progress("[limits] memory bandwidth and matmul FLOP rate")
        nbytes = max((s[1] * s[2] * np.dtype(s[4]).itemsize for s in args.shape_list),
                     default=8 << 20)
        lim = machine_limits(nbytes, args.repeats, args.matmul_n)
        result["limits"] = lim
        tables["limits"] = format_limits(lim)
        print("## Machine limits\n")
        print(tables["limits"] + "\n", flush=True)

    epoch_rows, streams, predict_rows = [], {}, []
    if "epoch" in args.sections or "predict" in args.sections:
        for shape in args.shape_list:
            progress(f"[{shape_label(shape)} {shape[4]}] generating data")
            X, y = make_data(shape, args.seed)
            if "epoch" in args.sections:
                s = be.stream_times(X, max(5, args.repeats))
                streams[shape_key(shape)] = s
                print(f"stream-X ({shape_label(shape)} {shape[4]}, {X.nbytes / 1e6:.0f} MB): "
                      f"X.sum() {_fmt_s(s['sum_s'])} s, X @ v 1 thread "
                      f"{_fmt_s(s['gemv_1thread_s'])} s, all threads "
                      f"{_fmt_s(s['gemv_all_threads_s'])} s -> floor {_fmt_s(s['best_s'])} s "
                      f"({s['best_GBps']:.1f} GB/s); shuffled gather (np.take) "
                      f"{s['gather_shuffled_s'] / s['best_s']:.1f} x floor", flush=True)
                rows, sk = epoch_section(shape, X, y, s, args, progress, t_start)
                epoch_rows.extend(rows)
                skipped.update({f"epoch {k}": v for k, v in sk.items()})
            if "predict" in args.sections:
                progress(f"[predict {shape_label(shape)} {shape[4]}]")
                rows, sk = predict_section(shape, X, y, args)
                predict_rows.extend(rows)
                skipped.update({f"predict {k}": v for k, v in sk.items()})
            del X, y
            gc.collect()
    if "epoch" in args.sections:
        result["epoch"] = {"stream": streams, "rows": epoch_rows}
        tables["epoch"] = be.format_table(epoch_rows, problem=True)
    if "predict" in args.sections:
        result["predict"] = {"rows": predict_rows}
        tables["predict"] = format_predict_table(predict_rows)

    if "fullbatch" in args.sections:
        progress("[fullbatch]")
        import shlex
        fb_argv = shlex.split(args.fullbatch_args)
        if args.quick:
            fb_argv.append("--quick")
        fb_argv += ["--repeats", str(args.repeats), "--seed", str(args.seed),
                    "--settle-s", str(args.settle_s)]
        if args.quiet:
            fb_argv.append("--quiet")
        fb_args = bf.parse_args(fb_argv)
        # the same shapes as this run where they exist
        sizes = {shape_key(s): s[1] for s in args.shape_list}
        fb_args.problem_list = [
            (kind, sizes.get(f"{kind}-{dt}", n), d, k, dt)
            for kind, n, d, k, dt in fb_args.problem_list
            if not args.shapes or f"{kind}-{dt}" in sizes]
        print("## Full batch: time to reach scikit-learn's optimum\n", flush=True)
        fb = bf.run(fb_args, omp_note, print_header=False, print_table=False)
        tables["fullbatch"] = fb.pop("table")
        result["fullbatch"] = fb

    if "memory" in args.sections and args.memory_shape_list:
        progress("[memory] one subprocess per fit")
        mem_rows = memory_section(args.memory_shape_list, args, progress)
        result["memory"] = {"method": MEMORY_METHOD, "rows": mem_rows}
        tables["memory"] = format_memory_table(mem_rows)

    result["targets"] = targets(result, args.quick)
    if result["targets"]:
        tables["targets"] = format_targets(result["targets"], args.quick)
    if skipped:
        context["skipped"] = "; ".join(f"{k} ({v})" for k, v in skipped.items())
    context["load average at end (1/5/15 min)"] = be._loadavg()

    plot_path = None
    if epoch_rows and not args.no_plot:
        plot_path, why = plot_epochs(epoch_rows, streams, args.plot)
        result["plot"] = plot_path or f"not written: {why}"

    titles = {"epoch": "One training epoch (ratio to fastlr > 1: fastlr is faster)",
              "predict": "predict_proba throughput",
              "fullbatch": "Full batch: time to reach J* (1 + 1e-6)",
              "memory": "Peak memory of each fit beyond X (" + MEMORY_METHOD + ")",
              "targets": "Targets of the issue (reported, not asserted)"}
    print()
    for key in ("epoch", "predict", "fullbatch", "memory", "targets"):
        if key in tables:
            print(f"## {titles[key]}\n")
            print(tables[key] + "\n")
    if skipped:
        print("skipped: " + context["skipped"])
    print(f"load average at end (1/5/15 min): {context['load average at end (1/5/15 min)']}")
    if plot_path:
        print(f"plot: {plot_path}")
    print(f"(total {time.perf_counter() - t_start:.0f} s)", flush=True)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2, default=str)
        print(f"json: {args.json}")
    result["tables"] = tables
    return result


if __name__ == "__main__":
    main()
