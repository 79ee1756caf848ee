# Design: layer 1 of fastlr (scalar math and dot products), declared from _kernels.h so
# that each formula is written once, in C, and shared by the training kernels (C) and
# the prediction kernels (Cython, _loss.pyx). See _kernels.h for the numerics.

ctypedef fused floating:
    float
    double

cdef extern from "_kernels.h":
    double fastlr_sigmoid(double z) noexcept nogil
    double fastlr_log1pexp(double z) noexcept nogil
    double fastlr_logistic_loss(double y, double z) noexcept nogil
    double fastlr_dot_f64(const double* x, const double* w, Py_ssize_t d) noexcept nogil
    double fastlr_dot_f32(const float* x, const double* w, Py_ssize_t d) noexcept nogil
    double fastlr_rows_f64(int head, const double* X, Py_ssize_t d, Py_ssize_t k,
                           const double* Y, const double* sw, const double* lw,
                           const Py_ssize_t* idx, Py_ssize_t start, Py_ssize_t stop,
                           Py_ssize_t pf_limit, const double* W, const double* b,
                           double* GW, double* Gb, double* scratch) noexcept nogil
    double fastlr_rows_f32(int head, const float* X, Py_ssize_t d, Py_ssize_t k,
                           const double* Y, const double* sw, const double* lw,
                           const Py_ssize_t* idx, Py_ssize_t start, Py_ssize_t stop,
                           Py_ssize_t pf_limit, const double* W, const float* W32,
                           const double* b, double* GW, double* Gb,
                           double* scratch) noexcept nogil
    void fastlr_round_coef(double* W, float* W32, Py_ssize_t n) noexcept nogil
    void fastlr_round_f32(double* v, Py_ssize_t n) noexcept nogil
    void fastlr_logistic_terms(const double* z, const double* y, Py_ssize_t n,
                               double* loss, double* dz) noexcept nogil
    void fastlr_softmax_terms(const double* z, const double* y, Py_ssize_t n, Py_ssize_t k,
                              double* loss, double* s) noexcept nogil
    ctypedef struct fastlr_step_t:
        int adam
        int nesterov
        int want_reg
        double lr
        double momentum
        double beta1
        double beta2
        double eps
        double step_size
        double ibc2s
        double scale
        double l2
        double l1
    void fastlr_opt_step(const fastlr_step_t* s, double* p, double* g, double* buf1,
                         double* buf2, Py_ssize_t m, double* reg) noexcept nogil
    void fastlr_batch_update(fastlr_step_t* sW, fastlr_step_t* sb, long step, double scale,
                             int fit_intercept, double* W, double* b, double* G,
                             double* buf1, double* buf2, Py_ssize_t d, Py_ssize_t k,
                             Py_ssize_t c0, Py_ssize_t c1, double* reg) noexcept nogil
    void fastlr_batch_update32(fastlr_step_t* sW, fastlr_step_t* sb, long step, double scale,
                               int fit_intercept, double* W, float* W32, double* b, double* G,
                               double* buf1, double* buf2, float* buf1_32, float* buf2_32,
                               Py_ssize_t d, Py_ssize_t k, Py_ssize_t c0, Py_ssize_t c1,
                               double* reg) noexcept nogil
    int fastlr_predict_f64(int head, const double* X, Py_ssize_t d, Py_ssize_t k,
                           const Py_ssize_t* idx, Py_ssize_t start, Py_ssize_t stop,
                           const double* W, const double* b, int proba, void* out,
                           int out_f32, Py_ssize_t ocols, double* scratch) noexcept nogil
    int fastlr_predict_f32(int head, const float* X, Py_ssize_t d, Py_ssize_t k,
                           const Py_ssize_t* idx, Py_ssize_t start, Py_ssize_t stop,
                           const double* W, const double* b, int proba, void* out,
                           int out_f32, Py_ssize_t ocols, double* scratch) noexcept nogil
    Py_ssize_t fastlr_scratch_size(Py_ssize_t k) noexcept nogil
    ctypedef struct fastlr_split_t:
        int head
        int nt
        Py_ssize_t d
        Py_ssize_t k
        Py_ssize_t m
        Py_ssize_t bs
        const double* Y
        const double* sw
        const double* lw
        const Py_ssize_t* idx
        double* W
        double* b
        double* G
        double* buf1
        double* buf2
        float* W32
        float* buf1_32
        float* buf2_32
        fastlr_step_t sW
        fastlr_step_t sb
        double loss_scale
        double alpha_l2
        double alpha_l1
        int penalised
        int fit_intercept
        double* Z
        int fuse
        double* scratch
        double* regp
        double* regc
        int regc_valid
        long long* bar
        long step
        double loss_sum
        Py_ssize_t ran
        int status
    int fastlr_split_available() noexcept nogil
    double fastlr_wtime() noexcept nogil
    Py_ssize_t fastlr_fused_batch_rows(Py_ssize_t d, int itemsize) noexcept nogil
    int fastlr_class_blocks(Py_ssize_t k) noexcept nogil
    void fastlr_split_batches_f64(fastlr_split_t* a, const double* X, Py_ssize_t lo,
                                  Py_ssize_t hi) noexcept nogil
    void fastlr_split_batches_f32(fastlr_split_t* a, const float* X, Py_ssize_t lo,
                                  Py_ssize_t hi) noexcept nogil
    void fastlr_select_kernels(int max_level) noexcept nogil
    int fastlr_simd_level


cdef inline double dot(const floating* x, const double* w, Py_ssize_t d) noexcept nogil:
    """sum_j x[j] w[j] in double, in a fixed (SIMD-blocked) order."""
    if floating is float:
        return fastlr_dot_f32(x, w, d)
    else:
        return fastlr_dot_f64(x, w, d)
