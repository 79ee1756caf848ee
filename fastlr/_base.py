"""Shared estimator machinery (layer 5): parameter checks, dtype policy, solver dispatch,
validation hold-out, warm starts, ``partial_fit`` and the fitted attributes.
``LogisticRegression`` and ``LinearRegression`` only say how y becomes a head and a target
matrix, what their penalty is, and how a validation set is scored.

dtype policy: C-contiguous float32 or float64 X is used as it is (never copied); any
other input becomes C-contiguous float64. The solvers keep their parameters and optimiser
state in float64 and read X in its own dtype; ``coef_`` and ``intercept_`` are stored in
X's dtype, as scikit-learn does for float32-preserving estimators. With float32 X, the
mini-batch solvers of the multi-output heads (softmax, multilabel, multi-output squared
error) multiply and add in float32 where the CPU has AVX-512 (see _kernels_impl.h) and train
a float32 model as torch does: float32 coefficients and optimiser state, stepped in
float32, intercepts rounded to float32 after every step; head and loss stay float64.

Fitted state is only written once training has finished: a fit that fails (bad input,
divergence, Ctrl-C) leaves a previously fitted estimator exactly as it was.
"""

import numpy as np

from fastlr._loss import (
    loss_gradient,
    predict_into,
    predict_linear,
    threads_for,
    threads_for_setting,
)
from fastlr._openmp_helpers import effective_n_threads
from fastlr._sklearn_compat import BaseEstimator
from fastlr._solvers import DivergenceError, lbfgs_fit, minibatch_fit, new_optimizer_state
from fastlr._validation import (
    check_array,
    check_feature_names,
    check_is_fitted,
    check_n_features,
    check_option,
    check_random_state,
    check_scalar,
    seed_from,
)

MINIBATCH_SOLVERS = ("sgd", "adam")
SOLVERS = ("lbfgs",) + MINIBATCH_SOLVERS
LEARNING_RATES = ("constant", "invscaling", "adaptive")


class available_if:
    """Method decorator: the method exists on an instance only when ``check(instance)``
    is true, otherwise getting it raises AttributeError (so ``hasattr`` is False), as
    scikit-learn's MLPClassifier does for ``partial_fit`` with solver='lbfgs'."""

    def __init__(self, check):
        self.check = check

    def __call__(self, fn):
        self.fn = fn
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__
        return self

    def __get__(self, obj, owner=None):
        if obj is None:
            return self.fn
        self.check(obj)
        return self.fn.__get__(obj, owner)


def minibatch_only(estimator):
    if estimator.solver not in MINIBATCH_SOLVERS:
        raise AttributeError(f"partial_fit is available for solver='sgd' or 'adam' only; "
                             f"this estimator has solver={estimator.solver!r}.")
    return True


def _to_dtype(arr, dtype, what, name):
    """Cast the float64 solution to X's dtype; a value beyond the dtype's range is an
    error, not a silent infinity."""
    with np.errstate(over="ignore"):
        out = arr.astype(dtype)
    if not np.all(np.isfinite(out)):
        raise DivergenceError(
            f"{name}: the fitted {what} do not fit in {np.dtype(dtype).name} (largest "
            f"magnitude {np.max(np.abs(arr)):.3g}); standardise the features, lower C "
            "(stronger penalty), or pass float64 X.")
    return out


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool (True or False); got {value!r}.")


