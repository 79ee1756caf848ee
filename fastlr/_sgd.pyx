# cython: language_level=3
"""Mini-batch epoch loop: layer 3 of fastlr.

Design
------
Called by the Python driver in ``_solvers.py``; an epoch (shuffle, every batch's fused
forward/gradient pass from ``_loss.pxd``, the penalty, the optimiser update) runs in
``with nogil:`` blocks of many batches each. The driver sizes those blocks to last about
a tenth of a second, so the GIL comes back a few times a second at most: that is where it
records the loss, prints progress, notices Ctrl-C and stops early. How an epoch is cut
into blocks never changes its result.

Updates follow PyTorch so that a lecture's run is reproduced step for step:

* SGD (``torch.optim.SGD``, dampening 0): ``buf = mu buf + g`` (``buf = g`` at the first
  step, which a zero-initialised buffer gives), ``g = g + mu buf`` with Nesterov, else
  ``g = buf``; ``p -= lr g``.
* Adam (``torch.optim.Adam``, no amsgrad): ``m += (1 - b1)(g - m)``,
  ``v = b2 v + (1 - b2) g^2``, ``p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.

The batch objective is ``loss_scale * mean_batch(s_i l_i) + alpha_l2/2 ||W||^2
+ alpha_l1 ||W||_1`` (see ``_solvers.py`` for how C and l1_ratio map to the alphas). The L2
part enters the gradient, as PyTorch's ``weight_decay`` does; the L1 part is a proximal
step after the update (soft-thresholding by the step each coordinate took), so that
coefficients reach exactly zero. The intercept is never penalised.

A non-finite batch loss stops the epoch before its update and returns status 1; the driver
turns that into an exception after the GIL is back.
"""

from libc.math cimport fabs, isfinite
from libc.stdint cimport uint64_t

import os

import numpy as np

from fastlr._math cimport (floating, fastlr_step_t, fastlr_batch_update, fastlr_batch_update32,
                           fastlr_select_kernels,
                           fastlr_split_t, fastlr_split_available, fastlr_class_blocks,
                           fastlr_fused_batch_rows, fastlr_round_coef, fastlr_round_f32,
                           fastlr_simd_level,
                           fastlr_split_batches_f32, fastlr_split_batches_f64,
                           fastlr_scratch_size, fastlr_wtime)
from fastlr._loss cimport loss_grad, workspace_size, HEAD_LOGISTIC
from fastlr._random cimport fastlr_shuffle
from fastlr._loss import _simd_cap

# The optimiser step's instruction set, chosen as _loss chooses the row loops'.
fastlr_select_kernels(_simd_cap(os.environ.get("FASTLR_SIMD", "")))

cdef enum:
    OPT_SGD = 0
    OPT_ADAM = 1

# A batch is split across threads by rows only when each thread gets at least this many
# multiply-adds (~0.1-0.5 ms of work). A parallel region costs a thread wake-up (tens of
# microseconds with passive waiting) and, on a shared machine, up to a scheduler time
# slice when a thread is descheduled; a mini-batch epoch pays it once per batch. At 2^15
# (the bar until now) a 10-class batch of 32 rows at d = 784 was split and its epoch ran
# 3x slower on two threads than on one; at 2^22 only batches that carry real work split
# (10-class at batch 4096: 0.148 -> 0.090 s per epoch on 2 cores), and the binary head at
# d = 100 never does. The choice depends on the batch shape only, so results stay a
# function of n_threads.
cdef Py_ssize_t MIN_WORK_PER_THREAD = 1 << 22

# Batches too small for that are split by classes instead (fastlr_split_batches in
# _kernels_impl.h) when the head has at least two class blocks and each thread gets this
# many multiply-adds: the threads stay in one parallel region for all the batches of a
# call and meet at one spinning barrier per batch (~1 us), not a thread wake-up.
cdef Py_ssize_t MIN_SPLIT_WORK_PER_THREAD = 1 << 15


