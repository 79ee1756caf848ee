/* fastlr/_kernels.h -- layers 1 and 2 of fastlr in C: scalar math and the fused row loops.
 *
 * Design
 * ------
 * The Cython modules call these through _math.pxd / _loss.pyx. Everything here runs
 * without the GIL and without allocation; inputs are trusted (validated in Python).
 *
 * Why C: the row loops are the whole cost of training, and they need what Cython cannot
 * express: explicit SIMD accumulators (so the compiler vectorises dot products without
 * -ffast-math, in a fixed summation order) and a second copy compiled for AVX2+FMA that is
 * picked at run time when the CPU has it, and a third for AVX-512 (F/DQ/VL: 8 doubles per
 * vector, 32 registers). The default build must run on any x86-64, so -march=native is not
 * an option. The loops are written once, in _kernels_impl.h, and included once per (input
 * dtype, instruction set).
 *
 * Blocking: the binary head processes 4 rows at a time (w is loaded once for 4 rows, the
 * gradient is loaded and stored once for 4 rows, and the 4 losses and sigmoids are one
 * SIMD exp / log1p); the k-output heads process 2 rows x 4 classes at a time, and with
 * AVX-512 blocks of up to 32 rows: logits 4 rows x 5 (or 4) classes at a time, then the
 * gradient in tiles of 5 (or 4) classes x 32 columns accumulated in registers over the
 * whole block. Small batches of the k-output heads can be shared by threads by classes
 * (fastlr_split_batches); a batch that is one row block takes its optimiser step inside
 * the gradient pass, tile by tile (fastlr_fuse_t). The optimiser step and prediction have
 * SIMD copies too. Rows ahead are software-prefetched, in shuffled and in sequential
 * passes; the gradient pass of a row block prefetches the next block's rows.
 * Summation orders depend only on the shapes, so results are reproducible run to run
 * (they may differ in the last bits between the instruction sets, i.e. between machines).
 *
 * Precision: arithmetic in double, except the mini-batch training of the k-output heads on
 * float32 X with AVX-512, which multiplies and adds in float32 (16 lanes instead of 8)
 * and trains float32 parameters and optimiser state; head and loss stay double
 * (_kernels_impl.h, "float32 arithmetic"). So such results differ between AVX-512 and
 * other machines by float32 rounding, not only in the last bits.
 *
 * Numerics: never clip, never overflow. sigmoid branches on the sign of z; the binary
 * cross-entropy is written so that its large linear parts cancel exactly; softmax and
 * log-sum-exp subtract the row maximum and use log1p for the non-maximal terms. The SIMD
 * exp / log1p of the binary head are accurate to ~1 ulp (tests/test_simd_math.py checks
 * them against long double on every instruction set).
 */
#ifndef FASTLR_KERNELS_H
#define FASTLR_KERNELS_H

#include <math.h>
#include <stddef.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define FASTLR_PREFETCH(p) __builtin_prefetch((const void *)(p), 0, 3)
#define FASTLR_PREFETCH_L2(p) __builtin_prefetch((const void *)(p), 0, 2)
#define FASTLR_VECTOR 1
#else
#define FASTLR_PREFETCH(p) ((void)0)
#define FASTLR_PREFETCH_L2(p) ((void)0)
#define FASTLR_VECTOR 0
#endif

#if FASTLR_VECTOR && (defined(__x86_64__) || defined(_M_X64)) && !defined(FASTLR_NO_DISPATCH)
#define FASTLR_X86_DISPATCH 1
#include <immintrin.h>
#else
#define FASTLR_X86_DISPATCH 0
#endif
/* AVX-512 copies: binary prediction 8 rows a vector, the last d mod 8 columns of each dot
 * product as one masked vector (dot_8rows) */
#define FASTLR_MASKED_TAIL (FASTLR_X86_DISPATCH && FASTLR_VW == 8)

enum { FASTLR_LOGISTIC = 0, FASTLR_SOFTMAX = 1, FASTLR_MULTILABEL = 2, FASTLR_SQUARED = 3 };

/* ---- layer 1: scalar math (double) ------------------------------------------------- */

