# cython: language_level=3
"""Fused forward + gradient kernels: layer 2 of fastlr.

Design
------
Called by the mini-batch loops in ``_sgd.pyx`` (through ``_loss.pxd``, without the GIL)
and, through the ``def`` wrappers at the bottom, by the full-batch solver and the tests.

Every head is ``z = W x + b`` (W: k x d, b: k) followed by a link ``h``; all four share the
gradient form ``dl/dz = h(z) - y``, so one pass over a row computes the logits, the loss
and the gradient contribution ``G += s (h(z) - y) x^T`` while the row is in cache::

    head        h(z)            per-sample loss l(y, z)
    logistic    sigmoid         log(1 + e^z) - y z
    softmax     softmax         logsumexp(z) - z_y
    multilabel  sigmoid (each)  sum_j log(1 + e^z_j) - y_j z_j
    squared     identity        1/2 sum_j (z_j - y_j)^2

The kernels return ``sum_i s_i l_i`` and *add* ``sum_i s_i (h(z_i) - y_i) x_i`` to ``GW``
and ``sum_i s_i (h(z_i) - y_i)`` to ``Gb``; scaling (the batch mean, C) is the caller's.

The row loops themselves are C (``_kernels.h`` / ``_kernels_impl.h``: SIMD-blocked, with
an AVX2 + FMA copy chosen at import when the CPU has it); this module splits rows across
threads, reduces, and exposes Python entry points and the prediction kernels.

X is dense, C-contiguous, float32 or float64 (fused type), read through ``const`` pointers
so that read-only and memory-mapped arrays work. Parameters, gradients, and all scalar
math are double. Rows are ``idx[start:stop]`` when an index array is given (a shuffled
epoch: the data itself is never permuted or copied), else ``start:stop``.

Threads: ``loss_grad`` splits the rows into ``n_threads`` contiguous chunks, each
accumulating into its own slice of ``work``, then adds the slices in thread order. The
result therefore depends on ``n_threads`` but never on timing.
"""

import os

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cython.parallel cimport prange, threadid
from libc.math cimport isfinite
from libc.string cimport memset

import numpy as np

from fastlr._math cimport (floating, fastlr_sigmoid, fastlr_logistic_loss,
                          fastlr_rows_f32, fastlr_rows_f64, fastlr_select_kernels,
                          fastlr_simd_level, fastlr_logistic_terms, fastlr_softmax_terms,
                          fastlr_predict_f32,
                          fastlr_predict_f64, fastlr_scratch_size)

def _simd_cap(value):
    """FASTLR_SIMD: '0' baseline only, '1' at most AVX2 + FMA, else the best the CPU has."""
    return {"0": 0, "1": 1}.get(value.strip(), 2)


# Choose the instruction set of the row loops once (FASTLR_SIMD caps it, for comparisons).
fastlr_select_kernels(_simd_cap(os.environ.get("FASTLR_SIMD", "")))


# Work (multiply-adds) below which a call stays on one thread: a parallel region costs
# microseconds on idle cores and up to a scheduler time slice on busy ones, so splitting
# only pays when each thread gets well over that. Depends on shapes only, so the thread
# count actually used (and with it the summation order) is a function of the shapes and
# n_threads, never of timing.
MIN_WORK_PER_THREAD = 1 << 17
# prediction's rows go to threads in about this many chunks per thread (predict_into)
PREDICT_CHUNKS_PER_THREAD = 8


def threads_for(Py_ssize_t n_rows, Py_ssize_t width, int n_threads):
    """Threads worth using for n_rows rows of ``width`` multiply-adds each."""
    if n_threads <= 1:
        return 1
    cdef Py_ssize_t per = n_rows * width // n_threads
    return n_threads if per >= MIN_WORK_PER_THREAD else 1