cdef inline bint rows_split(Py_ssize_t rows, Py_ssize_t kd, int n_threads) noexcept nogil:
    """Whether a batch of this many rows is split across the threads by rows."""
    return n_threads > 1 and rows * kd >= MIN_WORK_PER_THREAD * n_threads


cdef int split_threads(int head, Py_ssize_t bs, Py_ssize_t d, Py_ssize_t k,
                       int n_threads) noexcept nogil:
    """Threads that share each batch's classes, or 0 when batches are not split so."""
    cdef int nt = n_threads
    cdef int nblk
    if n_threads < 2 or head == HEAD_LOGISTIC or not fastlr_split_available():
        return 0
    if rows_split(bs, k * d, n_threads):
        return 0
    nblk = fastlr_class_blocks(k)
    if nt > nblk:
        nt = nblk
    if nt < 2 or bs * k * d < MIN_SPLIT_WORK_PER_THREAD * nt:
        return 0
    return nt

# A class-split epoch (split_threads > 1) runs in chunks of batches of about this many
# multiply-adds (~2 ms at 10 classes x 784, batch 32; each chunk opens a parallel region,
# tens of microseconds when idle threads sleep under OMP_WAIT_POLICY=passive), timed: two
# threads beat one only while the second core is free.
# On a shared machine another process can take it for a while, and the threads then wait
# for each other at every batch's barrier (10-class batch 32 on 2 cores: 0.107 s per epoch
# on two threads against 0.069 s on one, in the same benchmark run). So the epoch runs its
# chunks on the number of threads that was faster (one, or all of them), and re-measures
# the other every PROBE_EVERY chunks. The coefficients and the loss do not depend on it:
# the class split computes every class on one thread with the same arithmetic as one
# thread does (tests/test_class_split.py).
cdef double CHUNK_WORK = 6e7
cdef int PROBE_EVERY = 16
# Tests force a schedule instead: the threads of chunk i are SCHED[i % SCHED_N] (capped to
# the split's), in chunks of SCHED_CHUNK batches.
cdef int SCHED[16]
cdef int SCHED_N = 0
cdef Py_ssize_t SCHED_CHUNK = 0
# chunks run on one thread and on all of the split's, since the last _thread_chunks(True)
cdef Py_ssize_t CHUNKS_RUN[2]
CHUNKS_RUN[0] = 0
CHUNKS_RUN[1] = 0


def _thread_chunks(bint reset=False):
    """(chunks run on one thread, chunks run on all of the split's threads) by class-split
    epochs since the last reset (tests and benchmarks: which one the timing chose)."""
    out = (CHUNKS_RUN[0], CHUNKS_RUN[1])
    if reset:
        CHUNKS_RUN[0] = 0
        CHUNKS_RUN[1] = 0
    return out


def _set_thread_schedule(setting):
    """Force the threads of a class-split epoch's chunks (tests only): with ``setting =
    (schedule, chunk)``, chunk i of ``chunk`` batches runs on ``schedule[i % len(schedule)]``
    threads; None restores the timed choice. Returns the previous setting, in the same
    form."""
    global SCHED_N, SCHED_CHUNK
    old = ((tuple(SCHED[i] for i in range(SCHED_N)), SCHED_CHUNK) if SCHED_N > 0 else None)
    if setting is None:
        SCHED_N = 0
        SCHED_CHUNK = 0
        return old
    schedule, chunk = setting
    schedule = tuple(int(t) for t in schedule)
    if not 1 <= len(schedule) <= 16 or min(schedule) < 1 or chunk < 1:
        raise ValueError(f"schedule must be 1 to 16 thread counts >= 1 and chunk >= 1, "
                         f"got {schedule!r} and {chunk!r}")
    for i, t in enumerate(schedule):
        SCHED[i] = t
    SCHED_N = len(schedule)
    SCHED_CHUNK = chunk
    return old


cdef void _split_call(fastlr_split_t* sp, const void* X, bint f32, Py_ssize_t lo,
                      Py_ssize_t hi) noexcept nogil:
    if f32:
        fastlr_split_batches_f32(sp, <const float*> X, lo, hi)
    else:
        fastlr_split_batches_f64(sp, <const double*> X, lo, hi)


