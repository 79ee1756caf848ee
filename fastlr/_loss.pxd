# Design: layer 2 of fastlr (fused kernels), declared here so that the solver loops in
# _sgd.pyx can call them without Python. See _loss.pyx for the formulas.

from fastlr._math cimport floating

cdef enum:
    HEAD_LOGISTIC = 0    # k = 1, sigmoid + binary cross-entropy, y in [0, 1]
    HEAD_SOFTMAX = 1     # k classes, softmax + cross-entropy, y = class index
    HEAD_MULTILABEL = 2  # k labels, one sigmoid + BCE each, y in [0, 1]^k
    HEAD_SQUARED = 3     # k outputs, identity + 1/2 squared error, y real


cdef Py_ssize_t workspace_size(Py_ssize_t k, Py_ssize_t d, int n_threads) noexcept nogil

cdef double loss_grad(int head, const floating* X, Py_ssize_t d, Py_ssize_t k,
                      const double* Y, const double* sw, const double* lw,
                      const Py_ssize_t* idx,
                      Py_ssize_t start, Py_ssize_t stop, Py_ssize_t pf_limit,
                      const double* W, const double* b,
                      double* GW, double* Gb,
                      int n_threads, double* work,
                      const float* W32) noexcept nogil
