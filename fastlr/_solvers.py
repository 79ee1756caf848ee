"""Solver drivers: between the estimators (layer 5) and the compiled loops (layer 3).

The scaling of the objective is written down here, once.

Full objective (scikit-learn's, what an exact solver minimises)::

    J(W, b) = C * sum_i s_i l(y_i, W x_i + b)
              + (1 - l1_ratio) / 2 * ||W||_2^2 + l1_ratio * ||W||_1

The exact solver (L-BFGS, OWL-QN for an L1 part) minimises it divided by ``C * S`` with
``S = sum_i s_i`` (n without weights), as scikit-learn does::

    f(W, b) = (1/S) sum_i s_i l_i + alpha_l2 / 2 * ||W||^2 + alpha_l1 * ||W||_1,
    alpha_l2 = (1 - l1_ratio) / (C S),  alpha_l1 = l1_ratio / (C S),

and stops when the largest entry of the (pseudo-)gradient of ``f`` is at most ``tol``:
scikit-learn's ``gtol`` on the same scaled objective, so a ``tol`` means the same in both.

Mini-batch solvers step on J / (C n), estimated on a batch B as PyTorch's
``reduction='mean'`` does, times ``loss_scale``::

    J_B(W, b) = loss_scale * [ (1/|B|) sum_{i in B} s_i l(y_i, W x_i + b)
                               + a_l2 / 2 * ||W||_2^2 + a_l1 * ||W||_1 ],

    a_l2 = (1 - l1_ratio) / (C n),   a_l1 = l1_ratio / (C n),

``loss_scale`` is 1 for the classification heads, so ``a_l2`` is exactly PyTorch's
``weight_decay`` and a learning rate means what it means in a PyTorch loop. For the
squared head the kernel's loss is ``1/2 sum_j (z_j - y_j)^2`` and ``loss_scale = 2 / k``
makes the batch loss ``F.mse_loss`` (mean over rows and outputs of (z - y)^2); the
penalty is scaled with it, so every head minimises the same f as the exact solver (for
LinearRegression the alphas are ElasticNet's: ``a_l2 = alpha (1 - l1_ratio)``,
``a_l1 = alpha l1_ratio``). ``C = inf`` gives no penalty. The drivers below receive the
alphas already multiplied by ``loss_scale`` (``alpha_l2``, ``alpha_l1``). ``s_i`` are
sample weights times class weights (1 when absent).
"""

import sys
import time
import warnings

import numpy as np

from fastlr._lbfgs import minimize_lbfgs
from fastlr._loss import head_code, loss_gradient, threads_for
from fastlr._sgd import n_batches, run_epoch
from fastlr._sklearn_compat import ConvergenceWarning


def penalty_alphas(C, l1_ratio, n_samples):
    """The per-step L2 / L1 strengths of the batch-mean objective (see module docstring)."""
    if np.isinf(C):
        return 0.0, 0.0
    scale = 1.0 / (C * n_samples)
    return (1.0 - l1_ratio) * scale, l1_ratio * scale


class DivergenceError(ValueError, ArithmeticError):
    """Raised when the training loss stops being finite."""


def new_optimizer_state(k, d, random_seed, learning_rate_init):
    """Momentum / Adam buffers (double), step and sample counts, the current learning
    rate (schedules change it) and the PRNG state, for a fresh fit."""
    return {
        "buf1": np.zeros(k * d + k),
        "buf2": np.zeros(k * d + k),
        "step": 0,
        "samples": 0,
        "lr": float(learning_rate_init),
        "rng": np.array([random_seed], dtype=np.uint64),
        # run_epoch's timed choice of threads for small class-split batches
        "threads": np.array([-1.0, -1.0, 0.0]),
    }