def threads_for_setting(Py_ssize_t n_rows, Py_ssize_t width, n_threads):
    """``threads_for`` under the ``n_threads`` parameter (None, -1, ... as the estimators
    take it). Below two threads' minimum work the answer is 1 whatever the parameter
    resolves to, so it is not resolved (``effective_n_threads`` queries the CPU affinity:
    0.4 us, a tenth of a small predict call)."""
    if n_rows * width < 2 * MIN_WORK_PER_THREAD:
        return 1
    # imported here: at module level it would import the fastlr package from this
    # module's own import when _loss is loaded first (tests load it by path)
    from fastlr._openmp_helpers import effective_n_threads
    return threads_for(n_rows, width, effective_n_threads(n_threads))


def simd_level():
    """Instruction set of the row loops: 'avx512', 'avx2+fma' or 'baseline'."""
    return ("baseline", "avx2+fma", "avx512")[fastlr_simd_level]


cdef inline double _rows(int head, const floating* X, Py_ssize_t d, Py_ssize_t k,
                         const double* Y, const double* sw, const double* lw,
                         const Py_ssize_t* idx, Py_ssize_t start, Py_ssize_t stop,
                         Py_ssize_t pf_limit, const double* W, const double* b,
                         double* GW, double* Gb, double* scratch,
                         const float* W32) noexcept nogil:
    """The fused row loop of _kernels_impl.h for X's dtype (serial)."""
    if floating is float:
        return fastlr_rows_f32(head, X, d, k, Y, sw, lw, idx, start, stop, pf_limit, W, W32,
                               b, GW, Gb, scratch)
    else:
        return fastlr_rows_f64(head, X, d, k, Y, sw, lw, idx, start, stop, pf_limit, W, b,
                               GW, Gb, scratch)


cdef Py_ssize_t workspace_size(Py_ssize_t k, Py_ssize_t d, int n_threads) noexcept nogil:
    """Doubles that ``loss_grad`` needs in ``work``: per thread G (k d), Gb (k), the row
    loops' scratch (``fastlr_scratch_size(k)``: a row block's logits), and the loss
    (padded to a cache line so threads do not share one)."""
    return n_threads * (k * d + k + fastlr_scratch_size(k) + 8)


cdef double loss_grad(int head, const floating* X, Py_ssize_t d, Py_ssize_t k,
                      const double* Y, const double* sw, const double* lw,
                      const Py_ssize_t* idx,
                      Py_ssize_t start, Py_ssize_t stop, Py_ssize_t pf_limit,
                      const double* W, const double* b,
                      double* GW, double* Gb,
                      int n_threads, double* work,
                      const float* W32) noexcept nogil:
    """Loss sum and gradient sums over rows start:stop, added to GW and Gb.

    ``pf_limit``: with an index array, rows idx[r] for r < pf_limit may be prefetched
    (the length of idx, so that the next batch's first rows are requested in time).

    ``work`` holds ``workspace_size(k, d, n_threads)`` doubles (contents irrelevant).
    ``lw``: per-label class weights of the multilabel head (2 k doubles: the weight of a
    0 and of a 1 for each label), or NULL; ignored by the other heads, whose class
    weights are folded into the sample weights.

    ``W32``: NULL, or with float32 X the coefficients rounded to float32 (k d floats): the
    k-output heads then multiply and add in float32 (mini-batch training, _sgd.pyx).
    """
    cdef Py_ssize_t n = stop - start
    cdef Py_ssize_t scr = fastlr_scratch_size(k)
    cdef Py_ssize_t stride = k * d + k + scr + 8
    cdef Py_ssize_t t, j, lo, hi
    cdef double loss = 0.0
    cdef double* buf
    if n_threads <= 1 or n < 2 * n_threads:
        return _rows(head, X, d, k, Y, sw, lw, idx, start, stop, pf_limit, W, b, GW, Gb, work,
                     W32)
    for t in prange(n_threads, nogil=True, schedule='static', chunksize=1,
                    num_threads=n_threads):
        buf = work + t * stride
        memset(buf, 0, (k * d + k) * sizeof(double))
        lo = start + (n * t) // n_threads
        hi = start + (n * (t + 1)) // n_threads
        buf[k * d + k + scr] = _rows(head, X, d, k, Y, sw, lw, idx, lo, hi, pf_limit, W, b,
                                   buf, buf + k * d, buf + k * d + k, W32)
    # fixed-order reduction: thread 0, then 1, ...
    for t in range(n_threads):
        buf = work + t * stride
        for j in range(k * d):
            GW[j] += buf[j]
        for j in range(k):
            Gb[j] += buf[k * d + j]
        loss += buf[k * d + k + scr]
    return loss


