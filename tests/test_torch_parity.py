"""Mini-batch training, step for step, against a NumPy reference and against PyTorch.

fastlr with ``shuffle=False`` must visit the batches exactly as
``DataLoader(TensorDataset(X, y), batch_size, shuffle=False, drop_last)`` does and update
exactly as ``torch.optim.SGD`` (plain, momentum, Nesterov) / ``torch.optim.Adam`` do, on
``reduction='mean'`` losses (BCE-with-logits for two classes, cross-entropy for more).

Tolerances
----------
* NumPy reference (``_reference_sgd.reference_fit``): ``rtol=1e-10``. Same float64
  arithmetic, different summation order (fastlr's 4-accumulator dot and row-by-row
  gradient sums vs NumPy's BLAS), so a few ulps per step; over <= 28 steps this stays
  at rounding level (observed: <= 8e-14 relative, 9e-16 absolute).
  ``atol=1e-12`` only guards entries that happen to be close to zero.
* PyTorch (float64, run single-threaded by ``torch_fit``): ``rtol=1e-8, atol=1e-10``.
  torch evaluates the losses with its own formulas (e.g. BCEWithLogits via
  ``(1 - y) z + log(1 + exp(-z))``-style rearrangements) and its own GEMM, so agreement
  is to rounding only; observed <= 2e-13 relative. 1e-8 keeps 4+ orders of headroom
  for another torch build or BLAS while any real difference (lr scaling, momentum
  form, bias correction, batch boundaries) shows up at >= 1e-4.
* float32 X: in double arithmetic (the ``double_arithmetic`` fixture; always so for the
  binary head and without AVX-512) parameters and optimiser state are double and X is
  read as float32 and widened, so the float32 fit equals the reference run on
  ``X.astype(float32)`` widened to float64, up to the final rounding of coef_ to float32
  (``rtol=2**-23``). In float32 arithmetic (the k-output heads with AVX-512) fastlr
  trains a float32 model as torch does (float32 parameters and optimiser state, stepped
  in float32): the fit agrees with the reference run that rounds its parameters after
  every step (``param_dtype``), and with a float32 torch model, to ``1e-6`` of the
  largest coefficient. Against
  the float64 fit on the unrounded X it agrees to ~1e-5 relative (the data differ by
  float32 rounding, ~6e-8 relative, amplified by a few epochs of training).
"""

import numpy as np
import pytest
from _reference_sgd import reference_fit, torch_fit, torch_linear_loop
from fastlr._loss import simd_level
from fastlr._sgd import _shuffled

from fastlr import LogisticRegression
from fastlr._validation import seed_from

RTOL_REF, ATOL_REF = 1e-10, 1e-12
RTOL_TORCH, ATOL_TORCH = 1e-8, 1e-10

N, D, BATCH, EPOCHS = 103, 6, 16, 4  # 103 = 6 * 16 + 7: a short last batch

# solver settings in the reference's (torch's) spelling
OPTIMIZERS = {
    "sgd": dict(solver="sgd", lr=0.1),
    "momentum": dict(solver="sgd", lr=0.05, momentum=0.9),
    "nesterov": dict(solver="sgd", lr=0.05, momentum=0.9, nesterov=True),
    "adam": dict(solver="adam", lr=0.01),
}


def _estimator_kwargs(opt):
    """fastlr's names for a reference / torch optimiser setting."""
    names = {"solver": "solver", "lr": "learning_rate_init", "momentum": "momentum",
             "nesterov": "nesterovs_momentum", "beta1": "beta_1", "beta2": "beta_2",
             "eps": "epsilon"}
    return {names[key]: value for key, value in opt.items()}