class _Progress:
    """verbose output of the mini-batch loop. On a terminal, one line rewritten in place
    (epoch, batches done, running loss, elapsed and remaining time) at most a few times a
    second, then a permanent line per epoch; elsewhere (logs, CI) only the per-epoch
    lines. It runs between blocks of batches, never inside the GIL-free loop."""

    MIN_INTERVAL = 0.25

    def __init__(self, verbose, max_iter, n_batches, stream=None):
        self.stream = stream if stream is not None else sys.stdout
        self.on = bool(verbose)
        isatty = getattr(self.stream, "isatty", None)
        self.live = self.on and bool(isatty and isatty())
        self.total = max_iter * n_batches
        self.n_batches = n_batches
        self.max_iter = max_iter
        self.t0 = time.perf_counter()
        self.last = 0.0
        self.width = 0

    def update(self, epoch, batches_done, running_loss):
        if not self.live:
            return
        now = time.perf_counter()
        if now - self.last < self.MIN_INTERVAL:
            return
        self.last = now
        done = (epoch - 1) * self.n_batches + batches_done
        elapsed = now - self.t0
        eta = elapsed / done * (self.total - done) if done else float("nan")
        text = (f"Epoch {epoch}/{self.max_iter} | batch {batches_done}/{self.n_batches} | "
                f"loss {running_loss:.6f} | {elapsed:.1f} s elapsed, ~{eta:.1f} s left")
        self.width = max(self.width, len(text))
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()

    def line(self, text):
        if self.live and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.width = 0
        print(text, file=self.stream, flush=True)


# An epoch runs as blocks of batches, each lasting about this long, so that Ctrl-C and
# progress output are handled a few times a second even when one epoch takes minutes.
_BLOCK_SECONDS = 0.1
# The 'adaptive' schedule divides the rate by 5 on a plateau until it falls below this.
_MIN_ADAPTIVE_LR = 1e-6