# Taking the step inside the gradient pass (fused_batches) can be switched off, for the
# tests that compare it with the separate gradient and step.
cdef bint FUSE = True


def _set_fused(bint on):
    """Switch the fused gradient-and-step batches on or off (tests only); returns the
    previous setting."""
    global FUSE
    cdef bint old = FUSE
    FUSE = on
    return old


# float32 X: the k-output heads' mini-batch epochs multiply and add in float32 (see
# fastlr_split_batches in _kernels_impl.h); switched off by tests that compare them with
# double arithmetic.
cdef bint FLOAT32_ARITHMETIC = True


def _set_float32_arithmetic(bint on):
    """Switch float32 arithmetic for float32 X on or off (tests and benchmarks only);
    returns the previous setting."""
    global FLOAT32_ARITHMETIC
    cdef bint old = FLOAT32_ARITHMETIC
    FLOAT32_ARITHMETIC = on
    return old


cdef bint fused_batches(int head, Py_ssize_t bs, Py_ssize_t d, Py_ssize_t k, int n_threads,
                        int itemsize) noexcept nogil:
    """Whether a k-output epoch runs through ``fastlr_split_batches`` even on one thread:
    its batches are one row block each, so the kernel takes each step inside the
    gradient pass (``fastlr_fuse_t``), with the same coefficients, bit for bit, as the
    separate gradient and step (tests/test_fused_step.py)."""
    return (FUSE and head != HEAD_LOGISTIC and fastlr_split_available()
            and bs <= fastlr_fused_batch_rows(d, itemsize)
            and not rows_split(bs, k * d, n_threads))


cdef struct EpochConfig:
    int head
    int optimizer
    double lr
    double momentum
    bint nesterov
    double beta1
    double beta2
    double eps
    double alpha_l2
    double alpha_l1
    double loss_scale
    Py_ssize_t batch_size
    bint shuffle
    bint drop_last
    bint fit_intercept
    int n_threads


cdef fastlr_step_t _step_settings(const EpochConfig* cfg, bint penalised) noexcept nogil:
    """The optimiser settings of ``fastlr_opt_step`` (``_kernels_impl.h``) for the
    coefficients (``penalised``) or the intercept (never penalised); the per-batch fields
    (scale, Adam's bias corrections) are filled in before each step."""
    cdef fastlr_step_t s
    s.adam = cfg.optimizer == OPT_ADAM
    s.nesterov = cfg.nesterov
    s.lr = cfg.lr
    s.momentum = cfg.momentum
    s.beta1 = cfg.beta1
    s.beta2 = cfg.beta2
    s.eps = cfg.eps
    s.step_size = cfg.lr
    s.ibc2s = 1.0
    s.scale = 1.0
    s.l2 = cfg.alpha_l2 if penalised else 0.0
    s.l1 = cfg.alpha_l1 if penalised else 0.0
    s.want_reg = penalised and (cfg.alpha_l2 != 0.0 or cfg.alpha_l1 != 0.0)
    return s


