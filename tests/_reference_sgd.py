"""Plain NumPy reference for fastlr's mini-batch training (never imports fastlr).

``reference_fit`` re-implements, in the most literal way, what a PyTorch lecture loop
does::

    model = nn.Linear(d, k)                      # W (k, d), b (k,)
    for epoch in range(epochs):
        for xb, yb in DataLoader(..., batch_size, shuffle=False, drop_last):
            loss = criterion(model(xb), yb)      # reduction='mean'
            loss += 0.5 * wd * ||W||^2           # L2 on W only (not on b)
            optimizer.zero_grad(); loss.backward(); optimizer.step()

with ``criterion`` sigmoid + binary cross-entropy (``head='logistic'``, k = 1) or
softmax + cross-entropy (``head='softmax'``, class index = column of W), and the
optimiser ``torch.optim.SGD`` (momentum, dampening 0, Nesterov) or ``torch.optim.Adam``
(no amsgrad). The loss recorded for an epoch is the mean of its batch losses, each
computed in the forward pass before that batch's update.

Sample weights ``s_i`` enter the batch loss as ``sum_{i in B} s_i l_i / |B|`` (the
weighted sum divided by the batch size, not by the sum of the weights).

``torch_fit`` runs the same loop in PyTorch (float64, DataLoader over a TensorDataset);
torch is imported only when it is called.
"""

import numpy as np
from _reference import binary_cross_entropy, per_sample_loss, residual


def _batches(n, batch_size, drop_last):
    """(start, stop) of each batch, in order, as torch's DataLoader (no shuffling)."""
    out = []
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        if drop_last and stop - start < batch_size:
            continue
        out.append((start, stop))
    return out


