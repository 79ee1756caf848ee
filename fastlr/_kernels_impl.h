/* fastlr/_kernels_impl.h -- the row loops, included by _kernels.h once per
 * (FLT = input dtype, FASTLR_VW = doubles per SIMD vector, FASTLR_TARGET = instruction set).
 * No include guard on purpose.
 *
 * Contract of SFX(fastlr_rows) (the only entry point):
 *   rows r in [start, stop) are X[idx[r]] (X[r] when idx is NULL); for each, z = W x + b
 *   (W: k x d row-major double, b: k), the head's loss l and dl/dz = h(z) - y, and
 *       returns  sum_r s_r l_r,   GW += sum_r s_r (h(z_r) - y_r) x_r^T,  Gb += sum_r s_r (h - y)
 *   with s_r = sw[i] (1 when sw is NULL). Y is (n, 1) for the logistic / softmax heads
 *   (0/1, or the class index as a double) and (n, k) for multilabel / squared. lw, for the
 *   multilabel head only (else ignored, may be NULL): per label the weights of a 0 and of a
 *   1 (2 k doubles). scratch: fastlr_scratch_size(k) doubles. pf_limit: idx[r] may be read for r < pf_limit
 *   (for prefetching the rows ahead, including the next batch's). W32: NULL, or for float32
 *   X a float32 copy of W (k x d, W rounded): the k-output heads then multiply and add in
 *   float32 (mini-batch training; see "float32 arithmetic" below; ignored without AVX-512
 *   and by the logistic head).
 */

#define FASTLR_CAT_(a, b) a##b

#if FASTLR_VECTOR
typedef double SFX(vd) __attribute__((vector_size(FASTLR_VW * 8)));
typedef FLT SFX(vx) __attribute__((vector_size(FASTLR_VW * sizeof(FLT))));

static inline FASTLR_TARGET SFX(vd) SFX(ld_x)(const FLT *p) {
#if FASTLR_FLT_FLOAT && FASTLR_X86_DISPATCH
    /* GCC lowers __builtin_convertvector(float -> double) lane by lane (~4 instructions per
     * vector, measured with callgrind); the intrinsic is one vcvtps2pd. */
#if FASTLR_VW == 8
    return (SFX(vd))_mm512_cvtps_pd(_mm256_loadu_ps(p));
#elif FASTLR_VW == 4
    return (SFX(vd))_mm256_cvtps_pd(_mm_loadu_ps(p));
#else
    return (SFX(vd))_mm_cvtps_pd(_mm_castpd_ps(_mm_load_sd((const double *)p)));
#endif
#else
    SFX(vx) v;
    memcpy(&v, p, sizeof v);
    return __builtin_convertvector(v, SFX(vd));
#endif
}
static inline FASTLR_TARGET SFX(vd) SFX(ld_d)(const double *p) {
    SFX(vd) v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline FASTLR_TARGET void SFX(st_d)(double *p, SFX(vd) v) { memcpy(p, &v, sizeof v); }
static inline FASTLR_TARGET double SFX(hsum)(SFX(vd) v) {
#if FASTLR_VW == 8
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
#elif FASTLR_VW == 4
    return (v[0] + v[1]) + (v[2] + v[3]);
#else
    return v[0] + v[1];
#endif
}
#define VZERO ((SFX(vd)){0})
typedef long long SFX(vi) __attribute__((vector_size(FASTLR_VW * 8)));

/* m ? a : b per lane (m all ones or all zeros) */
static inline FASTLR_TARGET SFX(vd) SFX(selv)(SFX(vi) m, SFX(vd) a, SFX(vd) b) {
    return (SFX(vd))(((SFX(vi))a & m) | ((SFX(vi))b & ~m));
}

#if FASTLR_X86_DISPATCH && FASTLR_VW == 8
/* The first two stages of the transpose-and-add tree of hsum4 and dot_8rows: lane pairs
 * of the four vectors (a0[0] + a0[1], ...), then pairs of pairs. Each 128-bit quarter of
 * the result holds two of a vector's four partial sums: (a0, a1) in quarters 0 and 2,
 * (a2, a3) in 1 and 3; the last stage adds the halves. */
static inline FASTLR_TARGET __m512d SFX(fold4)(SFX(vd) a0, SFX(vd) a1, SFX(vd) a2,
                                               SFX(vd) a3) {
    __m512d p01 = _mm512_add_pd(_mm512_unpacklo_pd((__m512d)a0, (__m512d)a1),
                                _mm512_unpackhi_pd((__m512d)a0, (__m512d)a1));
    __m512d p23 = _mm512_add_pd(_mm512_unpacklo_pd((__m512d)a2, (__m512d)a3),
                                _mm512_unpackhi_pd((__m512d)a2, (__m512d)a3));
    return _mm512_add_pd(_mm512_shuffle_f64x2(p01, p23, 0x88),
                         _mm512_shuffle_f64x2(p01, p23, 0xdd));
}
#endif

/* out[i] = hsum(a_i) for four vectors, in hsum's order. With AVX-512 the four sums are
 * formed together: lane pairs, pairs of pairs (fold4), then the two 256-bit halves (12
 * instructions instead of about 40). */
static inline FASTLR_TARGET void SFX(hsum4)(SFX(vd) a0, SFX(vd) a1, SFX(vd) a2, SFX(vd) a3,
                                            double *out) {
#if FASTLR_X86_DISPATCH && FASTLR_VW == 8
    __m512d q = SFX(fold4)(a0, a1, a2, a3);
    __m512d f = _mm512_add_pd(_mm512_shuffle_f64x2(q, q, 0x08),
                              _mm512_shuffle_f64x2(q, q, 0x0d));
    _mm256_storeu_pd(out, _mm512_castpd512_pd256(f));
#else
    out[0] = SFX(hsum)(a0);
    out[1] = SFX(hsum)(a1);
    out[2] = SFX(hsum)(a2);
    out[3] = SFX(hsum)(a3);
#endif
}

/* ---- 4-lane double math for the binary head (4 rows at a time) ----------------------
 * exp and log1p accurate to about 1 ulp (checked against libm in tests/test_kernels.py),
 * written with plain + - * / so that every instruction set computes them the same way up
 * to FMA contraction. No lookup tables, no -ffast-math. */
typedef double SFX(v4) __attribute__((vector_size(32)));
typedef long long SFX(i4) __attribute__((vector_size(32)));

static inline FASTLR_TARGET SFX(v4) SFX(sel4)(SFX(i4) m, SFX(v4) a, SFX(v4) b) {
    /* m ? a : b per lane (m all ones or all zeros) */
    return (SFX(v4))(((SFX(i4))a & m) | ((SFX(i4))b & ~m));
}

/* e^x for x <= 0 (x = -|z|); NaN stays NaN, x < -800 gives 0. Cody-Waite reduction
 * x = k ln2 + r, |r| <= ln2 / 2, ln2's high part with 32 significant bits so k ln2_hi is
 * exact; e^r by its Taylor series to r^13 (truncation < 5e-18 relative); 2^k applied as
 * two factors 2^(k/2) so results in the subnormal range round once, like libm's.
 * Defined for a vector type V (integer type I, lane select SEL): exp_neg4 (4 lanes on
 * every instruction set, the binary head) and exp_neg_v (FASTLR_VW lanes: the softmax
 * head and prediction), the same operations lane by lane. Adding magic rounds to an
 * integer held in the low bits. */
#define FASTLR_DEFINE_EXP_NEG(name, V, I, SEL)                                           \
    static inline FASTLR_TARGET V name(V x) {                                            \
        const V zero = {0}, lo_clip = zero - 800.0, magic = zero + 0x1.8p52;             \
        x = SEL(x < lo_clip, lo_clip, x);                                                \
        V t = x * 0x1.71547652b82fep+0 + magic;                                          \
        V k = t - magic;                                                                 \
        V r = (x - k * 0x1.62e42feep-1) - k * 0x1.a39ef35793c76p-33;                     \
        V p = r * fastlr_exp_taylor[0] + fastlr_exp_taylor[1];                           \
        for (int i = 2; i < 14; i++) p = p * r + fastlr_exp_taylor[i];                   \
        I ki = (I)t - (I)magic;                                                          \
        I k1 = ki >> 1, k2 = ki - k1;                                                    \
        V s1 = (V)((k1 + 1023) << 52), s2 = (V)((k2 + 1023) << 52);                      \
        return p * s1 * s2;                                                              \
    }
FASTLR_DEFINE_EXP_NEG(SFX(exp_neg4), SFX(v4), SFX(i4), SFX(sel4))
FASTLR_DEFINE_EXP_NEG(SFX(exp_neg_v), SFX(vd), SFX(vi), SFX(selv))

/* log1p(x) for x >= 0 (or NaN), given inv = 1 / (1 + x) (the sigmoid or the softmax's
 * normaliser, which the callers need anyway). u = 1 + x rounded and c its rounding error
 * (exact, Fast2Sum with the larger operand first), log1p(x) = log(u) + c / u.
 * log(u) = m ln2 + log(f), u = 2^m f with f in [sqrt(1/2), sqrt(2)] (m from u's exponent
 * bits, converted by the magic-number trick), log(f) = 2 atanh(s) with s = (f - 1) / (f + 1),
 * |s| < 0.172, by its series to s^19 (truncation < 3e-17). Defined for a vector type V
 * (integer type I, lane select SEL): log1p4 for the binary head (x = e^-|z| in [0, 1]) and
 * log1p_v for the softmax head (x = the denominator's non-maximal terms, in [0, k - 1]). */
#define FASTLR_DEFINE_LOG1P(name, V, I, SEL)                                              \
    static inline FASTLR_TARGET V name(V x, V inv) {                                      \
        const V zero = {0}, one = zero + 1.0, magic = zero + 0x1.8p52;                    \
        V u = one + x;                                                                    \
        V c = SEL(x > one, one - (u - x), x - (u - one));                                 \
        I bits = (I)u;                                                                    \
        V f = (V)((bits & 0x000fffffffffffffLL) | 0x3ff0000000000000LL);                  \
        I big = f > zero + 0x1.6a09e667f3bcdp+0;                                          \
        f = SEL(big, f * 0.5, f);                                                         \
        V m = (V)((I)magic + ((bits >> 52) - 1023 - big)) - magic;                        \
        V s = (f - one) / (f + one);                                                      \
        V t = s * s;                                                                      \
        V q = t * fastlr_atanh_odd[0] + fastlr_atanh_odd[1];                              \
        for (int i = 2; i < 9; i++) q = q * t + fastlr_atanh_odd[i];                      \
        V s2 = s + s;                                                                     \
        V tail = s2 * t * q + (m * 0x1.a39ef35793c76p-33 + c * inv);                      \
        return m * 0x1.62e42feep-1 + (s2 + tail);                                         \
    }
FASTLR_DEFINE_LOG1P(SFX(log1p4), SFX(v4), SFX(i4), SFX(sel4))
FASTLR_DEFINE_LOG1P(SFX(log1p_v), SFX(vd), SFX(vi), SFX(selv))

/* fastlr_logistic_loss_grad for 4 logits at once: returns the 4 losses, dz = sigmoid(z) - y
 * (formed as (1 - y) sigmoid(z) - y sigmoid(-z), exact near saturation). */
static inline FASTLR_TARGET SFX(v4) SFX(logistic4)(SFX(v4) z, SFX(v4) y, SFX(v4) *dz) {
    const SFX(v4) one = {1.0, 1.0, 1.0, 1.0}, zero = {0.0, 0.0, 0.0, 0.0};
    SFX(i4) pos = z >= zero;
    SFX(v4) az = SFX(sel4)(pos, z, -z);
    SFX(v4) e = SFX(exp_neg4)(-az);
    SFX(v4) big = one / (one + e), small = e * big;  /* sigmoid(|z|), sigmoid(-|z|) */
    SFX(v4) l1p = SFX(log1p4)(e, big);
    SFX(v4) p = SFX(sel4)(pos, big, small), q = SFX(sel4)(pos, small, big);
    SFX(v4) ny = one - y;
    *dz = ny * p - y * q;
    return SFX(sel4)(pos, ny, -y) * z + l1p;
}
#endif

/* sum_j x[j] w[j] */
static FASTLR_TARGET double SFX(fastlr_dot)(const FLT *x, const double *w, ptrdiff_t d) {
    ptrdiff_t j = 0;
    double s = 0.0;
#if FASTLR_VECTOR
    SFX(vd) a0 = VZERO, a1 = VZERO;
    for (; j + 2 * FASTLR_VW <= d; j += 2 * FASTLR_VW) {
        a0 += SFX(ld_x)(x + j) * SFX(ld_d)(w + j);
        a1 += SFX(ld_x)(x + j + FASTLR_VW) * SFX(ld_d)(w + j + FASTLR_VW);
    }
    s = SFX(hsum)(a0 + a1);
#endif
    for (; j < d; j++) s += (double)x[j] * w[j];
    return s;
}

#if FASTLR_MASKED_TAIL
/* the first n < 8 values at p (the rest 0; masked lanes are not read), for dot_8rows */
static inline FASTLR_TARGET SFX(vd) SFX(ld_x_n)(const FLT *p, ptrdiff_t n) {
    __mmask8 m = (__mmask8)((1u << n) - 1);
#if FASTLR_FLT_FLOAT
    return (SFX(vd))_mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, p));
#else
    return (SFX(vd))_mm512_maskz_loadu_pd(m, p);
#endif
}
static inline FASTLR_TARGET SFX(vd) SFX(ld_d_n)(const double *p, ptrdiff_t n) {
    return (SFX(vd))_mm512_maskz_loadu_pd((__mmask8)((1u << n) - 1), p);
}
#endif

/* z[t] = x_t . w for 4 rows. The last d mod VW columns are added one by one after the
 * horizontal sum: a masked vector tail here (as dot_8rows has) made the training loop's
 * 300k x 100 float64 epoch 1.4x slower (0.022 against 0.016 s at batch 32). */
static inline FASTLR_TARGET void SFX(dot_4rows)(const FLT *x0, const FLT *x1, const FLT *x2,
                                                const FLT *x3, const double *w, ptrdiff_t d,
                                                double *z) {
    ptrdiff_t j = 0;
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
#if FASTLR_VECTOR
    SFX(vd) a0 = VZERO, a1 = VZERO, a2 = VZERO, a3 = VZERO;
    for (; j + FASTLR_VW <= d; j += FASTLR_VW) {
        SFX(vd) wv = SFX(ld_d)(w + j);
        a0 += SFX(ld_x)(x0 + j) * wv;
        a1 += SFX(ld_x)(x1 + j) * wv;
        a2 += SFX(ld_x)(x2 + j) * wv;
        a3 += SFX(ld_x)(x3 + j) * wv;
    }
    {
        double sv[4];
        SFX(hsum4)(a0, a1, a2, a3, sv);
        s0 = sv[0]; s1 = sv[1]; s2 = sv[2]; s3 = sv[3];
    }
#endif
    for (; j < d; j++) {
        s0 += (double)x0[j] * w[j];
        s1 += (double)x1[j] * w[j];
        s2 += (double)x2[j] * w[j];
        s3 += (double)x3[j] * w[j];
    }
    z[0] = s0; z[1] = s1; z[2] = s2; z[3] = s3;
}