# ---------------------------------------------------------------------------------------
# Python entry points (validation is the caller's: shapes, contiguity, label ranges).
# ---------------------------------------------------------------------------------------

_HEADS = {"logistic": HEAD_LOGISTIC, "softmax": HEAD_SOFTMAX,
          "multilabel": HEAD_MULTILABEL, "squared": HEAD_SQUARED}


def head_code(name):
    """Integer code of a head name ('logistic', 'softmax', 'multilabel', 'squared')."""
    return _HEADS[name]


def loss_gradient(str head, const floating[:, ::1] X,        # IN (n, d)
                  const double[:, ::1] Y,                    # IN (n, 1) or (n, k)
                  const double[::1] sample_weight,           # IN (n,) or None
                  const double[:, ::1] coef,                 # IN (k, d)
                  const double[::1] intercept,               # IN (k,)
                  double[:, ::1] grad_coef_out,              # OUT (k, d)
                  double[::1] grad_intercept_out,            # OUT (k,)
                  const Py_ssize_t[::1] rows=None,           # IN subset of rows, or all
                  int n_threads=1,
                  const double[:, ::1] label_weights=None,   # IN (k, 2) multilabel only
                  bint float32_arithmetic=False):
    """Sum over rows of ``s_i l(y_i, W x_i + b)``; overwrites the gradient buffers.

    Returns ``(loss, grad_coef_out, grad_intercept_out)`` where
    ``grad_coef_out = sum_i s_i (h(z_i) - y_i) x_i^T`` (k x d) and
    ``grad_intercept_out = sum_i s_i (h(z_i) - y_i)`` (k). For the logistic and softmax
    heads Y has one column (0/1, or the class index as a float); otherwise k columns.
    ``label_weights[c] = (weight of y=0, weight of y=1)`` for label c of the multilabel
    head (BCE's ``pos_weight`` is the ratio of the two).

    ``float32_arithmetic`` (float32 X): the products and partial sums in float32 on the
    coefficients rounded to float32, as mini-batch training computes them (the k-output
    heads under AVX-512; elsewhere it changes nothing). For tests.
    """
    cdef int h = _HEADS[head]
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = coef.shape[0]
    cdef Py_ssize_t m = n if rows is None else rows.shape[0]
    cdef const double* sw = NULL
    cdef const double* lw = NULL
    cdef const Py_ssize_t* idx = NULL
    cdef double loss
    grad_coef_out[:, :] = 0.0
    grad_intercept_out[:] = 0.0
    if m == 0 or d == 0:
        return 0.0, np.asarray(grad_coef_out), np.asarray(grad_intercept_out)
    if sample_weight is not None:
        sw = &sample_weight[0]
    if rows is not None:
        idx = &rows[0]
    if label_weights is not None and h == HEAD_MULTILABEL:
        lw = &label_weights[0, 0]
    if n_threads < 1:
        n_threads = 1
    work = np.empty(max(workspace_size(k, d, n_threads), 1), dtype=np.float64)
    cdef double[::1] w = work
    cdef float[::1] c32
    cdef const float* W32 = NULL
    if float32_arithmetic and floating is float and k * d > 0:
        c32 = np.asarray(coef, dtype=np.float32).ravel()
        W32 = &c32[0]
    with nogil:
        loss = loss_grad(h, &X[0, 0], d, k, &Y[0, 0], sw, lw, idx, 0, m, m,
                         &coef[0, 0], &intercept[0],
                         &grad_coef_out[0, 0], &grad_intercept_out[0], n_threads, &w[0],
                         W32)
    return loss, np.asarray(grad_coef_out), np.asarray(grad_intercept_out)


ctypedef fused floating_out:
    float
    double