def _sigmoid(z):
    """1 / (1 + e^-z) without overflow: exp only ever sees non-positive arguments."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def loss_and_grad(head, Xb, yb, W, b, sb=None, weight_decay=0.0):
    """Batch objective and its gradient.

    Parameters
    ----------
    head : 'logistic' or 'softmax'
    Xb : (m, d) float64
    yb : (m,) 0/1 floats (logistic) or integer class indices (softmax)
    W : (k, d), b : (k,)
    sb : (m,) sample weights or None
    weight_decay : L2 strength on W (the penalty is ``0.5 * wd * ||W||^2``)

    Returns
    -------
    loss : float, gW : (k, d), gb : (k,)
    """
    m = Xb.shape[0]
    s = np.ones(m) if sb is None else np.asarray(sb, dtype=np.float64)
    Z = Xb @ W.T + b  # (m, k)
    if head == "logistic":
        z = Z[:, 0]
        y = np.asarray(yb, dtype=np.float64)
        per_sample = np.logaddexp(0.0, z) - y * z  # BCE on the logit
        dZ = (_sigmoid(z) - y)[:, None]
    elif head == "softmax":
        yi = np.asarray(yb, dtype=np.intp)
        zmax = Z.max(axis=1, keepdims=True)
        E = np.exp(Z - zmax)
        sumexp = E.sum(axis=1, keepdims=True)
        lse = zmax[:, 0] + np.log(sumexp[:, 0])
        per_sample = lse - Z[np.arange(m), yi]
        P = E / sumexp
        dZ = P.copy()
        dZ[np.arange(m), yi] -= 1.0
    else:
        raise ValueError(head)
    loss = float(np.sum(s * per_sample) / m)
    dZ = dZ * (s / m)[:, None]
    gW = dZ.T @ Xb
    gb = dZ.sum(axis=0)
    if weight_decay:
        loss += 0.5 * weight_decay * float(np.sum(W * W))
        gW = gW + weight_decay * W
    return loss, gW, gb


class _SGD:
    """torch.optim.SGD, dampening 0: buf = mu buf + g (buf = g at step 1);
    g <- g + mu buf (Nesterov) or buf; p -= lr g."""

    def __init__(self, lr, momentum=0.0, nesterov=False):
        self.lr, self.momentum, self.nesterov = lr, momentum, nesterov
        self.buf = {}

    def step(self, key, p, g):
        if self.momentum != 0.0:
            if key not in self.buf:
                buf = g.copy()  # torch: buf = clone(g) at the first step
            else:
                buf = self.momentum * self.buf[key] + g
            self.buf[key] = buf
            g = g + self.momentum * buf if self.nesterov else buf
        return p - self.lr * g


class _Adam:
    """torch.optim.Adam (amsgrad=False, weight_decay=0)."""

    def __init__(self, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m, self.v, self.t, self.denom = {}, {}, {}, {}

    def step(self, key, p, g):
        t = self.t.get(key, 0) + 1
        self.t[key] = t
        m = self.m.get(key, np.zeros_like(p))
        v = self.v.get(key, np.zeros_like(p))
        m = m + (1.0 - self.beta1) * (g - m)  # lerp
        v = self.beta2 * v + (1.0 - self.beta2) * g * g
        self.m[key], self.v[key] = m, v
        bc1 = 1.0 - self.beta1 ** t
        bc2_sqrt = np.sqrt(1.0 - self.beta2 ** t)
        denom = np.sqrt(v) / bc2_sqrt + self.eps
        self.denom[key] = denom
        return p - (self.lr / bc1) * m / denom


def _rounded(a, dtype):
    """a rounded to dtype, back in float64"""
    return np.asarray(a).astype(dtype).astype(np.float64)


def reference_fit(X, y, W0, b0, *, head, solver="sgd", lr=0.01, momentum=0.0,
                  nesterov=False, beta1=0.9, beta2=0.999, eps=1e-8, batch_size=None,
                  epochs=1, drop_last=False, weight_decay=0.0, sample_weight=None,
                  perms=None, l1=0.0, param_dtype=None):
    """Train ``z = W x + b`` by mini-batch SGD / Adam, in NumPy float64.

    ``param_dtype=np.float32`` rounds W and b to float32 after every step, as training
    float32 parameters does (the optimiser state stays float64).

    ``l1`` adds ``l1 * ||W||_1`` to each batch loss and, after each update of W, the
    proximal step of that term: soft-thresholding of every coefficient by the step it
    took, ``lr * l1`` for SGD and ``lr * l1 / denom`` (Adam's per-coordinate divisor)
    for Adam. PyTorch has no such step; this is fastlr's documented rule.

    Parameters
    ----------
    X : (n, d) array (any float dtype; read as float64)
    y : (n,) 0/1 (logistic) or class indices 0..k-1 (softmax)
    W0 : (k, d), b0 : (k,) initial parameters (not modified)
    perms : optional sequence of ``epochs`` permutations of range(n): the row order of
        each epoch (default: the natural order, i.e. shuffle=False)

    Returns
    -------
    W : (k, d), b : (k,), losses : list of per-epoch mean batch losses, steps : int
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    n = X.shape[0]
    W = np.array(W0, dtype=np.float64, copy=True).reshape(-1, X.shape[1])
    b = np.array(b0, dtype=np.float64, copy=True).reshape(-1)
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    bs = n if batch_size is None else min(int(batch_size), n)
    if solver == "sgd":
        opt = _SGD(lr, momentum, nesterov)
    elif solver == "adam":
        opt = _Adam(lr, beta1, beta2, eps)
    else:
        raise ValueError(solver)
    losses = []
    steps = 0
    for epoch in range(epochs):
        order = np.arange(n) if perms is None else np.asarray(perms[epoch])
        batch_losses = []
        for start, stop in _batches(n, bs, drop_last):
            rows = order[start:stop]
            loss, gW, gb = loss_and_grad(head, X[rows], y[rows], W, b,
                                         None if sw is None else sw[rows], weight_decay)
            batch_losses.append(loss + l1 * float(np.sum(np.abs(W))))
            W = opt.step("W", W, gW)
            if l1:
                t = lr * l1 / (opt.denom["W"] if solver == "adam" else 1.0)
                W = np.sign(W) * np.maximum(np.abs(W) - t, 0.0)
            b = opt.step("b", b, gb)
            if param_dtype is not None:
                W, b = _rounded(W, param_dtype), _rounded(b, param_dtype)
            steps += 1
        losses.append(float(np.mean(batch_losses)))
    return W, b, losses, steps


def torch_fit(X, y, W0, b0, *, head, solver="sgd", lr=0.01, momentum=0.0, nesterov=False,
              beta1=0.9, beta2=0.999, eps=1e-8, batch_size=None, epochs=1,
              drop_last=False, weight_decay=0.0, sample_weight=None, bce="logits",
              use_loader=None):
    """The same training loop written in PyTorch, in float64 (without touching torch's
    global default dtype). ``bce='logits'`` uses BCEWithLogitsLoss, ``'sigmoid'`` uses
    sigmoid + BCELoss. The L2 penalty on W only is added to the loss by hand (torch's
    ``weight_decay`` would decay the bias too). Returns the same tuple as
    ``reference_fit``, as NumPy arrays.

    ``use_loader`` (default: only when ``batch_size < n``) iterates a
    ``DataLoader(TensorDataset(X, y, s), batch_size, shuffle=False, drop_last)``;
    otherwise each epoch is one step on the whole tensors, as the full-batch lectures
    write it (and ten times faster than a one-batch DataLoader).

    torch runs single-threaded for the duration of the call (its thread count is
    restored afterwards): the tensors here are tiny, and with its OpenMP pool on a busy
    machine (the tests run beside other processes) every op pays for spin-waiting
    threads, slowing a 1000-step lecture from 0.1 s to ~10 s."""
    import torch

    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _torch_fit(X, y, W0, b0, head=head, solver=solver, lr=lr,
                          momentum=momentum, nesterov=nesterov, beta1=beta1, beta2=beta2,
                          eps=eps, batch_size=batch_size, epochs=epochs,
                          drop_last=drop_last, weight_decay=weight_decay,
                          sample_weight=sample_weight, bce=bce, use_loader=use_loader)
    finally:
        torch.set_num_threads(n_threads)


def _torch_fit(X, y, W0, b0, *, head, solver, lr, momentum, nesterov, beta1, beta2, eps,
               batch_size, epochs, drop_last, weight_decay, sample_weight, bce,
               use_loader):
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    f64 = torch.float64
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    W0 = np.asarray(W0, dtype=np.float64).reshape(-1, d)
    k = W0.shape[0]
    Xt = torch.tensor(X, dtype=f64)
    if head == "logistic":
        Yt = torch.tensor(np.asarray(y, dtype=np.float64).reshape(-1, 1), dtype=f64)
        if bce == "logits":
            crit_mean, crit_none = nn.BCEWithLogitsLoss(), nn.BCEWithLogitsLoss(reduction="none")
            mean_loss = crit_mean
            per_sample = lambda z, t: crit_none(z, t)[:, 0]  # noqa: E731
        else:
            crit_mean, crit_none = nn.BCELoss(), nn.BCELoss(reduction="none")
            mean_loss = lambda z, t: crit_mean(torch.sigmoid(z), t)  # noqa: E731
            per_sample = lambda z, t: crit_none(torch.sigmoid(z), t)[:, 0]  # noqa: E731
    elif head == "softmax":
        Yt = torch.tensor(np.asarray(y, dtype=np.int64), dtype=torch.long)
        mean_loss = nn.CrossEntropyLoss()
        per_sample = nn.CrossEntropyLoss(reduction="none")
    else:
        raise ValueError(head)
    St = torch.tensor(np.ones(n) if sample_weight is None
                      else np.asarray(sample_weight, dtype=np.float64), dtype=f64)
    bs = n if batch_size is None else int(batch_size)
    if use_loader is None:
        use_loader = bs < n
    if use_loader:
        loader = DataLoader(TensorDataset(Xt, Yt, St), batch_size=bs, shuffle=False,
                            drop_last=drop_last)
    else:
        if bs < n:
            raise ValueError("use_loader=False needs a full batch")
        loader = [(Xt, Yt, St)]

    def batch_loss(model, batch):
        xb, yb, sb = batch
        z = model(xb)
        if sample_weight is None:
            return mean_loss(z, yb)  # reduction='mean'
        return (sb * per_sample(z, yb)).sum() / xb.shape[0]

    return torch_linear_loop(torch, W0, np.asarray(b0, dtype=np.float64).reshape(k), loader,
                             batch_loss, epochs, solver=solver, lr=lr, momentum=momentum,
                             nesterov=nesterov, betas=(beta1, beta2), eps=eps,
                             weight_decay=weight_decay)


def torch_linear_loop(torch, W0, b0, loader, batch_loss, epochs, *, solver="sgd", lr=0.01,
                      momentum=0.0, nesterov=False, betas=(0.9, 0.999), eps=1e-8,
                      weight_decay=0.0, dtype=None):
    """The lectures' PyTorch training loop (float64 unless ``dtype`` says otherwise),
    shared by the parity tests: ``nn.Linear`` started at (W0, b0), ``torch.optim.SGD`` or
    ``Adam``, and per batch ``loss = batch_loss(model, batch)`` (+ ``weight_decay / 2
    ||W||^2``, W only), zero_grad, backward, step.

    ``dtype`` (default ``torch.float64``): the model's, e.g. ``torch.float32`` for the
    float32 model torch users train.

    Returns ``(W, b, losses, steps)``: the final parameters (in float64), each epoch's
    mean batch loss and the optimiser steps taken."""
    from torch import nn

    dt = torch.float64 if dtype is None else dtype
    W0 = np.asarray(W0, dtype=np.float64)
    model = nn.Linear(W0.shape[1], W0.shape[0], dtype=dt)
    with torch.no_grad():
        model.weight.copy_(torch.tensor(W0, dtype=dt))
        model.bias.copy_(torch.tensor(np.asarray(b0, dtype=np.float64), dtype=dt))
    if solver == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                              nesterov=nesterov)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr, betas=betas, eps=eps)
    losses, steps = [], 0
    for _ in range(epochs):
        batch_losses = []
        for batch in loader:
            loss = batch_loss(model, batch)
            if weight_decay:
                loss = loss + 0.5 * weight_decay * (model.weight ** 2).sum()
            batch_losses.append(loss.item())
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
        losses.append(float(np.mean(batch_losses)))
    return (model.weight.detach().numpy().astype(np.float64),
            model.bias.detach().numpy().astype(np.float64), losses, steps)