/* g += a0 x0 + a1 x1 + a2 x2 + a3 x3 (g loaded and stored once for four rows) */
static inline FASTLR_TARGET void SFX(axpy_4rows)(const double *a, const FLT *x0, const FLT *x1,
                                                 const FLT *x2, const FLT *x3, double *g,
                                                 ptrdiff_t d) {
    ptrdiff_t j = 0;
#if FASTLR_VECTOR
    for (; j + FASTLR_VW <= d; j += FASTLR_VW) {
        SFX(vd) gv = SFX(ld_d)(g + j);
        gv += a[0] * SFX(ld_x)(x0 + j);
        gv += a[1] * SFX(ld_x)(x1 + j);
        gv += a[2] * SFX(ld_x)(x2 + j);
        gv += a[3] * SFX(ld_x)(x3 + j);
        SFX(st_d)(g + j, gv);
    }
#endif
    for (; j < d; j++)
        g[j] += a[0] * x0[j] + a[1] * x1[j] + a[2] * x2[j] + a[3] * x3[j];
}

/* g += a x */
static inline FASTLR_TARGET void SFX(axpy)(double a, const FLT *x, double *g, ptrdiff_t d) {
    ptrdiff_t j = 0;
#if FASTLR_VECTOR
    for (; j + FASTLR_VW <= d; j += FASTLR_VW)
        SFX(st_d)(g + j, SFX(ld_d)(g + j) + a * SFX(ld_x)(x + j));
#endif
    for (; j < d; j++) g[j] += a * x[j];
}

/* z0[c] = x0 . W_c and z1[c] = x1 . W_c for the 4 class rows W_c = W + c d, c < 4
 * (x1 may be NULL: one row) */
static inline FASTLR_TARGET void SFX(dot_2x4)(const FLT *x0, const FLT *x1, const double *W,
                                              ptrdiff_t d, double *z0, double *z1) {
    const double *w0 = W, *w1 = W + d, *w2 = W + 2 * d, *w3 = W + 3 * d;
    ptrdiff_t j = 0;
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    if (x1 == NULL) {
#if FASTLR_VECTOR
        SFX(vd) a0 = VZERO, a1 = VZERO, a2 = VZERO, a3 = VZERO;
        for (; j + FASTLR_VW <= d; j += FASTLR_VW) {
            SFX(vd) xv = SFX(ld_x)(x0 + j);
            a0 += xv * SFX(ld_d)(w0 + j);
            a1 += xv * SFX(ld_d)(w1 + j);
            a2 += xv * SFX(ld_d)(w2 + j);
            a3 += xv * SFX(ld_d)(w3 + j);
        }
        s[0] = SFX(hsum)(a0); s[1] = SFX(hsum)(a1); s[2] = SFX(hsum)(a2); s[3] = SFX(hsum)(a3);
#endif
        for (; j < d; j++) {
            double xj = x0[j];
            s[0] += xj * w0[j]; s[1] += xj * w1[j]; s[2] += xj * w2[j]; s[3] += xj * w3[j];
        }
        z0[0] = s[0]; z0[1] = s[1]; z0[2] = s[2]; z0[3] = s[3];
        return;
    }
#if FASTLR_VECTOR
    {
        SFX(vd) a0 = VZERO, a1 = VZERO, a2 = VZERO, a3 = VZERO;
        SFX(vd) b0 = VZERO, b1 = VZERO, b2 = VZERO, b3 = VZERO;
        for (; j + FASTLR_VW <= d; j += FASTLR_VW) {
            SFX(vd) xa = SFX(ld_x)(x0 + j), xb = SFX(ld_x)(x1 + j);
            SFX(vd) v0 = SFX(ld_d)(w0 + j), v1 = SFX(ld_d)(w1 + j);
            SFX(vd) v2 = SFX(ld_d)(w2 + j), v3 = SFX(ld_d)(w3 + j);
            a0 += xa * v0; a1 += xa * v1; a2 += xa * v2; a3 += xa * v3;
            b0 += xb * v0; b1 += xb * v1; b2 += xb * v2; b3 += xb * v3;
        }
        s[0] = SFX(hsum)(a0); s[1] = SFX(hsum)(a1); s[2] = SFX(hsum)(a2); s[3] = SFX(hsum)(a3);
        s[4] = SFX(hsum)(b0); s[5] = SFX(hsum)(b1); s[6] = SFX(hsum)(b2); s[7] = SFX(hsum)(b3);
    }
#endif
    for (; j < d; j++) {
        double xa = x0[j], xb = x1[j];
        s[0] += xa * w0[j]; s[1] += xa * w1[j]; s[2] += xa * w2[j]; s[3] += xa * w3[j];
        s[4] += xb * w0[j]; s[5] += xb * w1[j]; s[6] += xb * w2[j]; s[7] += xb * w3[j];
    }
    z0[0] = s[0]; z0[1] = s[1]; z0[2] = s[2]; z0[3] = s[3];
    z1[0] = s[4]; z1[1] = s[5]; z1[2] = s[6]; z1[3] = s[7];
}

/* G_c += a0[c] x0 + a1[c] x1 for the 4 gradient rows G_c = G + c d (x1 may be NULL) */
static inline FASTLR_TARGET void SFX(axpy_2x4)(const double *a0, const double *a1,
                                               const FLT *x0, const FLT *x1, double *G,
                                               ptrdiff_t d) {
    double *g0 = G, *g1 = G + d, *g2 = G + 2 * d, *g3 = G + 3 * d;
    ptrdiff_t j = 0;
    if (x1 == NULL) {
#if FASTLR_VECTOR
        for (; j + FASTLR_VW <= d; j += FASTLR_VW) {
            SFX(vd) xa = SFX(ld_x)(x0 + j);
            SFX(st_d)(g0 + j, SFX(ld_d)(g0 + j) + a0[0] * xa);
            SFX(st_d)(g1 + j, SFX(ld_d)(g1 + j) + a0[1] * xa);
            SFX(st_d)(g2 + j, SFX(ld_d)(g2 + j) + a0[2] * xa);
            SFX(st_d)(g3 + j, SFX(ld_d)(g3 + j) + a0[3] * xa);
        }
#endif
        for (; j < d; j++) {
            double xa = x0[j];
            g0[j] += a0[0] * xa; g1[j] += a0[1] * xa; g2[j] += a0[2] * xa; g3[j] += a0[3] * xa;
        }
        return;
    }
#if FASTLR_VECTOR
    for (; j + FASTLR_VW <= d; j += FASTLR_VW) {
        SFX(vd) xa = SFX(ld_x)(x0 + j), xb = SFX(ld_x)(x1 + j);
        SFX(st_d)(g0 + j, SFX(ld_d)(g0 + j) + a0[0] * xa + a1[0] * xb);
        SFX(st_d)(g1 + j, SFX(ld_d)(g1 + j) + a0[1] * xa + a1[1] * xb);
        SFX(st_d)(g2 + j, SFX(ld_d)(g2 + j) + a0[2] * xa + a1[2] * xb);
        SFX(st_d)(g3 + j, SFX(ld_d)(g3 + j) + a0[3] * xa + a1[3] * xb);
    }
#endif
    for (; j < d; j++) {
        double xa = x0[j], xb = x1[j];
        g0[j] += a0[0] * xa + a1[0] * xb;
        g1[j] += a0[1] * xa + a1[1] * xb;
        g2[j] += a0[2] * xa + a1[2] * xb;
        g3[j] += a0[3] * xa + a1[3] * xb;
    }
}

static inline FASTLR_TARGET void SFX(prefetch_row)(const FLT *x, ptrdiff_t d) {
    const char *p = (const char *)x;
    ptrdiff_t nbytes = d * (ptrdiff_t)sizeof(FLT), off;
    for (off = 0; off < nbytes; off += 64) FASTLR_PREFETCH(p + off);
    FASTLR_PREFETCH(p + nbytes - 1);
}

/* Rows are gathered through idx in shuffled epochs: the hardware prefetcher cannot follow
 * them, so the rows (and their targets and weights) PF_AHEAD positions ahead are requested
 * explicitly. Sequential passes (idx NULL) prefetch too: the hardware prefetcher alone ran a
 * 1M x 100 float64 pass at 62-71 ms, against 26 ms with software prefetch (stream: 25 ms). */
/* How far ahead: far enough to keep ~16 rows' lines in flight for narrow rows (a 1M x 100
 * float32 shuffled pass: 55 ms at 8 rows ahead, 25 ms at 16, with Y prefetched too), 8 rows
 * for rows over 512 bytes (more would evict the rows still to be read from L1). */
#define PF_AHEAD (d * (ptrdiff_t)sizeof(FLT) <= 512 ? 16 : 8)
#define ROW(r) (idx != NULL ? idx[(r)] : (r))
#define PREFETCH_X_AHEAD(r)                                                 \
    do {                                                                    \
        if ((r) + PF_AHEAD < pf_limit)                                      \
            SFX(prefetch_row)(X + ROW((r) + PF_AHEAD) * d, d);              \
    } while (0)
#define PREFETCH_AHEAD(r)                                                   \
    do {                                                                    \
        if ((r) + PF_AHEAD < pf_limit) {                                    \
            ptrdiff_t ahead_ = ROW((r) + PF_AHEAD);                         \
            SFX(prefetch_row)(X + ahead_ * d, d);                           \
            FASTLR_PREFETCH(Y + ahead_ * ycols);                            \
            if (sw != NULL) FASTLR_PREFETCH(sw + ahead_);                   \
        }                                                                   \
    } while (0)

/* Binary head: 4 rows at a time. */
static FASTLR_TARGET double SFX(logistic_rows)(const FLT *X, ptrdiff_t d, const double *Y,
                                               const double *sw, const ptrdiff_t *idx,
                                               ptrdiff_t start, ptrdiff_t stop,
                                               ptrdiff_t pf_limit, const double *W,
                                               const double *b, double *GW, double *Gb) {
    double loss = 0.0, gb = 0.0, z[4], dz[4];
    const ptrdiff_t ycols = 1;
    ptrdiff_t r = start, t;
#if FASTLR_VECTOR
    SFX(v4) loss4 = {0.0, 0.0, 0.0, 0.0}, gb4 = {0.0, 0.0, 0.0, 0.0};
#endif
    for (; r + 4 <= stop; r += 4) {
        ptrdiff_t i[4];
        for (t = 0; t < 4; t++) {
            i[t] = ROW(r + t);
            PREFETCH_AHEAD(r + t);
        }
        const FLT *x0 = X + i[0] * d, *x1 = X + i[1] * d, *x2 = X + i[2] * d,
                  *x3 = X + i[3] * d;
        SFX(dot_4rows)(x0, x1, x2, x3, W, d, z);
#if FASTLR_VECTOR
        {
            SFX(v4) zv = {z[0], z[1], z[2], z[3]}, yv = {Y[i[0]], Y[i[1]], Y[i[2]], Y[i[3]]};
            SFX(v4) g, l = SFX(logistic4)(zv + b[0], yv, &g);
            if (sw != NULL) {
                SFX(v4) sv = {sw[i[0]], sw[i[1]], sw[i[2]], sw[i[3]]};
                l *= sv;
                g *= sv;
            }
            loss4 += l;
            gb4 += g;
            memcpy(dz, &g, sizeof g);
        }
#else
        for (t = 0; t < 4; t++) {
            double s = sw != NULL ? sw[i[t]] : 1.0;
            loss += s * fastlr_logistic_loss_grad(Y[i[t]], b[0] + z[t], &dz[t]);
            dz[t] *= s;
            gb += dz[t];
        }
#endif
        SFX(axpy_4rows)(dz, x0, x1, x2, x3, GW, d);
    }
    for (; r < stop; r++) {
        ptrdiff_t i0 = ROW(r);
        PREFETCH_AHEAD(r);
        const FLT *x = X + i0 * d;
        double s = sw != NULL ? sw[i0] : 1.0, g;
        loss += s * fastlr_logistic_loss_grad(Y[i0], b[0] + SFX(fastlr_dot)(x, W, d), &g);
        g *= s;
        gb += g;
        SFX(axpy)(g, x, GW, d);
    }
#if FASTLR_VECTOR
    loss += (loss4[0] + loss4[1]) + (loss4[2] + loss4[3]);
    gb += (gb4[0] + gb4[1]) + (gb4[2] + gb4[3]);
#endif
    Gb[0] += gb;
    return loss;
}

/* z[c] = b[c] + x0 . W_c (and the same for x1 into z1 when x1 is not NULL), all classes */
static inline FASTLR_TARGET void SFX(logits)(const FLT *x0, const FLT *x1, const double *W,
                                             const double *b, ptrdiff_t d, ptrdiff_t k,
                                             double *z0, double *z1) {
    ptrdiff_t c = 0;
    for (; c + 4 <= k; c += 4) SFX(dot_2x4)(x0, x1, W + c * d, d, z0 + c, x1 ? z1 + c : NULL);
    for (; c < k; c++) {
        z0[c] = SFX(fastlr_dot)(x0, W + c * d, d);
        if (x1 != NULL) z1[c] = SFX(fastlr_dot)(x1, W + c * d, d);
    }
    for (c = 0; c < k; c++) {
        z0[c] += b[c];
        if (x1 != NULL) z1[c] += b[c];
    }
}

/* e^x[i] for x[i] <= 0, n <= 4 values (the SIMD exp of the training loop, so that
 * predictions and training use the same numbers) */
static inline FASTLR_TARGET void SFX(exp_neg_n)(double *x, int n) {
#if FASTLR_VECTOR
    SFX(v4) v = {0.0, 0.0, 0.0, 0.0};
    memcpy(&v, x, n * sizeof(double));
    v = SFX(exp_neg4)(v);
    memcpy(x, &v, n * sizeof(double));
#else
    for (int i = 0; i < n; i++) x[i] = exp(x[i]);
#endif
}

/* e^x[i] for the n values x[i] <= 0, a vector at a time (exp_neg_v: element by element
 * the same numbers as exp_neg_n, whatever the grouping) */
