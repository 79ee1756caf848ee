"""Shared fixtures."""

import pytest


@pytest.fixture
def torch1():
    """torch, single-threaded while the test runs (tiny tensors: a thread pool costs more
    than it saves; see _reference_sgd)."""
    torch = pytest.importorskip("torch")
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(n_threads)


@pytest.fixture
def double_arithmetic():
    """A context manager: inside it, mini-batch training of float32 X runs in double
    arithmetic (fastlr's float32 arithmetic switched off, as on CPUs without AVX-512)."""
    import contextlib

    from fastlr import _sgd

    @contextlib.contextmanager
    def switch():
        old = _sgd._set_float32_arithmetic(False)
        try:
            yield
        finally:
            _sgd._set_float32_arithmetic(old)
    return switch
