# Design: the solvers' own PRNG (layer 3 support). SplitMix64 (Steele, Lea & Flood, 2014)
# keeps one uint64 of state, is fast and statistically sound for shuffling. A seed comes
# from numpy in Python (``random_state``); the loops never call back into Python.
#
# An epoch's row order is an "inside-out" Fisher-Yates shuffle (Durstenfeld's algorithm
# run forwards, Knuth TAOCP vol. 2, 3.4.2): step i draws j uniform in [0, i], moves a[j]
# to a[i] and puts element i at a[j], so it fills and shuffles the order in one pass (no
# separate a[i] = i pass). The draw is floor(r (i + 1) / 2^64) for a 64-bit r (Lemire,
# "Fast random integer generation in an interval", ACM TOMACS 2019), a multiply where
# r % (i + 1) is a 64-bit division; its bias is below (i + 1) / 2^64, as the modulo's.
# The a[j] of a step are random reads in an 8 MB array for 1,000,000 rows, so the draws
# run SHUFFLE_AHEAD steps ahead and their a[j] are prefetched (same draws, same order).
# 1,000,000 rows, C harness: 3.6 ms with a[i] = i, then r % (i + 1) swaps; 1.7 ms now.

from libc.stdint cimport uint64_t


cdef extern from *:
    """
    #include <stddef.h>
    #include <stdint.h>
    #if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_ARM64))
    #include <intrin.h>
    #endif

    static inline uint64_t fastlr_splitmix64(uint64_t *state) {
        uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }

    /* floor(r m / 2^64), in [0, m): the high half of the 128-bit product */
    static inline ptrdiff_t fastlr_below(uint64_t r, uint64_t m) {
    #if defined(__SIZEOF_INT128__)
        return (ptrdiff_t)(((unsigned __int128)r * m) >> 64);
    #elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_ARM64))
        return (ptrdiff_t)__umulh(r, m);
    #else
        uint64_t rl = r & 0xffffffffu, rh = r >> 32, ml = m & 0xffffffffu, mh = m >> 32;
        uint64_t lo = rl * ml, mid1 = rh * ml, mid2 = rl * mh;
        uint64_t carry = ((lo >> 32) + (mid1 & 0xffffffffu) + (mid2 & 0xffffffffu)) >> 32;
        return (ptrdiff_t)(rh * mh + (mid1 >> 32) + (mid2 >> 32) + carry);
    #endif
    }

    #define FASTLR_SHUFFLE_AHEAD 16

    /* the draw of step t (j uniform in [0, t]) into its slot of js, and a prefetch of a[j] */
    static inline void fastlr_draw_ahead(ptrdiff_t *a, ptrdiff_t *js, ptrdiff_t t,
                                         uint64_t *state) {
        ptrdiff_t j = fastlr_below(fastlr_splitmix64(state), (uint64_t)t + 1);
        js[t % FASTLR_SHUFFLE_AHEAD] = j;
    #if defined(__GNUC__)
        __builtin_prefetch(a + j, 1);
    #else
        (void)a;
    #endif
    }

    /* a[0:n] = a uniform permutation of src[0:n] (of 0..n-1 when src is NULL), drawn
     * from *state (see _random.pxd). The draws are those of steps i = 1 .. n-1 in order,
     * made FASTLR_SHUFFLE_AHEAD steps early so that a[j] can be prefetched. */
    static inline void fastlr_shuffle(ptrdiff_t *a, const ptrdiff_t *src, ptrdiff_t n,
                                      uint64_t *state) {
        ptrdiff_t js[FASTLR_SHUFFLE_AHEAD], i, t;
        if (n <= 0)
            return;
        for (t = 1; t <= FASTLR_SHUFFLE_AHEAD && t < n; t++)
            fastlr_draw_ahead(a, js, t, state);
        a[0] = src != NULL ? src[0] : 0;
        for (i = 1; i < n; i++) {
            ptrdiff_t j = js[i % FASTLR_SHUFFLE_AHEAD], v = src != NULL ? src[i] : i;
            if (i + FASTLR_SHUFFLE_AHEAD < n)
                fastlr_draw_ahead(a, js, i + FASTLR_SHUFFLE_AHEAD, state);
            if (j == i) {
                a[i] = v;
            } else {
                a[i] = a[j];
                a[j] = v;
            }
        }
    }
    """
    void fastlr_shuffle(Py_ssize_t* a, const Py_ssize_t* src, Py_ssize_t n,
                        uint64_t* state) noexcept nogil