static inline FASTLR_TARGET void SFX(exp_neg_flat)(double *x, ptrdiff_t n) {
    ptrdiff_t j = 0;
#if FASTLR_VECTOR
    for (; j + FASTLR_VW <= n; j += FASTLR_VW) SFX(st_d)(x + j, SFX(exp_neg_v)(SFX(ld_d)(x + j)));
    if (j < n) {
        SFX(vd) v = VZERO;
        memcpy(&v, x + j, (size_t)(n - j) * sizeof(double));
        v = SFX(exp_neg_v)(v);
        memcpy(x + j, &v, (size_t)(n - j) * sizeof(double));
    }
#else
    for (; j < n; j += 4) SFX(exp_neg_n)(x + j, n - j < 4 ? (int)(n - j) : 4);
#endif
}

/* Softmax, first half, for nr rows of k logits (rows k apart): each row's logits shifted
 * by its maximum (im[t]: the first index of the maximum), then all nr k values
 * exponentiated together, so z[t k + c] = e^(z_c - m_t) and z[t k + im[t]] = 1. With zy,
 * zy[t] = z_{y_t} - m_t for the class index y_t = Y[rows[t]] (the loss needs it). */
static inline FASTLR_TARGET void SFX(softmax_exps)(double *z, ptrdiff_t nr, ptrdiff_t k,
                                                   ptrdiff_t *im, const double *Y,
                                                   const ptrdiff_t *rows, double *zy) {
    for (ptrdiff_t t = 0; t < nr; t++) {
        double *zt = z + t * k;
        ptrdiff_t a = 0, c;
        double m = zt[0];
        for (c = 1; c < k; c++) { /* selects, not branches: which class wins is data */
            const int gt = zt[c] > m;
            a = gt ? c : a;
            m = gt ? zt[c] : m;
        }
        for (c = 0; c < k; c++) zt[c] -= m;
        im[t] = a;
        if (zy != NULL) zy[t] = zt[(ptrdiff_t)Y[rows[t]]];
    }
    SFX(exp_neg_flat)(z, nr * k);
}

/* sum_{c != a} e[c]: the non-maximal terms of a softmax denominator, 1 + this */
static inline double SFX(softmax_rest)(const double *e, ptrdiff_t k, ptrdiff_t a) {
    double rest = 0.0;
    for (ptrdiff_t c = 0; c < k; c++)
        if (c != a) rest += e[c];
    return rest;
}

/* The softmax head for nr <= FASTLR_BLOCK_ROWS rows at once (z: their logits, rows k
 * apart, overwritten with s (softmax - onehot(y))); returns sum_t s_t l_t, and with lrow
 * (or NULL) each term s_t l_t. rows[t]: the row's index into Y, sw. Per row the same
 * arithmetic as head_row's softmax branch, which is this with nr = 1. */
static inline FASTLR_TARGET double SFX(softmax_head_rows)(double *z, ptrdiff_t nr, ptrdiff_t k,
                                                          const double *Y,
                                                          const ptrdiff_t *rows,
                                                          const double *sw, double *lrow) {
    ptrdiff_t im[FASTLR_BLOCK_ROWS], t, c;
    double zy[FASTLR_BLOCK_ROWS], rest[FASTLR_BLOCK_ROWS], inv[FASTLR_BLOCK_ROWS],
        l1p[FASTLR_BLOCK_ROWS], loss = 0.0;
    SFX(softmax_exps)(z, nr, k, im, Y, rows, zy);
    for (t = 0; t < nr; t++) rest[t] = SFX(softmax_rest)(z + t * k, k, im[t]);
    /* logsumexp(z) - z_y = (m - z_y) + log1p(rest), rest = sum_{c != argmax} e^(z_c - m):
     * log1p keeps the tiny loss of a confident right answer (log(1 + 1e-18) rounds to 0).
     * The rows' 1 / (1 + rest) and log1p a vector of rows at a time. */
#if FASTLR_VECTOR
    for (t = 0; t < nr; t += FASTLR_VW) {
        const size_t nb = (size_t)(nr - t < FASTLR_VW ? nr - t : FASTLR_VW) * sizeof(double);
        SFX(vd) rv = VZERO, iv;
        memcpy(&rv, rest + t, nb);
        iv = 1.0 / (1.0 + rv);
        memcpy(inv + t, &iv, nb);
        iv = SFX(log1p_v)(rv, iv);
        memcpy(l1p + t, &iv, nb);
    }
#else
    for (t = 0; t < nr; t++) {
        inv[t] = 1.0 / (1.0 + rest[t]);
        l1p[t] = log1p(rest[t]);
    }
#endif
    for (t = 0; t < nr; t++) {
        double *zt = z + t * k, s = sw ? sw[rows[t]] : 1.0, si = s * inv[t];
        double lt = s * (-zy[t] + l1p[t]);
        if (lrow != NULL) lrow[t] = lt;
        loss += lt;
        for (c = 0; c < k; c++) zt[c] *= si; /* s softmax(z) - s onehot(y) */
        zt[(ptrdiff_t)Y[rows[t]]] -= s;
    }
    return loss;
}

/* The head's loss for one row from its logits z (k), turning z into s (h(z) - y) in place. */
static inline FASTLR_TARGET double SFX(head_row)(int head, double *z, ptrdiff_t k,
                                                 const double *y, double s, const double *lw) {
    ptrdiff_t c;
    double loss = 0.0;
    if (head == FASTLR_SOFTMAX) {
        const ptrdiff_t row0 = 0;
        return SFX(softmax_head_rows)(z, 1, k, y, &row0, &s, NULL);
    }
    if (head == FASTLR_MULTILABEL) {
        for (c = 0; c < k; c++) {
            double g, sc = lw == NULL ? s : s * (lw[2 * c] + y[c] * (lw[2 * c + 1] - lw[2 * c]));
            loss += sc * fastlr_logistic_loss_grad(y[c], z[c], &g);
            z[c] = sc * g;
        }
        return loss;
    }
    for (c = 0; c < k; c++) { /* squared */
        double e = z[c] - y[c];
        loss += 0.5 * e * e;
        z[c] = s * e;
    }
    return s * loss;
}

/* G_c += a0[c] x0 (+ a1[c] x1) for all classes; Gb += a0 (+ a1) */
static inline FASTLR_TARGET void SFX(grads)(const double *a0, const double *a1, const FLT *x0,
                                            const FLT *x1, double *GW, double *Gb,
                                            ptrdiff_t d, ptrdiff_t k) {
    ptrdiff_t c = 0;
    for (; c + 4 <= k; c += 4) SFX(axpy_2x4)(a0 + c, a1 ? a1 + c : NULL, x0, x1, GW + c * d, d);
    for (; c < k; c++) {
        SFX(axpy)(a0[c], x0, GW + c * d, d);
        if (x1 != NULL) SFX(axpy)(a1[c], x1, GW + c * d, d);
    }
    for (c = 0; c < k; c++) Gb[c] += a1 ? a0[c] + a1[c] : a0[c];
}

/* ---- the optimiser's update of one vector of parameters (step_v), used by
 * fastlr_opt_step below and by the gradient tiles of the row blocks, which apply it as
 * soon as a tile's gradient is complete (fastlr_fuse_t) ------------------------------- */
#if FASTLR_VECTOR
static inline FASTLR_TARGET SFX(vd) SFX(vsqrt)(SFX(vd) v) {
#if FASTLR_X86_DISPATCH && FASTLR_VW == 8
    return (SFX(vd))_mm512_sqrt_pd((__m512d)v);
#elif FASTLR_X86_DISPATCH && FASTLR_VW == 4
    return (SFX(vd))_mm256_sqrt_pd((__m256d)v);
#elif FASTLR_X86_DISPATCH && FASTLR_VW == 2
    return (SFX(vd))_mm_sqrt_pd((__m128d)v);
#else
    for (int l = 0; l < FASTLR_VW; l++) v[l] = sqrt(v[l]);
    return v;
#endif
}

/* a / den for den > 0 (den = +inf gives 0, like the division). With AVX-512, a times
 * 1 / den from vrcp14pd (relative error < 2^-14) and two Newton steps (error ~2^-56 before
 * their roundings: within ~1 ulp of the division, at about half the cost of vdivpd). */
static inline FASTLR_TARGET SFX(vd) SFX(vdiv)(SFX(vd) a, SFX(vd) den) {
#if FASTLR_X86_DISPATCH && FASTLR_VW == 8
    const __m512d one = _mm512_set1_pd(1.0), d = (__m512d)den;
    __m512d r = _mm512_rcp14_pd(d);
    r = _mm512_fmadd_pd(r, _mm512_fnmadd_pd(d, r, one), r);
    r = _mm512_fmadd_pd(r, _mm512_fnmadd_pd(d, r, one), r);
    /* rcp14(inf) = 0, and 0 (1 - inf 0) would be NaN */
    r = _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(r, _mm512_setzero_pd(), _CMP_NEQ_OQ), r);
    return (SFX(vd))_mm512_mul_pd((__m512d)a, r);
#else
    return a / den;
#endif
}

/* p > t ? p - t : p < -t ? p + t : 0, for t >= 0 */
static inline FASTLR_TARGET SFX(vd) SFX(soft_v)(SFX(vd) p, SFX(vd) t) {
    SFX(vd) hi = p - t, lo = p + t;
    return SFX(selv)(hi > VZERO, hi, VZERO) + SFX(selv)(lo < VZERO, lo, VZERO);
}

/* One vector of parameters; returns the updated p. */
static inline FASTLR_TARGET SFX(vd) SFX(step_v)(const fastlr_step_t *s, SFX(vd) p,
                                                SFX(vd) g, SFX(vd) *b1, SFX(vd) *b2) {
    g = g * s->scale + p * s->l2;
    if (s->adam) {
        SFX(vd) m = *b1 + (g - *b1) * (1.0 - s->beta1);
        SFX(vd) v = *b2 * s->beta2 + g * g * (1.0 - s->beta2);
        SFX(vd) denom = SFX(vsqrt)(v) * s->ibc2s + s->eps;
        *b1 = m;
        *b2 = v;
        p = p - SFX(vdiv)(s->step_size * m, denom);
        if (s->l1 > 0.0) p = SFX(soft_v)(p, SFX(vdiv)(VZERO + s->lr * s->l1, denom));
        return p;
    }
    if (s->momentum != 0.0) {
        SFX(vd) buf = *b1 * s->momentum + g;
        *b1 = buf;
        g = s->nesterov ? g + buf * s->momentum : buf;
    }
    p = p - s->lr * g;
    if (s->l1 > 0.0) p = SFX(soft_v)(p, VZERO + s->lr * s->l1);
    return p;
}
#endif

#if FASTLR_VECTOR && FASTLR_VW == 8
/* With 32 vector registers (AVX-512), blocks of 4 rows x 4 classes: W and G, which for
 * 10 x 784 do not fit in L1 together, are streamed once per 4 rows instead of per 2. */
#define KROWS 4

/* Classes go in blocks of 5 or 4 (KROWS x 5 accumulators + 5 W vectors + 1 x vector = 26
 * registers): 10 classes are 5 + 5, with no padding, where quads would compute 12. The
 * blocks of 5 come first; a last short block is padded to 4 (below). Returns the number
 * of 5-class blocks for k classes: the split with the fewest padded slots, then the
 * fewest blocks. */
static inline int SFX(blocks_of_5)(ptrdiff_t k) {
    int best = 0;
    ptrdiff_t best_slots = -1, best_blocks = 0;
    for (int a = 0; 5 * a <= k + 4; a++) {
        ptrdiff_t rest = k - 5 * a > 0 ? k - 5 * a : 0, b4 = (rest + 3) / 4;
        ptrdiff_t slots = 5 * a + 4 * b4, blocks = a + b4;
        if (best_slots < 0 || slots < best_slots || (slots == best_slots && blocks < best_blocks)) {
            best = a;
            best_slots = slots;
            best_blocks = blocks;
        }
    }
    return best;
}

/* z[r k + c + q] = x_r . W_{c+q} for the KROWS rows and the kq <= CB classes from c; the
 * CB - kq missing slots repeat class c and their results are dropped. Inlined with a
 * constant CB, the loops unroll and the arrays live in registers. pf (or NULL): KROWS rows
 * to fetch into L2 while this runs (prediction). */
static inline __attribute__((always_inline)) FASTLR_TARGET void SFX(dot_cb)(
        const FLT *const *xs, const double *W, ptrdiff_t d, ptrdiff_t k, ptrdiff_t c,
        ptrdiff_t kq, const int CB, double *z, const FLT *const *pf) {
    const double *w[5];
    SFX(vd) acc[KROWS][5];
    double s[KROWS][5];
    ptrdiff_t j;
    int r, q;
    for (q = 0; q < CB; q++) w[q] = W + (c + (q < kq ? q : 0)) * d;
    for (r = 0; r < KROWS; r++)
        for (q = 0; q < CB; q++) acc[r][q] = VZERO;
    if (pf != NULL)
        for (r = 0; r < KROWS; r++) FASTLR_PREFETCH_L2(pf[r] + d - 1);
    for (j = 0; j + FASTLR_VW <= d; j += FASTLR_VW) {
        SFX(vd) v[5];
        for (q = 0; q < CB; q++) v[q] = SFX(ld_d)(w[q] + j);
        for (r = 0; r < KROWS; r++) {
            SFX(vd) xv = SFX(ld_x)(xs[r] + j);
            for (q = 0; q < CB; q++) acc[r][q] += xv * v[q];
        }
        /* the rows to come, into L2, a line per row every 64 bytes: spread over the loop,
         * where a burst of a block's ~200 prefetches stalled it (10-class predict: 63 -> 54
         * ms) */
        if (pf != NULL && (j & (64 / (ptrdiff_t)sizeof(FLT) - 1)) == 0)
            for (r = 0; r < KROWS; r++) FASTLR_PREFETCH_L2(pf[r] + j);
    }
#if KROWS != 4
#error "dot_cb's horizontal sums assume KROWS == 4"
#endif
    /* each row's first four classes, then the fifth class of the four rows */
    for (r = 0; r < KROWS; r++) SFX(hsum4)(acc[r][0], acc[r][1], acc[r][2], acc[r][3], s[r]);
    if (CB == 5) {
        double s4[4];
        SFX(hsum4)(acc[0][4], acc[1][4], acc[2][4], acc[3][4], s4);
        for (r = 0; r < KROWS; r++) s[r][4] = s4[r];
    }
    for (; j < d; j++)
        for (r = 0; r < KROWS; r++) {
            double xj = xs[r][j];
            for (q = 0; q < CB; q++) s[r][q] += xj * w[q][j];
        }
    for (r = 0; r < KROWS; r++)
        for (q = 0; q < kq; q++) z[r * k + c + q] = s[r][q];
}

