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


class _SwitchedOff:
    """A context manager: one of _sgd's test switches (a ``_set_...(on)`` function that
    returns the previous setting) off inside it, restored afterwards."""

    def __init__(self, setter):
        self.setter = setter

    def __enter__(self):
        self.old = self.setter(False)

    def __exit__(self, *exc):
        self.setter(self.old)


@pytest.fixture
def unfused():
    """Inside it, mini-batch steps are taken after the gradient pass, not inside it."""
    from fastlr import _sgd
    return _SwitchedOff(_sgd._set_fused)


@pytest.fixture
def double_arithmetic():
    """Inside it, mini-batch training of float32 X runs in double arithmetic (fastlr's
    float32 arithmetic switched off, as on CPUs without AVX-512)."""
    from fastlr import _sgd
    return _SwitchedOff(_sgd._set_float32_arithmetic)
