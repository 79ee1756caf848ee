"""LinearRegression: (multivariate) linear regression, the squared head. Layer 5."""

import numpy as np

from fastlr._base import _LinearModel, available_if, minibatch_only
from fastlr._sklearn_compat import HAVE_SKLEARN, RegressorMixin
from fastlr._validation import (
    check_array,
    check_is_fitted,
    check_sample_weight,
    check_scalar,
)


class LinearRegression(RegressorMixin, _LinearModel):
    r"""Linear regression with one or several outputs, solved exactly (L-BFGS) or trained
    by mini-batch SGD / Adam in compiled code.

    Parameters
    ----------
    alpha : float, default=0.0
        Penalty strength with scikit-learn ElasticNet's meaning; 0 is ordinary least
        squares.
    l1_ratio : float in [0, 1], default=0.0
        Mix of the penalty: 0 is ridge (L2), 1 is the lasso (L1), in between the
        elastic net.
    fit_intercept : bool, default=True
        Learn the intercept (never penalised).
    solver : {'lbfgs', 'sgd', 'adam'}, default='lbfgs'
        'lbfgs' reaches the least-squares / ElasticNet optimum (OWL-QN for an L1 part);
        'sgd' and 'adam' follow ``torch.optim.SGD`` / ``torch.optim.Adam`` step for step
        on the batch loss ``F.mse_loss``; on float32 X they multiply and add in float32
        (with AVX-512), keeping coefficients, optimiser state and loss in float64. The
        parameters from ``batch_size`` to ``validation_fraction`` are used by the
        mini-batch solvers only.
    batch_size : int or 'auto', default='auto'
        Rows per mini-batch; 'auto' is ``min(200, n_samples)``.
    learning_rate_init : float, default=0.001
        Step size (``lr`` in PyTorch).
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Schedule, as in LogisticRegression.
    power_t : float, default=0.5
        Exponent of 'invscaling'.
    momentum : float in [0, 1], default=0.0
        SGD momentum (plain SGD by default, like ``torch.optim.SGD``).
    nesterovs_momentum : bool, default=False
        Nesterov momentum for SGD.
    beta_1, beta_2 : float in [0, 1), default=0.9, 0.999
        Adam's decay rates.
    epsilon : float, default=1e-8
        Adam's term added to the denominator.
    shuffle : bool, default=True
        A fresh random row order each epoch (the data is never copied).
    drop_last : bool, default=False
        Skip the last incomplete batch, as PyTorch's ``DataLoader``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (or use ``validation_data``), stop
        when the validation loss stalls, restore the best weights.
    validation_fraction : float in (0, 1), default=0.1
        Share of rows held out by ``early_stopping``.
    max_iter : int, default=100
        lbfgs: maximum iterations; sgd / adam: epochs.
    tol : float or None, default=1e-4
        lbfgs: gradient tolerance on the scaled objective; sgd / adam: minimum loss
        improvement over ``n_iter_no_change`` epochs. None runs ``max_iter`` epochs.
    n_iter_no_change : int, default=10
        See ``tol``.
    warm_start : bool, default=False
        Continue from the previous coefficients and optimiser state.
    random_state : int, Generator, RandomState or None, default=None
        Seeds the shuffling and the validation hold-out.
    verbose : int, default=0
        Print one line per epoch (iteration for lbfgs).
    n_threads : int or None, default=None
        Threads for the full-batch solver (lbfgs), validation and prediction, split by
        rows when the work pays for it; None means all cores. Mini-batch epochs split
        large batches by rows (from 2^22 multiply-adds per thread, e.g. 10 classes x 784
        features at batch 4096). With several outputs (from 6, in blocks of 4-5) and the
        AVX-512 kernels, smaller batches (from 2^15 multiply-adds per thread, e.g. 10 x
        784 at batch 32) are shared by classes instead: each thread owns some outputs,
        and the coefficients are bit-identical to one thread's. Such an epoch
        times itself in chunks of ~2 ms on one thread and on all, and runs on the faster
        (another process may hold a core): which one never changes the result. Results
        depend on ``n_threads`` but never on timing.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Weights (1-D for a 1-D y, as scikit-learn's LinearRegression).
    intercept_ : float or ndarray of shape (n_targets,)
        Intercept.
    n_iter_ : int
        Iterations (lbfgs) or epochs (sgd, adam).
    loss_curve_ : list of float
        Per epoch, the mean batch loss (``F.mse_loss`` plus the penalty); for lbfgs the
        objective after each iteration.
    validation_loss_curve_, validation_scores_ : list of float
        Per epoch, the validation MSE and R^2 (with ``early_stopping`` or
        ``validation_data``).
    n_features_in_ : int
        Number of features seen in ``fit``.

    Notes
    -----
    The objective is scikit-learn ElasticNet's, with :math:`S = \sum_i s_i`:

    .. math::

        f(W, b) = \frac{1}{2S} \sum_i s_i \lVert y_i - W x_i - b \rVert^2
                  + \alpha \rho \lVert W \rVert_1
                  + \tfrac{\alpha (1 - \rho)}{2} \lVert W \rVert_2^2

    with :math:`\rho` = ``l1_ratio``. scikit-learn's Ridge(alpha=a) is
    ``alpha = a / n_samples, l1_ratio = 0`` here. The mini-batch solvers step on
    ``2 / n_targets`` times its batch estimate, whose data part is exactly PyTorch's
    ``F.mse_loss`` (the mean of squared errors over rows and outputs).

    Examples
    --------
    >>> import numpy as np
    >>> from fastlr import LinearRegression
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
    >>> y = X @ np.array([2.0, -1.0]) + 0.5
    >>> reg = LinearRegression(tol=1e-10).fit(X, y)
    >>> np.round(reg.coef_, 6), round(float(reg.intercept_), 6)
    (array([ 2., -1.]), 0.5)
    """

    def __init__(self, *, alpha=0.0, l1_ratio=0.0, fit_intercept=True, solver="lbfgs",
                 batch_size="auto", learning_rate_init=0.001, learning_rate="constant",
                 power_t=0.5, momentum=0.0, nesterovs_momentum=False, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, shuffle=True, drop_last=False,
                 early_stopping=False, validation_fraction=0.1, max_iter=100, tol=1e-4,
                 n_iter_no_change=10, warm_start=False, random_state=None, verbose=0,
                 n_threads=None):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate
        self.power_t = power_t
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.n_threads = n_threads

    # -- hooks used by _LinearModel ------------------------------------------------------
    def _penalty(self, denominator):
        """ElasticNet's alphas do not scale with the number of samples."""
        alpha = check_scalar(self.alpha, "alpha", low=0.0)
        l1_ratio = check_scalar(self.l1_ratio, "l1_ratio", low=0.0, high=1.0)
        return alpha * (1.0 - l1_ratio), alpha * l1_ratio

    def _batch_loss_scale(self, head, k):
        return 2.0 / k   # the kernel's 1/2 sum_j e_j^2 -> F.mse_loss's mean_j e_j^2

    def _score_decision(self, Z, Y, sw, head):
        """R^2 of predictions Z against Y, averaged over outputs."""
        w = np.ones(Y.shape[0]) if sw is None else sw
        w = w[:, None]
        mean = (w * Y).sum(axis=0) / w.sum()
        ss_res = (w * (Y - Z) ** 2).sum(axis=0)
        ss_tot = (w * (Y - mean) ** 2).sum(axis=0)
        safe = np.where(ss_tot > 0, ss_tot, 1.0)
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / safe, np.where(ss_res > 0, 0.0, 1.0))
        return float(np.mean(r2))

    def _encode_target(self, y, n, what="y"):
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the "
                             "target y is None.")
        y_arr = np.asarray(y) if not hasattr(y, "to_numpy") else y.to_numpy()
        if y_arr.ndim not in (1, 2):
            raise ValueError(f"{what} must be 1D (one target) or 2D (n_samples, n_targets);"
                             f" got shape {y_arr.shape}.")
        Y = check_array(y_arr.reshape(len(y_arr), -1), estimator=self, name=what)
        if Y.shape[0] != n:
            raise ValueError("Found input variables with inconsistent numbers of samples: "
                             f"[{n}, {Y.shape[0]}]")
        return np.ascontiguousarray(Y, dtype=np.float64), y_arr.ndim == 1

    def _shape_params(self, fitted, single):
        if single:
            fitted["coef_"] = fitted["coef_"].reshape(-1)
            fitted["intercept_"] = fitted["intercept_"].reshape(-1)[0]
        return fitted

    # -- public API ----------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None, coef_init=None, intercept_init=None,
            validation_data=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (C-contiguous float32 / float64 is not copied).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights (not all zero).
        coef_init : array-like of shape (n_targets, n_features), default=None
            Starting weights.
        intercept_init : array-like of shape (n_targets,), default=None
            Starting intercept.
        validation_data : tuple (X_val, y_val), default=None
            Validation set for the mini-batch solvers (see LogisticRegression.fit).

        Returns
        -------
        self : LinearRegression
            The fitted estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from fastlr import LinearRegression
        >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
        >>> Y = np.column_stack([X @ [1.0, 2.0] + 3.0, X @ [-1.0, 0.5]])
        >>> reg = LinearRegression(tol=1e-10).fit(X, Y)
        >>> reg.coef_.shape, np.round(reg.coef_, 6)
        ((2, 2), array([[ 1. ,  2. ],
               [-1. ,  0.5]]))
        """
        Xa = self._check_X_for_fit(X)
        Y, single = self._encode_target(y, Xa.shape[0])
        sw = check_sample_weight(sample_weight, Xa.shape[0], estimator=self)
        k = Y.shape[1]
        warm = (bool(self.warm_start) and hasattr(self, "coef_")
                and np.size(self.coef_) == k * Xa.shape[1])
        validation = None
        if validation_data is not None:
            try:
                X_val, y_val = validation_data
            except (TypeError, ValueError):
                raise ValueError("validation_data must be a tuple (X_val, y_val).") from None
            Xv = check_array(X_val, estimator=self, name="X_val")
            if Xv.shape[1] != Xa.shape[1]:
                raise ValueError(f"X_val has {Xv.shape[1]} features, but X has "
                                 f"{Xa.shape[1]}.")
            Yv, _ = self._encode_target(y_val, Xv.shape[0], what="y_val")
            if Yv.shape[1] != k:
                raise ValueError(f"y_val has {Yv.shape[1]} targets, but y has {k}.")
            validation = (np.ascontiguousarray(Xv, dtype=Xa.dtype), Yv, None)
        fitted = self._fit_core(Xa, Y, sw, "squared", k, coef_init, intercept_init, warm,
                                validation=validation)
        self._store(self._shape_params(fitted, single), X, Xa)
        self._single_target = single
        return self

    @available_if(minibatch_only)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch of mini-batches over (X, y), continuing the optimiser state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of training data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Its targets (same number of targets on every call).
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the chunk's samples.

        Returns
        -------
        self : LinearRegression
            The updated estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from fastlr import LinearRegression
        >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
        >>> reg = LinearRegression(solver="adam", learning_rate_init=0.1, batch_size=2,
        ...                        random_state=0)
        >>> for chunk in range(2):
        ...     reg = reg.partial_fit(X, X @ [1.0, 2.0] + 3.0)
        >>> reg.n_iter_, reg.t_
        (2, 4)
        """
        Xa = check_array(X, estimator=self)
        Y, single = self._encode_target(y, Xa.shape[0])
        sw = check_sample_weight(sample_weight, Xa.shape[0], estimator=self)
        k = Y.shape[1]
        fitted_before = hasattr(self, "coef_")
        if fitted_before:
            d_fit = np.shape(self.coef_)[-1]
            if Xa.shape[1] != d_fit:
                raise ValueError(f"X has {Xa.shape[1]} features, but {type(self).__name__} "
                                 f"is expecting {d_fit} features as input.")
            if np.size(self.coef_) != k * d_fit:
                raise ValueError(f"y has {k} targets, but the earlier fit had "
                                 f"{np.size(self.coef_) // d_fit}.")
        fitted = self._fit_core(Xa, Y, sw, "squared", k, None, None, fitted_before,
                                partial=True)
        self._store(self._shape_params(fitted, single), X, Xa)
        self._single_target = single
        return self

    def predict(self, X):
        """Predictions ``X W^T + b``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            1-D when the model was fitted on a 1-D y.

        Examples
        --------
        >>> import numpy as np
        >>> from fastlr import LinearRegression
        >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
        >>> reg = LinearRegression(tol=1e-10).fit(X, X @ [1.0, 2.0] + 3.0)
        >>> np.round(reg.predict([[2.0, 2.0]]), 6)
        array([9.])
        """
        check_is_fitted(self)
        Z = self._linear_predict(X, "squared", proba=False)
        return Z.ravel() if self._single_target else Z

    def score(self, X, y, sample_weight=None):
        """Coefficient of determination R^2 (averaged over targets).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples.

        Returns
        -------
        score : float
            ``1 - SS_res / SS_tot`` of ``predict(X)``, as scikit-learn's ``r2_score``.

        Examples
        --------
        >>> import numpy as np
        >>> from fastlr import LinearRegression
        >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
        >>> y = X @ [1.0, 2.0] + 3.0
        >>> round(LinearRegression(tol=1e-10).fit(X, y).score(X, y), 6)
        1.0
        """
        from fastlr._validation import r2
        return r2(np.asarray(y), self.predict(X), sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = False
        return tags


if not HAVE_SKLEARN:
    del LinearRegression.__sklearn_tags__