/* class blocks for k classes, and the first class of block t */
static inline int SFX(n_class_blocks)(ptrdiff_t k, int n5) {
    ptrdiff_t rest = k - 5 * (ptrdiff_t)n5;
    return n5 + (rest > 0 ? (int)((rest + 3) / 4) : 0);
}
static inline ptrdiff_t SFX(class_block_start)(int n5, int t) {
    return t < n5 ? 5 * (ptrdiff_t)t : 5 * (ptrdiff_t)n5 + 4 * (ptrdiff_t)(t - n5);
}
#define CLASS_BLOCK_LOOP(t, c, kq, b0, b1)                                  \
    for (int t = (b0); t < (b1); t++)                                       \
        for (ptrdiff_t c = SFX(class_block_start)(n5, t),                   \
                       kq = k - c < (t < n5 ? 5 : 4) ? k - c : (t < n5 ? 5 : 4), \
                       once_ = 1; once_; once_ = 0)

/* One vector of a finished gradient tile g, at offset o of the k x d coefficients: added
 * to GW, or with fu, the optimiser's step applied to W and its buffers right away (a2, a1:
 * running sums of the updated p^2 and |p|). Float32 coefficients step in tile_out32. */
static inline __attribute__((always_inline)) FASTLR_TARGET void SFX(tile_out)(
        double *GW, fastlr_fuse_t *fu, ptrdiff_t o, SFX(vd) g, SFX(vd) *a2, SFX(vd) *a1) {
    if (fu == NULL) {
        SFX(st_d)(GW + o, SFX(ld_d)(GW + o) + g);
        return;
    }
    const fastlr_step_t *s = &fu->s;
    const int moments = s->adam || s->momentum != 0.0;
    SFX(vd) b1 = moments ? SFX(ld_d)(fu->buf1 + o) : VZERO;
    SFX(vd) b2 = s->adam ? SFX(ld_d)(fu->buf2 + o) : VZERO;
    SFX(vd) p = SFX(step_v)(s, SFX(ld_d)(fu->W + o), g, &b1, &b2);
    SFX(st_d)(fu->W + o, p);
    if (moments) SFX(st_d)(fu->buf1 + o, b1);
    if (s->adam) SFX(st_d)(fu->buf2 + o, b2);
    *a2 += p * p;
    *a1 += (SFX(vd))((SFX(vi))p & ((SFX(vi))VZERO + 0x7fffffffffffffffLL));
}

/* Prefetches of the next block's rows (pfn, npf of them) into L2, made by the gradient
 * tiles: row r's bytes [j, j + nbytes) while a tile reads the same columns of this block,
 * then the columns from j to the end of every row. */
static inline __attribute__((always_inline)) void SFX(pf_cols)(const FLT *row, ptrdiff_t j,
                                                              int nbytes) {
    for (int v = 0; v < nbytes; v += 64) FASTLR_PREFETCH_L2((const char *)(row + j) + v);
}
static inline void SFX(pf_rest)(const FLT *const *pfn, int npf, ptrdiff_t j, ptrdiff_t d) {
    for (int r = 0; r < npf; r++)
        if (j < d) {
            FASTLR_PREFETCH_L2(pfn[r] + j);
            FASTLR_PREFETCH_L2(pfn[r] + d - 1);
        }
}

#if FASTLR_FLT_FLOAT
/* ---- the optimiser step of float32 coefficients (float32 X in float32 arithmetic) -----
 * The coefficients W32 and their optimiser state (momentum buffer or Adam's m; Adam's v)
 * are float32, and so is the step's arithmetic, 16 lanes at a time, as torch.optim steps
 * a float32 model: step_v's formulas with each operation rounded to float32. Products
 * and sums are written as FMA intrinsics (opaque to the compiler's contraction), so that
 * every inlined copy computes the same bits: the fused tiles (tile_out32) and
 * fastlr_opt_step32 must agree. */
typedef struct {
    __m512 scale, l2, lr, mom, omb1, beta2, omb2, eps, step_size, ibc2s, lrl1;
    int adam, momentum, nesterov, l1, want_reg;
} SFX(step32_t);

static inline FASTLR_TARGET void SFX(step32_prepare)(const fastlr_step_t *s, SFX(step32_t) *f) {
    f->scale = _mm512_set1_ps((float)s->scale);
    f->l2 = _mm512_set1_ps((float)s->l2);
    f->lr = _mm512_set1_ps((float)s->lr);
    f->mom = _mm512_set1_ps((float)s->momentum);
    f->omb1 = _mm512_set1_ps((float)(1.0 - s->beta1));
    f->beta2 = _mm512_set1_ps((float)s->beta2);
    f->omb2 = _mm512_set1_ps((float)(1.0 - s->beta2));
    f->eps = _mm512_set1_ps((float)s->eps);
    f->step_size = _mm512_set1_ps((float)s->step_size);
    f->ibc2s = _mm512_set1_ps((float)s->ibc2s);
    f->lrl1 = _mm512_set1_ps((float)(s->lr * s->l1));
    f->adam = s->adam;
    f->momentum = s->momentum != 0.0;
    f->nesterov = s->nesterov;
    f->l1 = s->l1 > 0.0;
    f->want_reg = s->want_reg;
}

/* p > t ? p - t : p < -t ? p + t : 0, for t >= 0 */
static inline FASTLR_TARGET __m512 SFX(soft_f)(__m512 p, __m512 t) {
    const __m512 zero = _mm512_setzero_ps();
    __m512 hi = _mm512_sub_ps(p, t), lo = _mm512_add_ps(p, t);
    return _mm512_add_ps(_mm512_maskz_mov_ps(_mm512_cmp_ps_mask(hi, zero, _CMP_GT_OQ), hi),
                         _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(lo, zero, _CMP_LT_OQ), lo));
}

/* 16 float32 parameters p with their gradient sums g; returns the updated p */
static inline __attribute__((always_inline)) FASTLR_TARGET __m512 SFX(step_f)(
        const SFX(step32_t) *f, __m512 p, __m512 g, __m512 *b1, __m512 *b2) {
    g = _mm512_fmadd_ps(p, f->l2, _mm512_mul_ps(g, f->scale));
    if (f->adam) {
        __m512 m = _mm512_fmadd_ps(_mm512_sub_ps(g, *b1), f->omb1, *b1);
        __m512 v = _mm512_fmadd_ps(_mm512_mul_ps(g, g), f->omb2, _mm512_mul_ps(*b2, f->beta2));
        __m512 den = _mm512_fmadd_ps(_mm512_sqrt_ps(v), f->ibc2s, f->eps);
        *b1 = m;
        *b2 = v;
        p = _mm512_sub_ps(p, _mm512_div_ps(_mm512_mul_ps(f->step_size, m), den));
        if (f->l1) p = SFX(soft_f)(p, _mm512_div_ps(f->lrl1, den));
        return p;
    }
    if (f->momentum) {
        __m512 buf = _mm512_fmadd_ps(*b1, f->mom, g);
        *b1 = buf;
        g = f->nesterov ? _mm512_fmadd_ps(buf, f->mom, g) : buf;
    }
    p = _mm512_fnmadd_ps(f->lr, g, p);
    if (f->l1) p = SFX(soft_f)(p, f->lrl1);
    return p;
}

/* the running sums of p^2 and |p| (in double) of 16 updated parameters */
static inline __attribute__((always_inline)) FASTLR_TARGET void SFX(reg_f)(
        __m512 p, SFX(vd) *a2, SFX(vd) *a1) {
    const SFX(vi) absmask = (SFX(vi))VZERO + 0x7fffffffffffffffLL;
    SFX(vd) lo = (SFX(vd))_mm512_cvtps_pd(_mm512_castps512_ps256(p));
    SFX(vd) hi = (SFX(vd))_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(
        _mm512_castps_pd(p), 1)));
    *a2 += lo * lo;
    *a2 += hi * hi;
    *a1 += (SFX(vd))((SFX(vi))lo & absmask);
    *a1 += (SFX(vd))((SFX(vi))hi & absmask);
}

/* Contract of SFX(fastlr_opt_step32): fastlr_opt_step for float32 parameters p and
 * optimiser state buf1, buf2 (m floats each; buf2 is read for Adam only, buf1 for Adam
 * and momentum), in float32 arithmetic (step_f) on the gradient sums g (m doubles, each
 * rounded to float32, then zeroed). With s->want_reg and reg, reg[0] = sum p_j^2 and
 * reg[1] = sum |p_j| of the updated p, in double. */
static FASTLR_TARGET void SFX(fastlr_opt_step32)(const fastlr_step_t *s, float *p, double *g,
                                                 float *buf1, float *buf2, ptrdiff_t m,
                                                 double *reg) {
    SFX(step32_t) f;
    SFX(vd) a2 = VZERO, a1 = VZERO;
    const int moments = s->adam || s->momentum != 0.0;
    SFX(step32_prepare)(s, &f);
    for (ptrdiff_t j = 0; j < m; j += 16) {
        /* one call site for full vectors and the tail (masked loads and stores) */
        const ptrdiff_t left = m - j;
        const __mmask16 mk = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
        const __mmask8 mlo = (__mmask8)mk, mhi = (__mmask8)(mk >> 8);
        __m512 b1 = moments ? _mm512_maskz_loadu_ps(mk, buf1 + j) : _mm512_setzero_ps();
        __m512 b2 = s->adam ? _mm512_maskz_loadu_ps(mk, buf2 + j) : _mm512_setzero_ps();
        __m256 glo = _mm512_cvtpd_ps(_mm512_maskz_loadu_pd(mlo, g + j));
        __m256 ghi = _mm512_cvtpd_ps(_mm512_maskz_loadu_pd(mhi, g + j + 8));
        __m512 gv = _mm512_insertf32x8(_mm512_castps256_ps512(glo), ghi, 1);
        __m512 pv = SFX(step_f)(&f, _mm512_maskz_loadu_ps(mk, p + j), gv, &b1, &b2);
        pv = _mm512_maskz_mov_ps(mk, pv);
        _mm512_mask_storeu_ps(p + j, mk, pv);
        _mm512_mask_storeu_pd(g + j, mlo, _mm512_setzero_pd());
        _mm512_mask_storeu_pd(g + j + 8, mhi, _mm512_setzero_pd());
        if (moments) _mm512_mask_storeu_ps(buf1 + j, mk, b1);
        if (s->adam) _mm512_mask_storeu_ps(buf2 + j, mk, b2);
        if (f.want_reg) SFX(reg_f)(pv, &a2, &a1);
    }
    if (reg != NULL && s->want_reg) {
        reg[0] = SFX(hsum)(a2);
        reg[1] = SFX(hsum)(a1);
    }
}
#endif

/* The last columns [j, d) of a gradient tile (fewer than a vector): G_{c+q} +=
 * sum_r ab[r CB + q] x_r in double, or with fu the optimiser's step: by fastlr_opt_step
 * on W, or with W32 by fastlr_opt_step32 on the float32 coefficients W32. ab holds
 * doubles, or floats when ab_f32 (a constant where inlined). */
static inline __attribute__((always_inline)) FASTLR_TARGET void SFX(grad_tail)(
        const void *ab, const int ab_f32, const FLT *const *xs, int nr, double *GW,
        float *W32, ptrdiff_t d, ptrdiff_t c, ptrdiff_t kq, const int CB, ptrdiff_t j,
        fastlr_fuse_t *fu) {
    for (ptrdiff_t q = 0; q < kq && j < d; q++) {
        double gt[16], treg[2] = {0.0, 0.0};
        ptrdiff_t jj, o = (c + q) * d + j;
        for (jj = j; jj < d; jj++) {
            double sj = 0.0;
            for (int r = 0; r < nr; r++)
                sj += (ab_f32 ? (double)((const float *)ab)[r * CB + q]
                              : ((const double *)ab)[r * CB + q]) * xs[r][jj];
            if (fu == NULL)
                GW[o + jj - j] += sj;
            else
                gt[jj - j] = sj;
        }
        if (fu != NULL) {
#if FASTLR_FLT_FLOAT
            if (W32 != NULL)
                SFX(fastlr_opt_step32)(&fu->s, W32 + o, gt, fu->buf1_32 + o, fu->buf2_32 + o,
                                       d - j, treg);
            else
#endif
                fastlr_opt_step(&fu->s, fu->W + o, gt, fu->buf1 + o, fu->buf2 + o, d - j, treg);
            fu->reg[0] += treg[0];
            fu->reg[1] += treg[1];
        }
    }
}

/* G_{c+q} += sum_{r < nr} A[r k + c + q] x_r for the kq <= CB classes from c, over a block
 * of nr rows: a tile of G (CB classes x JV vectors) is accumulated in registers over all
 * the block's rows and added to G once, so G is read and written once per block instead
 * of once per 4 rows (for 10 x 784, G is 63 KB: with W it does not fit in L1, and its
 * traffic from L2 bounded the kernel). The block's rows are re-read from L2 / L1. With fu
 * (the batch is this one block), each finished tile updates W instead (tile_out) and G
 * is not touched (10-class 200k x 784 float32, batch 32, 2 threads: sgd epoch 0.064 ->
 * 0.059 s; Adam's unchanged: its step is bound by its own floating-point operations, and
 * neither square roots by FMAs nor m and v in float32 made it faster). pfn: npf rows to
 * prefetch meanwhile. */
#define FASTLR_JV 4
static inline __attribute__((always_inline)) FASTLR_TARGET void SFX(grad_cbr)(
        const double *A, const FLT *const *xs, int nr, double *GW, ptrdiff_t d,
        ptrdiff_t k, ptrdiff_t c, ptrdiff_t kq, const int CB, double *ab,
        const FLT *const *pfn, int npf, fastlr_fuse_t *fu) {
    SFX(vd) a2 = VZERO, a1 = VZERO;
    ptrdiff_t j;
    int r, q, v;
    /* the block's coefficients for these classes, padded with zeros to CB */
    for (r = 0; r < nr; r++)
        for (q = 0; q < CB; q++) ab[r * CB + q] = q < kq ? A[r * k + c + q] : 0.0;
    for (j = 0; j + FASTLR_JV * FASTLR_VW <= d; j += FASTLR_JV * FASTLR_VW) {
        SFX(vd) acc[5][FASTLR_JV];
        for (q = 0; q < CB; q++)
            for (v = 0; v < FASTLR_JV; v++) acc[q][v] = VZERO;
        for (r = 0; r < nr; r++) {
            SFX(vd) xv[FASTLR_JV];
            /* the next block's rows, into L2, over the same columns as this step reads */
            if (r < npf) SFX(pf_cols)(pfn[r], j, FASTLR_JV * FASTLR_VW * (int)sizeof(FLT));
            for (v = 0; v < FASTLR_JV; v++) xv[v] = SFX(ld_x)(xs[r] + j + v * FASTLR_VW);
            for (q = 0; q < CB; q++) {
                double aq = ab[r * CB + q];
                for (v = 0; v < FASTLR_JV; v++) acc[q][v] += aq * xv[v];
            }
        }
        for (q = 0; q < kq; q++)
            for (v = 0; v < FASTLR_JV; v++)
                SFX(tile_out)(GW, fu, (c + q) * d + j + v * FASTLR_VW, acc[q][v], &a2, &a1);
    }
    SFX(pf_rest)(pfn, npf, j, d);
    for (; j + FASTLR_VW <= d; j += FASTLR_VW) {
        SFX(vd) acc[5];
        for (q = 0; q < CB; q++) acc[q] = VZERO;
        for (r = 0; r < nr; r++) {
            SFX(vd) xv = SFX(ld_x)(xs[r] + j);
            for (q = 0; q < CB; q++) acc[q] += ab[r * CB + q] * xv;
        }
        for (q = 0; q < kq; q++)
            SFX(tile_out)(GW, fu, (c + q) * d + j, acc[q], &a2, &a1);
    }
    SFX(grad_tail)(ab, 0, xs, nr, GW, NULL, d, c, kq, CB, j, fu);
    if (fu != NULL) {
        fu->reg[0] += SFX(hsum)(a2);
        fu->reg[1] += SFX(hsum)(a1);
    }
}