cdef inline int _predict_rows(int head, const floating* X, Py_ssize_t d, Py_ssize_t k,
                              const Py_ssize_t* idx, Py_ssize_t start, Py_ssize_t stop,
                              const double* W, const double* b, bint proba, void* out,
                              int out_f32, Py_ssize_t ocols, double* scratch) noexcept nogil:
    """The prediction loop of _kernels_impl.h for X's dtype (serial)."""
    if floating is float:
        return fastlr_predict_f32(head, X, d, k, idx, start, stop, W, b, proba, out, out_f32,
                                  ocols, scratch)
    else:
        return fastlr_predict_f64(head, X, d, k, idx, start, stop, W, b, proba, out, out_f32,
                                  ocols, scratch)


def predict_into(str head, const floating[:, ::1] X,   # IN (n, d)
                 const double[:, ::1] coef,            # IN (k, d)
                 const double[::1] intercept,          # IN (k,)
                 floating_out[:, ::1] out,             # OUT (m, k), or (m, 2) logistic
                 bint proba=False,
                 int n_threads=1,
                 const Py_ssize_t[::1] rows=None):     # IN (m,) rows of X, or all
    """Decision values ``z = X W^T + b`` or, with ``proba``, ``h(z)``, written to ``out``;
    returns True when some logit was NaN or infinite (so the caller can check X without a
    pass of its own: a NaN or infinite entry of X makes its row's logits non-finite).

    One fused pass (``fastlr_predict`` in _kernels_impl.h): the blocked dot products of
    the training loop, in double, then the link (the training loop's SIMD exp). For the
    logistic head with ``proba`` and a two-column ``out`` the columns are ``sigmoid(-z)``
    and ``sigmoid(z)`` (so ``1 - p`` has no cancellation). Softmax subtracts each row's
    maximum logit before exponentiating. With several threads the rows go out in
    contiguous chunks (about 8 per thread) to whichever thread is free. Each row goes
    through the same sums wherever it sits, so no bit depends on the threads, the chunks,
    or the rows around it. With ``rows``, row
    ``r`` of ``out`` is for row ``rows[r]`` of X (no copy of X is made).
    """
    cdef int h = _HEADS[head]
    cdef Py_ssize_t n = X.shape[0] if rows is None else rows.shape[0]
    cdef Py_ssize_t d = X.shape[1], k = coef.shape[0]
    cdef Py_ssize_t ocols = out.shape[1]
    cdef Py_ssize_t t, lo, hi, chunk, nchunks, stride = fastlr_scratch_size(k) + 8
    cdef int tid
    cdef const Py_ssize_t* idx = NULL if rows is None else &rows[0]
    cdef int out_f32 = floating_out is float
    cdef int bad = 0
    if out.shape[0] != n or ocols != (2 if (h == HEAD_LOGISTIC and proba and ocols == 2) else k):
        raise ValueError(f"out has shape {tuple(out.shape)[:2]}, expected ({n}, {k}) "
                         "(or (n, 2) for logistic probabilities)")
    if coef.shape[1] != d or intercept.shape[0] != k:
        raise ValueError(f"coef has shape {tuple(coef.shape)[:2]} and intercept "
                         f"{intercept.shape[0]} values, expected ({k}, {d}) and {k}")
    if n == 0:
        return False
    if n_threads < 1:
        n_threads = 1
    if n < 4 * n_threads:
        n_threads = 1
    # scratch and per-thread flags from the C heap: two NumPy allocations cost 0.6 us,
    # a sixth of a 10-row call
    cdef double* scr = <double*> PyMem_Malloc(n_threads * stride * sizeof(double))
    cdef int* fl = <int*> PyMem_Malloc(n_threads * sizeof(int))
    cdef void* op = <void*> &out[0, 0]
    if scr == NULL or fl == NULL:
        PyMem_Free(scr)
        PyMem_Free(fl)
        raise MemoryError()
    try:
        if n_threads == 1:
            with nogil:
                bad = _predict_rows(h, &X[0, 0], d, k, idx, 0, n, &coef[0, 0],
                                    &intercept[0], proba, op, out_f32, ocols, scr)
        else:
            # chunks handed out as threads free up: a thread slowed by another process on
            # its core takes fewer of them (with halves, the call waited for the slower)
            chunk = (n + PREDICT_CHUNKS_PER_THREAD * n_threads - 1) // (
                PREDICT_CHUNKS_PER_THREAD * n_threads)
            chunk = max(chunk, MIN_WORK_PER_THREAD // max(k * d, 1) + 1)
            # multiples of 32 rows: whole prediction panels of the k-output heads where
            # a panel is 32 rows (rows up to 8 KB); only speed depends on it
            chunk = (chunk + 31) // 32 * 32
            nchunks = (n + chunk - 1) // chunk
            for t in range(n_threads):
                fl[t] = 0
            for t in prange(nchunks, nogil=True, schedule='dynamic', chunksize=1,
                            num_threads=n_threads):
                lo = t * chunk
                hi = lo + chunk if lo + chunk < n else n
                tid = threadid()
                if _predict_rows(h, &X[0, 0], d, k, idx, lo, hi, &coef[0, 0],
                                 &intercept[0], proba, op, out_f32, ocols,
                                 &scr[tid * stride]):
                    fl[tid] = 1
            for t in range(n_threads):
                bad = bad | fl[t]
    finally:
        PyMem_Free(scr)
        PyMem_Free(fl)
    return bad != 0


def predict_linear(str head, X, coef, intercept, out, bint proba=False, int n_threads=1,
                   rows=None):
    """``predict_into`` (same arguments) returning ``out``."""
    predict_into(head, X, coef, intercept, out, proba, n_threads, rows)
    return np.asarray(out)


# Scalar hooks for the tests (layer 1 is inline-only).
def _py_sigmoid(double z):
    return fastlr_sigmoid(z)


def _py_logistic_loss(double y, double z):
    return fastlr_logistic_loss(y, z)


def _logistic_terms(const double[::1] z, const double[::1] y):
    """Per-row binary cross-entropy and sigmoid(z) - y exactly as the training loop computes
    them (4 rows at a time through the SIMD exp / log1p). For tests."""
    cdef Py_ssize_t n = z.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"z and y differ in length: {n} and {y.shape[0]}")
    loss = np.empty(n)
    dz = np.empty(n)
    cdef double[::1] lv = loss, gv = dz
    if n > 0:
        fastlr_logistic_terms(&z[0], &y[0], n, &lv[0], &gv[0])
    return loss, dz


