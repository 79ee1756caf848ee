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


class _Setting:
    """A context manager: one of _sgd's test settings (a ``_set_...(value)`` function that
    returns the previous value) set to ``value`` inside it, restored afterwards."""

    def __init__(self, setter, value):
        self.setter = setter
        self.value = value

    def __enter__(self):
        self.old = self.setter(self.value)

    def __exit__(self, *exc):
        self.setter(self.old)


@pytest.fixture
def unfused():
    """Inside it, mini-batch steps are taken after the gradient pass, not inside it."""
    from fastlr import _sgd
    return _Setting(_sgd._set_fused, False)


@pytest.fixture
def double_arithmetic():
    """Inside it, mini-batch training of float32 X runs in double arithmetic (fastlr's
    float32 arithmetic switched off, as on CPUs without AVX-512)."""
    from fastlr import _sgd
    return _Setting(_sgd._set_float32_arithmetic, False)


@pytest.fixture
def thread_schedule():
    """thread_schedule(schedule, chunk): a context manager inside which class-split epochs
    run chunk i of ``chunk`` batches on ``schedule[i % len(schedule)]`` threads instead of
    timing their chunks (_sgd._set_thread_schedule)."""
    from fastlr import _sgd
    return lambda schedule, chunk: _Setting(_sgd._set_thread_schedule, (schedule, chunk))