#if FASTLR_FLT_FLOAT
/* ---- float32 arithmetic for float32 X in mini-batch training -----------------------
 * With float32 X, a mini-batch epoch of a k-output head (fastlr_split_batches, and
 * kout_rows when _sgd.run_epoch passes W32) multiplies and adds in float32, twice the
 * lanes of double, and trains a float32 model, as torch does: the products x_j w_j and
 * each lane's partial sum (a logit's d / 16 products, or a gradient tile's sum over the
 * block's rows) are float32; the lanes are widened to double before they are added
 * together; the gradient sums across row blocks, the head and the loss are double. The
 * coefficients W32 and their optimiser state are float32 and step in float32
 * (fastlr_opt_step32, tile_out32); the intercepts step in double and are rounded to
 * float32 (fastlr_round_f32). Double coefficients and state beside float32 ones (master
 * weights, as mixed-precision training keeps for 16-bit floats) cost 15% of a batch-32
 * sgd epoch (10 x 784: 62 KB more loads and stores per batch) and a double Adam step
 * 20% more, for precision that coef_, a float32 array, does not keep. Full-batch
 * solvers, prediction and float64 X keep double arithmetic throughout. */
typedef float SFX(vf) __attribute__((vector_size(64)));
#define FASTLR_FW 16
static inline FASTLR_TARGET SFX(vf) SFX(ld_f)(const float *p) {
    SFX(vf) v;
    memcpy(&v, p, sizeof v);
    return v;
}
/* the 16 float lanes of v as two double vectors: lanes 0-7 and 8-15 */
static inline FASTLR_TARGET SFX(vd) SFX(widen_lo)(SFX(vf) v) {
    return (SFX(vd))_mm512_cvtps_pd(_mm512_castps512_ps256((__m512)v));
}
static inline FASTLR_TARGET SFX(vd) SFX(widen_hi)(SFX(vf) v) {
    return (SFX(vd))_mm512_cvtps_pd(_mm512_extractf32x8_ps((__m512)v, 1));
}
static inline FASTLR_TARGET SFX(vd) SFX(widen_add)(SFX(vf) v) {
    return SFX(widen_lo)(v) + SFX(widen_hi)(v);
}

/* dot_cb in float32 on W32: z[r k + c + q] = x_r . W32_{c+q} for KROWS rows and kq <= CB
 * classes, each lane summing its columns in float32, the lanes then added in double (the
 * last d % 16 columns: products and sums in double). */
static inline __attribute__((always_inline)) FASTLR_TARGET void SFX(dot_cb32)(
        const FLT *const *xs, const float *W32, ptrdiff_t d, ptrdiff_t k, ptrdiff_t c,
        ptrdiff_t kq, const int CB, double *z) {
    const float *w[5];
    SFX(vf) acc[KROWS][5];
    double s[KROWS][5];
    ptrdiff_t j;
    int r, q;
    for (q = 0; q < CB; q++) w[q] = W32 + (c + (q < kq ? q : 0)) * d;
    for (r = 0; r < KROWS; r++)
        for (q = 0; q < CB; q++) acc[r][q] = (SFX(vf)){0};
    for (j = 0; j + FASTLR_FW <= d; j += FASTLR_FW) {
        SFX(vf) v[5];
        for (q = 0; q < CB; q++) v[q] = SFX(ld_f)(w[q] + j);
        for (r = 0; r < KROWS; r++) {
            SFX(vf) xv = SFX(ld_f)(xs[r] + j);
            for (q = 0; q < CB; q++) acc[r][q] += xv * v[q];
        }
    }
    for (r = 0; r < KROWS; r++)
        SFX(hsum4)(SFX(widen_add)(acc[r][0]), SFX(widen_add)(acc[r][1]),
                   SFX(widen_add)(acc[r][2]), SFX(widen_add)(acc[r][3]), s[r]);
    if (CB == 5) {
        double s4[4];
        SFX(hsum4)(SFX(widen_add)(acc[0][4]), SFX(widen_add)(acc[1][4]),
                   SFX(widen_add)(acc[2][4]), SFX(widen_add)(acc[3][4]), s4);
        for (r = 0; r < KROWS; r++) s[r][4] = s4[r];
    }
    for (; j < d; j++)
        for (r = 0; r < KROWS; r++) {
            double xj = xs[r][j];
            for (q = 0; q < CB; q++) s[r][q] += xj * (double)w[q][j];
        }
    for (r = 0; r < KROWS; r++)
        for (q = 0; q < kq; q++) z[r * k + c + q] = s[r][q];
}

/* One vector (16 columns) of a finished float32 gradient tile g at offset o: added to GW
 * in double, or with fu, the float32 step (step_f) applied to W32 and its float32
 * optimiser state right away (a2, a1: running sums of the updated p^2 and |p|, with
 * s.want_reg). */
static inline __attribute__((always_inline)) FASTLR_TARGET void SFX(tile_out32)(
        double *GW, fastlr_fuse_t *fu, const SFX(step32_t) *f, ptrdiff_t o, SFX(vf) g,
        SFX(vd) *a2, SFX(vd) *a1, float *W32) {
    if (fu == NULL) {
        SFX(tile_out)(GW, NULL, o, SFX(widen_lo)(g), a2, a1);
        SFX(tile_out)(GW, NULL, o + 8, SFX(widen_hi)(g), a2, a1);
        return;
    }
    const int moments = f->adam || f->momentum;
    __m512 b1 = moments ? _mm512_loadu_ps(fu->buf1_32 + o) : _mm512_setzero_ps();
    __m512 b2 = f->adam ? _mm512_loadu_ps(fu->buf2_32 + o) : _mm512_setzero_ps();
    __m512 p = SFX(step_f)(f, _mm512_loadu_ps(W32 + o), (__m512)g, &b1, &b2);
    _mm512_storeu_ps(W32 + o, p);
    if (moments) _mm512_storeu_ps(fu->buf1_32 + o, b1);
    if (f->adam) _mm512_storeu_ps(fu->buf2_32 + o, b2);
    if (f->want_reg) SFX(reg_f)(p, a2, a1);
}

/* grad_cbr in float32: each tile sums A[r k + c + q] x_r over the block's rows in float32
 * (the coefficients A rounded to float32), then goes out through tile_out32: added to GW
 * in double, or with fu, stepped in float32 into W32. The last d % 16 columns: products
 * and sums in double (grad_tail). */
static inline __attribute__((always_inline)) FASTLR_TARGET void SFX(grad_cbr32)(
        const double *A, const FLT *const *xs, int nr, double *GW, float *W32, ptrdiff_t d,
        ptrdiff_t k, ptrdiff_t c, ptrdiff_t kq, const int CB, double *ab_scratch,
        const FLT *const *pfn, int npf, fastlr_fuse_t *fu) {
    float *ab = (float *)ab_scratch;
    SFX(vd) a2 = VZERO, a1 = VZERO;
    SFX(step32_t) f;
    ptrdiff_t j;
    int r, q, v;
    if (fu != NULL) SFX(step32_prepare)(&fu->s, &f);
    for (r = 0; r < nr; r++)
        for (q = 0; q < CB; q++) ab[r * CB + q] = q < kq ? (float)A[r * k + c + q] : 0.0f;
    for (j = 0; j + FASTLR_JV * FASTLR_FW <= d; j += FASTLR_JV * FASTLR_FW) {
        SFX(vf) acc[5][FASTLR_JV];
        for (q = 0; q < CB; q++)
            for (v = 0; v < FASTLR_JV; v++) acc[q][v] = (SFX(vf)){0};
        for (r = 0; r < nr; r++) {
            SFX(vf) xv[FASTLR_JV];
            if (r < npf) SFX(pf_cols)(pfn[r], j, FASTLR_JV * FASTLR_FW * (int)sizeof(FLT));
            for (v = 0; v < FASTLR_JV; v++) xv[v] = SFX(ld_f)(xs[r] + j + v * FASTLR_FW);
            for (q = 0; q < CB; q++) {
                float aq = ab[r * CB + q];
                for (v = 0; v < FASTLR_JV; v++) acc[q][v] += aq * xv[v];
            }
        }
        for (q = 0; q < kq; q++)
            for (v = 0; v < FASTLR_JV; v++)
                SFX(tile_out32)(GW, fu, &f, (c + q) * d + j + v * FASTLR_FW, acc[q][v], &a2,
                                &a1, W32);
    }
    SFX(pf_rest)(pfn, npf, j, d);
    for (; j + FASTLR_FW <= d; j += FASTLR_FW) {
        SFX(vf) acc[5];
        for (q = 0; q < CB; q++) acc[q] = (SFX(vf)){0};
        for (r = 0; r < nr; r++) {
            SFX(vf) xv = SFX(ld_f)(xs[r] + j);
            for (q = 0; q < CB; q++) acc[q] += ab[r * CB + q] * xv;
        }
        for (q = 0; q < kq; q++)
            SFX(tile_out32)(GW, fu, &f, (c + q) * d + j, acc[q], &a2, &a1, W32);
    }
    SFX(grad_tail)(ab, 1, xs, nr, GW, W32, d, c, kq, CB, j, fu);
    if (fu != NULL) {
        fu->reg[0] += SFX(hsum)(a2);
        fu->reg[1] += SFX(hsum)(a1);
    }
}
#endif

/* z[r k + c] = x_r . W_c for the KROWS rows and the classes of blocks [b0, b1); the rows
 * pf (or NULL) are fetched into L2 during the first of those blocks (prediction). With
 * W32 (float32 X, mini-batch training), in float32 arithmetic on W32 (dot_cb32; pf is
 * then NULL). */
static inline FASTLR_TARGET void SFX(dot_blk)(const FLT *const *xs, const double *W,
                                              const float *W32, ptrdiff_t d, ptrdiff_t k,
                                              int n5, int b0, int b1, double *z,
                                              const FLT *const *pf) {
    /* z rows are k apart: z + t k for the block's row t */
    CLASS_BLOCK_LOOP(cb, c, kq, b0, b1) {
#if FASTLR_FLT_FLOAT
        if (W32 != NULL) {
            if (cb < n5)
                SFX(dot_cb32)(xs, W32, d, k, c, kq, 5, z);
            else
                SFX(dot_cb32)(xs, W32, d, k, c, kq, 4, z);
            continue;
        }
#else
        (void)W32;
#endif
        if (cb < n5)
            SFX(dot_cb)(xs, W, d, k, c, kq, 5, z, cb == b0 ? pf : NULL);
        else
            SFX(dot_cb)(xs, W, d, k, c, kq, 4, z, cb == b0 ? pf : NULL);
    }
}

#endif

#ifdef KROWS
/* ---- row blocks of the k-output heads (AVX-512) ----------------------------------------
 * The classes form blocks (blocks_of_5: n5 blocks of up to 5, then blocks of up to 4);
 * the functions below work on a range [b0, b1) of them, so that the classes of a small
 * batch can be shared by threads (fastlr_split_batches) with the same arithmetic as one
 * thread doing all of them. */

/* Rows per block: up to FASTLR_BLOCK_ROWS, fewer for long rows so that a block stays in L2
 * (a multiple of KROWS). */
static inline ptrdiff_t SFX(block_rows)(ptrdiff_t d) {
    ptrdiff_t rb = (ptrdiff_t)(FASTLR_BLOCK_BYTES / (d * (ptrdiff_t)sizeof(FLT) + 1));
    return rb > FASTLR_BLOCK_ROWS ? FASTLR_BLOCK_ROWS : rb < KROWS ? KROWS : rb - rb % KROWS;
}

/* The nr rows of the block from position r: i[t] = their index, xs[t] = their row; xs is
 * padded to a multiple of KROWS with the last row (whose extra logits are dropped). */
static inline void SFX(gather_block)(const FLT *X, ptrdiff_t d, const ptrdiff_t *idx,
                                     ptrdiff_t r, ptrdiff_t nr, ptrdiff_t *i,
                                     const FLT **xs) {
    ptrdiff_t t;
    for (t = 0; t < nr; t++) {
        i[t] = ROW(r + t);
        xs[t] = X + i[t] * d;
    }
    for (; t % KROWS != 0; t++) xs[t] = xs[nr - 1];
}

/* The rows of the next block, [r, r + nr) capped at pf_limit: their count, pointers in pf.
 * The gradient pass of a block prefetches them into L2, so that the next block's logits do
 * not wait on memory. */
static inline int SFX(next_rows)(const FLT *X, ptrdiff_t d, const ptrdiff_t *idx, ptrdiff_t r,
                                 ptrdiff_t nr, ptrdiff_t pf_limit, const FLT **pf) {
    ptrdiff_t t, n = pf_limit - r < nr ? pf_limit - r : nr;
    for (t = 0; t < n; t++) pf[t] = X + ROW(r + t) * d;
    return n > 0 ? (int)n : 0;
}

/* z[t k + c] = x_t . W_c + b_c for the block's nr rows (KROWS at a time, the last group
 * padded: z needs room for nr rounded up to KROWS rows) and the classes of blocks
 * [b0, b1); the targets and weights of the rows PF_AHEAD positions ahead are prefetched
 * meanwhile. The rows themselves are not: the previous block's gradient pass brought them
 * into L2 (next_rows), and pulling the rows ahead into L1 as well pushed the coefficients
 * out of it (5 classes x 784 doubles = 31 KB, next to 4 rows being read and 4 coming, in
 * a 48 KB L1). Prediction, which has no gradient pass, prefetches (fastlr_predict). */