def _data(task, n=N, d=D, seed=0):
    """Seeded data: X (n, d), y in the user's labels, y as the reference's class index,
    and a start (W0 (k, d), b0 (k,)). Labels are deliberately not 0..k-1 so that the
    mapping label -> classes_ position is exercised too."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if task == "binary":
        k = 1
        yi = (X @ rng.normal(size=d) + 0.5 * rng.normal(size=n) > 0).astype(np.int64)
        labels = np.array(["no", "yes"])  # positive class = classes_[1] = 'yes'
    else:
        k = 10 if task == "multiclass10" else 5
        yi = np.argmax(X @ rng.normal(size=(d, k)) + rng.normal(size=(n, k)), axis=1)
        labels = np.arange(1, k + 1) * 10
    y = labels[yi]
    W0 = rng.normal(scale=0.3, size=(k, d))
    b0 = rng.normal(scale=0.3, size=k)
    return X, y, yi, W0, b0, ("logistic" if task == "binary" else "softmax")


def _fit(X, y, W0, b0, opt, *, batch_size=BATCH, epochs=EPOCHS, drop_last=False,
         C=np.inf, sample_weight=None, **extra):
    params = dict(C=C, batch_size=batch_size, max_iter=epochs, tol=None, shuffle=False,
                  drop_last=drop_last)
    params.update(_estimator_kwargs(opt))
    params.update(extra)
    return LogisticRegression(**params).fit(X, y, sample_weight=sample_weight,
                                            coef_init=W0, intercept_init=b0)


def _assert_run(clf, W, b, losses, rtol, atol):
    np.testing.assert_allclose(clf.coef_, W, rtol=rtol, atol=atol)
    np.testing.assert_allclose(clf.intercept_, b, rtol=rtol, atol=atol)
    np.testing.assert_allclose(clf.loss_curve_, losses, rtol=rtol, atol=0)


TASKS = ["binary", "multiclass"]
# float32 X trains float32 parameters in float32 arithmetic: the k-output heads' mini-batch
# solvers with AVX-512
F32_PARAMS = simd_level() == "avx512"


# ------------------------------------------------------------------------------------
# plain mini-batch runs
# ------------------------------------------------------------------------------------

@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
@pytest.mark.parametrize("task", TASKS)
def test_minibatch_matches_numpy_reference(task, opt_name, drop_last):
    X, y, yi, W0, b0, head = _data(task)
    opt = OPTIMIZERS[opt_name]
    clf = _fit(X, y, W0, b0, opt, drop_last=drop_last)
    W, b, losses, steps = reference_fit(X, yi, W0, b0, head=head, batch_size=BATCH,
                                        epochs=EPOCHS, drop_last=drop_last, **opt)
    k = W0.shape[0]
    assert clf.coef_.shape == (k, D) and clf.intercept_.shape == (k,)
    assert clf.coef_.dtype == np.float64
    n_batches = N // BATCH if drop_last else -(-N // BATCH)
    assert clf.t_ == steps == n_batches * EPOCHS
    assert clf.n_iter_ == EPOCHS == len(clf.loss_curve_)
    _assert_run(clf, W, b, losses, RTOL_REF, ATOL_REF)


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
@pytest.mark.parametrize("task", TASKS)
def test_minibatch_matches_pytorch(task, opt_name, drop_last):
    pytest.importorskip("torch")
    X, y, yi, W0, b0, head = _data(task)
    opt = OPTIMIZERS[opt_name]
    clf = _fit(X, y, W0, b0, opt, drop_last=drop_last)
    W, b, losses, steps = torch_fit(X, yi, W0, b0, head=head, batch_size=BATCH,
                                    epochs=EPOCHS, drop_last=drop_last, **opt)
    assert clf.t_ == steps
    _assert_run(clf, W, b, losses, RTOL_TORCH, ATOL_TORCH)


@pytest.mark.parametrize("task", TASKS)
def test_adam_non_default_hyperparameters(task):
    """beta_1, beta_2 and epsilon reach the update (eps large enough to matter)."""
    X, y, yi, W0, b0, head = _data(task)
    opt = dict(solver="adam", lr=0.02, beta1=0.5, beta2=0.9, eps=1e-2)
    clf = _fit(X, y, W0, b0, opt)
    W, b, losses, _ = reference_fit(X, yi, W0, b0, head=head, batch_size=BATCH,
                                    epochs=EPOCHS, **opt)
    _assert_run(clf, W, b, losses, RTOL_REF, ATOL_REF)
    # and they do change the run
    W_default, _, _, _ = reference_fit(X, yi, W0, b0, head=head, batch_size=BATCH,
                                       epochs=EPOCHS, solver="adam", lr=0.02)
    assert np.max(np.abs(W_default - W)) > 1e-3


@pytest.mark.parametrize("n, batch_size, drop_last, expected", [
    (103, 16, False, 7), (103, 16, True, 6), (96, 16, False, 6), (96, 16, True, 6),
    (103, 103, True, 1), (103, 500, False, 1), (5, 1, False, 5),
])
def test_t_counts_batches(n, batch_size, drop_last, expected):
    X, y, _, W0, b0, _ = _data("binary", n=n)
    clf = _fit(X, y, W0, b0, OPTIMIZERS["sgd"], batch_size=batch_size, epochs=3,
               drop_last=drop_last)
    assert clf.t_ == expected * 3
    assert clf.n_iter_ == 3


# ------------------------------------------------------------------------------------
# penalty, sample weights
# ------------------------------------------------------------------------------------

@pytest.mark.parametrize("C", [0.5, 0.01])
@pytest.mark.parametrize("opt_name", ["momentum", "adam"])
@pytest.mark.parametrize("task", TASKS)
def test_l2_penalty_matches_reference(task, opt_name, C):
    """C finite: weight_decay = 1/(C n) on W only, in the gradient and in loss_curve_."""
    X, y, yi, W0, b0, head = _data(task)
    opt = OPTIMIZERS[opt_name]
    clf = _fit(X, y, W0, b0, opt, C=C)
    wd = 1.0 / (C * N)
    W, b, losses, _ = reference_fit(X, yi, W0, b0, head=head, batch_size=BATCH,
                                    epochs=EPOCHS, weight_decay=wd, **opt)
    _assert_run(clf, W, b, losses, RTOL_REF, ATOL_REF)
    # the penalty matters at this strength (guards against it being silently ignored)
    _, _, losses0, _ = reference_fit(X, yi, W0, b0, head=head, batch_size=BATCH,
                                       epochs=EPOCHS, **opt)
    assert abs(losses0[0] - losses[0]) > 1e-4


@pytest.mark.parametrize("l1_ratio", [0.5, 1.0])
@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
@pytest.mark.parametrize("task", TASKS)
def test_l1_penalty_matches_reference(task, opt_name, l1_ratio):
    """L1 / elastic net: alpha_l1 = l1_ratio / (C n) in loss_curve_ and as a proximal step
    after each update (soft-thresholding by the step each coefficient took)."""
    X, y, yi, W0, b0, head = _data(task)
    opt = OPTIMIZERS[opt_name]
    C = 0.01
    clf = _fit(X, y, W0, b0, opt, C=C, l1_ratio=l1_ratio)
    W, b, losses, _ = reference_fit(X, yi, W0, b0, head=head, batch_size=BATCH,
                                    epochs=EPOCHS, weight_decay=(1 - l1_ratio) / (C * N),
                                    l1=l1_ratio / (C * N), **opt)
    _assert_run(clf, W, b, losses, RTOL_REF, ATOL_REF)
    # the thresholding bites: some coefficients are exactly zero in both
    assert np.any(W == 0.0)
    np.testing.assert_array_equal(clf.coef_ == 0.0, W == 0.0)


@pytest.mark.parametrize("opt_name", ["momentum", "adam"])
@pytest.mark.parametrize("task", TASKS)
def test_l2_penalty_matches_pytorch(task, opt_name):
    """torch's weight_decay would decay the bias too: the penalty is added to the loss."""
    pytest.importorskip("torch")
    X, y, yi, W0, b0, head = _data(task)
    opt = OPTIMIZERS[opt_name]
    C = 0.05
    clf = _fit(X, y, W0, b0, opt, C=C)
    W, b, losses, _ = torch_fit(X, yi, W0, b0, head=head, batch_size=BATCH,
                                epochs=EPOCHS, weight_decay=1.0 / (C * N), **opt)
    _assert_run(clf, W, b, losses, RTOL_TORCH, ATOL_TORCH)