def _softmax_terms(const double[:, ::1] z, const double[::1] y):
    """Per-row softmax cross-entropy and softmax(z) - onehot(y) exactly as the training loop
    computes them (blocks of up to 32 rows, the SIMD exp / log1p). For tests."""
    cdef Py_ssize_t n = z.shape[0], k = z.shape[1], i
    if y.shape[0] != n:
        raise ValueError(f"z and y differ in length: {n} and {y.shape[0]}")
    for i in range(n):
        if not (0 <= y[i] < k and y[i] == <Py_ssize_t>y[i]):
            raise ValueError(f"y[{i}] = {y[i]} is not a class index in [0, {k})")
    loss = np.empty(n)
    s = np.empty((n, k))
    cdef double[::1] lv = loss
    cdef double[:, ::1] sv = s
    if n > 0 and k > 0:
        fastlr_softmax_terms(&z[0, 0], &y[0], n, k, &lv[0], &sv[0, 0])
    return loss, s


def count_nonfinite(const floating[:, ::1] X, int n_threads=1):
    """Number of NaN or infinite entries of X, in one pass and without a temporary the
    size of X (``np.isfinite(X).all()`` would allocate n*d bytes)."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], i, j
    cdef Py_ssize_t bad = 0
    if n == 0 or d == 0:
        return 0
    if n_threads < 1:
        n_threads = 1
    for i in prange(n, nogil=True, schedule='static', num_threads=n_threads):
        for j in range(d):
            if not isfinite(X[i, j]):
                bad += 1
    return bad