static inline FASTLR_TARGET void SFX(block_logits)(ptrdiff_t d, ptrdiff_t k,
                                                   const double *Y, ptrdiff_t ycols,
                                                   const double *sw, const ptrdiff_t *idx,
                                                   ptrdiff_t r, ptrdiff_t nr,
                                                   ptrdiff_t pf_limit, const FLT *const *xs,
                                                   const double *W, const float *W32,
                                                   const double *b, int n5, int b0, int b1,
                                                   double *z) {
    ptrdiff_t t, u;
    for (t = 0; t < nr; t += KROWS) {
        for (u = 0; u < KROWS; u++) {
            ptrdiff_t ra = r + t + u + PF_AHEAD;
            if (ra < pf_limit) {
                ptrdiff_t ahead_ = ROW(ra);
                FASTLR_PREFETCH(Y + ahead_ * ycols);
                if (sw != NULL) FASTLR_PREFETCH(sw + ahead_);
            }
        }
        SFX(dot_blk)(xs + t, W, W32, d, k, n5, b0, b1, z + t * k, NULL);
    }
    CLASS_BLOCK_LOOP(cb, c, kq, b0, b1)
        for (t = 0; t < nr; t++)
            for (u = c; u < c + kq; u++) z[t * k + u] += b[u];
}

/* The head for the block's nr rows: z (logits, rows k apart) becomes s (h(z) - y); returns
 * the rows' weighted loss sum. */
static inline FASTLR_TARGET double SFX(block_head)(int head, double *z, ptrdiff_t nr,
                                                   ptrdiff_t k, const double *Y,
                                                   ptrdiff_t ycols, const ptrdiff_t *i,
                                                   const double *sw, const double *lw) {
    double loss = 0.0;
    if (head == FASTLR_SOFTMAX) /* the block's exponentials four at a time */
        return SFX(softmax_head_rows)(z, nr, k, Y, i, sw, NULL);
    for (ptrdiff_t t = 0; t < nr; t++)
        loss += SFX(head_row)(head, z + t * k, k, Y + i[t] * ycols, sw ? sw[i[t]] : 1.0, lw);
    return loss;
}

/* G_c += sum_t A[t k + c] x_t and Gb_c += sum_t A[t k + c] for the classes of blocks
 * [b0, b1) (ab: 5 nr doubles of scratch), prefetching the npf rows pfn meanwhile; with
 * W32 (float32 X, mini-batch training) in float32 arithmetic (grad_cbr32). With fu (the
 * step taken tile by tile) and regc, regc[2 cb], regc[2 cb + 1] get block cb's sums of
 * p^2 and |p| over its stepped coefficients. */
static inline FASTLR_TARGET void SFX(block_grad)(const double *A, const FLT *const *xs,
                                                 ptrdiff_t nr, double *GW, double *Gb,
                                                 ptrdiff_t d, ptrdiff_t k, int n5, int b0,
                                                 int b1, double *ab, const FLT *const *pfn,
                                                 int npf, fastlr_fuse_t *fu, float *W32,
                                                 double *regc) {
    CLASS_BLOCK_LOOP(cb, c, kq, b0, b1) {
        /* each class block prefetches its share of the next rows: issued over the whole
         * pass rather than during its first block, they arrive in time (10-class float32,
         * batch 32: logits phase -15%) */
        const int plo = npf * (cb - b0) / (b1 - b0), np = npf * (cb - b0 + 1) / (b1 - b0) - plo;
        const FLT *const *pf = pfn + plo;
        if (fu != NULL) fu->reg[0] = fu->reg[1] = 0.0;
#if FASTLR_FLT_FLOAT
        if (W32 != NULL) {
            if (cb < n5)
                SFX(grad_cbr32)(A, xs, (int)nr, GW, W32, d, k, c, kq, 5, ab, pf, np, fu);
            else
                SFX(grad_cbr32)(A, xs, (int)nr, GW, W32, d, k, c, kq, 4, ab, pf, np, fu);
        } else
#endif
        if (cb < n5)
            SFX(grad_cbr)(A, xs, (int)nr, GW, d, k, c, kq, 5, ab, pf, np, fu);
        else
            SFX(grad_cbr)(A, xs, (int)nr, GW, d, k, c, kq, 4, ab, pf, np, fu);
        for (ptrdiff_t u = c; u < c + kq; u++) {
            double gb = A[u];
            for (ptrdiff_t t = 1; t < nr; t++) gb += A[t * k + u];
            Gb[u] += gb;
        }
        if (fu != NULL && regc != NULL) { /* the block's penalty sums of its new coefficients */
            regc[2 * cb] = fu->reg[0];
            regc[2 * cb + 1] = fu->reg[1];
        }
    }
}
#endif

/* Softmax, multilabel and squared heads: 2 rows x 4 classes at a time (row blocks with
 * AVX-512, above). */
static FASTLR_TARGET double SFX(kout_rows)(int head, const FLT *X, ptrdiff_t d, ptrdiff_t k,
                                           const double *Y, const double *sw, const double *lw,
                                           const ptrdiff_t *idx, ptrdiff_t start,
                                           ptrdiff_t stop, ptrdiff_t pf_limit,
                                           const double *W, const float *W32,
                                           const double *b, double *GW, double *Gb,
                                           double *scratch) {
    ptrdiff_t ycols = head == FASTLR_SOFTMAX ? 1 : k, r = start;
    double loss = 0.0, *z0 = scratch, *z1 = scratch + k;
#ifdef KROWS
    /* Blocks of block_rows(d) rows: the logits of every row (KROWS rows x 4-5 classes per
     * register block), the head, then the gradient of the whole block. */
    const int n5 = SFX(blocks_of_5)(k), nblk = SFX(n_class_blocks)(k, n5);
    const ptrdiff_t rb = SFX(block_rows)(d);
    double *ab = scratch + FASTLR_BLOCK_ROWS * k;
    while (r < stop) {
        const FLT *xs[FASTLR_BLOCK_ROWS];
        ptrdiff_t i[FASTLR_BLOCK_ROWS], nr = stop - r < rb ? stop - r : rb;
        SFX(gather_block)(X, d, idx, r, nr, i, xs);
        SFX(block_logits)(d, k, Y, ycols, sw, idx, r, nr, pf_limit, xs, W, W32, b, n5, 0,
                          nblk, scratch);
        loss += SFX(block_head)(head, scratch, nr, k, Y, ycols, i, sw, lw);
        const FLT *pfn[FASTLR_BLOCK_ROWS];
        int npf = SFX(next_rows)(X, d, idx, r + nr, nr, pf_limit, pfn);
        SFX(block_grad)(scratch, xs, nr, GW, Gb, d, k, n5, 0, nblk, ab, pfn, npf, NULL,
                        (float *)W32, NULL);
        r += nr;
    }
#endif
    for (; r + 2 <= stop; r += 2) {
        ptrdiff_t i0 = ROW(r), i1 = ROW(r + 1);
        PREFETCH_AHEAD(r);
        PREFETCH_AHEAD(r + 1);
        const FLT *x0 = X + i0 * d, *x1 = X + i1 * d;
        SFX(logits)(x0, x1, W, b, d, k, z0, z1);
        loss += SFX(head_row)(head, z0, k, Y + i0 * ycols, sw ? sw[i0] : 1.0, lw);
        loss += SFX(head_row)(head, z1, k, Y + i1 * ycols, sw ? sw[i1] : 1.0, lw);
        SFX(grads)(z0, z1, x0, x1, GW, Gb, d, k);
    }
    if (r < stop) {
        ptrdiff_t i0 = ROW(r);
        const FLT *x0 = X + i0 * d;
        SFX(logits)(x0, NULL, W, b, d, k, z0, NULL);
        loss += SFX(head_row)(head, z0, k, Y + i0 * ycols, sw ? sw[i0] : 1.0, lw);
        SFX(grads)(z0, NULL, x0, NULL, GW, Gb, d, k);
    }
    return loss;
}

static FASTLR_TARGET double SFX(fastlr_rows)(int head, const FLT *X, ptrdiff_t d, ptrdiff_t k,
                                             const double *Y, const double *sw,
                                             const double *lw, const ptrdiff_t *idx,
                                             ptrdiff_t start, ptrdiff_t stop,
                                             ptrdiff_t pf_limit, const double *W,
                                             const float *W32, const double *b, double *GW,
                                             double *Gb, double *scratch) {
    if (head == FASTLR_LOGISTIC)
        return SFX(logistic_rows)(X, d, Y, sw, idx, start, stop, pf_limit, W, b, GW, Gb);
    return SFX(kout_rows)(head, X, d, k, Y, sw, lw, idx, start, stop, pf_limit, W, W32, b, GW,
                          Gb, scratch);
}

#if !FASTLR_FLT_FLOAT /* the tests' hooks: one copy per instruction set is enough */
/* The softmax head's per-row terms, as the training loop computes them (blocks of
 * FASTLR_BLOCK_ROWS rows): loss[i] = logsumexp(z_i) - z_i[y[i]] and s_i = softmax(z_i) -
 * onehot(y[i]) (n x k, rows k apart). For tests. */
static FASTLR_TARGET void SFX(fastlr_softmax_terms)(const double *z, const double *y,
                                                    ptrdiff_t n, ptrdiff_t k, double *loss,
                                                    double *s) {
    ptrdiff_t rows[FASTLR_BLOCK_ROWS];
    for (ptrdiff_t r = 0; r < n; r += FASTLR_BLOCK_ROWS) {
        ptrdiff_t t, nr = n - r < FASTLR_BLOCK_ROWS ? n - r : FASTLR_BLOCK_ROWS;
        memcpy(s + r * k, z + r * k, (size_t)(nr * k) * sizeof(double));
        for (t = 0; t < nr; t++) rows[t] = r + t;
        SFX(softmax_head_rows)(s + r * k, nr, k, y, rows, NULL, loss + r);
    }
}

/* The binary head's per-row terms, as the row loop computes them (4 at a time, the rest
 * one by one): loss[i] = l(y[i], z[i]), dz[i] = sigmoid(z[i]) - y[i]. For tests. */
static FASTLR_TARGET void SFX(fastlr_logistic_terms)(const double *z, const double *y,
                                                     ptrdiff_t n, double *loss, double *dz) {
    ptrdiff_t i = 0;
#if FASTLR_VECTOR
    for (; i + 4 <= n; i += 4) {
        SFX(v4) zv, yv, g, l;
        memcpy(&zv, z + i, sizeof zv);
        memcpy(&yv, y + i, sizeof yv);
        l = SFX(logistic4)(zv, yv, &g);
        memcpy(loss + i, &l, sizeof l);
        memcpy(dz + i, &g, sizeof g);
    }
#endif
    for (; i < n; i++) loss[i] = fastlr_logistic_loss_grad(y[i], z[i], &dz[i]);
}
#endif

/* ---- prediction: z = W x + b and the link, rows independent -------------------------- */

/* p1[i] = sigmoid(z[i]), p0[i] = sigmoid(-z[i]) for n <= FASTLR_SIG_N logits, from one
 * e^-|z| each: a full SIMD vector at a time (exp_neg_v, exp_neg4's operations on
 * FASTLR_VW lanes), or four through libm's exp without vector extensions. */
#if FASTLR_VECTOR
#define FASTLR_SIG_N FASTLR_VW

/* returns sigmoid(z) lane by lane, and sigmoid(-z) in *p0 */
static inline FASTLR_TARGET SFX(vd) SFX(sigmoid_v)(SFX(vd) z, SFX(vd) *p0) {
    const SFX(vd) one = VZERO + 1.0;
    SFX(vi) pos = z >= VZERO;
    SFX(vd) e = SFX(exp_neg_v)(-SFX(selv)(pos, z, -z));
    SFX(vd) big = one / (one + e), small = e * big;  /* sigmoid(|z|), sigmoid(-|z|) */
    *p0 = SFX(selv)(pos, small, big);
    return SFX(selv)(pos, big, small);
}

static inline FASTLR_TARGET void SFX(sigmoid_n)(const double *z, int n, double *p1,
                                                double *p0) {
    SFX(vd) zv = VZERO, q1, q0;
    memcpy(&zv, z, n * sizeof(double));
    q1 = SFX(sigmoid_v)(zv, &q0);
    memcpy(p1, &q1, n * sizeof(double));
    memcpy(p0, &q0, n * sizeof(double));
}
#else
#define FASTLR_SIG_N 4
static inline FASTLR_TARGET void SFX(sigmoid_n)(const double *z, int n, double *p1,
                                                double *p0) {
    double e[4], big, small;
    int i;
    for (i = 0; i < n; i++) e[i] = -fabs(z[i]);
    SFX(exp_neg_n)(e, n);
    for (i = 0; i < n; i++) {
        big = 1.0 / (1.0 + e[i]);  /* sigmoid(|z|) */
        small = e[i] * big;        /* sigmoid(-|z|) */
        p1[i] = z[i] >= 0 ? big : small;
        p0[i] = z[i] >= 0 ? small : big;
    }
}
#endif

/* z[i] = sigmoid(z[i]) for n logits, FASTLR_SIG_N at a time */
static inline FASTLR_TARGET void SFX(sigmoid_flat)(double *z, ptrdiff_t n) {
    double p1[FASTLR_SIG_N], p0[FASTLR_SIG_N];
    for (ptrdiff_t c = 0; c < n; c += FASTLR_SIG_N) {
        int nq = n - c < FASTLR_SIG_N ? (int)(n - c) : FASTLR_SIG_N;
        SFX(sigmoid_n)(z + c, nq, p1, p0);
        memcpy(z + c, p1, nq * sizeof(double));
    }
}

static inline void SFX(put)(void *out, int out_f32, ptrdiff_t i, double v) {
    if (out_f32)
        ((float *)out)[i] = (float)v;
    else
        ((double *)out)[i] = v;
}

#if FASTLR_MASKED_TAIL
/* The binary head's prediction, 8 rows a vector (AVX-512): lane t of the result is
 * x_t . w for the rows xs[0..7], each summed the same way (one accumulator per row, the
 * last d mod 8 columns as one masked vector, then hsum's order), so a row's logit does not
 * depend on its place in a block. The eight horizontal sums are one transpose-and-add tree
 * (hsum4's first stages, fold4, for each half; 21 instructions). The training loop's
 * dot_4rows adds the tail after the horizontal sum, so the two can differ in the last
 * bits. */
