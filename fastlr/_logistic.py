"""LogisticRegression: binary (sigmoid + BCE), multinomial (softmax + cross-entropy) and
multi-label (one sigmoid + BCE per label) classification. Layer 5."""

import numpy as np

from fastlr._base import _LinearModel, available_if, minibatch_only
from fastlr._sklearn_compat import HAVE_SKLEARN, ClassifierMixin
from fastlr._solvers import penalty_alphas
from fastlr._validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    check_sample_weight,
    check_scalar,
)


def encode_labels(y):
    """(sorted unique labels, index of each sample's label), like
    ``np.unique(y, return_inverse=True)``, in O(n) for integer labels of small range
    (the common case: 0/1 or 0..k-1), where ``np.unique`` would sort all n labels."""
    if y.dtype.kind in "iu" and y.size:
        lo, hi = int(y.min()), int(y.max())
        if hi - lo <= max(1024, 4 * y.size):
            offset = y - lo if lo else y
            present = np.bincount(offset, minlength=hi - lo + 1) > 0
            if lo == 0 and present.all():
                # labels 0..k-1, all present: each label is its own index (y itself when
                # it is already intp; the callers only read it). 1,000,000 0/1 labels:
                # 1.9 ms instead of 5.8 (no y - lo, lookup gather and cast)
                return np.arange(hi + 1, dtype=y.dtype), y.astype(np.intp, copy=False)
            classes = np.flatnonzero(present) + lo
            lookup = np.cumsum(present) - 1
            return classes.astype(y.dtype), lookup[offset].astype(np.intp)
    classes, yi = np.unique(y, return_inverse=True)
    return classes, yi.reshape(-1)


