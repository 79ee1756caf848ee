"""The SIMD exp / log1p of the binary and softmax heads (fastlr/_kernels_impl.h: exp_neg4,
log1p4, logistic4; exp_neg_v, log1p_v, softmax_head_rows) against an extended-precision
oracle, on every instruction set this machine has.

The training loop computes e = exp(-|z|), sigmoid(|z|) = 1 / (1 + e) and log1p(e) for 4 rows
at a time with its own polynomial exp and log1p instead of libm's. ``_logistic_terms(z, y)``
runs exactly that code. The oracle evaluates the same closed forms in ``np.longdouble``
(80-bit extended precision on x86-64 Linux: 11 more bits than double), so the reference is
itself accurate to ~2^-64 and any error seen is the kernel's.

Bounds: the loss log1p(e^-|z|) + (1 - y) z (z > 0) or - y z (z <= 0) is a sum of
non-negative terms, so it gets a relative bound of 4 ulp; sigmoid(z) - y is formed as
(1 - y) sigmoid(z) - y sigmoid(-z) and can cancel, so its bound is 4 ulp of the two terms'
magnitudes. Both add 2 subnormal units for results that underflow (|z| > ~708), where a
double has fewer significant bits than 4 ulp suggests.

The softmax head (``_softmax_terms(Z, y)``, blocks of up to 32 rows as in training) computes
loss = (m - z_y) + log1p(rest), rest = sum over the non-maximal classes of e^(z_c - m), with
log1p of a vector of rows at a time over rest in [0, k - 1]. Bounds, from the error analysis:
rest is a sum of k - 1 exps (1 ulp each, k - 2 additions) of z_c - m, whose rounding exp
turns into |z_c - m| / 2 ulp (w: their mean weighted by the terms); log1p's condition number
is at most 1 and the result adds a non-negative term, so the loss is within (k + 4 + w) ulp
relative; each probability e^(z_c - m) / (1 + rest) carries rest's (k + 4) ulp plus the rounding of
z_c - m, which exp turns into |z_c - m| ulp; the true class's - 1 adds one absolute ulp.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from fastlr._loss import _logistic_terms, _py_logistic_loss, _softmax_terms, simd_level

LD = np.longdouble
EPS = np.finfo(np.float64).eps
TINY = 2 * np.nextafter(0.0, 1.0)   # two subnormal units
HERE = os.path.dirname(os.path.abspath(__file__))

pytestmark = pytest.mark.skipif(
    np.finfo(LD).eps > 1e-18, reason="np.longdouble is no wider than double here: no oracle")


def _grid():
    mags = np.concatenate([
        np.linspace(0.0, 50.0, 2001),
        np.logspace(-300, 3, 400),
        np.arange(700.0, 760.0, 0.37),      # e^-|z| subnormal, then 0
        [0.5 * np.log(2.0), np.log(2.0), np.log(2.0) * 1.5, np.log1p(np.sqrt(2.0)),
         np.sqrt(2.0) - 1.0, 36.7, 37.0, 708.3, 708.4, 744.4, 745.2, 1e4, 1e300],
    ])
    return np.concatenate([mags, -mags])


def _oracle(z, y):
    zl, yl = z.astype(LD), y.astype(LD)
    e = np.exp(-np.abs(zl))
    big, small = 1 / (1 + e), e / (1 + e)             # sigmoid(|z|), sigmoid(-|z|)
    pos = zl > 0
    loss = np.log1p(e) + np.where(pos, (1 - yl) * zl, -yl * zl)
    p, q = np.where(pos, big, small), np.where(pos, small, big)
    return loss, (1 - yl) * p - yl * q, (1 - yl) * p + yl * q


def _check_against_oracle():
    z = _grid()
    for yv in (0.0, 1.0, 0.3, 0.999):
        y = np.full_like(z, yv)
        loss, dz = _logistic_terms(z, y)
        L, D, scale = _oracle(z, y)
        err_l = np.abs(loss.astype(LD) - L)
        bad = err_l > 4 * EPS * np.abs(L) + TINY
        assert not bad.any(), (simd_level(), yv, z[bad][:5], loss[bad][:5], L[bad][:5])
        err_d = np.abs(dz.astype(LD) - D)
        bad = err_d > 4 * EPS * scale + TINY
        assert not bad.any(), (simd_level(), yv, z[bad][:5], dz[bad][:5], D[bad][:5])


def test_terms_match_extended_precision_oracle():
    _check_against_oracle()


def _softmax_rows():
    """Logit rows covering rest = sum_{c != argmax} e^(z_c - m) from 1e-300 to k - 1 (so
    1 + rest crosses the powers of two log1p_v splits at), ties, and several scales; for
    each k, a row count that leaves a partial block and a partial vector of rows."""
    rng = np.random.default_rng(0)
    cases = []
    for k in (2, 3, 10, 37):
        rows = [rng.standard_normal((40, k)) * scale
                for scale in (1e-3, 0.3, 1.0, 5.0, 30.0, 300.0)]
        # each non-maximal e^(z_c - m) uniform in (0, 1]: rest spans (0, k - 1]
        rows.append(np.log(rng.uniform(1e-3, 1.0, (60, k))))
        # one class ahead by a margin: rest ~ (k - 1) e^-margin, down to 1e-300
        margin = np.linspace(0.0, 690.0, 47)[:, None]
        rows.append(np.where(np.arange(k) == 0, margin, 0.0) + rng.uniform(0, 1e-3, (47, k)))
        rows.append(np.zeros((3, k)))                       # all tied: rest = k - 1 exactly
        Z = np.ascontiguousarray(np.concatenate(rows))
        y = rng.integers(0, k, Z.shape[0]).astype(float)
        cases.append((Z, y))
    return cases


def _check_softmax_against_oracle():
    for Z, y in _softmax_rows():
        n, k = Z.shape
        loss, S = _softmax_terms(Z, y)
        zl = Z.astype(LD)
        m = zl.max(axis=1, keepdims=True)
        e = np.exp(zl - m)
        # rest without the maximum's term, and the loss as (m - z_y) + log1p(rest): forming
        # logsumexp first would cancel (and 1 + rest would round) far beyond the kernel's error
        e_rest = np.where(np.arange(k) == zl.argmax(axis=1)[:, None], LD(0), e)
        rest = e_rest.sum(axis=1)
        onehot = np.arange(k) == y[:, None]
        L = (m[:, 0] - zl[np.arange(n), y.astype(int)]) + np.log1p(rest)
        P = e / (1 + rest[:, None])
        gap = np.abs(zl - m)
        w = np.where(rest > 0, (e_rest * gap).sum(axis=1) / np.where(rest > 0, rest, 1), 0)
        err = np.abs(loss.astype(LD) - L)
        bad = err > (k + 4 + w) * EPS * L + TINY
        assert not bad.any(), (simd_level(), k, np.flatnonzero(bad)[:5], loss[bad][:5], L[bad][:5])
        bound = (k + 4 + w[:, None] + gap) * EPS * P + EPS * onehot + TINY
        err = np.abs(S.astype(LD) - (P - onehot))
        bad = err > bound
        assert not bad.any(), (simd_level(), k, np.argwhere(bad)[:5], S[bad][:5])


def test_softmax_terms_match_extended_precision_oracle():
    _check_softmax_against_oracle()


def test_softmax_nan_logit_propagates():
    # A NaN logit makes its row's loss NaN (wherever it sits: the maximum's place or not);
    # the other rows of the same block and vector of rows keep finite losses.
    Z = np.tile(np.array([[0.5, -1.0, 2.0, 0.0]]), (11, 1))
    Z[2, 0] = np.nan
    Z[5, 2] = np.nan
    Z[9, :] = np.nan
    loss, S = _softmax_terms(Z, np.zeros(11))
    nan_rows = [2, 5, 9]
    assert np.isnan(loss[nan_rows]).all()
    assert np.isfinite(np.delete(loss, nan_rows)).all()
    assert np.isfinite(np.delete(S, nan_rows, axis=0)).all()


def test_terms_agree_with_libm_scalar_path():
    # The scalar path (libm exp / log1p) is what rows outside 4-row blocks and the
    # prediction code use; both must agree to a few ulp.
    z = _grid()
    y = np.where(np.arange(z.size) % 2 == 0, 1.0, 0.0)
    loss, _ = _logistic_terms(z, y)
    ref = np.array([_py_logistic_loss(a, b) for a, b in zip(y, z, strict=True)])
    np.testing.assert_allclose(loss, ref, rtol=8 * EPS, atol=TINY)


def test_block_and_tail_rows_agree():
    # 7 values: one block of 4 through the SIMD code, 3 through the scalar libm code.
    z = np.array([-3.0, 0.25, 12.0, -700.0, -3.0, 0.25, 12.0])
    y = np.array([1.0, 0.0, 0.3, 0.0, 1.0, 0.0, 0.3])
    loss, dz = _logistic_terms(z, y)
    np.testing.assert_allclose(loss[:3], loss[4:], rtol=4 * EPS)
    np.testing.assert_allclose(dz[:3], dz[4:], rtol=4 * EPS)


def test_nan_logit_propagates():
    # A diverged model must show up as a NaN loss (the solvers stop on it), never as a
    # finite number made up by the range reduction.
    z = np.array([np.nan, 1.0, -np.nan, -2.0])
    loss, dz = _logistic_terms(z, np.array([0.0, 1.0, 1.0, 0.0]))
    assert np.isnan(loss[[0, 2]]).all() and np.isnan(dz[[0, 2]]).all()
    assert np.isfinite(loss[[1, 3]]).all() and np.isfinite(dz[[1, 3]]).all()


@pytest.mark.parametrize("cap", ["0", "1"])
def test_other_instruction_sets(cap):
    # The kernels are picked once per process: check the capped copies in a subprocess.
    env = dict(os.environ, FASTLR_SIMD=cap)
    code = ("import sys; sys.path.insert(0, %r); import test_simd_math as t; "
            "t._check_against_oracle(); t._check_softmax_against_oracle(); "
            "from fastlr._loss import simd_level; "
            "print(simd_level())" % HERE)
    # cwd=tests/: a checkout's uncompiled fastlr/ must not shadow the installed package
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120, cwd=HERE)
    assert out.returncode == 0, out.stderr[-3000:]
    level = out.stdout.strip().splitlines()[-1]
    assert level == "baseline" if cap == "0" else level in ("baseline", "avx2+fma")