static inline FASTLR_TARGET __m512d SFX(dot_8rows)(const FLT *const *xs, const double *w,
                                                   ptrdiff_t d) {
    SFX(vd) a[8] = {VZERO, VZERO, VZERO, VZERO, VZERO, VZERO, VZERO, VZERO};
    ptrdiff_t j = 0;
    int t;
    for (; j + 8 <= d; j += 8) {
        SFX(vd) wv = SFX(ld_d)(w + j);
        for (t = 0; t < 8; t++) a[t] += SFX(ld_x)(xs[t] + j) * wv;
    }
    if (j < d) {
        SFX(vd) wv = SFX(ld_d_n)(w + j, d - j);
        for (t = 0; t < 8; t++) a[t] += SFX(ld_x_n)(xs[t] + j, d - j) * wv;
    }
    /* hsum4's tree for rows 0-3 and for rows 4-7, then the two 256-bit halves of both */
    __m512d q0 = SFX(fold4)(a[0], a[1], a[2], a[3]), q1 = SFX(fold4)(a[4], a[5], a[6], a[7]);
    return _mm512_add_pd(_mm512_shuffle_f64x2(q0, q1, 0x88),
                         _mm512_shuffle_f64x2(q0, q1, 0xdd));
}

/* out[i .. i + n) = the first n <= 8 lanes of v (as float when out_f32) */
static inline FASTLR_TARGET void SFX(store_n)(void *out, int out_f32, ptrdiff_t i, __m512d v,
                                              int n) {
    __mmask8 m = (__mmask8)((1u << n) - 1);
    if (out_f32)
        _mm256_mask_storeu_ps((float *)out + i, m, _mm512_cvtpd_ps(v));
    else
        _mm512_mask_storeu_pd((double *)out + i, m, v);
}

/* The link and the stores of 8 rows' logits z (rows r .. r + nr - 1 of out, nr <= 8; out
 * has one column, or two for probabilities with ocols 2); returns the lanes (of the first
 * nr) whose logit is not finite */
static inline __attribute__((always_inline)) FASTLR_TARGET __mmask8 SFX(binary8_out)(
        __m512d z, int nr, ptrdiff_t r, int proba, void *out, int out_f32, ptrdiff_t ocols) {
    /* z - z is NaN exactly when z is NaN or infinite */
    __mmask8 bad = _mm512_mask_cmp_pd_mask((__mmask8)((1u << nr) - 1), _mm512_sub_pd(z, z),
                                           _mm512_setzero_pd(), _CMP_NEQ_UQ);
    if (!proba) {
        SFX(store_n)(out, out_f32, r, z, nr);
        return bad;
    }
    SFX(vd) p0, p1 = SFX(sigmoid_v)((SFX(vd))z, &p0);
    if (ocols == 2) {  /* the rows' [1 - p, p] pairs: rows 0-3, then rows 4-7 */
        const __m512i lo = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0),
                      hi = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
        SFX(store_n)(out, out_f32, 2 * r, _mm512_permutex2var_pd((__m512d)p0, lo, (__m512d)p1),
                     nr >= 4 ? 8 : 2 * nr);
        if (nr > 4)
            SFX(store_n)(out, out_f32, 2 * r + 8,
                         _mm512_permutex2var_pd((__m512d)p0, hi, (__m512d)p1), 2 * (nr - 4));
    } else {
        SFX(store_n)(out, out_f32, r, (__m512d)p1, nr);
    }
    return bad;
}

/* Rows [r, stop) of the binary head's prediction, 8 at a time; a last block of fewer rows
 * repeats its last row in the unused lanes and stores only its own. Returns 1 when some
 * logit was not finite. pf: prefetch the rows PF_AHEAD ahead, as the training loop does.
 * Gathered rows need it; consecutive rows need it only beyond the caches. Measured with
 * one thread (medians, same process):
 *   10k x 20 float64 (1.6 MB, in L3):   35 us without, 58 us with;
 *   1M x 100 float32 (400 MB):          20.0 ms without, 12.0 ms with;
 *   1M x 100 float64 (800 MB):          22 ms without, 25.5 ms with (the old 4-row
 *                                       loop with prefetch: 28 ms).
 * Hence software prefetch for gathered rows and for more than PF_MIN_BYTES of consecutive
 * ones (the three cases are separate functions, which also keeps each loop's registers its
 * own). */
static inline __attribute__((always_inline)) FASTLR_TARGET int SFX(binary8_rows)(
        const FLT *X, ptrdiff_t d, const ptrdiff_t *idx, ptrdiff_t r, ptrdiff_t stop,
        const double *W, const double *b, int proba, void *out, int out_f32, ptrdiff_t ocols,
        const int pf) {
    const ptrdiff_t pf_limit = stop;
    const __m512d bv = _mm512_set1_pd(b[0]);
    __mmask8 bad = 0;
    for (; r < stop; r += 8) {
        const int nr = stop - r < 8 ? (int)(stop - r) : 8;
        const FLT *xs[8];
        for (int t = 0; t < 8; t++) {
            xs[t] = X + ROW(r + (t < nr ? t : nr - 1)) * d;
            if (pf) PREFETCH_X_AHEAD(r + t);
        }
        bad |= SFX(binary8_out)(_mm512_add_pd(SFX(dot_8rows)(xs, W, d), bv), nr, r, proba,
                                out, out_f32, ocols);
    }
    return bad != 0;
}
#define FASTLR_BINARY8(name, IDX, PF)                                                       \
    static __attribute__((noinline)) FASTLR_TARGET int name(                                \
            const FLT *X, ptrdiff_t d, const ptrdiff_t *idx, ptrdiff_t r, ptrdiff_t stop,   \
            const double *W, const double *b, int proba, void *out, int out_f32,            \
            ptrdiff_t ocols) {                                                              \
        (void)idx;                                                                          \
        return SFX(binary8_rows)(X, d, IDX, r, stop, W, b, proba, out, out_f32, ocols, PF); \
    }
FASTLR_BINARY8(SFX(binary8_seq), NULL, 0)
FASTLR_BINARY8(SFX(binary8_seq_pf), NULL, 1)
FASTLR_BINARY8(SFX(binary8_idx), idx, 1)
#define PF_MIN_BYTES ((ptrdiff_t)4 << 20)
#endif

/* softmax in place for nr rows of k logits (rows k apart): e^(z_c - m) / (1 + rest), the
 * denominator of the training loss */
static inline FASTLR_TARGET void SFX(softmax_probs)(double *z, ptrdiff_t nr, ptrdiff_t k) {
    ptrdiff_t im[FASTLR_BLOCK_ROWS];
    SFX(softmax_exps)(z, nr, k, im, NULL, NULL, NULL);
    for (ptrdiff_t t = 0; t < nr; t++) {
        double *zt = z + t * k, sum = 1.0 + SFX(softmax_rest)(zt, k, im[t]);
        for (ptrdiff_t c = 0; c < k; c++) zt[c] /= sum;
    }
}

/* rows [r, r + nr) of out (ocols = k columns) from the nr x k values z */
static inline void SFX(put_rows)(void *out, int out_f32, ptrdiff_t r, ptrdiff_t nr,
                                 ptrdiff_t k, const double *z) {
    ptrdiff_t j, n = nr * k;
    if (out_f32) {
        float *o = (float *)out + r * k;
        for (j = 0; j < n; j++) o[j] = (float)z[j];
    } else {
        memcpy((double *)out + r * k, z, n * sizeof(double));
    }
}

/* 1 when one of the n values is NaN or infinite (x - x is then NaN, else 0) */
static inline int SFX(any_nonfinite)(const double *z, ptrdiff_t n) {
    int bad = 0;
    for (ptrdiff_t j = 0; j < n; j++) bad |= (z[j] - z[j]) != 0.0;
    return bad;
}

/* The link of the k-output heads in place, for nr rows of k logits (rows k apart): softmax
 * or a sigmoid per label with proba, else (and for the squared head) the identity */
static inline FASTLR_TARGET void SFX(link_rows)(int head, int proba, double *z, ptrdiff_t nr,
                                                ptrdiff_t k) {
    if (proba && head == FASTLR_SOFTMAX)
        SFX(softmax_probs)(z, nr, k);
    else if (proba && head == FASTLR_MULTILABEL)
        SFX(sigmoid_flat)(z, nr * k);
}

/* Contract of SFX(fastlr_predict): for rows r in [start, stop) (X[idx[r]], or X[r] when idx
 * is NULL), z = W x + b (k values, in double) and, with proba, the head's link (sigmoid,
 * softmax, sigmoid per label; identity for the squared head) written to row r of out
 * (ocols columns: k, or 2 for the logistic head's [1 - p, p]; float when out_f32, else
 * double). scratch: fastlr_scratch_size(k) doubles. Returns 1 when some
 * logit was not finite (NaN or +-inf: the caller then checks X), else 0. The dot products
 * are those of the training loop, except the binary head's with AVX-512 (dot_8rows: the
 * same sums, equal to rounding). */
static FASTLR_TARGET int SFX(fastlr_predict)(int head, const FLT *X, ptrdiff_t d, ptrdiff_t k,
                                             const ptrdiff_t *idx, ptrdiff_t start,
                                             ptrdiff_t stop, const double *W, const double *b,
                                             int proba, void *out, int out_f32,
                                             ptrdiff_t ocols, double *scratch) {
    const ptrdiff_t pf_limit = stop;
    int bad = 0;  /* set when some logit is NaN or infinite */
    ptrdiff_t r = start, t;
#if FASTLR_MASKED_TAIL
    if (head == FASTLR_LOGISTIC)
        return (idx != NULL ? SFX(binary8_idx)
                : (stop - r) * d * (ptrdiff_t)sizeof(FLT) > PF_MIN_BYTES ? SFX(binary8_seq_pf)
                : SFX(binary8_seq))(X, d, idx, r, stop, W, b, proba, out, out_f32, ocols);
#endif
    if (head == FASTLR_LOGISTIC) {
        /* a block of logits first, then their links: the exponentials of a block are
         * independent, where one exp per 4 rows between dot products left the core waiting
         * on each exp's dependency chain (10k x 20 predict_proba: 152 -> 66 us) */
        double z[64], p1[64], p0[64];
        for (; r < stop; r += 64) {
            int nr = stop - r < 64 ? (int)(stop - r) : 64;
            for (t = 0; t + 4 <= nr; t += 4) {
                ptrdiff_t i[4], u;
                for (u = 0; u < 4; u++) {
                    i[u] = ROW(r + t + u);
                    PREFETCH_X_AHEAD(r + t + u);
                }
                SFX(dot_4rows)(X + i[0] * d, X + i[1] * d, X + i[2] * d, X + i[3] * d, W, d,
                               z + t);
            }
            if (t < nr) {  /* 1-3 rows: through dot_4rows too (the last row repeated), so
                            * that a row's sums do not depend on its place in a block */
                const FLT *xr[4];
                double zr[4];
                for (int u = 0; u < 4; u++)
                    xr[u] = X + ROW(r + (t + u < nr ? t + u : nr - 1)) * d;
                SFX(dot_4rows)(xr[0], xr[1], xr[2], xr[3], W, d, zr);
                memcpy(z + t, zr, (nr - t) * sizeof(double));
            }
            for (t = 0; t < nr; t++) {
                z[t] += b[0];
                bad |= (z[t] - z[t]) != 0.0;
            }
            if (!proba) {
                for (t = 0; t < nr; t++) SFX(put)(out, out_f32, (r + t) * ocols, z[t]);
                continue;
            }
            for (t = 0; t < nr; t += FASTLR_SIG_N)
                SFX(sigmoid_n)(z + t, nr - t < FASTLR_SIG_N ? nr - t : FASTLR_SIG_N, p1 + t,
                               p0 + t);
            if (ocols == 2)
                for (t = 0; t < nr; t++) {
                    SFX(put)(out, out_f32, (r + t) * 2, p0[t]);
                    SFX(put)(out, out_f32, (r + t) * 2 + 1, p1[t]);
                }
            else
                for (t = 0; t < nr; t++) SFX(put)(out, out_f32, r + t, p1[t]);
        }
        return bad;
    }
#ifdef KROWS
    /* Panels of up to block_rows(d) rows (32 for MNIST's 784 columns), class block by class
     * block: a block's coefficients (5 x 784 doubles, 31 KB) stay in L1 while the panel's
     * rows, in L2, pass under them, where 4 rows at a time with all classes streamed the
     * 63 KB of W from L2 for every 4 rows. The rows two panels ahead are fetched into L2
     * during the first class block. Each logit's sums are unchanged (dot_cb per row and
     * class). 10-class 200,000 x 784 float32, one thread, C harness, medians per row: 245
     * -> 185-195 ns for the logits, 262 -> 203 ns with the softmax (before: 4 rows at a
     * time, all classes, the rows 8 ahead prefetched into L1; a panel of 16 with L1
     * prefetch: 205-220 ns). Float64 X (6 KB rows) stays at about 430 ns either way. */
    const int n5 = SFX(blocks_of_5)(k), nblk = SFX(n_class_blocks)(k, n5);
    const ptrdiff_t panel = SFX(block_rows)(d);
    while (r < stop) {
        const ptrdiff_t np = stop - r >= panel ? panel : stop - r;
        ptrdiff_t c, g;
        for (int cb = 0; cb < nblk; cb++)
            for (g = 0; g < np; g += KROWS) {
                const FLT *xs[KROWS], *pf[KROWS];
                for (t = 0; t < KROWS; t++) {
                    ptrdiff_t ahead = r + g + t + 2 * panel;
                    /* a last group of 1-3 rows repeats its last row: every row goes
                     * through the same sums wherever it sits, so a row's logits do not
                     * depend on the rows around it (nor on how threads share them) */
                    xs[t] = X + ROW(g + t < np ? r + g + t : r + np - 1) * d;
                    pf[t] = ahead < pf_limit ? X + ROW(ahead) * d : xs[t];
                }
                SFX(dot_blk)(xs, W, NULL, d, k, n5, cb, cb + 1, scratch + g * k,
                             cb == 0 ? pf : NULL);
            }
        for (t = 0; t < np; t++)
            for (c = 0; c < k; c++) scratch[t * k + c] += b[c];
        bad |= SFX(any_nonfinite)(scratch, np * k);
        SFX(link_rows)(head, proba, scratch, np, k);
        SFX(put_rows)(out, out_f32, r, np, k, scratch);
        r += np;
    }
#endif
    for (; r < stop; r += 2) {
        ptrdiff_t i0 = ROW(r);
        const FLT *x1 = NULL;
        PREFETCH_X_AHEAD(r);
        if (r + 1 < stop) {
            PREFETCH_X_AHEAD(r + 1);
            x1 = X + ROW(r + 1) * d;
        }
        SFX(logits)(X + i0 * d, x1, W, b, d, k, scratch, scratch + k);
        for (t = 0; t < (x1 ? 2 : 1); t++) {
            bad |= SFX(any_nonfinite)(scratch + t * k, k);
            SFX(link_rows)(head, proba, scratch + t * k, 1, k);
            SFX(put_rows)(out, out_f32, r + t, 1, k, scratch + t * k);
        }
    }
    return bad;
}

