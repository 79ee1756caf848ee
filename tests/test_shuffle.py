"""The epochs' row order (fastlr/_random.pxd, through the ``_sgd._shuffled`` hook).

Oracles: a plain-Python transcription of the documented algorithm (SplitMix64 draws,
j = floor(r (i + 1) / 2^64), the inside-out Fisher-Yates step) must give the same
orders and the same final PRNG state bit for bit; and the orders must be uniform (a
chi-square test over all 24 orders of 4 rows, and over the positions of 50 rows).
"""

import itertools

import numpy as np
import pytest
from fastlr._sgd import _shuffled

MASK = (1 << 64) - 1


def _splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


def _reference_order(n, state, rows=None):
    src = list(range(n)) if rows is None else [int(r) for r in rows]
    a = [None] * n
    if n:
        a[0] = src[0]
    for i in range(1, n):
        state, r = _splitmix64(state)
        j = (r * (i + 1)) >> 64
        a[i] = a[j]
        a[j] = src[i]
    return np.array(a, dtype=np.intp), state


@pytest.mark.parametrize("n", [0, 1, 2, 3, 15, 16, 17, 18, 40, 1000])
@pytest.mark.parametrize("seed", [0, 1, 2**63 + 12345, MASK])
def test_order_matches_python_transcription(n, seed):
    order, state = _shuffled(n, seed)
    ref, ref_state = _reference_order(n, seed)
    np.testing.assert_array_equal(order, ref)
    assert state == ref_state
    assert sorted(order.tolist()) == list(range(n))


def test_order_of_given_rows():
    rows = np.array([7, 3, 11, 0, 42, 5, 9, 8, 1, 30, 2, 6, 4, 13, 12, 10, 99, 98, 97, 50],
                    dtype=np.intp)
    order, state = _shuffled(len(rows), 77, rows)
    ref, ref_state = _reference_order(len(rows), 77, rows)
    np.testing.assert_array_equal(order, ref)
    assert state == ref_state
    # the same positions as shuffling range(n) and mapping through rows
    plain, _ = _shuffled(len(rows), 77)
    np.testing.assert_array_equal(order, rows[plain])
    with pytest.raises(ValueError, match="rows has 20 entries, expected 21"):
        _shuffled(21, 77, rows)


def test_all_orders_of_four_rows_equally_likely():
    # 24,000 consecutive epochs' orders of 4 rows: chi-square over the 24 orders with 23
    # degrees of freedom; 60 is beyond the 0.9999 quantile (about 54.9)
    index = {p: t for t, p in enumerate(itertools.permutations(range(4)))}
    counts = np.zeros(24)
    state = 2024
    for _ in range(24_000):
        order, state = _shuffled(4, state)
        counts[index[tuple(order.tolist())]] += 1
    chi2 = ((counts - 1000.0) ** 2 / 1000.0).sum()
    assert chi2 < 60, chi2


def test_positions_uniform_for_fifty_rows():
    # every row lands in every position with probability 1/50: over 5,000 orders of 50
    # rows each (row, position) cell expects 100; chi-square with 49^2 = 2401 degrees of
    # freedom, mean 2401, sd about 69: 2401 + 6 sd = 2815
    n, draws = 50, 5000
    counts = np.zeros((n, n))
    state = 99
    for _ in range(draws):
        order, state = _shuffled(n, state)
        counts[order, np.arange(n)] += 1
    expected = draws / n
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 2815, chi2
    # and a different state gives a different order
    assert not np.array_equal(_shuffled(n, 1)[0], _shuffled(n, 2)[0])