@pytest.mark.parametrize("opt_name", ["sgd", "nesterov", "adam"])
@pytest.mark.parametrize("task", TASKS)
def test_sample_weight_matches_reference(task, opt_name):
    """Batch loss = sum_{i in B} s_i l_i / |B|."""
    X, y, yi, W0, b0, head = _data(task)
    sw = np.random.default_rng(7).uniform(0.0, 3.0, size=N)
    sw[::10] = 0.0
    opt = OPTIMIZERS[opt_name]
    clf = _fit(X, y, W0, b0, opt, sample_weight=sw, drop_last=True)
    W, b, losses, _ = reference_fit(X, yi, W0, b0, head=head, batch_size=BATCH,
                                    epochs=EPOCHS, drop_last=True, sample_weight=sw,
                                    **opt)
    _assert_run(clf, W, b, losses, RTOL_REF, ATOL_REF)


@pytest.mark.parametrize("task", TASKS)
def test_sample_weight_with_penalty_matches_pytorch(task):
    pytest.importorskip("torch")
    X, y, yi, W0, b0, head = _data(task)
    sw = np.random.default_rng(7).uniform(0.0, 3.0, size=N)
    opt = OPTIMIZERS["momentum"]
    C = 0.1
    clf = _fit(X, y, W0, b0, opt, sample_weight=sw, C=C)
    W, b, losses, _ = torch_fit(X, yi, W0, b0, head=head, batch_size=BATCH,
                                epochs=EPOCHS, sample_weight=sw,
                                weight_decay=1.0 / (C * N), **opt)
    _assert_run(clf, W, b, losses, RTOL_TORCH, ATOL_TORCH)