# --- the same loop for every head, with state kept between epochs (used by the
# LinearRegression, multi-label, streaming and early-stopping tests) ---------------

def batch_loss_grad(head, Xb, Yb, W, b, s, lw, a_l2, loss_scale):
    """``loss_scale * [sum_{i in B} s_i l_i / |B| + a_l2/2 ||W||^2]`` and its gradient.
    For the multilabel head ``l_i`` sums over labels, each weighted by ``lw[c, y_ic]``."""
    m = Xb.shape[0]
    Z = Xb @ W.T + b
    if head == "multilabel":
        E = s[:, None] * (np.ones_like(Yb) if lw is None
                          else np.where(Yb > 0.5, lw[:, 1], lw[:, 0]))
        data = float(np.sum(binary_cross_entropy(Yb, Z) * E))
    else:
        E = s[:, None]
        data = float(np.sum(s * per_sample_loss(head, Yb, Z)))
    R = residual(head, Yb, Z) * E
    loss = loss_scale * (data / m + 0.5 * a_l2 * float(np.sum(W * W)))
    gW = loss_scale * (R.T @ Xb / m + a_l2 * W)
    gb = loss_scale * R.sum(axis=0) / m
    return loss, gW, gb


class RefRun:
    """``model = nn.Linear(d, k); for xb, yb in DataLoader(shuffle=False): loss.backward();
    opt.step()`` in NumPy float64, with the optimiser state kept between ``epoch`` calls
    and a mutable learning rate; ``param_dtype`` as in ``reference_fit``."""

    def __init__(self, head, W0, b0, *, solver="sgd", lr=0.01, momentum=0.0,
                 nesterov=False, beta1=0.9, beta2=0.999, eps=1e-8, loss_scale=1.0,
                 fit_intercept=True, param_dtype=None):
        self.head, self.loss_scale, self.fit_intercept = head, loss_scale, fit_intercept
        self.param_dtype = param_dtype
        self.W = np.array(W0, dtype=np.float64, copy=True)
        self.b = np.array(b0, dtype=np.float64, copy=True).reshape(-1)
        self.opt = (_SGD(lr, momentum, nesterov) if solver == "sgd"
                    else _Adam(lr, beta1, beta2, eps))
        self.steps = 0

    @property
    def lr(self):
        return self.opt.lr

    @lr.setter
    def lr(self, value):
        self.opt.lr = value

    def epoch(self, X, Y, batch_size, *, drop_last=False, sw=None, lw=None, a_l2=0.0,
              order=None):
        X = np.asarray(X, dtype=np.float64)
        n = X.shape[0]
        order = np.arange(n) if order is None else order
        s_all = np.ones(n) if sw is None else np.asarray(sw, dtype=np.float64)
        losses = []
        for start, stop in _batches(n, min(batch_size, n), drop_last):
            rows = order[start:stop]
            loss, gW, gb = batch_loss_grad(self.head, X[rows], Y[rows], self.W, self.b,
                                            s_all[rows], lw, a_l2, self.loss_scale)
            losses.append(loss)
            self.W = self.opt.step("W", self.W, gW)
            if self.fit_intercept:
                self.b = self.opt.step("b", self.b, gb)
            if self.param_dtype is not None:
                self.W = _rounded(self.W, self.param_dtype)
                self.b = _rounded(self.b, self.param_dtype)
            self.steps += 1
        return float(np.mean(losses))