/* 1 / (1 + e^-z) without overflow for any finite z. */
static inline double fastlr_sigmoid(double z) {
    if (z >= 0) return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

/* log(1 + e^z) = max(z, 0) + log1p(e^-|z|). */
static inline double fastlr_log1pexp(double z) {
    return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

/* Binary cross-entropy on a logit, log(1 + e^z) - y z, for y in [0, 1]: for z > 0 it is
 * (1 - y) z + log1p(e^-z), else log1p(e^z) - y z, so with y = 1 and a large z the loss is
 * log1p(e^-z) to full relative precision instead of z - z. */
static inline double fastlr_logistic_loss(double y, double z) {
    return z > 0 ? (1.0 - y) * z + log1p(exp(-z)) : log1p(exp(z)) - y * z;
}

/* Loss and sigmoid(z) - y together from one exp(-|z|): sigmoid(z) - y is formed as
 * (1 - y) sigmoid(z) - y sigmoid(-z), exact near saturation (y = 1, z = 40 gives -4.2e-18,
 * not 1.0 - 1.0). */
static inline double fastlr_logistic_loss_grad(double y, double z, double *dz) {
    double e = exp(-fabs(z));
    double big = 1.0 / (1.0 + e), small = e / (1.0 + e);  /* sigmoid(|z|), sigmoid(-|z|) */
    double l1p = log1p(e);
    if (z >= 0) {
        *dz = (1.0 - y) * big - y * small;
        return (1.0 - y) * z + l1p;
    }
    *dz = (1.0 - y) * small - y * big;
    return l1p - y * z;
}

/* Coefficients of the SIMD exp and log1p (_kernels_impl.h), highest power first:
 * 1/13!, ..., 1/2!, 1, 1 (e^r's Taylor series), and 1/19, 1/17, ..., 1/3 (atanh(s) / s as a
 * series in s^2, without its constant term 1). */
static const double fastlr_exp_taylor[14] = {
    1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
    1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0,
    1.0 / 6.0, 0.5, 1.0, 1.0};
static const double fastlr_atanh_odd[9] = {
    1.0 / 19.0, 1.0 / 17.0, 1.0 / 15.0, 1.0 / 13.0, 1.0 / 11.0, 1.0 / 9.0, 1.0 / 7.0,
    1.0 / 5.0, 1.0 / 3.0};

/* Row blocks of the k-output heads under AVX-512 (see kout_rows): at most this many rows,
 * and rows * row bytes at most FASTLR_BLOCK_BYTES (the block is re-read from L2). */
#define FASTLR_BLOCK_ROWS 32
#define FASTLR_BLOCK_BYTES (256 * 1024)

/* Doubles of scratch the row loops need for k outputs: a block's logits and its
 * coefficients padded to a class block of 5. */
static inline ptrdiff_t fastlr_scratch_size(ptrdiff_t k) { return FASTLR_BLOCK_ROWS * (k + 5); }

/* Settings of one optimiser step (_kernels_impl.h, fastlr_opt_step). */
typedef struct {
    int adam;          /* 1: Adam, 0: SGD (with momentum / Nesterov when momentum != 0) */
    int nesterov;
    int want_reg;      /* also return sum p^2 and sum |p| of the updated parameters */
    double lr, momentum;
    double beta1, beta2, eps;
    double step_size;  /* Adam: lr / (1 - beta1^t) */
    double ibc2s;      /* Adam: 1 / sqrt(1 - beta2^t) */
    double scale;      /* the gradient is scale * g + l2 * p */
    double l2, l1;     /* penalties (0 for the intercept) */
} fastlr_step_t;

/* The optimiser step applied inside the gradient pass of a batch that is one row block
 * (fastlr_split_batches): each tile of the coefficients' gradient updates W and the
 * optimiser buffers as soon as it is complete, so the gradient of W is never stored. s is
 * a copy (stores to W cannot alias it); reg gets the updated coefficients' sum p^2 and
 * sum |p| when s.want_reg. */
typedef struct {
    fastlr_step_t s;
    double *W, *buf1, *buf2;
    float *buf1_32, *buf2_32;  /* with float32 coefficients (W32): their optimiser state */
    double reg[2];
} fastlr_fuse_t;

/* A mini-batch epoch's batches with the classes shared by threads (_kernels_impl.h,
 * fastlr_split_batches; AVX-512 copies, OpenMP builds). */
typedef struct {
    int head, nt;
    ptrdiff_t d, k, m, bs;             /* features, outputs, rows in the epoch, batch size */
    const double *Y, *sw, *lw;         /* as fastlr_rows */
    const ptrdiff_t *idx;              /* the epoch's row order, or NULL: 0 .. m-1 */
    double *W, *b, *G, *buf1, *buf2;   /* G (k d + k) is zero on entry and on return */
    float *W32;                        /* float32 X: the k d float32 coefficients that
                                        * float32 arithmetic trains (_kernels_impl.h; W
                                        * holds them widened on return); NULL: double */
    float *buf1_32, *buf2_32;          /* with W32: the coefficients' optimiser state in
                                        * float32 (k d each; buf1, buf2 then hold the
                                        * intercepts' alone) */
    fastlr_step_t sW, sb;              /* the coefficients' and the intercepts' settings */
    double loss_scale, alpha_l2, alpha_l1;
    int penalised, fit_intercept;
    int fuse;                          /* 1: a batch of one row block takes its step inside
                                        * the gradient pass (fastlr_fuse_t); 0: never */
    double *Z, *scratch, *regp;        /* work: see fastlr_split_batches */
    double *regc;                      /* IN/OUT: per class block, the penalty sums p^2 and
                                        * |p| of its current coefficients (2 nblk) */
    int regc_valid;                    /* IN/OUT: 0: regc not computed yet */
    long long *bar;                    /* 16 zeros: the barrier's counter and generation */
    long step;                         /* IN/OUT: optimiser steps taken */
    double loss_sum;                   /* OUT: sum of the batch objectives */
    ptrdiff_t ran;                     /* OUT: batches run */
    int status;                        /* OUT: 1 when a batch loss was not finite */
} fastlr_split_t;

#ifdef _OPENMP
#include <omp.h>
#if defined(__unix__) || defined(__APPLE__)
#include <sched.h>
#define FASTLR_YIELD() sched_yield()
#else
#define FASTLR_YIELD() ((void)0)
#endif

/* A barrier for the nt threads of fastlr_split_batches, which meet once per mini-batch
 * (every ~10 us): they spin, then yield the core after a while (when a thread was
 * descheduled, the one waiting should not burn the time slice it needs). OpenMP's own
 * barrier sleeps in the kernel under OMP_WAIT_POLICY=passive, which made a 10-class epoch
 * at batch 32 twice as slow on two threads as on one. bar[0] counts the arrivals, bar[8]
 * (another cache line) is the generation. */
static inline void fastlr_spin_barrier(long long *bar, int nt) {
    long long gen = __atomic_load_n(&bar[8], __ATOMIC_ACQUIRE);
    if (__atomic_add_fetch(&bar[0], 1, __ATOMIC_ACQ_REL) == nt) {
        __atomic_store_n(&bar[0], 0, __ATOMIC_RELAXED);
        __atomic_store_n(&bar[8], gen + 1, __ATOMIC_RELEASE);
        return;
    }
    for (unsigned spins = 0; __atomic_load_n(&bar[8], __ATOMIC_ACQUIRE) == gen; spins++) {
        if (spins < 20000) {
#if FASTLR_X86_DISPATCH
            __builtin_ia32_pause();
#endif
        } else {
            FASTLR_YIELD();
        }
    }
}
#endif

/* The optimiser step, dispatched by instruction set (defined below). */
static inline void fastlr_opt_step(const fastlr_step_t *s, double *p, double *g, double *buf1,
                                   double *buf2, ptrdiff_t m, double *reg);
/* The step of float32 parameters, AVX-512 only (defined below). */
static inline void fastlr_opt_step32(const fastlr_step_t *s, float *p, double *g, float *buf1,
                                     float *buf2, ptrdiff_t m, double *reg);

/* The per-batch settings of a step: the gradient's scale and Adam's bias corrections for
 * optimiser step number `step`. */
static inline void fastlr_step_prepare(fastlr_step_t *sW, fastlr_step_t *sb, long step,
                                       double scale) {
    sW->scale = scale;
    sb->scale = scale;
    if (sW->adam) {
        sW->step_size = sW->lr / (1.0 - pow(sW->beta1, (double)step));
        sW->ibc2s = 1.0 / sqrt(1.0 - pow(sW->beta2, (double)step));
        sb->step_size = sW->step_size;
        sb->ibc2s = sW->ibc2s;
    }
}

/* For o < n: W[o] rounded to float32, into W32[o] and W[o]. The k-output heads' float32
 * arithmetic (_kernels_impl.h) trains float32 coefficients W32 (and intercepts rounded to
 * float32 by fastlr_round_f32); W holds the same values, widened, wherever the step goes
 * through double code. */
static inline void fastlr_round_coef(double *W, float *W32, ptrdiff_t n) {
    for (ptrdiff_t o = 0; o < n; o++) {
        W32[o] = (float)W[o];
        W[o] = (double)W32[o];
    }
}

/* v[o] rounded to float32 in place, for o < n: the intercepts that go with float32
 * coefficients (fastlr_round_coef) */
static inline void fastlr_round_f32(double *v, ptrdiff_t n) {
    for (ptrdiff_t o = 0; o < n; o++) v[o] = (double)(float)v[o];
}

/* W[o] = W32[o] for o < n (after steps that updated W32 alone) */
static inline void fastlr_widen_coef(const float *W32, double *W, ptrdiff_t n) {
    for (ptrdiff_t o = 0; o < n; o++) W[o] = (double)W32[o];
}

/* The intercepts' part of a batch update: outputs [c0, c1) of b from their gradient sums
 * G (k d + k; the intercepts' sums from G + k d), which are zeroed. */
static inline void fastlr_intercept_update(const fastlr_step_t *sb, int fit_intercept,
                                           double *b, double *G, double *buf1, double *buf2,
                                           ptrdiff_t d, ptrdiff_t k, ptrdiff_t c0,
                                           ptrdiff_t c1) {
    const ptrdiff_t kd = k * d;
    if (fit_intercept)
        fastlr_opt_step(sb, b + c0, G + kd + c0, buf1 + kd + c0, buf2 + kd + c0, c1 - c0, NULL);
    else
        memset(G + kd + c0, 0, (c1 - c0) * sizeof(double));
}

/* One mini-batch's update, once its loss was found finite: outputs [c0, c1) of the
 * coefficients W (k x d) and intercepts b from the gradient sums G (k d + k) times scale,
 * with Adam's bias corrections for optimiser step number `step`. Zeroes those outputs' G
 * (the intercepts' too when they are not fitted); with sW->want_reg, reg gets the updated
 * coefficients' penalty sums. _sgd.run_epoch runs it for all outputs, each thread of
 * fastlr_split_batches for its own. */
static inline void fastlr_batch_update(fastlr_step_t *sW, fastlr_step_t *sb, long step,
                                       double scale, int fit_intercept, double *W, double *b,
                                       double *G, double *buf1, double *buf2, ptrdiff_t d,
                                       ptrdiff_t k, ptrdiff_t c0, ptrdiff_t c1, double *reg) {
    fastlr_step_prepare(sW, sb, step, scale);
    fastlr_opt_step(sW, W + c0 * d, G + c0 * d, buf1 + c0 * d, buf2 + c0 * d, (c1 - c0) * d,
                    reg);
    fastlr_intercept_update(sb, fit_intercept, b, G, buf1, buf2, d, k, c0, c1);
}

/* fastlr_batch_update for float32 coefficients W32 (k x d) and their optimiser state
 * (buf1_32, buf2_32, k d floats each) by fastlr_opt_step32, with the AVX-512 kernels
 * (the only ones that train float32 coefficients): outputs [c0, c1). Their intercepts
 * step in double from buf1, buf2 (k d + k doubles, as fastlr_batch_update's) and are
 * rounded to float32; W (k x d, double) gets the new coefficients too. */
static inline void fastlr_batch_update32(fastlr_step_t *sW, fastlr_step_t *sb, long step,
                                         double scale, int fit_intercept, double *W,
                                         float *W32, double *b, double *G, double *buf1,
                                         double *buf2, float *buf1_32, float *buf2_32,
                                         ptrdiff_t d, ptrdiff_t k, ptrdiff_t c0, ptrdiff_t c1,
                                         double *reg) {
    const ptrdiff_t o = c0 * d, n = (c1 - c0) * d;
    fastlr_step_prepare(sW, sb, step, scale);
    fastlr_opt_step32(sW, W32 + o, G + o, buf1_32 + o, buf2_32 + o, n, reg);
    fastlr_widen_coef(W32 + o, W + o, n);
    fastlr_intercept_update(sb, fit_intercept, b, G, buf1, buf2, d, k, c0, c1);
    fastlr_round_f32(b + c0, c1 - c0);
}

/* ---- layer 2: row loops, one copy per (dtype, instruction set) ---------------------- */

#define FASTLR_TARGET
#define FASTLR_VW 2
#define FLT double
#define FASTLR_FLT_FLOAT 0
#define SFX(name) name##_f64_base
#include "_kernels_impl.h"
#undef FLT
#undef FASTLR_FLT_FLOAT
#undef SFX
#define FLT float
#define FASTLR_FLT_FLOAT 1
#define SFX(name) name##_f32_base
#include "_kernels_impl.h"
#undef FLT
#undef FASTLR_FLT_FLOAT
#undef SFX
#undef FASTLR_VW
#undef FASTLR_TARGET

#if FASTLR_X86_DISPATCH
#define FASTLR_TARGET __attribute__((target("avx2,fma")))
#define FASTLR_VW 4
#define FLT double
#define FASTLR_FLT_FLOAT 0
#define SFX(name) name##_f64_avx2
#include "_kernels_impl.h"
#undef FLT
#undef FASTLR_FLT_FLOAT
#undef SFX
#define FLT float
#define FASTLR_FLT_FLOAT 1
#define SFX(name) name##_f32_avx2
#include "_kernels_impl.h"
#undef FLT
#undef FASTLR_FLT_FLOAT
#undef SFX
#undef FASTLR_VW
#undef FASTLR_TARGET
/* AVX-512 (F, DQ, VL): 8 doubles per vector. */
#define FASTLR_TARGET __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma")))
#define FASTLR_VW 8
#define FLT double
#define FASTLR_FLT_FLOAT 0
#define SFX(name) name##_f64_avx512
#include "_kernels_impl.h"
#undef FLT
#undef FASTLR_FLT_FLOAT
#undef SFX
#define FLT float
#define FASTLR_FLT_FLOAT 1
#define SFX(name) name##_f32_avx512
#include "_kernels_impl.h"
#undef FLT
#undef FASTLR_FLT_FLOAT
#undef SFX
#undef FASTLR_VW
#undef FASTLR_TARGET
#endif

typedef double (*fastlr_rows_f64_t)(int, const double *, ptrdiff_t, ptrdiff_t, const double *,
                                    const double *, const double *, const ptrdiff_t *,
                                    ptrdiff_t, ptrdiff_t, ptrdiff_t, const double *,
                                    const float *, const double *, double *, double *,
                                    double *);
typedef double (*fastlr_rows_f32_t)(int, const float *, ptrdiff_t, ptrdiff_t, const double *,
                                    const double *, const double *, const ptrdiff_t *,
                                    ptrdiff_t, ptrdiff_t, ptrdiff_t, const double *,
                                    const float *, const double *, double *, double *,
                                    double *);
typedef void (*fastlr_terms_t)(const double *, const double *, ptrdiff_t, double *, double *);
typedef void (*fastlr_sm_terms_t)(const double *, const double *, ptrdiff_t, ptrdiff_t,
                                  double *, double *);
typedef double (*fastlr_dot_f64_t)(const double *, const double *, ptrdiff_t);
typedef int (*fastlr_predict_f64_t)(int, const double *, ptrdiff_t, ptrdiff_t,
                                    const ptrdiff_t *, ptrdiff_t, ptrdiff_t, const double *,
                                    const double *, int, void *, int, ptrdiff_t, double *);
typedef int (*fastlr_predict_f32_t)(int, const float *, ptrdiff_t, ptrdiff_t,
                                    const ptrdiff_t *, ptrdiff_t, ptrdiff_t, const double *,
                                    const double *, int, void *, int, ptrdiff_t, double *);
typedef void (*fastlr_opt_step_t)(const fastlr_step_t *, double *, double *, double *,
                                  double *, ptrdiff_t, double *);
typedef double (*fastlr_dot_f32_t)(const float *, const double *, ptrdiff_t);
typedef void (*fastlr_opt_step32_t)(const fastlr_step_t *, float *, double *, float *, float *,
                                    ptrdiff_t, double *);

static fastlr_rows_f64_t fastlr_rows_f64_impl = fastlr_rows_f64_base;
static fastlr_rows_f32_t fastlr_rows_f32_impl = fastlr_rows_f32_base;
static fastlr_terms_t fastlr_logistic_terms_impl = fastlr_logistic_terms_f64_base;
static fastlr_sm_terms_t fastlr_softmax_terms_impl = fastlr_softmax_terms_f64_base;
static fastlr_dot_f64_t fastlr_dot_f64_impl = fastlr_dot_f64_base;
static fastlr_dot_f32_t fastlr_dot_f32_impl = fastlr_dot_f32_base;
static fastlr_opt_step_t fastlr_opt_step_impl = fastlr_opt_step_f64_base;
static fastlr_predict_f64_t fastlr_predict_f64_impl = fastlr_predict_f64_base;
static fastlr_predict_f32_t fastlr_predict_f32_impl = fastlr_predict_f32_base;
typedef void (*fastlr_split_f64_t)(fastlr_split_t *, const double *, ptrdiff_t, ptrdiff_t);
typedef void (*fastlr_split_f32_t)(fastlr_split_t *, const float *, ptrdiff_t, ptrdiff_t);
static fastlr_split_f64_t fastlr_split_f64_impl = NULL;  /* NULL: not in this build / ISA */
static fastlr_split_f32_t fastlr_split_f32_impl = NULL;
static fastlr_opt_step32_t fastlr_opt_step32_impl = NULL;  /* AVX-512 only */
static int fastlr_simd_level = 0;  /* 0: baseline (SSE2 on x86-64), 1: AVX2 + FMA, 2: AVX-512 */

/* Pick the instruction set once, at module import. max_level caps it (FASTLR_SIMD in the
 * environment: 0 forces the baseline, 1 at most AVX2, for comparisons and tests). */
#define FASTLR_USE(isa, level)                                              \
    do {                                                                    \
        fastlr_rows_f64_impl = fastlr_rows_f64_##isa;                       \
        fastlr_rows_f32_impl = fastlr_rows_f32_##isa;                       \
        fastlr_dot_f64_impl = fastlr_dot_f64_##isa;                         \
        fastlr_dot_f32_impl = fastlr_dot_f32_##isa;                         \
        fastlr_logistic_terms_impl = fastlr_logistic_terms_f64_##isa;       \
        fastlr_softmax_terms_impl = fastlr_softmax_terms_f64_##isa;         \
        fastlr_opt_step_impl = fastlr_opt_step_f64_##isa;                   \
        fastlr_predict_f64_impl = fastlr_predict_f64_##isa;                 \
        fastlr_predict_f32_impl = fastlr_predict_f32_##isa;                 \
        fastlr_split_f64_impl = NULL;                                       \
        fastlr_split_f32_impl = NULL;                                       \
        fastlr_opt_step32_impl = NULL;                                      \
        fastlr_simd_level = (level);                                        \
    } while (0)

static inline void fastlr_select_kernels(int max_level) {
#if FASTLR_X86_DISPATCH
    __builtin_cpu_init();
    int has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (max_level >= 2 && has_avx2 && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
        FASTLR_USE(avx512, 2);
        fastlr_opt_step32_impl = fastlr_opt_step32_f32_avx512;
#ifdef _OPENMP
        fastlr_split_f64_impl = fastlr_split_batches_f64_avx512;
        fastlr_split_f32_impl = fastlr_split_batches_f32_avx512;
#endif
        return;
    }
    if (max_level >= 1 && has_avx2) {
        FASTLR_USE(avx2, 1);
        return;
    }
#else
    (void)max_level;
#endif
    FASTLR_USE(base, 0);
}
#undef FASTLR_USE

/* Entry points (the per-dtype dispatchers). See _kernels_impl.h for the contract. */
static inline double fastlr_rows_f64(int head, const double *X, ptrdiff_t d, ptrdiff_t k,
                                     const double *Y, const double *sw, const double *lw,
                                     const ptrdiff_t *idx, ptrdiff_t start, ptrdiff_t stop,
                                     ptrdiff_t pf_limit, const double *W, const double *b,
                                     double *GW, double *Gb, double *scratch) {
    return fastlr_rows_f64_impl(head, X, d, k, Y, sw, lw, idx, start, stop, pf_limit, W, NULL,
                                b, GW, Gb, scratch);
}
static inline double fastlr_rows_f32(int head, const float *X, ptrdiff_t d, ptrdiff_t k,
                                     const double *Y, const double *sw, const double *lw,
                                     const ptrdiff_t *idx, ptrdiff_t start, ptrdiff_t stop,
                                     ptrdiff_t pf_limit, const double *W, const float *W32,
                                     const double *b, double *GW, double *Gb,
                                     double *scratch) {
    return fastlr_rows_f32_impl(head, X, d, k, Y, sw, lw, idx, start, stop, pf_limit, W, W32,
                                b, GW, Gb, scratch);
}
static inline void fastlr_logistic_terms(const double *z, const double *y, ptrdiff_t n,
                                         double *loss, double *dz) {
    fastlr_logistic_terms_impl(z, y, n, loss, dz);
}
static inline void fastlr_softmax_terms(const double *z, const double *y, ptrdiff_t n,
                                        ptrdiff_t k, double *loss, double *s) {
    fastlr_softmax_terms_impl(z, y, n, k, loss, s);
}
static inline int fastlr_predict_f64(int head, const double *X, ptrdiff_t d, ptrdiff_t k,
                                     const ptrdiff_t *idx, ptrdiff_t start, ptrdiff_t stop,
                                     const double *W, const double *b, int proba, void *out,
                                     int out_f32, ptrdiff_t ocols, double *scratch) {
    return fastlr_predict_f64_impl(head, X, d, k, idx, start, stop, W, b, proba, out, out_f32,
                                   ocols, scratch);
}
static inline int fastlr_predict_f32(int head, const float *X, ptrdiff_t d, ptrdiff_t k,
                                     const ptrdiff_t *idx, ptrdiff_t start, ptrdiff_t stop,
                                     const double *W, const double *b, int proba, void *out,
                                     int out_f32, ptrdiff_t ocols, double *scratch) {
    return fastlr_predict_f32_impl(head, X, d, k, idx, start, stop, W, b, proba, out, out_f32,
                                   ocols, scratch);
}
static inline void fastlr_opt_step(const fastlr_step_t *s, double *p, double *g, double *buf1,
                                   double *buf2, ptrdiff_t m, double *reg) {
    fastlr_opt_step_impl(s, p, g, buf1, buf2, m, reg);
}
static inline void fastlr_opt_step32(const fastlr_step_t *s, float *p, double *g, float *buf1,
                                     float *buf2, ptrdiff_t m, double *reg) {
    fastlr_opt_step32_impl(s, p, g, buf1, buf2, m, reg);
}
/* The most rows a batch of fastlr_split_batches may have to take its step inside the
 * gradient pass (one row block, fastlr_fuse_t), for rows of d values of itemsize bytes;
 * 0 where it does not run. */
static inline ptrdiff_t fastlr_fused_batch_rows(ptrdiff_t d, int itemsize) {
#if FASTLR_X86_DISPATCH
    if (fastlr_split_f64_impl == NULL) return 0;
    return itemsize == 4 ? block_rows_f32_avx512(d) : block_rows_f64_avx512(d);
#else
    (void)d;
    (void)itemsize;
    return 0;
#endif
}
/* Whether fastlr_split_batches can run (AVX-512 kernels in an OpenMP build), and the
 * number of class blocks it shares out for k outputs (it needs at least 2). */
static inline int fastlr_split_available(void) { return fastlr_split_f64_impl != NULL; }
/* Wall-clock seconds (for run_epoch's choice of threads; 0 without OpenMP, where the
 * split does not run) */
static inline double fastlr_wtime(void) {
#ifdef _OPENMP
    return omp_get_wtime();
#else
    return 0.0;
#endif
}
static inline int fastlr_class_blocks(ptrdiff_t k) {
#if FASTLR_X86_DISPATCH
    return n_class_blocks_f64_avx512(k, blocks_of_5_f64_avx512(k));
#else
    (void)k;
    return 1;
#endif
}
static inline void fastlr_split_batches_f64(fastlr_split_t *a, const double *X, ptrdiff_t lo,
                                            ptrdiff_t hi) {
    fastlr_split_f64_impl(a, X, lo, hi);
}
static inline void fastlr_split_batches_f32(fastlr_split_t *a, const float *X, ptrdiff_t lo,
                                            ptrdiff_t hi) {
    fastlr_split_f32_impl(a, X, lo, hi);
}
static inline double fastlr_dot_f64(const double *x, const double *w, ptrdiff_t d) {
    return fastlr_dot_f64_impl(x, w, d);
}
static inline double fastlr_dot_f32(const float *x, const double *w, ptrdiff_t d) {
    return fastlr_dot_f32_impl(x, w, d);
}

#endif /* FASTLR_KERNELS_H */