class _LinearModel(BaseEstimator):
    """Base of fastlr's estimators; not public."""

    # -- parameters ----------------------------------------------------------------------
    def _check_params(self, n_samples):
        """Validate every hyper-parameter whatever the solver (as scikit-learn does, so a
        typo is caught even where the chosen solver would not use the value). Returns the
        resolved batch size."""
        check_option(self.solver, "solver", SOLVERS)
        check_scalar(self.l1_ratio, "l1_ratio", low=0.0, high=1.0)
        _check_bool(self.fit_intercept, "fit_intercept")
        check_scalar(self.max_iter, "max_iter", kind="int", low=0)
        check_scalar(self.tol, "tol", low=0.0, allow_none=True)
        check_scalar(self.n_iter_no_change, "n_iter_no_change", kind="int", low=1)
        if self.n_threads is not None:
            check_scalar(self.n_threads, "n_threads", kind="int")
            if self.n_threads == 0:
                raise ValueError("n_threads must be a positive int, -1 (all cores) or None "
                                 "(all cores); got n_threads=0.")
        check_scalar(self.verbose, "verbose", kind="int", low=0)
        for flag in ("warm_start", "shuffle", "drop_last", "nesterovs_momentum",
                     "early_stopping"):
            _check_bool(getattr(self, flag), flag)
        check_scalar(self.learning_rate_init, "learning_rate_init", low=0.0, low_open=True)
        check_option(self.learning_rate, "learning_rate", LEARNING_RATES)
        check_scalar(self.power_t, "power_t", low=0.0)
        check_scalar(self.momentum, "momentum", low=0.0, high=1.0)
        check_scalar(self.beta_1, "beta_1", low=0.0, high=1.0, high_open=True)
        check_scalar(self.beta_2, "beta_2", low=0.0, high=1.0, high_open=True)
        check_scalar(self.epsilon, "epsilon", low=0.0, low_open=True)
        check_scalar(self.validation_fraction, "validation_fraction", low=0.0, high=1.0,
                     low_open=True, high_open=True)
        if self.nesterovs_momentum and self.solver == "sgd" and self.momentum == 0:
            raise ValueError("nesterovs_momentum=True needs momentum > 0 (as in "
                             "torch.optim.SGD); got momentum=0.")
        if self.early_stopping and self.solver not in MINIBATCH_SOLVERS:
            raise ValueError(f"early_stopping=True needs solver='sgd' or 'adam' (it stops "
                             f"mini-batch epochs on a validation set); got "
                             f"solver={self.solver!r}.")
        check_random_state(self.random_state)  # validates without drawing from it
        if isinstance(self.batch_size, str):
            check_option(self.batch_size, "batch_size", ("auto",))
            return min(200, n_samples)
        check_scalar(self.batch_size, "batch_size", kind="int", low=1)
        if (self.drop_last and self.batch_size > n_samples
                and self.solver in MINIBATCH_SOLVERS):
            raise ValueError(
                f"batch_size={self.batch_size} with drop_last=True leaves no complete "
                f"batch of the {n_samples} training samples; lower batch_size or set "
                "drop_last=False.")
        return min(self.batch_size, n_samples)

    # -- inputs --------------------------------------------------------------------------
    def _check_X_for_fit(self, X):
        """X as an array. For lbfgs, NaN / infinity is found by the first pass of the
        solver (``lbfgs_fit(check_X=...)``), which reads every row anyway; the mini-batch
        solvers may never visit some rows (drop_last, a validation hold-out), so X is
        checked here, in one pass of its own."""
        return check_array(X, estimator=self, allow_nonfinite=self.solver == "lbfgs")

    def _validate_X(self, X, reset):
        Xa = check_array(X, estimator=self)
        check_n_features(self, Xa, reset)
        check_feature_names(self, X, reset)
        return Xa

    def _initial_params(self, d, k, dtype_out, coef_init, intercept_init, warm):
        """float64 (k, d) coef and (k,) intercept to start from."""
        if coef_init is not None:
            coef = np.array(coef_init, dtype=np.float64, order="C", copy=True)
            if coef.ndim == 1 and k == 1:
                coef = coef.reshape(1, -1)
            if coef.shape != (k, d):
                raise ValueError(f"coef_init has shape {np.shape(coef_init)}, expected "
                                 f"({k}, {d}) (n_outputs, n_features).")
        elif warm:
            coef = np.array(self.coef_, dtype=np.float64, order="C").reshape(k, d)
        else:
            coef = np.zeros((k, d))
        if intercept_init is not None:
            intercept = np.array(intercept_init, dtype=np.float64, copy=True).reshape(-1)
            if intercept.shape != (k,):
                raise ValueError(f"intercept_init has shape {np.shape(intercept_init)}, "
                                 f"expected ({k},).")
        elif warm:
            intercept = np.array(self.intercept_, dtype=np.float64).reshape(k)
        else:
            intercept = np.zeros(k)
        for name, arr in (("coef_init", coef), ("intercept_init", intercept)):
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} contains NaN or infinity.")
        return coef, intercept

    def _split_validation(self, n, strata):
        """(train_rows, val_rows) for early stopping: a seeded hold-out of
        ``validation_fraction`` of the rows, stratified on ``strata`` when given (each
        stratum with at least 2 rows keeps at least one row on each side)."""
        rng = np.random.default_rng(seed_from(self.random_state))
        frac = self.validation_fraction
        if strata is None:
            perm = rng.permutation(n)
            n_val = int(np.ceil(frac * n))
            val = perm[:n_val]
        else:
            parts = []
            for label in np.unique(strata):
                idx = rng.permutation(np.flatnonzero(strata == label))
                n_val = int(round(frac * len(idx)))
                if len(idx) >= 2:
                    n_val = min(max(n_val, 1), len(idx) - 1)
                parts.append(idx[:n_val])
            val = np.concatenate(parts)
        if len(val) == 0 or len(val) == n:
            raise ValueError(f"validation_fraction={frac} leaves {len(val)} validation "
                             f"and {n - len(val)} training samples out of {n}; both need "
                             "at least one.")
        mask = np.ones(n, dtype=bool)
        mask[val] = False
        return np.flatnonzero(mask).astype(np.intp), np.sort(val).astype(np.intp)

    def _make_validator(self, Xv, Yv, swv, rows, head, loss_scale, n_threads,
                        label_weights=None):
        """A callable (coef, intercept) -> (mean validation loss, validation score) that
        reads the validation rows in place (no copy of X)."""
        k = None
        m = Xv.shape[0] if rows is None else rows.shape[0]
        S = float(m if swv is None else (np.sum(swv) if rows is None else np.sum(swv[rows])))
        if S <= 0:
            raise ValueError("The validation samples all have zero weight.")
        Yrows = Yv if rows is None else Yv[rows]
        swrows = None if swv is None else (swv if rows is None else swv[rows])

        def validate(coef, intercept):
            nonlocal k
            k = coef.shape[0]
            gW = np.empty_like(coef)
            gb = np.empty_like(intercept)
            loss, _, _ = loss_gradient(head, Xv, Yv, swv, coef, intercept, gW, gb, rows,
                                       threads_for(m, coef.size, n_threads), label_weights)
            Z = predict_linear(head, Xv, coef, intercept, np.empty((m, k)), False,
                               threads_for(m, coef.size, n_threads), rows)
            return loss_scale * loss / S, self._score_decision(Z, Yrows, swrows, head)

        return validate

    # -- fitting -------------------------------------------------------------------------
    def _fit_core(self, X, Y, sample_weight, head, k, coef_init, intercept_init, warm,
                  strata=None, validation=None, partial=False, label_weights=None):
        """Train on validated X (n, d), target matrix Y (n, ycols) and weights.

        ``validation``: None, or ``(Xv, Yv, swv)`` already encoded like the training data.
        ``strata``: labels to stratify the early-stopping hold-out on. ``partial``: one
        epoch over X continuing the optimiser state (``partial_fit``). ``label_weights``:
        (k, 2) per-label class weights of the multilabel head.

        Sets nothing on self: returns a dict of fitted attributes, so that a failed or
        interrupted fit leaves a previously fitted estimator as it was.
        """
        n, d = X.shape
        batch_size = self._check_params(n)
        loss_scale = self._batch_loss_scale(head, k)
        coef, intercept = self._initial_params(d, k, X.dtype, coef_init, intercept_init,
                                               warm)
        n_threads = effective_n_threads(self.n_threads)
        name = type(self).__name__
        if self.solver == "lbfgs":
            if partial:
                raise ValueError("partial_fit needs solver='sgd' or 'adam' (lbfgs is a "
                                 "full-batch method); got solver='lbfgs'.")
            if validation is not None:
                raise ValueError("validation_data is used by the mini-batch solvers "
                                 "(solver='sgd' or 'adam'); got solver='lbfgs'.")
            S = n if sample_weight is None else float(np.sum(sample_weight))
            alpha_l2, alpha_l1 = self._penalty(S)
            tol = 0.0 if self.tol is None else self.tol
            coef, intercept, curve, n_iter, _ = lbfgs_fit(
                X, Y, sample_weight, head=head, coef=coef, intercept=intercept,
                alpha_l2=alpha_l2, alpha_l1=alpha_l1, fit_intercept=self.fit_intercept,
                max_iter=self.max_iter, tol=tol, n_threads=n_threads,
                verbose=self.verbose, label_weights=label_weights, estimator_name=name,
                check_X=lambda: check_array(X, estimator=self))
            return {"coef_": _to_dtype(coef, X.dtype, "coefficients", name),
                    "intercept_": _to_dtype(intercept, X.dtype, "intercepts", name),
                    "n_iter_": n_iter, "loss_curve_": curve, "_optimizer_state": None}

        rows = None
        validate = None
        early = bool(self.early_stopping) and not partial
        if early or validation is not None:
            if validation is not None:
                Xv, Yv, swv = validation
                vrows = None
            else:
                rows, vrows = self._split_validation(n, strata)
                Xv, Yv, swv = X, Y, sample_weight
                batch_size = min(batch_size, len(rows))
                if self.drop_last and self.batch_size != "auto" and \
                        self.batch_size > len(rows):
                    raise ValueError(
                        f"batch_size={self.batch_size} with drop_last=True leaves no "
                        f"complete batch of the {len(rows)} samples left for training "
                        "after the validation hold-out.")
            validate = self._make_validator(Xv, Yv, swv, vrows, head, loss_scale,
                                            n_threads, label_weights)
        m = n if rows is None else len(rows)
        # Mini-batch epochs split a batch across threads only when each thread gets
        # enough work to pay for a barrier per batch (_sgd.MIN_WORK_PER_THREAD).
        mb_threads = n_threads
        # Mini-batch solvers step on the batch-mean form J / (C n), times loss_scale.
        a_l2, a_l1 = self._penalty(m)
        state = None
        prev = getattr(self, "_optimizer_state", None) if (warm or partial) else None
        if prev is not None and prev.get("solver") == self.solver \
                and prev["buf1"].shape == (k * d + k,):
            state = {key: np.copy(v) if isinstance(v, np.ndarray) else v
                     for key, v in prev.items()}
        if state is None:
            state = new_optimizer_state(k, d, seed_from(self.random_state),
                                        self.learning_rate_init)
            state["solver"] = self.solver
        out = minibatch_fit(
            X, Y, sample_weight, head=head, coef=coef, intercept=intercept, state=state,
            solver=self.solver, learning_rate_init=self.learning_rate_init,
            learning_rate=self.learning_rate, power_t=self.power_t,
            momentum=self.momentum, nesterovs_momentum=self.nesterovs_momentum,
            beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon,
            alpha_l2=loss_scale * a_l2, alpha_l1=loss_scale * a_l1, loss_scale=loss_scale,
            batch_size=batch_size, shuffle=self.shuffle, drop_last=self.drop_last,
            fit_intercept=self.fit_intercept, max_iter=1 if partial else self.max_iter,
            tol=None if partial else self.tol, n_iter_no_change=self.n_iter_no_change,
            n_threads=mb_threads, verbose=self.verbose, rows=rows, validate=validate,
            early_stopping=early, label_weights=label_weights, estimator_name=name)
        fitted = {
            "coef_": _to_dtype(coef, X.dtype, "coefficients", name),
            "intercept_": _to_dtype(intercept, X.dtype, "intercepts", name),
            "n_iter_": out["n_iter"],
            "loss_curve_": out["loss_curve"],
            "_optimizer_state": state,
            "t_": state["step"],
        }
        if validate is not None:
            fitted["validation_loss_curve_"] = out["validation_loss_curve"]
            fitted["validation_scores_"] = out["validation_scores"]
            if early:
                fitted["best_iter_"] = out["best_iter"]
                fitted["best_validation_score_"] = \
                    out["validation_scores"][out["best_iter"] - 1]
        if partial and hasattr(self, "loss_curve_") and warm:
            fitted["loss_curve_"] = list(self.loss_curve_) + out["loss_curve"]
            fitted["n_iter_"] = getattr(self, "n_iter_", 0) + out["n_iter"]
        return fitted

    def _store(self, fitted, X_raw, Xa):
        """Write the fitted attributes (only once training succeeded)."""
        check_n_features(self, Xa, reset=True)
        check_feature_names(self, X_raw, reset=True)
        for key in ("validation_loss_curve_", "validation_scores_", "best_iter_",
                    "best_validation_score_"):
            if key not in fitted and hasattr(self, key):
                delattr(self, key)
        for key, value in fitted.items():
            setattr(self, key, value)

    # -- prediction ----------------------------------------------------------------------
    def _linear_predict(self, X, head, proba, ncols=None, out_dtype=None):
        check_is_fitted(self)
        # X is checked for NaN / inf only when the logits are not finite: a non-finite
        # entry of X always makes its row's logits non-finite (NaN * 0 and inf * 0 are
        # NaN), so the usual error is raised without a separate pass over X.
        Xa = check_array(X, estimator=self, allow_nonfinite=True)
        check_n_features(self, Xa, reset=False)
        check_feature_names(self, X, reset=False)
        coef = np.ascontiguousarray(self.coef_, dtype=np.float64)
        coef = coef.reshape(-1, Xa.shape[1])
        intercept = np.ascontiguousarray(self.intercept_, dtype=np.float64).reshape(-1)
        k = coef.shape[0]
        out = np.empty((Xa.shape[0], (ncols or k) if proba else k),
                       dtype=np.dtype(out_dtype or Xa.dtype))
        nt = threads_for_setting(Xa.shape[0], k * Xa.shape[1], self.n_threads)
        # One fused pass, link included (in double, whatever X's dtype). It is also faster
        # than a BLAS product plus a separate link: the binary head streams X once, and for
        # k outputs the register blocks of rows x classes beat BLAS on these skinny
        # (n x d) @ (d x k) products (see benchmarks/run.py's predict section).
        nonfinite = predict_into(head, Xa, coef, intercept, out, proba, nt)
        if nonfinite:
            # raises the NaN / infinity error if X has one; else X is finite and a logit
            # overflowed (huge features), and the result is what the double pass gives
            check_array(Xa, estimator=self)
        return out
