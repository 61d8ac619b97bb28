"""The torch paths that keep GPU tensors on their device (rewardlab.credit.on_device) equal the Rust
kernels, NaN and ±inf included. Run here on CPU tensors: the drop-ins are made to take the device
path by patching the one function that picks it."""

import itertools

import numpy as np
import pytest
import torch

from rewardlab.credit import on_device, trl as trl_dropin, verl as verl_dropin


def rewards(n, k, dtype, seed):
    g = np.random.default_rng(seed)
    x = g.normal(size=(n, k))
    x[g.random((n, k)) < 0.15] = np.nan  # a function that did not score this completion
    x[g.random((n, k)) < 0.03] = np.inf
    x[g.random((n, k)) < 0.03] = -np.inf
    x[: min(n, 2)] = np.nan  # an unscorable completion
    if n >= 8:
        x[4:8] = 1.5  # a group of equal rewards: std zero
    return torch.tensor(x, dtype=dtype)


@pytest.mark.parametrize("group,k,scale,aggregation,dtype", list(itertools.product(
    [1, 2, 4, 8], [1, 3], ["group", "batch", "none"], ["sum_then_normalize", "normalize_then_sum"],
    [torch.float32, torch.float64])))
def test_group_normalisation_on_the_device_equals_the_kernel(group, k, scale, aggregation, dtype, monkeypatch):
    r = rewards(32, k, dtype, seed=group * 10 + k)
    weights = [1.0, -0.5, 2.0][:k]
    want_adv, want_zero = trl_dropin.grpo_advantages(r, weights, group, scale, aggregation)  # Rust
    monkeypatch.setattr(trl_dropin, "on_device", lambda t: True)
    got_adv, got_zero = trl_dropin.grpo_advantages(r, weights, group, scale, aggregation)
    assert got_adv.dtype == want_adv.dtype == dtype and got_zero.dtype == torch.bool
    tol = 1e-6 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(got_adv, want_adv, rtol=tol, atol=tol)
    assert torch.equal(got_zero, want_zero)


def test_group_normalisation_on_the_device_refuses_what_the_kernel_refuses():
    with pytest.raises(ValueError, match="^num_generations: must divide"):
        on_device.group_normalize(torch.zeros(6, 1), [1.0], 4, "group", "sum_then_normalize")
    with pytest.raises(ValueError, match="^scale_rewards: expected"):
        on_device.group_normalize(torch.zeros(4, 1), [1.0], 2, "std", "sum_then_normalize")


@pytest.mark.parametrize("estimator", ["kl", "k1", "abs", "mse", "k2", "low_var_kl", "k3", "k1+", "k3+", "low_var_kl+"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_kl_penalty_on_the_device_equals_the_kernel_in_value_and_gradient(estimator, dtype, monkeypatch):
    g = torch.Generator().manual_seed(0)
    lp = (torch.randn(4, 33, generator=g, dtype=dtype) * 3).requires_grad_()
    ref = (torch.randn(4, 33, generator=g, dtype=dtype) * 3).requires_grad_()
    with torch.no_grad():
        lp[0, :3] = torch.tensor([-40.0, 40.0, 0.0], dtype=dtype)  # the clamps at ±20 and ±10

    def value_and_grads():
        v = verl_dropin.kl_penalty(lp, ref, estimator)
        gl, gr = torch.autograd.grad((v * torch.linspace(-1, 1, v.numel(), dtype=dtype).view_as(v)).sum(), (lp, ref))
        return v.detach(), gl, gr

    want = value_and_grads()  # Rust value, rewardlab's own backward
    monkeypatch.setattr(verl_dropin, "on_device", lambda t: True)
    got = value_and_grads()
    tol = 2e-6 if dtype == torch.float32 else 1e-12
    for a, b in zip(got, want):
        assert a.dtype == b.dtype
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)