def minibatch_fit(X, Y, sample_weight, *, head, coef, intercept, state, solver,
                  learning_rate_init, learning_rate="constant", power_t=0.5, momentum,
                  nesterovs_momentum, beta_1, beta_2, epsilon, alpha_l2, alpha_l1,
                  loss_scale, batch_size, shuffle, drop_last, fit_intercept, max_iter, tol,
                  n_iter_no_change, n_threads, verbose, rows=None, validate=None,
                  early_stopping=False, label_weights=None, estimator_name="estimator"):
    """Run up to ``max_iter`` epochs of mini-batch SGD / Adam, in place.

    ``coef`` (k, d) and ``intercept`` (k,) are float64 arrays updated in place; ``state``
    (from ``new_optimizer_state``) carries the optimiser buffers, counts, learning rate
    and PRNG between calls (warm starts, ``partial_fit``). ``rows`` restricts training to
    those rows of X (a validation hold-out without copying X).

    Learning-rate schedules, as scikit-learn's MLPClassifier defines them (applied here to
    Adam as well as SGD): 'constant'; 'invscaling', ``lr = learning_rate_init /
    (t + 1) ** power_t`` after each epoch with t the samples seen; 'adaptive', divide by 5
    on a plateau (below) instead of stopping, until the rate drops below 1e-6.

    ``validate`` (a callable ``(coef, intercept) -> (loss, score)``) is evaluated after
    every epoch and recorded. Stopping: when ``tol`` is a positive number, a plateau is
    ``n_iter_no_change`` consecutive epochs in which the monitored loss did not improve on
    its best by more than ``tol``. The monitored loss is the training loss, or with
    ``early_stopping`` the validation loss; then the weights of the epoch with the lowest
    validation loss are restored at the end.

    Returns a dict: ``loss_curve``, ``n_iter`` and, with ``validate``,
    ``validation_loss_curve``, ``validation_scores``, ``best_iter``. Raises
    ``DivergenceError`` when a batch loss or the parameters stop being finite (the
    arrays passed in are then garbage: pass copies).
    """
    n = X.shape[0]
    m = n if rows is None else rows.shape[0]
    n_b = n_batches(m, batch_size, drop_last)
    if n_b == 0:
        raise ValueError(f"No batch to train on: {m} samples with batch_size={batch_size} "
                         "and drop_last=True.")
    cfg = {
        "head": head_code(head),
        "optimizer": 0 if solver == "sgd" else 1,
        "lr": float(state["lr"]),
        "momentum": float(momentum),
        "nesterov": bool(nesterovs_momentum),
        "beta1": float(beta_1),
        "beta2": float(beta_2),
        "eps": float(epsilon),
        "alpha_l2": float(alpha_l2),
        "alpha_l1": float(alpha_l1),
        "loss_scale": float(loss_scale),
        "batch_size": int(batch_size),
        "shuffle": bool(shuffle),
        "drop_last": bool(drop_last),
        "fit_intercept": bool(fit_intercept),
        "n_threads": int(n_threads),
    }
    perm = np.empty(m, dtype=np.intp) if shuffle else np.empty(1, dtype=np.intp)
    early = tol is not None and tol > 0
    best = np.inf
    stall = 0
    out = {"loss_curve": [], "n_iter": 0}
    if validate is not None:
        out.update(validation_loss_curve=[], validation_scores=[], best_iter=0)
        best_params = (coef.copy(), intercept.copy())
        best_val = np.inf
    work = max(1, batch_size * coef.size)
    block = max(1, int(5e7 // work))   # first guess: ~25 ms of multiply-adds
    progress = _Progress(verbose, max_iter, n_b)
    t0 = time.perf_counter()
    epoch = 0
    for epoch in range(1, max_iter + 1):
        loss_sum = 0.0
        lo = 0
        while lo < n_b:
            hi = min(n_b, lo + block)
            tb = time.perf_counter()
            part, ran, step, status = run_epoch(
                X, Y, sample_weight, rows, coef, intercept, state["buf1"], state["buf2"],
                perm, state["rng"], state["step"], lo, hi, cfg, label_weights,
                state.setdefault("threads", np.array([-1.0, -1.0, 0.0])))
            state["step"] = step
            if status != 0:
                raise DivergenceError(
                    f"{estimator_name} diverged in epoch {epoch}: the training loss became "
                    f"non-finite. Lower learning_rate_init (now {learning_rate_init!r})"
                    + (" or momentum" if solver == "sgd" and momentum else "")
                    + ", or standardise the features.")
            loss_sum += part
            lo = hi
            progress.update(epoch, lo, loss_sum / max(lo, 1))
            spent = time.perf_counter() - tb
            block = max(1, min(n_b, int(block * _BLOCK_SECONDS / max(spent, 1e-4))))
        state["samples"] += m
        loss = loss_sum / n_b
        out["loss_curve"].append(loss)
        out["n_iter"] = epoch
        monitored = loss
        line = f"Epoch {epoch}/{max_iter}, loss = {loss:.8f}"
        if validate is not None:
            vloss, vscore = validate(coef, intercept)
            out["validation_loss_curve"].append(vloss)
            out["validation_scores"].append(vscore)
            if early_stopping:
                monitored = vloss
            line += f", validation loss = {vloss:.8f}, validation score = {vscore:.6f}"
            if vloss < best_val:
                best_val = vloss
                best_params = (coef.copy(), intercept.copy())
                out["best_iter"] = epoch
        if verbose:
            progress.line(f"{line}, time = {time.perf_counter() - t0:.3f} s")
        # schedules
        if learning_rate == "invscaling":
            cfg["lr"] = float(learning_rate_init) / (state["samples"] + 1) ** power_t
        if early:
            stall = stall + 1 if monitored > best - tol else 0
            best = min(best, monitored)
            if stall >= n_iter_no_change:
                if learning_rate == "adaptive" and cfg["lr"] / 5.0 >= _MIN_ADAPTIVE_LR:
                    cfg["lr"] /= 5.0
                    stall = 0
                    if verbose:
                        print(f"Plateau: learning rate divided by 5, now {cfg['lr']:.3g}",
                              flush=True)
                else:
                    if verbose:
                        what = "Validation" if early_stopping else "Training"
                        print(f"{what} loss did not improve by more than tol={tol} for "
                              f"{n_iter_no_change} consecutive epochs. Stopping.",
                              flush=True)
                    break
        else:
            best = min(best, monitored)
    else:
        if early and max_iter > 0:
            warnings.warn(
                f"{estimator_name}: {solver} reached max_iter={max_iter} epochs before the "
                f"loss stopped improving by tol={tol}. Increase max_iter, or raise tol "
                "(tol=None runs exactly max_iter epochs without this warning).",
                ConvergenceWarning, stacklevel=4)
    state["lr"] = cfg["lr"]
    if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
        raise DivergenceError(
            f"{estimator_name} diverged: the coefficients became non-finite. Lower "
            f"learning_rate_init (now {learning_rate_init!r}).")
    if early_stopping and validate is not None and out["best_iter"] > 0:
        coef[...], intercept[...] = best_params
    return out


def lbfgs_fit(X, Y, sample_weight, *, head, coef, intercept, alpha_l2, alpha_l1,
              fit_intercept, max_iter, tol, n_threads, verbose, label_weights=None,
              estimator_name="estimator", check_X=None):
    """Minimise ``f`` (module docstring) by L-BFGS, or OWL-QN when ``alpha_l1 > 0``.

    ``check_X``: called (to raise the NaN / infinity error) when the first evaluation is
    not finite. Every evaluation reads every row, and a NaN or infinite entry of X always
    makes its row's gradient contribution non-finite (NaN * 0 and inf * 0 are NaN), so X
    needs no finiteness pass of its own.

    One evaluation of ``f`` and its gradient is one fused pass over X
    (``_loss.loss_gradient``, split over ``n_threads`` with a fixed-order reduction). The
    iterate has X's dtype, so a float32 X gives a float32 quasi-Newton method; the loss,
    gradient sums and all scalars are double. Returns ``(coef, intercept, loss_curve,
    n_iter, result)`` with float64 parameters; ``loss_curve`` holds ``f`` after each
    iteration.
    """
    n, d = X.shape
    k = coef.shape[0]
    kd = k * d
    S = float(n if sample_weight is None else np.sum(sample_weight))
    dtype = X.dtype
    gW = np.empty((k, d))
    gb = np.empty(k)
    fixed_b = np.ascontiguousarray(intercept, dtype=np.float64)
    n_threads = threads_for(n, k * d, n_threads)
    pending_check = [] if check_X is None else [check_X]

    def unpack(theta):
        W = np.ascontiguousarray(theta[:kd], dtype=np.float64).reshape(k, d)
        b = np.ascontiguousarray(theta[kd:], dtype=np.float64) if fit_intercept else fixed_b
        return W, b

    def fun_grad(theta):
        W, b = unpack(theta)
        loss, _, _ = loss_gradient(head, X, Y, sample_weight, W, b, gW, gb, None, n_threads,
                                   label_weights)
        wsq = float(np.dot(W.ravel(), W.ravel()))
        f = loss / S + 0.5 * alpha_l2 * wsq
        g = np.empty(theta.shape[0], dtype=np.float64)
        np.multiply(gW.ravel(), 1.0 / S, out=g[:kd])
        g[:kd] += alpha_l2 * W.ravel()
        if fit_intercept:
            np.multiply(gb, 1.0 / S, out=g[kd:])
        if pending_check:
            check = pending_check.pop()
            if not (np.isfinite(f) and np.all(np.isfinite(g))):
                check()
        return f, g

    theta0 = np.concatenate([coef.ravel(), intercept if fit_intercept else []]).astype(dtype)
    mask = np.zeros(theta0.shape[0], dtype=bool)
    mask[:kd] = True
    curve = []
    t0 = time.perf_counter()

    def callback(theta, F):
        curve.append(F)
        if verbose:
            print(f"Iteration {len(curve)}/{max_iter}, objective = {F:.10g}, "
                  f"time = {time.perf_counter() - t0:.3f} s", flush=True)

    res = minimize_lbfgs(fun_grad, theta0, l1=alpha_l1, l1_mask=mask, max_iter=max_iter,
                         tol=tol, callback=callback)
    W, b = unpack(res.x)
    if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
        raise DivergenceError(f"{estimator_name}: lbfgs produced non-finite coefficients.")
    if not res.converged:
        if res.message == "max_iter" and tol > 0:
            warnings.warn(
                f"{estimator_name}: lbfgs did not converge in max_iter={max_iter} "
                f"iterations (the largest gradient entry is still above tol={tol}). "
                "Increase max_iter, or standardise the features (for example with "
                "sklearn.preprocessing.StandardScaler).", ConvergenceWarning, stacklevel=4)
        elif tol > 0:
            # The line search could not decrease f any further: the optimum is reached
            # as precisely as the dtype allows, but the gradient is still above tol.
            warnings.warn(
                f"{estimator_name}: lbfgs stopped after {res.n_iter} iterations "
                f"({res.message}) before the gradient reached tol={tol}: the objective "
                f"cannot decrease further in {X.dtype} arithmetic. Raise tol, use float64 "
                "X, or standardise the features.", ConvergenceWarning, stacklevel=4)
    return W, b.copy(), curve, res.n_iter, res