def run_epoch(const floating[:, ::1] X,          # IN (n, d)
              const double[:, ::1] Y,            # IN (n, 1) or (n, k), see _loss.pyx
              const double[::1] sample_weight,   # IN (n,) or None
              const Py_ssize_t[::1] rows,        # IN (m,) training rows, or None = all
              double[:, ::1] coef,               # IN/OUT (k, d)
              double[::1] intercept,             # IN/OUT (k,)
              double[::1] buf1,                  # IN/OUT (k d + k,) momentum / Adam m
              double[::1] buf2,                  # IN/OUT (k d + k,) Adam v
              Py_ssize_t[::1] perm,              # IN/OUT (m,) this epoch's row order
              uint64_t[::1] rng_state,           # IN/OUT (1,) PRNG state
              long step,                         # optimiser steps taken so far
              Py_ssize_t batch_lo,               # first batch of the epoch to run
              Py_ssize_t batch_hi,               # one past the last batch to run
              EpochConfig cfg,
              const double[:, ::1] label_weights=None,   # IN (k, 2) multilabel, or None
              double[::1] thread_est=None):      # IN/OUT (3,) see below, or None
    """Run batches ``batch_lo:batch_hi`` of an epoch over ``rows`` in place.

    The epoch's row order is drawn (when ``cfg.shuffle``) at ``batch_lo == 0`` into
    ``perm``: a fresh permutation of ``rows`` from the PRNG state alone, as
    ``torch.randperm`` each epoch, so a warm start continues exactly. Running an epoch in
    several calls (the driver does, to stay responsive to Ctrl-C) gives the same result
    as one call. Without shuffling, rows are visited in the given order (contiguously
    when ``rows`` is None: no index array at all).

    Returns ``(loss_sum, n_batches_run, step, status)``: the sum of the batch objectives
    (each computed in the forward pass before its batch's update), the batches run, the
    updated step count, and 0, or 1 when a batch loss was not finite (that batch's
    update is then not applied and the call stops).

    ``thread_est`` carries the timed choice of threads of a class-split epoch (see
    CHUNK_WORK) from call to call of one fit: seconds per batch on one thread and on all
    (-1 until measured), and the chunks run so far. It changes which cores do the work,
    never the result.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = coef.shape[0]
    cdef Py_ssize_t m = n if rows is None else rows.shape[0]
    cdef Py_ssize_t kd = k * d
    cdef Py_ssize_t bs = cfg.batch_size
    cdef Py_ssize_t nb = m // bs if cfg.drop_last else (m + bs - 1) // bs
    cdef Py_ssize_t bi, start, stop, j, ran = 0
    cdef int nt, status = 0
    cdef double inv, bl, loss_sum = 0.0
    cdef double reg[2]
    cdef bint penalised = cfg.alpha_l2 != 0.0 or cfg.alpha_l1 != 0.0
    cdef fastlr_step_t sW = _step_settings(&cfg, True)
    cdef fastlr_step_t sb = _step_settings(&cfg, False)
    cdef const double* sw = NULL if sample_weight is None else &sample_weight[0]
    cdef const Py_ssize_t* idx = NULL
    cdef const double* lw = NULL if label_weights is None else &label_weights[0, 0]
    cdef int n_threads = cfg.n_threads if cfg.n_threads > 1 else 1
    if batch_hi > nb:
        batch_hi = nb
    if m == 0 or batch_lo >= batch_hi:
        return 0.0, 0, step, 0
    if cfg.shuffle:
        idx = &perm[0]
    elif rows is not None:
        idx = &rows[0]

    # The step zeroes the gradient it consumes, so G is zero at the start of every batch.
    grad = np.zeros(kd + k, dtype=np.float64)
    cdef int snt = split_threads(cfg.head, bs, d, k, n_threads)
    if snt == 0 and fused_batches(cfg.head, bs, d, k, n_threads, sizeof(floating)):
        snt = 1
    # float32 X: the k-output heads multiply and add in float32 and train float32
    # coefficients W32 and optimiser state B1, B2 (with AVX-512, whose kernels have that
    # path); W follows W32 after every call
    cdef bint f32 = (floating is float and FLOAT32_ARITHMETIC and cfg.head != HEAD_LOGISTIC
                     and fastlr_simd_level >= 2 and kd > 0)
    cdef float[::1] w32, s1_32, s2_32
    cdef float* W32 = NULL
    cdef float* B1 = NULL
    cdef float* B2 = NULL
    if f32:
        w32 = np.empty(kd, dtype=np.float32)
        W32 = &w32[0]
        # the coefficients' optimiser state in float32 for this call (kept in buf1, buf2
        # between calls, where float32 values are exact)
        s1_32 = np.asarray(buf1[:kd]).astype(np.float32)
        s2_32 = np.asarray(buf2[:kd]).astype(np.float32)
        B1 = &s1_32[0]
        B2 = &s2_32[0]
    cdef fastlr_split_t sp
    cdef double[::1] zb, ssc, rgp, rgc
    cdef long long[::1] bar_v
    cdef Py_ssize_t chunk = 0, lo, hi, ci = 0
    cdef int slot, cur
    cdef double t0
    cdef double est[2]
    if snt > 0:
        # the shared logits (two batches of bs rows, plus padding to a row group of up to
        # 8), the threads' scratch, and the class blocks' penalty sums (the current ones,
        # and two batches' worth for the loss)
        zb = np.empty(2 * (bs + 8) * k, dtype=np.float64)
        ssc = np.empty(snt * fastlr_scratch_size(k), dtype=np.float64)
        rgp = np.empty(4 * fastlr_class_blocks(k), dtype=np.float64)
        rgc = np.empty(2 * fastlr_class_blocks(k), dtype=np.float64)
        bar = np.zeros(16, dtype=np.longlong)
        bar_v = bar
        work = np.empty(1, dtype=np.float64)
    else:
        work = np.empty(workspace_size(k, d, n_threads), dtype=np.float64)
    cdef double[::1] G = grad
    cdef double[::1] wk = work
    cdef double* W = &coef[0, 0]
    cdef double* b = &intercept[0]

    with nogil:
        if cfg.shuffle and batch_lo == 0:
            fastlr_shuffle(&perm[0], NULL if rows is None else &rows[0], m, &rng_state[0])
        if snt > 0:
            sp.head = cfg.head
            sp.nt = snt
            sp.d = d
            sp.k = k
            sp.m = m
            sp.bs = bs
            sp.Y = &Y[0, 0]
            sp.sw = sw
            sp.lw = lw
            sp.idx = idx
            sp.W = W
            sp.b = b
            sp.G = &G[0]
            sp.buf1 = &buf1[0]
            sp.buf2 = &buf2[0]
            sp.W32 = W32
            sp.buf1_32 = B1
            sp.buf2_32 = B2
            sp.sW = sW
            sp.sb = sb
            sp.loss_scale = cfg.loss_scale
            sp.alpha_l2 = cfg.alpha_l2
            sp.alpha_l1 = cfg.alpha_l1
            sp.penalised = penalised
            sp.fit_intercept = cfg.fit_intercept
            sp.fuse = FUSE
            sp.Z = &zb[0]
            sp.scratch = &ssc[0]
            sp.regp = &rgp[0]
            sp.regc = &rgc[0]
            sp.regc_valid = 0
            sp.bar = &bar_v[0]
            sp.step = step
            if snt == 1:
                _split_call(&sp, &X[0, 0], floating is float, batch_lo, batch_hi)
                loss_sum, ran, step, status = sp.loss_sum, sp.ran, sp.step, sp.status
            else:
                # timed chunks, each on one thread (slot 0) or snt (slot 1), see CHUNK_WORK:
                # est[slot] is the latest seconds per batch there, -1 until measured
                chunk = SCHED_CHUNK if SCHED_N > 0 else max(
                    16, <Py_ssize_t> (CHUNK_WORK / <double> (bs * kd + 1)))
                est[0] = -1.0
                est[1] = -1.0
                if thread_est is not None:
                    est[0] = thread_est[0]
                    est[1] = thread_est[1]
                    ci = <Py_ssize_t> thread_est[2]
                lo = batch_lo
                while lo < batch_hi:
                    hi = lo + chunk if lo + chunk < batch_hi else batch_hi
                    # the faster slot once both are measured (all threads until then)
                    cur = 0 if 0.0 <= est[0] < est[1] else 1
                    if SCHED_N > 0:
                        slot = 0 if SCHED[ci % SCHED_N] < 2 else 1
                    elif est[1 - cur] < 0.0 or ci % PROBE_EVERY == PROBE_EVERY - 1:
                        slot = 1 - cur   # measure both first, then the other every PROBE_EVERY
                    else:
                        slot = cur
                    sp.nt = 1 if slot == 0 else snt
                    t0 = fastlr_wtime()
                    _split_call(&sp, &X[0, 0], floating is float, lo, hi)
                    loss_sum += sp.loss_sum
                    ran += sp.ran
                    step = sp.step
                    status = sp.status
                    if status != 0:
                        break
                    est[slot] = (fastlr_wtime() - t0) / <double> (hi - lo)
                    CHUNKS_RUN[slot] += 1
                    lo = hi
                    ci += 1
                if thread_est is not None:
                    thread_est[0] = est[0]
                    thread_est[1] = est[1]
                    thread_est[2] = <double> ci
        else:
            # the penalty of the current coefficients; afterwards each step returns it for
            # the coefficients it produced
            reg[0] = 0.0
            reg[1] = 0.0
            if W32 != NULL:
                fastlr_round_coef(W, W32, kd)
                fastlr_round_f32(b, k)
            if penalised:
                for j in range(kd):
                    reg[0] += W[j] * W[j]
                    reg[1] += fabs(W[j])
            for bi in range(batch_lo, batch_hi):
                start = bi * bs
                stop = start + bs if start + bs < m else m
                nt = n_threads if rows_split(stop - start, kd, n_threads) else 1
                bl = loss_grad(cfg.head, &X[0, 0], d, k, &Y[0, 0], sw, lw, idx, start, stop, m,
                               W, b, &G[0], &G[kd], nt, &wk[0], W32)
                inv = cfg.loss_scale / <double> (stop - start)
                bl *= inv
                if penalised:
                    bl += 0.5 * cfg.alpha_l2 * reg[0] + cfg.alpha_l1 * reg[1]
                if not isfinite(bl):
                    status = 1
                    break
                loss_sum += bl
                ran += 1
                step += 1
                # one fused pass per parameter block: scale the gradient sums to the batch mean,
                # add the L2 term, update, soft-threshold for L1, and zero G for the next batch
                if W32 != NULL:
                    fastlr_batch_update32(&sW, &sb, step, inv, cfg.fit_intercept, W, W32, b,
                                          &G[0], &buf1[0], &buf2[0], B1, B2, d, k, 0, k,
                                          reg)
                else:
                    fastlr_batch_update(&sW, &sb, step, inv, cfg.fit_intercept, W, b, &G[0],
                                        &buf1[0], &buf2[0], d, k, 0, k, reg)
    if f32:
        np.asarray(buf1)[:kd] = s1_32
        np.asarray(buf2)[:kd] = s2_32
    return loss_sum, ran, step, status


def _shuffled(Py_ssize_t n, uint64_t state, const Py_ssize_t[::1] rows=None):
    """Test hook: ``(order, state)``, an epoch's row order as run_epoch draws it from the
    PRNG ``state`` (of ``rows``, or of ``range(n)``), and the state after the draws."""
    if rows is not None and rows.shape[0] != n:
        raise ValueError(f"rows has {rows.shape[0]} entries, expected {n}")
    out = np.empty(n, dtype=np.intp)
    cdef Py_ssize_t[::1] o = out
    cdef uint64_t st = state
    if n > 0:
        fastlr_shuffle(&o[0], NULL if rows is None else &rows[0], n, &st)
    return out, st


def n_batches(Py_ssize_t m, Py_ssize_t batch_size, bint drop_last):
    """Batches in an epoch over m rows."""
    return m // batch_size if drop_last else (m + batch_size - 1) // batch_size


def fused_batch_rows(Py_ssize_t d, int itemsize):
    """The largest batch whose step is taken inside the gradient pass for rows of ``d``
    values of ``itemsize`` bytes (0 where the fused path does not run: no AVX-512 kernels
    or no OpenMP), for tests and benchmarks."""
    return fastlr_fused_batch_rows(d, itemsize)


def batch_threads(int head, Py_ssize_t batch_size, Py_ssize_t d, Py_ssize_t k,
                  int n_threads):
    """How run_epoch shares a full batch of this shape among ``n_threads``: ``("rows", nt)``,
    ``("classes", nt)`` or ``("serial", 1)`` (for tests and benchmarks)."""
    cdef int snt = split_threads(head, batch_size, d, k, n_threads)
    if snt > 0:
        return "classes", snt
    if rows_split(batch_size, k * d, n_threads):
        return "rows", n_threads
    return "serial", 1
