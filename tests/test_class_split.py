"""Small mini-batches of the k-output heads shared among threads by classes
(fastlr_split_batches in _kernels_impl.h): each thread owns a range of class blocks, its
coefficients and optimiser buffers, and the threads meet once per batch to exchange the
logits. The oracle is the one-thread run of the same fit, whose own correctness the
reference and PyTorch parity tests establish: the coefficients must come out with the
same bits, and the loss curve equal up to the rounding of how the driver adds up an
epoch's parts (timed, so not the same cuts in every run).

An epoch with n_threads > 1 runs in timed chunks, each on one thread or on all of them,
whichever was faster (_sgd.run_epoch). The tests force the schedule (_set_thread_schedule):
every chunk on both threads, and a mix that changes the thread count from batch to batch;
both must equal the one-thread run bit for bit."""

import numpy as np
import pytest
from fastlr._loss import head_code
from fastlr._openmp_helpers import openmp_enabled
from fastlr._sgd import _set_thread_schedule, _thread_chunks, batch_threads

from fastlr import LinearRegression, LogisticRegression

D = 300


def _split_runs():
    return batch_threads(head_code("softmax"), 32, D, 10, 2)[0] == "classes"


pytestmark = pytest.mark.skipif(
    not openmp_enabled() or not _split_runs(),
    reason="class-split batches need an OpenMP build and the AVX-512 kernels")


def _data(n, k, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, D))
    W = rng.standard_normal((k, D)) / np.sqrt(D)
    return X, X @ W.T + 0.3 * rng.standard_normal((n, k))


def _same_fit(make, X, y, thread_schedule, **fit):
    one = make(1).fit(X, y, **fit)
    # every batch on both threads; then one or two threads, changing every batch or three
    for schedule, chunk in [((2,), 1), ((2, 1, 1, 2, 2), 1), ((1, 2), 3)]:
        _thread_chunks(reset=True)
        with thread_schedule(schedule, chunk):
            two = make(2).fit(X, y, **fit)
        on_one, on_two = _thread_chunks()
        assert on_two > 0 and (on_one > 0) == (1 in schedule), (schedule, on_one, on_two)
        np.testing.assert_array_equal(two.coef_, one.coef_)
        np.testing.assert_array_equal(two.intercept_, one.intercept_)
        np.testing.assert_allclose(two.loss_curve_, one.loss_curve_, rtol=1e-13)
    return one, two


@pytest.mark.parametrize("k", [10, 13, 20])
def test_split_plan(k):
    # k = 10: blocks 5 + 5; 13: 5 + 4 + 4 (threads own 1 and 2 blocks); 20: four of 5
    assert batch_threads(head_code("softmax"), 32, D, k, 2) == ("classes", 2)
    # the binary head has one output; batches this large split by rows instead
    assert batch_threads(head_code("logistic"), 32, D, 1, 2) == ("serial", 1)
    assert batch_threads(head_code("softmax"), 4096, 1000, k, 2)[0] == "rows"


@pytest.mark.parametrize("solver,extra", [
    ("sgd", {}), ("sgd", {"momentum": 0.9}),
    ("sgd", {"momentum": 0.9, "nesterovs_momentum": True}), ("adam", {})])
@pytest.mark.parametrize("k", [10, 13])
@pytest.mark.parametrize("batch_size", [32, 30, 45])   # full row groups, ragged ones
def test_softmax_split_is_bit_identical(solver, extra, k, batch_size, thread_schedule):
    X, Z = _data(700, k)                   # 700 rows: the last batch is a short one
    y = np.argmax(Z, axis=1)

    def make(nt):
        return LogisticRegression(solver=solver, batch_size=batch_size, max_iter=3,
                                  tol=None, learning_rate_init=0.02, C=1.0 if k == 10
                                  else np.inf, random_state=0, n_threads=nt, **extra)
    one, _ = _same_fit(make, X, y, thread_schedule)
    assert np.all(np.isfinite(one.coef_)) and np.abs(one.coef_).max() > 0


def test_softmax_split_weights_float32_elasticnet_no_intercept(thread_schedule):
    X, Z = _data(500, 10, seed=3)
    y = np.argmax(Z, axis=1)
    sw = np.random.default_rng(4).uniform(0.2, 2.0, len(y))

    def make(nt):
        return LogisticRegression(solver="adam", batch_size=32, max_iter=2, tol=None,
                                  l1_ratio=0.5, C=0.05,
                                  fit_intercept=False, learning_rate_init=0.01,
                                  random_state=1, n_threads=nt)
    one, _ = _same_fit(make, X.astype(np.float32), y, thread_schedule, sample_weight=sw)
    assert one.coef_.dtype == np.float32
    assert np.count_nonzero(one.coef_ == 0) > 0          # the L1 step reached zeros