@pytest.mark.parametrize("task", TASKS)
def test_unit_sample_weight_is_bit_identical(task):
    X, y, _, W0, b0, _ = _data(task)
    opt = OPTIMIZERS["adam"]
    a = _fit(X, y, W0, b0, opt)
    b = _fit(X, y, W0, b0, opt, sample_weight=np.ones(N))
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)
    assert a.loss_curve_ == b.loss_curve_


# ------------------------------------------------------------------------------------
# float32 input
# ------------------------------------------------------------------------------------

@pytest.mark.parametrize("opt_name", ["momentum", "adam"])
@pytest.mark.parametrize("task", TASKS)
def test_float32_X(task, opt_name, double_arithmetic):
    X, y, yi, W0, b0, head = _data(task)
    opt = OPTIMIZERS[opt_name]
    X32 = X.astype(np.float32)
    with double_arithmetic:
        clf32 = _fit(X32, y, W0, b0, opt)
    assert clf32.coef_.dtype == np.float32
    assert clf32.intercept_.dtype == np.float32
    assert clf32.predict_proba(X32).dtype == np.float32
    # exactly the reference run on the float32 data widened to float64, then rounded
    W, b, losses, _ = reference_fit(X32.astype(np.float64), yi, W0, b0, head=head,
                                    batch_size=BATCH, epochs=EPOCHS, **opt)
    eps32 = float(np.finfo(np.float32).eps)
    np.testing.assert_allclose(clf32.coef_, W, rtol=eps32, atol=ATOL_REF)
    np.testing.assert_allclose(clf32.intercept_, b, rtol=eps32, atol=ATOL_REF)
    np.testing.assert_allclose(clf32.loss_curve_, losses, rtol=RTOL_REF)  # double
    # float32 arithmetic (the default with AVX-512; the softmax head): float32 rounding
    # in every logit and gradient sum, and float32 parameters (observed <= 9e-8 of the
    # largest coefficient, 5e-9 relative on the loss)
    f32 = _fit(X32, y, W0, b0, opt)
    if task != "binary" and F32_PARAMS:
        W, b, losses, _ = reference_fit(X32.astype(np.float64), yi, W0, b0, head=head,
                                        batch_size=BATCH, epochs=EPOCHS,
                                        param_dtype=np.float32, **opt)
    np.testing.assert_allclose(f32.coef_, W, rtol=0, atol=1e-6 * np.abs(W).max())
    np.testing.assert_allclose(f32.intercept_, b, rtol=0, atol=1e-6 * np.abs(b).max())
    np.testing.assert_allclose(f32.loss_curve_, losses, rtol=1e-6)
    # and close to the float64 fit on the unrounded data
    clf64 = _fit(X, y, W0, b0, opt)
    np.testing.assert_allclose(clf32.coef_, clf64.coef_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(clf32.intercept_, clf64.intercept_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(clf32.loss_curve_, clf64.loss_curve_, rtol=1e-5)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("batch_size", [16, 100])
@pytest.mark.parametrize("opt_name", ["momentum", "adam"])
def test_float32_arithmetic_wide_rows(opt_name, batch_size, n_threads, double_arithmetic):
    """float32 arithmetic on rows long enough for its vector tiles: d = 90 is one tile of
    64 columns, one of 16 and 10 left over. Batch 16 takes its step inside the gradient
    pass; batch 100 is four row blocks, stepped after the pass. The reference is the
    double run on the widened float32 data (equal to it in double arithmetic); in float32
    arithmetic, the same run with its parameters rounded to float32 after every step.
    The coefficients differ from it by at most 6.3e-8 (max |W| ~ 1: no more than coef_'s
    own rounding to float32) and the loss curve by 2.3e-8 relative (observed over these
    8 cases); the test allows 1e-6. float32 coefficients that miss a step's update show
    up at >= 1e-3."""
    X, y, yi, W0, b0, head = _data("multiclass10", n=300, d=90, seed=4)
    X32 = X.astype(np.float32)
    opt = OPTIMIZERS[opt_name]
    W, b, losses, _ = reference_fit(X32.astype(np.float64), yi, W0, b0, head=head,
                                    batch_size=batch_size, epochs=3, **opt)
    with double_arithmetic:
        exact = _fit(X32, y, W0, b0, opt, batch_size=batch_size, epochs=3,
                     n_threads=n_threads)
    eps32 = float(np.finfo(np.float32).eps)
    np.testing.assert_allclose(exact.coef_, W, rtol=eps32, atol=ATOL_REF)
    f32 = _fit(X32, y, W0, b0, opt, batch_size=batch_size, epochs=3, n_threads=n_threads)
    if F32_PARAMS:
        W, b, losses, _ = reference_fit(X32.astype(np.float64), yi, W0, b0, head=head,
                                        batch_size=batch_size, epochs=3,
                                        param_dtype=np.float32, **opt)
    np.testing.assert_allclose(f32.coef_, W, rtol=0, atol=1e-6 * np.abs(W).max())
    np.testing.assert_allclose(f32.intercept_, b, rtol=0, atol=1e-6 * np.abs(b).max())
    np.testing.assert_allclose(f32.loss_curve_, losses, rtol=1e-6)


@pytest.mark.skipif(not F32_PARAMS, reason="float32 arithmetic needs AVX-512")
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("batch_size, lr", [(16, 3e-7), (100, 1e-6)])
def test_float32_arithmetic_trains_float32_parameters(batch_size, lr, n_threads,
                                                      double_arithmetic):
    """Steps smaller than half a float32 ulp: with coefficients in [1, 2) (ulp 2**-23) and
    steps of a few 1e-8, a float32 parameter rounds back to where it was, as torch's
    float32 parameters do, while double parameters add the steps up. float32 arithmetic
    must follow the reference run that rounds its parameters after every step (observed:
    equal), double arithmetic the one that does not; the two references lie 4-13 ulps
    apart here, so a fit that kept double parameters fails the first check. Batch 16
    takes its steps inside the gradient pass, batch 100 after it."""
    X, y, yi, W0, b0, head = _data("multiclass10", n=300, d=90, seed=4)
    W0 = (1.0 + np.random.default_rng(1).random(W0.shape)).astype(np.float32)
    W0 = W0.astype(np.float64)
    X32 = X.astype(np.float32)
    opt = dict(solver="sgd", lr=lr)
    runs = {dt: reference_fit(X32.astype(np.float64), yi, W0, b0, head=head,
                              batch_size=batch_size, epochs=3, param_dtype=dt, **opt)
            for dt in (np.float32, None)}
    ulp = 2.0 ** -23
    assert np.abs(runs[np.float32][0] - runs[None][0]).max() > 3 * ulp
    f32 = _fit(X32, y, W0, b0, opt, batch_size=batch_size, epochs=3, n_threads=n_threads)
    np.testing.assert_allclose(f32.coef_, runs[np.float32][0], rtol=0, atol=ulp)
    np.testing.assert_allclose(f32.loss_curve_, runs[np.float32][2], rtol=1e-6)
    with double_arithmetic:
        f64 = _fit(X32, y, W0, b0, opt, batch_size=batch_size, epochs=3,
                   n_threads=n_threads)
    np.testing.assert_allclose(f64.coef_, runs[None][0], rtol=0, atol=ulp)


@pytest.mark.skipif(not F32_PARAMS, reason="float32 arithmetic needs AVX-512")
@pytest.mark.parametrize("batch_size", [16, 100])
@pytest.mark.parametrize("opt_name", ["momentum", "adam"])
def test_float32_arithmetic_matches_a_float32_torch_model(opt_name, batch_size, torch1):
    """A float32 ``nn.Linear(90, 10)`` trained by ``torch.optim`` on float32 tensors
    (float32 parameters, optimiser state and arithmetic throughout), from the same start
    and in the same batches: fastlr's float32 training agrees with it to float32
    rounding, which differs in where it rounds (fastlr adds each logit's 16 lanes and
    takes the softmax and the loss in double). Observed: coefficients within 2e-7 of the
    largest one, the loss curve within 8e-8 (double parameters or double optimiser state
    agree as closely over these few steps: the rounding of the parameters is checked
    above); a float32 state that misses one of its updates is off by > 1e-3."""
    torch = torch1
    from torch.utils.data import DataLoader, TensorDataset

    X, y, yi, W0, b0, head = _data("multiclass10", n=300, d=90, seed=4)
    X32 = X.astype(np.float32)
    opt = OPTIMIZERS[opt_name]
    f32 = _fit(X32, y, W0, b0, opt, batch_size=batch_size, epochs=3)
    loader = DataLoader(TensorDataset(torch.from_numpy(X32),
                                      torch.from_numpy(np.asarray(yi, dtype=np.int64))),
                        batch_size=batch_size, shuffle=False)
    W, b, losses, _ = torch_linear_loop(
        torch, W0, b0, loader,
        lambda model, batch: torch.nn.functional.cross_entropy(model(batch[0]), batch[1]),
        3, solver=opt["solver"], lr=opt["lr"], momentum=opt.get("momentum", 0.0),
        dtype=torch.float32)
    np.testing.assert_allclose(f32.coef_, W, rtol=0, atol=2e-6 * np.abs(W).max())
    np.testing.assert_allclose(f32.intercept_, b, rtol=0, atol=2e-6 * np.abs(b).max())
    np.testing.assert_allclose(f32.loss_curve_, losses, rtol=2e-6)


# ------------------------------------------------------------------------------------
# shuffling, determinism, warm start, threads
# ------------------------------------------------------------------------------------

@pytest.mark.parametrize("task", TASKS)
def test_shuffle_same_seed_is_bit_identical(task):
    X, y, _, W0, b0, _ = _data(task)
    opt = OPTIMIZERS["momentum"]
    runs = [_fit(X, y, W0, b0, opt, shuffle=True, random_state=seed)
            for seed in (0, 0, 1)]
    np.testing.assert_array_equal(runs[0].coef_, runs[1].coef_)
    np.testing.assert_array_equal(runs[0].intercept_, runs[1].intercept_)
    assert runs[0].loss_curve_ == runs[1].loss_curve_
    assert not np.array_equal(runs[0].coef_, runs[2].coef_)
    assert runs[0].loss_curve_ != runs[2].loss_curve_
    # and shuffling does change the run relative to the natural order
    unshuffled = _fit(X, y, W0, b0, opt)
    assert not np.array_equal(runs[0].coef_, unshuffled.coef_)


@pytest.mark.parametrize("task", TASKS)
def test_shuffled_epochs_follow_the_drawn_orders(task):
    """Several batches per epoch, shuffled: the fit equals the reference run over the row
    orders that the PRNG gives (_sgd._shuffled from the seed random_state draws, its
    state carried from epoch to epoch), so each epoch visits exactly that permutation."""
    X, y, yi, W0, b0, head = _data(task)
    opt = OPTIMIZERS["momentum"]
    epochs = 3
    clf = _fit(X, y, W0, b0, opt, epochs=epochs, shuffle=True, random_state=5)
    state, perms = int(seed_from(5)), []
    for _ in range(epochs):
        order, state = _shuffled(N, state)
        perms.append(order)
    W, b, losses, _ = reference_fit(X, yi, W0, b0, head=head, batch_size=BATCH,
                                    epochs=epochs, perms=perms, **opt)
    _assert_run(clf, W, b, losses, RTOL_REF, ATOL_REF)


@pytest.mark.parametrize("opt_name", ["momentum", "adam"])
@pytest.mark.parametrize("task", TASKS)
def test_shuffle_full_batch_equals_unshuffled_reference(task, opt_name):
    """With one batch per epoch, the row order only changes the summation order: a
    shuffled fastlr run (rows reached through the permutation) matches the reference."""
    X, y, yi, W0, b0, head = _data(task)
    opt = OPTIMIZERS[opt_name]
    clf = _fit(X, y, W0, b0, opt, batch_size=N, epochs=20, shuffle=True, random_state=3)
    W, b, losses, _ = reference_fit(X, yi, W0, b0, head=head, batch_size=N, epochs=20,
                                    **opt)
    _assert_run(clf, W, b, losses, RTOL_REF, ATOL_REF)


@pytest.mark.parametrize("opt_name", ["momentum", "adam"])
@pytest.mark.parametrize("task", TASKS)
def test_warm_start_continues_optimiser_state(task, opt_name):
    """2 epochs + 2 more with warm_start = 4 epochs in one go (momentum buffer, Adam
    moments and step count carried over)."""
    X, y, yi, W0, b0, head = _data(task)
    opt = OPTIMIZERS[opt_name]
    clf = _fit(X, y, W0, b0, opt, epochs=2, warm_start=True)
    clf.fit(X, y)
    W, b, losses, steps = reference_fit(X, yi, W0, b0, head=head, batch_size=BATCH,
                                        epochs=4, **opt)
    np.testing.assert_allclose(clf.coef_, W, rtol=RTOL_REF, atol=ATOL_REF)
    np.testing.assert_allclose(clf.intercept_, b, rtol=RTOL_REF, atol=ATOL_REF)
    np.testing.assert_allclose(clf.loss_curve_, losses[2:], rtol=RTOL_REF)
    assert clf.t_ == steps


@pytest.mark.parametrize("n_threads", [1, 2])
def test_threaded_large_batch_matches_reference(n_threads):
    """Batches large enough to be split across threads (batch * k * d = 2.6e6
    multiply-adds, above the per-thread threshold of _sgd.pyx for 2 threads): the
    per-thread partial sums, reduced in a fixed order, still match the reference."""
    X, y, yi, W0, b0, head = _data("multiclass10", n=4096, d=64, seed=5)
    opt = OPTIMIZERS["adam"]
    clf = _fit(X, y, W0, b0, opt, batch_size=4096, epochs=3, n_threads=n_threads)
    W, b, losses, _ = reference_fit(X, yi, W0, b0, head=head, batch_size=4096, epochs=3,
                                    **opt)
    _assert_run(clf, W, b, losses, RTOL_REF, ATOL_REF)


@pytest.mark.parametrize("task", TASKS)
def test_shuffled_warm_start_continues_exactly(task):
    """4 shuffled epochs = 2 + 2 with warm_start and the same random_state, bit for bit
    (a fresh permutation per epoch drawn from the carried PRNG state)."""
    X, y, _, W0, b0, _ = _data(task)
    opt = OPTIMIZERS["adam"]
    once = _fit(X, y, W0, b0, opt, epochs=4, shuffle=True, random_state=11)
    twice = _fit(X, y, W0, b0, opt, epochs=2, shuffle=True, random_state=11,
                 warm_start=True)
    first_half = list(twice.loss_curve_)
    twice.fit(X, y)
    np.testing.assert_array_equal(once.coef_, twice.coef_)
    np.testing.assert_array_equal(once.intercept_, twice.intercept_)
    assert once.loss_curve_ == first_half + twice.loss_curve_
    assert twice.t_ == once.t_


# ------------------------------------------------------------------------------------
# the reference itself (so that it stands on its own when torch is not installed)
# ------------------------------------------------------------------------------------

@pytest.mark.parametrize("task", TASKS)
def test_reference_gradient_by_central_differences(task):
    from _reference_sgd import loss_and_grad

    X, _, yi, W0, b0, head = _data(task, n=20)
    sw = np.random.default_rng(3).uniform(0.5, 2.0, size=20)
    wd = 0.3
    _, gW, gb = loss_and_grad(head, X, yi, W0, b0, sw, wd)
    h = 1e-6
    num_W = np.zeros_like(W0)
    for idx in np.ndindex(W0.shape):
        Wp, Wm = W0.copy(), W0.copy()
        Wp[idx] += h
        Wm[idx] -= h
        num_W[idx] = (loss_and_grad(head, X, yi, Wp, b0, sw, wd)[0]
                      - loss_and_grad(head, X, yi, Wm, b0, sw, wd)[0]) / (2 * h)
    num_b = np.zeros_like(b0)
    for j in range(b0.shape[0]):
        bp, bm = b0.copy(), b0.copy()
        bp[j] += h
        bm[j] -= h
        num_b[j] = (loss_and_grad(head, X, yi, W0, bp, sw, wd)[0]
                    - loss_and_grad(head, X, yi, W0, bm, sw, wd)[0]) / (2 * h)
    # central differences: truncation O(h^2) ~ 1e-12, rounding ~ eps / h ~ 1e-10
    np.testing.assert_allclose(gW, num_W, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gb, num_b, rtol=1e-6, atol=1e-8)


def test_reference_permutations():
    X, _, yi, W0, b0, head = _data("multiclass")
    opt = OPTIMIZERS["momentum"]
    base = reference_fit(X, yi, W0, b0, head=head, batch_size=BATCH, epochs=2, **opt)
    ident = reference_fit(X, yi, W0, b0, head=head, batch_size=BATCH, epochs=2,
                          perms=[np.arange(N)] * 2, **opt)
    for a, b in zip(base[:3], ident[:3], strict=True):
        np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(0)
    perms = [rng.permutation(N) for _ in range(2)]
    shuffled = reference_fit(X, yi, W0, b0, head=head, batch_size=BATCH, epochs=2,
                             perms=perms, **opt)
    assert not np.allclose(shuffled[0], base[0], rtol=1e-6)
