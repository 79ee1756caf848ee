"""Mini-batch epochs that split their batches across threads (_sgd.MIN_WORK_PER_THREAD:
2^22 multiply-adds per thread) give the same model as one thread up to summation order,
and the same bits for the same ``n_threads``, run after run; the default ``n_threads=None``
(all cores) splits them too."""

import numpy as np
import pytest

from fastlr import LogisticRegression

# 10 classes x 800 features x 1100 rows per batch = 8.8e6 multiply-adds: > 2 x 2^22, so
# 2 threads split every full batch (3 threads do not: 2.9e6 each, under the bar).
N, D, K, BATCH = 2200, 800, 10, 1100


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((N, D))
    W = rng.standard_normal((K, D)) / np.sqrt(D)
    y = np.argmax(X @ W.T + rng.gumbel(size=(N, K)), axis=1)
    return X, y


def _fit(X, y, n_threads, solver="adam"):
    return LogisticRegression(solver=solver, batch_size=BATCH, max_iter=3, tol=None,
                              learning_rate_init=0.01, random_state=0,
                              n_threads=n_threads).fit(X, y)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_split_batches_match_one_thread(data, solver):
    X, y = data
    one = _fit(X, y, 1, solver)
    two = _fit(X, y, 2, solver)
    again = _fit(X, y, 2, solver)
    np.testing.assert_array_equal(two.coef_, again.coef_)        # same n_threads: same bits
    np.testing.assert_array_equal(two.loss_curve_, again.loss_curve_)
    np.testing.assert_allclose(two.coef_, one.coef_, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(two.loss_curve_, one.loss_curve_, rtol=1e-12)
    # the batches really were split: the two-thread sums are added in another order
    assert not np.array_equal(two.coef_, one.coef_)


def test_default_n_threads_splits_large_batches(data):
    from fastlr._openmp_helpers import effective_n_threads
    X, y = data
    nt = effective_n_threads(None)
    dflt = _fit(X, y, None)
    np.testing.assert_array_equal(dflt.coef_, _fit(X, y, nt).coef_)