def test_multilabel_split_is_bit_identical(thread_schedule):
    X, Z = _data(600, 12, seed=5)
    Y = (Z > 0).astype(int)

    def make(nt):
        return LogisticRegression(solver="sgd", batch_size=40, max_iter=2, tol=None,
                                  learning_rate_init=0.05, random_state=2, n_threads=nt)
    _same_fit(make, X, Y, thread_schedule)


def test_multioutput_regression_split_is_bit_identical(thread_schedule):
    X, Z = _data(600, 11, seed=6)

    def make(nt):
        return LinearRegression(solver="adam", batch_size=32, max_iter=2, tol=None,
                                learning_rate_init=0.01, random_state=3, n_threads=nt)
    _same_fit(make, X, Z, thread_schedule)


def test_split_divergence_stops_like_one_thread(thread_schedule):
    # a learning rate that overflows the logits: both runs stop at the same batch with the
    # same error, and a fitted estimator is left as it was
    X, Z = _data(400, 10, seed=8)
    X = X * 1e150
    y = np.argmax(Z, axis=1)
    msgs = []
    for nt, schedule in [(1, (1,)), (2, (2,)), (2, (1, 2))]:
        clf = LogisticRegression(solver="sgd", batch_size=32, max_iter=3, tol=None,
                                 learning_rate_init=1e150, random_state=0, n_threads=nt)
        with pytest.raises(ValueError) as err, thread_schedule(schedule, 1):
            clf.fit(X, y)
        msgs.append(str(err.value))
    assert msgs[0] == msgs[1] == msgs[2]
    with thread_schedule((2,), 1):
        good = LogisticRegression(solver="sgd", batch_size=32, max_iter=1, tol=None,
                                  random_state=0, n_threads=2).fit(X / 1e150, y)
        before = good.coef_.copy()
        good.set_params(learning_rate_init=1e150, max_iter=3)
        with pytest.raises(ValueError):
            good.fit(X, y)
    np.testing.assert_array_equal(good.coef_, before)


def test_timed_choice_of_threads_is_bit_identical():
    # Without a forced schedule the epoch times its chunks and picks one or two threads
    # per chunk (which one depends on the machine's load); whatever it picks, the fit is
    # the one-thread fit. 12,000 rows at batch 32: 375 batches an epoch, two or more
    # chunks of ~312 (1 thread first, then both), over three epochs.
    X, Z = _data(12_000, 10, seed=9)
    y = np.argmax(Z, axis=1)
    _thread_chunks(reset=True)
    fits = [LogisticRegression(solver="adam", batch_size=32, max_iter=3, tol=None,
                               learning_rate_init=0.01, random_state=4,
                               n_threads=nt).fit(X.astype(np.float32), y) for nt in (1, 2)]
    on_one, on_two = _thread_chunks()
    assert on_one >= 1 and on_two >= 1           # each was measured at least once
    np.testing.assert_array_equal(fits[1].coef_, fits[0].coef_)
    np.testing.assert_array_equal(fits[1].intercept_, fits[0].intercept_)
    np.testing.assert_allclose(fits[1].loss_curve_, fits[0].loss_curve_, rtol=1e-13)


@pytest.mark.parametrize("schedule,chunk", [((), 1), ((0,), 1), ((2,), 0), ((1,) * 17, 1)])
def test_thread_schedule_rejects_bad_values(schedule, chunk):
    with pytest.raises(ValueError, match="schedule must be"):
        _set_thread_schedule((schedule, chunk))


@pytest.mark.parametrize("k", [9, 13, 22])
def test_float32_split_is_bit_identical(k, thread_schedule, double_arithmetic):
    """float32 arithmetic (float32 coefficients stepped inside the gradient pass) with
    class blocks of 5 and 4: 9 = 5 + 4, 13 = 5 + 4 + 4 (two threads own 5 | 4 + 4), 22 =
    5 + 5 + 4 + 4 + 4 (5 + 5 | 4 + 4 + 4), on rows of 300 columns (vector tiles of 64 and
    16 columns, and 12 left over). The coefficients must be the same bits on one thread
    and two, and agree with double arithmetic to float32 rounding (observed <= 2e-7 of
    the largest coefficient; a class stepped with another's gradient is off by > 1e-2)."""
    X, Z = _data(400, k, seed=7)
    y = np.argmax(Z, axis=1)
    X32 = X.astype(np.float32)

    def make(nt):
        return LogisticRegression(solver="sgd", momentum=0.9, batch_size=32, max_iter=2,
                                  tol=None, C=0.5, l1_ratio=0.3, learning_rate_init=0.02,
                                  random_state=0, n_threads=nt)
    one, _ = _same_fit(make, X32, y, thread_schedule)
    with double_arithmetic:
        exact = make(1).fit(X32, y)
    np.testing.assert_allclose(one.coef_, exact.coef_, rtol=0,
                               atol=2e-6 * np.abs(exact.coef_).max())
    np.testing.assert_allclose(one.loss_curve_, exact.loss_curve_, rtol=1e-6)