#if !FASTLR_FLT_FLOAT
/* ---- the optimiser step (parameters are double whatever X's dtype: one copy per ISA) ---
 * Contract of SFX(fastlr_opt_step): for j < m, with g_j = s->scale g[j] + s->l2 p[j] (the
 * batch mean of the gradient sums plus the L2 term), apply SGD / momentum / Nesterov / Adam
 * (the formulas of _sgd.pyx's docstring) and the L1 proximal step to p[j], and set g[j] = 0
 * for the next batch. With s->want_reg, reg[0] = sum p_j^2 and reg[1] = sum |p_j| of the
 * updated p (the next batch's penalty). One pass over p, g and the buffers; the tail
 * shorter than a vector runs through the same vector code on padded copies. */
static FASTLR_TARGET void SFX(fastlr_opt_step)(const fastlr_step_t *s_in, double *p,
                                               double *g, double *buf1, double *buf2,
                                               ptrdiff_t m, double *reg) {
    /* a local copy: the stores to p could alias *s_in, whose fields would then be reloaded
     * after every vector */
    const fastlr_step_t s_local = *s_in, *s = &s_local;
    ptrdiff_t j = 0;
    double r2 = 0.0, r1 = 0.0;
#if FASTLR_VECTOR
    const SFX(vi) absmask = (SFX(vi))VZERO + 0x7fffffffffffffffLL;
    SFX(vd) a2 = VZERO, a1 = VZERO;
    int moments = s->adam || s->momentum != 0.0;
    for (;; j += FASTLR_VW) {
        /* the tail runs through padded copies; one call site of step_v for both, so the
         * compiler contracts its products into FMAs the same way for every element (with
         * two inlined copies it did not always: an element's update depended on whether it
         * sat in the tail, and so on how the parameters were cut into slices) */
        double tp[FASTLR_VW], tg[FASTLR_VW], t1[FASTLR_VW], t2[FASTLR_VW];
        SFX(vd) pv, b1 = VZERO, b2 = VZERO;
        ptrdiff_t left = m - j;
        int full = left >= FASTLR_VW;
        double *pp = p + j, *gp = g + j, *b1p = buf1 + j, *b2p = buf2 + j;
        if (left <= 0) break;
        if (!full) {
            memset(tp, 0, sizeof tp);
            memset(tg, 0, sizeof tg);
            memset(t1, 0, sizeof t1);
            memset(t2, 0, sizeof t2);
            memcpy(tp, pp, left * sizeof(double));
            memcpy(tg, gp, left * sizeof(double));
            if (moments) memcpy(t1, b1p, left * sizeof(double));
            if (s->adam) memcpy(t2, b2p, left * sizeof(double));
            pp = tp;
            gp = tg;
            b1p = t1;
            b2p = t2;
        }
        if (moments) b1 = SFX(ld_d)(b1p);
        if (s->adam) b2 = SFX(ld_d)(b2p);
        pv = SFX(step_v)(s, SFX(ld_d)(pp), SFX(ld_d)(gp), &b1, &b2);
        SFX(st_d)(pp, pv);
        SFX(st_d)(gp, VZERO);
        if (moments) SFX(st_d)(b1p, b1);
        if (s->adam) SFX(st_d)(b2p, b2);
        if (!full) {
            for (ptrdiff_t l = left; l < FASTLR_VW; l++) tp[l] = 0.0;
            pv = SFX(ld_d)(tp);
            memcpy(p + j, tp, left * sizeof(double));
            memset(g + j, 0, left * sizeof(double));
            if (moments) memcpy(buf1 + j, t1, left * sizeof(double));
            if (s->adam) memcpy(buf2 + j, t2, left * sizeof(double));
        }
        if (s->want_reg) {
            a2 += pv * pv;
            a1 += (SFX(vd))((SFX(vi))pv & absmask);
        }
    }
    r2 = SFX(hsum)(a2);
    r1 = SFX(hsum)(a1);
#else
    for (; j < m; j++) {
        double gj = g[j] * s->scale + p[j] * s->l2, pj = p[j], t = s->lr * s->l1;
        if (s->adam) {
            double denom;
            buf1[j] += (gj - buf1[j]) * (1.0 - s->beta1);
            buf2[j] = buf2[j] * s->beta2 + gj * gj * (1.0 - s->beta2);
            denom = sqrt(buf2[j]) * s->ibc2s + s->eps;
            pj -= s->step_size * buf1[j] / denom;
            t /= denom;
        } else {
            if (s->momentum != 0.0) {
                buf1[j] = buf1[j] * s->momentum + gj;
                gj = s->nesterov ? gj + buf1[j] * s->momentum : buf1[j];
            }
            pj -= s->lr * gj;
        }
        if (s->l1 > 0.0) pj = pj > t ? pj - t : (pj < -t ? pj + t : 0.0);
        p[j] = pj;
        g[j] = 0.0;
        r2 += pj * pj;
        r1 += fabs(pj);
    }
#endif
    if (s->want_reg) {
        reg[0] = r2;
        reg[1] = r1;
    }
}
#endif

#if defined(KROWS) && defined(_OPENMP)
/* Contract of SFX(fastlr_split_batches): batches [batch_lo, batch_hi) of a mini-batch epoch
 * of a k-output head, as _sgd.run_epoch runs them (batch bi: positions [bi bs, bi bs + bs)
 * of a->idx, or of 0..m-1 when NULL; loss check, optimiser step), with the class blocks
 * shared by a->nt threads: each owns the blocks [nblk t / nt, nblk (t + 1) / nt) and their
 * coefficients, intercepts, gradient and optimiser buffers. Per row block of a batch a
 * thread computes its classes' logits into the shared a->Z, meets the others at a
 * barrier, then computes the head of the block's rows from all the logits (each thread
 * the same numbers, so each takes the same loss and the same decision to stop) and its
 * classes' gradient; after the batch's last block, its step. The penalty's sums are kept
 * per class block (a->regc, carried from call to call while a->regc_valid) and added in
 * block order. The logits alternate between two buffers by block parity and the penalty
 * sums each batch reads (a->regp) by batch parity, so one barrier per block suffices: a
 * thread cannot write a buffer again before the others have passed the next barrier,
 * after they finished reading it.
 * The coefficients and the loss come out bit-identical to one thread's (same blocks, same
 * per-class arithmetic, the same sums in the same order), whatever a->nt is from one call
 * to the next: _sgd.run_epoch may run an epoch's batches in chunks on different numbers
 * of threads.
 * a->Z: 2 (min(bs, block_rows(d)) + KROWS) k doubles; a->scratch: nt
 * fastlr_scratch_size(k); a->regp: 4 nblk; a->regc: 2 nblk; a->bar: 16 zeros
 * (fastlr_spin_barrier's). */
static FASTLR_TARGET void SFX(fastlr_split_batches)(fastlr_split_t *a, const FLT *X,
                                                    ptrdiff_t batch_lo, ptrdiff_t batch_hi) {
    const int head = a->head, nt = a->nt;
    const ptrdiff_t d = a->d, k = a->k, kd = k * d, m = a->m, bs = a->bs;
    const ptrdiff_t ycols = head == FASTLR_SOFTMAX ? 1 : k;
    const ptrdiff_t *idx = a->idx;
    const double *Y = a->Y, *sw = a->sw;
    const int n5 = SFX(blocks_of_5)(k), nblk = SFX(n_class_blocks)(k, n5);
    const ptrdiff_t rb = SFX(block_rows)(d), zrows = (bs < rb ? bs : rb) + KROWS;
#pragma omp parallel num_threads(nt)
    {
        const int tid = omp_get_thread_num();
        const int b0 = nblk * tid / nt, b1 = nblk * (tid + 1) / nt;
        const ptrdiff_t c0 = SFX(class_block_start)(n5, b0);
        const ptrdiff_t c1 = b1 < nblk ? SFX(class_block_start)(n5, b1) : k;
        double *A = a->scratch + tid * fastlr_scratch_size(k), *ab = A + FASTLR_BLOCK_ROWS * k;
        double *W = a->W, *b = a->b, *G = a->G;
        fastlr_step_t sW = a->sW, sb = a->sb;
        long step = a->step;
#if FASTLR_FLT_FLOAT
        float *W32 = a->W32;
        if (W32 != NULL) {
            fastlr_round_coef(W + c0 * d, W32 + c0 * d, (c1 - c0) * d);
            fastlr_round_f32(b + c0, c1 - c0);
        }
#else
        float *W32 = NULL;
#endif
        double loss_sum = 0.0, *regc = a->regc;
        ptrdiff_t ran = 0, bi, j, zpar = 0;
        int status = 0;
#if FASTLR_FLT_FLOAT
        int stale = 0; /* fused steps updated W32 alone: W is widened from it at the end */
#endif
        /* each class block's penalty sums, kept per block (not per thread) and added in
         * block order, so that the loss does not depend on the number of threads either */
        if (a->penalised && !a->regc_valid)
            CLASS_BLOCK_LOOP(cb, c, kq, b0, b1) {
                double r2 = 0.0, r1 = 0.0;
                for (j = c * d; j < (c + kq) * d; j++) {
                    r2 += W[j] * W[j];
                    r1 += fabs(W[j]);
                }
                regc[2 * cb] = r2;
                regc[2 * cb + 1] = r1;
            }
        for (bi = batch_lo; bi < batch_hi; bi++) {
            const ptrdiff_t start = bi * bs, stop = start + bs < m ? start + bs : m;
            double *rp = a->regp + (bi & 1) * 2 * nblk;
            /* a batch of one row block has its loss before its gradient: the step is then
             * taken tile by tile inside the gradient pass (fastlr_fuse_t) */
            const int fused = a->fuse && stop - start <= rb;
            const FLT *xs[FASTLR_BLOCK_ROWS], *pfn[FASTLR_BLOCK_ROWS];
            ptrdiff_t i[FASTLR_BLOCK_ROWS], r, nr = 0;
            double bl = 0.0, inv;
            if (a->penalised) memcpy(rp + 2 * b0, regc + 2 * b0, 2 * (b1 - b0) * sizeof(double));
            for (r = start; r < stop; r += nr) {
                /* a row block at a time, so that its rows are still in L2 for the
                 * gradient (a batch's logits first, then its gradients, read a batch of
                 * 256 rows twice from L3: two threads were no faster than one) */
                double *Z = a->Z + (zpar++ & 1) * zrows * k;
                nr = stop - r < rb ? stop - r : rb;
                SFX(gather_block)(X, d, idx, r, nr, i, xs);
                SFX(block_logits)(d, k, Y, ycols, sw, idx, r, nr, m, xs, W, W32, b, n5, b0,
                                  b1, Z);
                fastlr_spin_barrier(a->bar, nt);
                memcpy(A, Z, nr * k * sizeof(double));
                bl += SFX(block_head)(head, A, nr, k, Y, ycols, i, sw, a->lw);
                if (!fused) {
                    int npf = SFX(next_rows)(X, d, idx, r + nr, nr, m, pfn);
                    SFX(block_grad)(A, xs, nr, G, G + kd, d, k, n5, b0, b1, ab, pfn, npf, NULL,
                                    W32, NULL);
                }
            }
            inv = a->loss_scale / (double)(stop - start);
            bl *= inv;
            if (a->penalised) {
                double r2 = 0.0, r1 = 0.0;
                for (int t = 0; t < nblk; t++) {
                    r2 += rp[2 * t];
                    r1 += rp[2 * t + 1];
                }
                bl += 0.5 * a->alpha_l2 * r2 + a->alpha_l1 * r1;
            }
            if (!isfinite(bl)) {
                status = 1;
                break;
            }
            loss_sum += bl;
            ran++;
            step++;
            if (fused) {
                fastlr_fuse_t fu;
#if FASTLR_FLT_FLOAT
                stale = W32 != NULL;
#endif
                int npf = SFX(next_rows)(X, d, idx, stop, nr, m, pfn);
                fastlr_step_prepare(&sW, &sb, step, inv);
                fu.s = sW;
                fu.W = W;
                fu.buf1 = a->buf1;
                fu.buf2 = a->buf2;
                fu.buf1_32 = a->buf1_32;
                fu.buf2_32 = a->buf2_32;
                fu.reg[0] = fu.reg[1] = 0.0;
                SFX(block_grad)(A, xs, nr, G, G + kd, d, k, n5, b0, b1, ab, pfn, npf, &fu, W32,
                                sW.want_reg ? regc : NULL);
                fastlr_intercept_update(&sb, a->fit_intercept, b, G, a->buf1, a->buf2, d, k, c0,
                                        c1);
#if FASTLR_FLT_FLOAT
                if (W32 != NULL) fastlr_round_f32(b + c0, c1 - c0);
#endif
            } else {
                CLASS_BLOCK_LOOP(cb, c, kq, b0, b1) { /* per block: its own penalty sums */
#if FASTLR_FLT_FLOAT
                    if (W32 != NULL) /* float32 coefficients and state */
                        fastlr_batch_update32(&sW, &sb, step, inv, a->fit_intercept, W, W32, b,
                                              G, a->buf1, a->buf2, a->buf1_32, a->buf2_32, d,
                                              k, c, c + kq, regc + 2 * cb);
                    else
#endif
                        fastlr_batch_update(&sW, &sb, step, inv, a->fit_intercept, W, b, G,
                                            a->buf1, a->buf2, d, k, c, c + kq, regc + 2 * cb);
                }
            }
        }
#if FASTLR_FLT_FLOAT
        if (stale) fastlr_widen_coef(W32 + c0 * d, W + c0 * d, (c1 - c0) * d);
#endif
        if (tid == 0) {
            a->loss_sum = loss_sum;
            a->ran = ran;
            a->step = step;
            a->status = status;
            a->regc_valid = a->penalised && sW.want_reg;
        }
    }
}
#endif

#ifdef KROWS
#undef KROWS
#undef CLASS_BLOCK_LOOP
#endif
#undef ROW
#undef PREFETCH_AHEAD
#undef PREFETCH_X_AHEAD
#undef PF_AHEAD
#ifdef PF_MIN_BYTES
#undef PF_MIN_BYTES
#undef FASTLR_BINARY8
#endif
#undef FASTLR_SIG_N
#undef FASTLR_DEFINE_EXP_NEG
#ifdef FASTLR_FW
#undef FASTLR_FW
#endif
#ifdef VZERO
#undef VZERO
#endif
#undef FASTLR_CAT_
