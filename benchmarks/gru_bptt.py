"""Is the BiGRU's backward slow because of autograd? A hand-written BPTT against nn.GRU.

The default melody tower's training step is the packed BiGRU's forward and backward
(README, Speed: backward about four times the forward). This times one bidirectional GRU
layer of the default width (128 in, 64 per direction) forward + backward on one thread,
``nn.GRU`` against a GRU written as one ``torch.autograd.Function`` per direction: the
input products for all steps at once, one loop of a few operations per time step each way,
and the weight gradients as single products after the backward loop. It checks the two
give the same outputs and gradients first, then times them alternating.

    python benchmarks/gru_bptt.py [--batch 32] [--steps 230] [--rounds 2]
"""

from __future__ import annotations

import argparse
import time

import torch


class GruDir(torch.autograd.Function):
    """One direction of a one-layer GRU (PyTorch's gate layout r, z, n) with its own BPTT."""

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh):
        """``x`` (T, B, C) -> states (T, B, H)."""
        steps, batch, _ = x.shape
        hidden = w_hh.shape[1]
        gi = torch.addmm(b_ih, x.reshape(steps * batch, -1), w_ih.t())  # every step at once
        gi = gi.view(steps, batch, 3 * hidden)
        states = x.new_zeros(steps + 1, batch, hidden)  # states[t] is the state before t
        rz = x.new_empty(steps, batch, 2 * hidden)  # reset and update gates
        ns = x.new_empty(steps, batch, hidden)  # candidate states
        gh_n = x.new_empty(steps, batch, hidden)  # the recurrent product of the candidate
        h, w_t = states[0], w_hh.t()
        for t in range(steps):
            gh = torch.addmm(b_hh, h, w_t)  # (B, 3H)
            rz[t] = torch.sigmoid(gi[t, :, :2 * hidden] + gh[:, :2 * hidden])
            r, z = rz[t, :, :hidden], rz[t, :, hidden:]
            ns[t] = torch.tanh(torch.addcmul(gi[t, :, 2 * hidden:], r, gh[:, 2 * hidden:]))
            gh_n[t] = gh[:, 2 * hidden:]
            h = states[t + 1] = ns[t] + z * (h - ns[t])
        ctx.save_for_backward(x, w_ih, w_hh, states, rz, ns, gh_n)
        return states[1:]

    @staticmethod
    def backward(ctx, d_out):
        """Back through time: one loop for the state gradients, then the weight gradients
        as single products over every step."""
        x, w_ih, w_hh, states, rz, ns, gh_n = ctx.saved_tensors
        steps, batch, hidden = ns.shape
        d_gi = x.new_empty(steps, batch, 3 * hidden)  # gradients of the input products
        d_gh = x.new_empty(steps, batch, 3 * hidden)  # and of the recurrent ones
        dh = x.new_zeros(batch, hidden)
        for t in range(steps - 1, -1, -1):
            dh = dh + d_out[t]
            r, z, n = rz[t, :, :hidden], rz[t, :, hidden:], ns[t]
            dn = dh * (1 - z) * (1 - n * n)
            d_gi[t, :, :hidden] = dn * gh_n[t] * r * (1 - r)
            d_gi[t, :, hidden:2 * hidden] = dh * (states[t] - n) * z * (1 - z)
            d_gi[t, :, 2 * hidden:] = dn
            d_gh[t, :, :2 * hidden] = d_gi[t, :, :2 * hidden]
            d_gh[t, :, 2 * hidden:] = dn * r
            dh = dh * z + d_gh[t] @ w_hh
        d_gi, d_gh = d_gi.view(steps * batch, -1), d_gh.view(steps * batch, -1)
        dx = (d_gi @ w_ih).view_as(x)
        d_w_ih = d_gi.t() @ x.reshape(steps * batch, -1)
        d_w_hh = d_gh.t() @ states[:-1].reshape(steps * batch, -1)
        return dx, d_w_ih, d_w_hh, d_gi.sum(0), d_gh.sum(0)

def bidirectional(gru: torch.nn.GRU, x: torch.Tensor) -> torch.Tensor:
    """``x`` (B, T, C) through ``gru``'s weights with :class:`GruDir`, both directions."""
    xt = x.transpose(0, 1)
    f = GruDir.apply(xt, gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0)
    b = GruDir.apply(xt.flip(0), gru.weight_ih_l0_reverse, gru.weight_hh_l0_reverse,
                     gru.bias_ih_l0_reverse, gru.bias_hh_l0_reverse).flip(0)
    return torch.cat([f, b], -1).transpose(0, 1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=230, help="time steps (events)")
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    gru = torch.nn.GRU(128, 64, batch_first=True, bidirectional=True)
    x = torch.randn(args.batch, args.steps, 128, requires_grad=True)
    ref, out = gru(x)[0], bidirectional(gru, x)
    grad = torch.randn_like(ref)
    g1 = torch.autograd.grad(ref, [x, *gru.parameters()], grad)
    g2 = torch.autograd.grad(out, [x, *gru.parameters()], grad)
    print(f"largest difference: outputs {(ref - out).abs().max().item():.1e}, gradients "
          f"{max((a - b).abs().max().item() for a, b in zip(g1, g2)):.1e}")
    for _ in range(args.rounds):
        for name, fn in (("nn.GRU", lambda: gru(x)[0]), ("hand-written BPTT",
                                                          lambda: bidirectional(gru, x))):
            start = time.process_time()
            for _ in range(3):
                fn().backward(grad)
            ms = (time.process_time() - start) / 3 * 1000
            print(f"{name:<18} {ms:6.0f} ms forward + backward (batch {args.batch}, "
                  f"{args.steps} steps, one bidirectional layer, 1 thread, CPU time)",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