class LogisticRegression(ClassifierMixin, _LinearModel):
    r"""Logistic and softmax regression trained by mini-batch SGD or Adam in compiled code.

    The model is ``z = W x + b`` followed by a head chosen from ``y``: two classes give
    binary logistic regression (sigmoid + binary cross-entropy), three or more give
    softmax regression (multinomial cross-entropy), and a 0/1 indicator matrix of shape
    ``(n_samples, n_labels)`` gives multi-label classification (one sigmoid + BCE per
    label).

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength, as in scikit-learn; ``np.inf`` means no penalty.
    l1_ratio : float in [0, 1], default=0.0
        Mix of the penalty: 0 is L2, 1 is L1, in between is the elastic net.
    fit_intercept : bool, default=True
        Learn the intercept ``b`` (never penalised).
    class_weight : dict, 'balanced', list of dicts or None, default=None
        Weights per class, multiplying ``sample_weight``. 'balanced' uses
        ``n_samples / (n_classes * np.bincount(y))`` (weighted counts with
        ``sample_weight``). For a multi-label y, 'balanced' weighs each label's 0s and 1s
        as a binary model of that label would, and a list of one ``{0: w0, 1: w1}`` dict
        per label sets them explicitly.
    solver : {'lbfgs', 'sgd', 'adam'}, default='lbfgs'
        'lbfgs' is an exact full-batch quasi-Newton method (L-BFGS with a strong-Wolfe
        line search; OWL-QN when ``l1_ratio > 0``) that reaches scikit-learn's optimum, in
        float32 when X is float32. 'sgd' and 'adam' are mini-batch optimisers with
        ``torch.optim.SGD`` (dampening 0) and ``torch.optim.Adam`` update rules; for
        softmax and multi-label models on float32 X they multiply and add in float32
        (with AVX-512), keeping coefficients, optimiser state and loss in float64. The
        parameters from ``batch_size`` to ``validation_fraction`` below are used by the
        mini-batch solvers only.
    batch_size : int or 'auto', default='auto'
        Rows per mini-batch; 'auto' is ``min(200, n_samples)``.
    learning_rate_init : float, default=0.001
        Step size (``lr`` in PyTorch).
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Schedule, as scikit-learn's MLPClassifier defines it (here for Adam too):
        'invscaling' sets ``learning_rate_init / (t + 1) ** power_t`` after each epoch,
        t the samples seen; 'adaptive' divides the rate by 5 at each plateau (see ``tol``)
        instead of stopping, until it is below 1e-6.
    power_t : float, default=0.5
        Exponent of 'invscaling'.
    momentum : float in [0, 1], default=0.0
        SGD momentum. The default is plain SGD, like ``torch.optim.SGD``
        (scikit-learn's MLPClassifier defaults to 0.9).
    nesterovs_momentum : bool, default=False
        Nesterov momentum for SGD (needs ``momentum > 0``).
    beta_1, beta_2 : float in [0, 1), default=0.9, 0.999
        Adam's decay rates for the first and second moment estimates.
    epsilon : float, default=1e-8
        Adam's term added to the denominator.
    shuffle : bool, default=True
        Visit the rows in a fresh random order each epoch (the data is never copied).
    drop_last : bool, default=False
        Skip the last, incomplete batch of each epoch, as PyTorch's ``DataLoader``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training rows (stratified; read in place,
        not copied), or use ``validation_data`` passed to ``fit``; stop when the
        validation loss has not improved by ``tol`` for ``n_iter_no_change`` epochs and
        restore the weights of the best epoch.
    validation_fraction : float in (0, 1), default=0.1
        Share of the rows held out by ``early_stopping``.
    max_iter : int, default=100
        lbfgs: maximum iterations. sgd / adam: number of epochs (passes over the data).
    tol : float or None, default=1e-4
        lbfgs: stop when the largest entry of the gradient of ``J / (C sum(s))`` is at
        most ``tol`` (scikit-learn's criterion). sgd / adam: stop when the epoch loss (the
        validation loss with ``early_stopping``) has not improved by ``tol`` for
        ``n_iter_no_change`` consecutive epochs. ``None`` or 0 runs exactly ``max_iter``
        epochs (iterations).
    n_iter_no_change : int, default=10
        See ``tol``.
    warm_start : bool, default=False
        Start from the previous ``coef_``, ``intercept_`` and optimiser state.
    random_state : int, numpy Generator, RandomState or None, default=None
        Seeds the shuffling. The same seed gives bit-identical coefficients.
    verbose : int, default=0
        Print one line per epoch: epoch, loss, elapsed time.
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
    classes_ : ndarray of shape (n_classes,)
        Class labels (for multi-label y: ``arange(n_labels)``).
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        ``W``, in PyTorch's ``nn.Linear.weight`` layout; float32 when X is float32.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        ``b``.
    n_iter_ : int
        Epochs run (sgd, adam) or iterations (lbfgs).
    loss_curve_ : list of float
        sgd / adam: for each epoch, the mean of the batch objectives computed in its
        forward passes (each before its batch's update). With one full batch and no
        penalty this is the loss a PyTorch lecture prints. lbfgs: the objective
        ``J / (C sum(s))`` after each iteration.
    validation_loss_curve_, validation_scores_ : list of float
        Per epoch, the mean loss and the accuracy on the validation set (with
        ``early_stopping`` or ``validation_data``).
    best_iter_ : int
        With ``early_stopping``: the epoch whose weights were kept.
    t_ : int
        Optimiser steps taken (batches seen).
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names, when X had string column names (a pandas DataFrame).

    Notes
    -----
    The objective is scikit-learn's:

    .. math::

        J(W, b) = C \sum_i s_i \ell(y_i, W x_i + b)
                  + \tfrac{1 - \rho}{2} \lVert W \rVert_2^2 + \rho \lVert W \rVert_1

    with :math:`\rho` = ``l1_ratio`` and :math:`s_i` the sample weight times the class
    weight. The mini-batch solvers step on :math:`J / (C n)` estimated on each batch as
    the batch mean of :math:`s_i \ell_i` plus the penalty with strength
    :math:`1 / (C n)` (so ``1/(C n)`` is PyTorch's ``weight_decay``). The L1 part is a
    proximal (soft-thresholding) step, so coefficients reach exactly zero.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlr import LogisticRegression
    >>> X = np.array([[1.0], [2.0], [3.0], [4.0]])
    >>> y = np.array([0, 0, 1, 1])
    >>> clf = LogisticRegression(solver="sgd", learning_rate_init=0.5, C=np.inf,
    ...                          batch_size=4, max_iter=500, tol=None).fit(X, y)
    >>> clf.predict([[1.0], [7.0]])
    array([0, 1])
    """

    def __init__(self, *, C=1.0, l1_ratio=0.0, fit_intercept=True, class_weight=None,
                 solver="lbfgs", batch_size="auto", learning_rate_init=0.001,
                 learning_rate="constant", power_t=0.5, momentum=0.0,
                 nesterovs_momentum=False, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 shuffle=True, drop_last=False, early_stopping=False,
                 validation_fraction=0.1, max_iter=100, tol=1e-4, n_iter_no_change=10,
                 warm_start=False, random_state=None, verbose=0, n_threads=None):
        self.C = C
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
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

    # -- helpers -------------------------------------------------------------------------
    def _penalty(self, denominator):
        """(alpha_l2, alpha_l1) of the objective divided by C * denominator."""
        C = check_scalar(self.C, "C", low=0.0, low_open=True, allow_inf=True)
        return penalty_alphas(float(C), float(self.l1_ratio), denominator)

    def _batch_loss_scale(self, head, k):
        return 1.0

    def _score_decision(self, Z, Y, sw, head):
        """Accuracy of decision values Z against the encoded targets Y."""
        if head == "logistic":
            hits = (Z[:, 0] > 0) == (Y[:, 0] > 0.5)
        elif head == "softmax":
            hits = np.argmax(Z, axis=1) == Y[:, 0].astype(np.intp)
        else:
            hits = np.all((Z >= 0) == (Y > 0.5), axis=1)
        return float(np.average(hits, weights=sw))

    def _head(self):
        check_is_fitted(self)
        if getattr(self, "_multilabel", False):
            return "multilabel"
        return "logistic" if len(self.classes_) == 2 else "softmax"

    def _encode_y(self, y):
        """(classes, head, Y matrix (n, ycols) float64, class index or None)."""
        y_arr = np.asarray(y)
        if y_arr.ndim == 2 and y_arr.shape[1] > 1:
            Yf = check_array(y_arr, estimator=self, name="y")
            if not np.all((Yf == 0) | (Yf == 1)):
                raise ValueError("A 2D y is read as a multi-label indicator matrix and must "
                                 "contain only 0 and 1.")
            return np.arange(Yf.shape[1]), "multilabel", np.ascontiguousarray(
                Yf, dtype=np.float64), None
        if y_arr.ndim == 2 and y_arr.shape[1] == 1:
            import warnings

            from fastlr._sklearn_compat import DataConversionWarning
            warnings.warn("A column-vector y was passed when a 1d array was expected. "
                          "Please change the shape of y to (n_samples,), for example "
                          "using ravel().", DataConversionWarning, stacklevel=3)
            y_arr = y_arr.ravel()
        if y_arr.ndim != 1:
            raise ValueError(f"y must be 1D (class labels) or a 2D 0/1 indicator matrix; "
                             f"got an array of shape {y_arr.shape}.")
        if y_arr.dtype.kind == "f" and not np.all(np.isfinite(y_arr)):
            raise ValueError("Input y contains NaN or infinity.")
        if y_arr.dtype.kind == "O":
            kinds = {type(v) for v in y_arr}
            if any(v is None for v in y_arr):
                raise ValueError("Input y contains None; labels must be given for every "
                                 "sample.")
            if len(kinds) > 1 and not all(issubclass(t, (int, np.integer)) for t in kinds):
                raise TypeError(f"y mixes label types {sorted(t.__name__ for t in kinds)}; "
                                "use labels of one type.")
            if any(isinstance(v, float) and not np.isfinite(v) for v in y_arr):
                raise ValueError("Input y contains NaN or infinity.")
        if y_arr.dtype.kind == "f" and not np.all(y_arr == np.round(y_arr)):
            raise ValueError("Unknown label type: continuous values in y; LogisticRegression "
                             "is a classifier and needs class labels (for regression use "
                             "LinearRegression).")
        classes, yi = encode_labels(y_arr)
        if len(classes) < 2:
            raise ValueError("This solver needs samples of at least 2 classes in the data, "
                             f"but the data contains only one class: {classes[0]!r}.")
        head = "logistic" if len(classes) == 2 else "softmax"
        Y = np.ascontiguousarray(yi, dtype=np.float64).reshape(-1, 1)
        return classes, head, Y, yi

    def _class_weights(self, classes, yi, Y, head, sample_weight):
        """Per-sample class weights (n,) or None. 'balanced' follows scikit-learn: with
        sample weights, class c gets sum(s) / (k * sum(s[y == c])). (For a multi-label y
        see ``_label_weights``.)"""
        cw = self.class_weight
        if cw is None or head == "multilabel":
            return None
        k = len(classes)
        if isinstance(cw, str):
            if cw != "balanced":
                raise ValueError(f"class_weight must be a dict, 'balanced' or None; got "
                                 f"class_weight={cw!r}.")
            counts = np.bincount(yi, weights=sample_weight, minlength=k)
            total = yi.shape[0] if sample_weight is None else float(np.sum(sample_weight))
            w = total / (k * np.where(counts > 0, counts, 1.0))
        elif isinstance(cw, dict):
            w = self._dict_weights(cw, classes)
        else:
            raise ValueError(f"class_weight must be a dict, 'balanced' or None; got "
                             f"{cw!r}.")
        return w[yi]

    @staticmethod
    def _dict_weights(cw, classes):
        w = np.ones(len(classes))
        for label, weight in cw.items():
            pos = np.flatnonzero(classes == label)
            if len(pos) == 0:
                raise ValueError(f"class_weight has label {label!r}, which is not one of "
                                 f"the classes in y: {list(classes)!r}.")
            if not isinstance(weight, (int, float, np.number)) or not np.isfinite(weight) \
                    or weight < 0:
                raise ValueError(f"class_weight[{label!r}] must be a finite non-negative "
                                 f"number; got {weight!r}.")
            w[pos[0]] = weight
        return w

    def _label_weights(self, Y, sample_weight):
        """(L, 2) per-label weights of a 0 and a 1 for the multilabel head, or None.

        'balanced' weighs each label on its own, as a binary model of that label would:
        n / (2 * count of that value), with counts weighted by sample_weight. A list of L
        dicts ``{0: w0, 1: w1}`` gives them explicitly (BCE's ``pos_weight`` is w1 / w0).
        """
        cw = self.class_weight
        if cw is None:
            return None
        L = Y.shape[1]
        if isinstance(cw, str):
            if cw != "balanced":
                raise ValueError(f"class_weight must be 'balanced', a list of {L} dicts or "
                                 f"None for a multi-label y; got class_weight={cw!r}.")
            s = np.ones(Y.shape[0]) if sample_weight is None else sample_weight
            pos = s @ Y
            neg = s.sum() - pos
            total = s.sum()
            lw = np.empty((L, 2))
            lw[:, 0] = total / (2 * np.where(neg > 0, neg, 1.0))
            lw[:, 1] = total / (2 * np.where(pos > 0, pos, 1.0))
            return lw
        if isinstance(cw, (list, tuple)) and len(cw) == L \
                and all(isinstance(c, dict) for c in cw):
            return np.array([self._dict_weights(c, np.array([0, 1])) for c in cw])
        raise ValueError(f"class_weight must be 'balanced', a list of {L} dicts "
                         f"{{0: w0, 1: w1}} or None for a multi-label y; got {cw!r}.")

    def _encode_known(self, y, classes, multilabel, what="y"):
        """Encode labels with an existing set of classes (validation data, later
        partial_fit calls): (Y matrix, class index or None)."""
        y_arr = np.asarray(y) if not hasattr(y, "to_numpy") else y.to_numpy()
        if multilabel:
            Yf = check_array(y_arr, estimator=self, name=what)
            if Yf.shape[1] != len(classes) or not np.all((Yf == 0) | (Yf == 1)):
                raise ValueError(f"{what} must be a 0/1 indicator matrix with "
                                 f"{len(classes)} columns, like the training labels.")
            return np.ascontiguousarray(Yf, dtype=np.float64), None
        if y_arr.ndim == 2 and y_arr.shape[1] == 1:
            y_arr = y_arr.ravel()
        if y_arr.ndim != 1:
            raise ValueError(f"{what} must be 1D class labels; got shape {y_arr.shape}.")
        yi = np.searchsorted(classes, y_arr)
        yi = np.clip(yi, 0, len(classes) - 1)
        unknown = classes[yi] != y_arr
        if np.any(unknown):
            raise ValueError(f"{what} has labels {sorted(set(y_arr[unknown].tolist()))!r} "
                             f"that are not among the classes {list(classes)!r}.")
        return np.ascontiguousarray(yi, dtype=np.float64).reshape(-1, 1), yi

    def _weights(self, classes, yi, Y, head, sample_weight, n):
        sw = check_sample_weight(sample_weight, n, estimator=self)
        cw = self._class_weights(classes, yi, Y, head, sw)
        if cw is not None:
            sw = cw if sw is None else sw * cw
            if not np.any(sw > 0):
                raise ValueError("The product of sample_weight and class_weight is zero "
                                 "for every sample: nothing to fit.")
        return sw

    def fit(self, X, y, sample_weight=None, coef_init=None, intercept_init=None,
            validation_data=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data. C-contiguous float32 or float64 is used without a copy.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels (any type), or a 0/1 indicator matrix for multi-label data.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights (not all zero).
        coef_init : array-like of shape (n_classes, n_features), default=None
            Starting weights (``(1, n_features)`` for two classes).
        intercept_init : array-like of shape (n_classes,), default=None
            Starting intercept.
        validation_data : tuple (X_val, y_val), default=None
            A validation set for the mini-batch solvers: its loss and accuracy are
            recorded after every epoch (``validation_loss_curve_``,
            ``validation_scores_``); with ``early_stopping=True`` it replaces the
            hold-out of ``validation_fraction``.

        Returns
        -------
        self : LogisticRegression
            The fitted estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from fastlr import LogisticRegression
        >>> X, y = np.array([[1.0], [2.0], [3.0], [4.0]]), np.array([0, 0, 1, 1])
        >>> clf = LogisticRegression(C=10.0).fit(X, y)
        >>> clf.coef_.shape, clf.intercept_.shape, clf.classes_
        ((1, 1), (1,), array([0, 1]))
        """
        Xa = self._check_X_for_fit(X)
        y_arr = np.asarray(y) if not hasattr(y, "to_numpy") else y.to_numpy()
        check_consistent_length(Xa, y_arr)
        classes, head, Y, yi = self._encode_y(y_arr)
        sw = self._weights(classes, yi, Y, head, sample_weight, Xa.shape[0])
        k = 1 if head == "logistic" else len(classes)
        warm = bool(self.warm_start) and hasattr(self, "coef_")
        if warm and (self._head() != head or len(self.classes_) != len(classes)
                     or np.any(self.classes_ != classes)
                     or self.coef_.shape[1] != Xa.shape[1]):
            warm = False
        validation = None
        if validation_data is not None:
            validation = self._encode_validation(validation_data, Xa, classes, head)
        strata = yi if head != "multilabel" else None
        lw = self._label_weights(Y, sw) if head == "multilabel" else None
        fitted = self._fit_core(Xa, Y, sw, head, k, coef_init, intercept_init, warm,
                                strata=strata, validation=validation, label_weights=lw)
        # Only now, with training done, touch the estimator's state.
        self._store(fitted, X, Xa)
        self.classes_ = classes
        self._multilabel = head == "multilabel"
        return self

    def _encode_validation(self, validation_data, Xa, classes, head):
        try:
            X_val, y_val = validation_data
        except (TypeError, ValueError):
            raise ValueError("validation_data must be a tuple (X_val, y_val).") from None
        Xv = check_array(X_val, estimator=self, name="X_val")
        if Xv.shape[1] != Xa.shape[1]:
            raise ValueError(f"X_val has {Xv.shape[1]} features, but X has "
                             f"{Xa.shape[1]}.")
        Xv = np.ascontiguousarray(Xv, dtype=Xa.dtype)
        Yv, _ = self._encode_known(y_val, classes, head == "multilabel", what="y_val")
        check_consistent_length(Xv, Yv)
        return Xv, Yv, None

    @available_if(minibatch_only)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of mini-batches over (X, y), continuing the optimiser state.

        For streaming data that does not fit in memory: momentum buffers, Adam's moments
        and step count, the learning rate and the shuffling PRNG carry over between
        calls, so a sequence of calls is one long training run. Needs
        ``solver='sgd'`` or ``'adam'``. The penalty of each call is that of a data set
        the size of its chunk (``1 / (C * n_chunk)`` per step); ``class_weight='balanced'``
        is computed from each chunk.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of training data.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Its labels.
        classes : array-like of shape (n_classes,), default=None
            All the classes that will ever appear. Needed on the first call when the
            estimator has not been fitted before (not for a multi-label indicator y);
            later calls may omit it.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the chunk's samples.

        Returns
        -------
        self : LogisticRegression
            The updated estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from fastlr import LogisticRegression
        >>> X, y = np.array([[1.0], [2.0], [3.0], [4.0]]), np.array([0, 0, 1, 1])
        >>> clf = LogisticRegression(solver="sgd", learning_rate_init=0.1, batch_size=2,
        ...                          random_state=0)
        >>> for epoch in range(3):
        ...     clf = clf.partial_fit(X, y, classes=[0, 1])
        >>> clf.n_iter_, clf.t_, len(clf.loss_curve_)
        (3, 6, 3)
        """
        Xa = check_array(X, estimator=self)
        y_arr = np.asarray(y) if not hasattr(y, "to_numpy") else y.to_numpy()
        check_consistent_length(Xa, y_arr)
        fitted_before = hasattr(self, "coef_")
        multilabel = y_arr.ndim == 2 and y_arr.shape[1] > 1
        if fitted_before:
            if Xa.shape[1] != self.coef_.shape[1]:
                raise ValueError(f"X has {Xa.shape[1]} features, but {type(self).__name__}"
                                 f" is expecting {self.coef_.shape[1]} features as input.")
            if multilabel != bool(getattr(self, "_multilabel", False)):
                raise ValueError("y switches between class labels and a multi-label "
                                 "indicator matrix across partial_fit calls.")
            known = self.classes_
            if classes is not None and not np.array_equal(np.unique(classes), known):
                raise ValueError(f"classes={list(np.unique(classes))!r} differs from the "
                                 f"classes of the earlier fit {list(known)!r}.")
        elif multilabel:
            known = np.arange(y_arr.shape[1])
        elif classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit "
                             "(all the labels that will ever appear), e.g. "
                             "partial_fit(X, y, classes=np.unique(y_all)).")
        else:
            known = np.unique(np.asarray(classes))
            if len(known) < 2:
                raise ValueError(f"classes must hold at least 2 labels; got {list(known)!r}.")
        head = "multilabel" if multilabel else ("logistic" if len(known) == 2 else "softmax")
        Y, yi = self._encode_known(y_arr, known, multilabel)
        sw = self._weights(known, yi, Y, head, sample_weight, Xa.shape[0])
        k = 1 if head == "logistic" else len(known)
        lw = self._label_weights(Y, sw) if head == "multilabel" else None
        fitted = self._fit_core(Xa, Y, sw, head, k, None, None, fitted_before,
                                partial=True, label_weights=lw)
        self._store(fitted, X, Xa)
        self.classes_ = known
        self._multilabel = multilabel
        return self

    def decision_function(self, X):
        """Logits ``X W^T + b``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        z : ndarray of shape (n_samples,) or (n_samples, n_classes)
            One logit per sample for two classes (positive for ``classes_[1]``), else one
            per class (or per label), in X's dtype.

        Examples
        --------
        >>> import numpy as np
        >>> from fastlr import LogisticRegression
        >>> X, y = np.array([[1.0], [2.0], [3.0], [4.0]]), np.array([0, 0, 1, 1])
        >>> clf = LogisticRegression(C=10.0).fit(X, y)
        >>> np.round(clf.decision_function([[1.0], [7.0]]), 3)
        array([-3.977, 11.931])
        """
        z = self._linear_predict(X, self._head(), proba=False)
        return z.ravel() if z.shape[1] == 1 and not self._multilabel else z

    def predict_proba(self, X):
        """Probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes) or (n_samples, n_labels)
            Two classes: ``[1 - sigmoid(z), sigmoid(z)]``; more: the softmax of the
            logits; multi-label: one independent sigmoid per label. Never clipped.

        Examples
        --------
        >>> import numpy as np
        >>> from fastlr import LogisticRegression
        >>> X, y = np.array([[1.0], [2.0], [3.0], [4.0]]), np.array([0, 0, 1, 1])
        >>> clf = LogisticRegression(C=10.0).fit(X, y)
        >>> np.round(clf.predict_proba([[1.0], [7.0]]), 3)
        array([[0.982, 0.018],
               [0.   , 1.   ]])
        """
        head = self._head()
        return self._linear_predict(X, head, proba=True,
                                    ncols=2 if head == "logistic" else None)

    def predict_log_proba(self, X):
        """Logarithm of ``predict_proba``, computed from the logits without underflow.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of the shape of ``predict_proba(X)``
            ``log p``, finite even where ``p`` underflows to 0.

        Examples
        --------
        >>> import numpy as np
        >>> from fastlr import LogisticRegression
        >>> X, y = np.array([[1.0], [2.0], [3.0], [4.0]]), np.array([0, 0, 1, 1])
        >>> clf = LogisticRegression(C=10.0).fit(X, y)
        >>> float(np.round(clf.predict_log_proba([[7.0]])[0, 0], 4))
        -11.9312
        """
        # logits in float64 even for float32 X: a float32 logit can overflow to inf
        z = self._linear_predict(X, self._head(), proba=False, out_dtype=np.float64)
        head = self._head()
        if head == "logistic":
            out = np.hstack([-np.logaddexp(0.0, z), -np.logaddexp(0.0, -z)])
        elif head == "softmax":
            m = z.max(axis=1, keepdims=True)
            out = z - (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))
        else:
            out = -np.logaddexp(0.0, -z)
        with np.errstate(over="ignore"):  # log p below float32's range is -inf, correctly
            return out.astype(self.coef_.dtype, copy=False)

    def predict(self, X):
        """Predicted labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        labels : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Two classes: ``classes_[1]`` where the probability is above 0.5 (the
            lectures' threshold); more: the most probable class; multi-label: a 0/1
            matrix, 1 where a label's probability is at least 0.5.

        Examples
        --------
        >>> import numpy as np
        >>> from fastlr import LogisticRegression
        >>> X = np.array([[1.0], [2.0], [3.0], [4.0]])
        >>> y = np.array(["fail", "fail", "pass", "pass"])
        >>> LogisticRegression(C=10.0).fit(X, y).predict([[1.0], [7.0]])
        array(['fail', 'pass'], dtype='<U4')
        """
        z = self._linear_predict(X, self._head(), proba=False)
        if self._multilabel:
            return (z >= 0).astype(np.int64)
        if z.shape[1] == 1:
            return self.classes_[(z[:, 0] > 0).astype(np.intp)]
        return self.classes_[np.argmax(z, axis=1)]

    def score(self, X, y, sample_weight=None):
        """Accuracy (for a multi-label y, the share of samples with every label right).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples.

        Returns
        -------
        score : float
            Mean accuracy of ``predict(X)``.

        Examples
        --------
        >>> import numpy as np
        >>> from fastlr import LogisticRegression
        >>> X, y = np.array([[1.0], [2.0], [3.0], [4.0]]), np.array([0, 0, 1, 1])
        >>> LogisticRegression(C=10.0).fit(X, y).score(X, y)
        1.0
        """
        from fastlr._validation import accuracy
        return accuracy(np.asarray(y), self.predict(X), sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.input_tags.sparse = False
        return tags


if not HAVE_SKLEARN:
    del LogisticRegression.__sklearn_tags__
