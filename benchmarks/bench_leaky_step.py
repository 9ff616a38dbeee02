"""Time modsim's leaky-integrator loop against a plain hand-written torch loop of the same model.

    python benchmarks/bench_leaky_step.py [--units 40 --batch 20 --length 2000 --device cpu]

Both sides compute x_t = (1 - a) x_{t-1} + a (W_in u_t + W tanh(x_{t-1}) + b) + sigma xi_t with the
same weights and a linear readout of r = tanh(x), then do forward + backward (MSE) on the same shapes.
The hand-written loop is how the model is usually written: per-step input projection `u[:, t] @ W_in.T`,
elementwise leak and noise, `torch.randn` per step. Prints the ratio hand-written / modsim (>= 1 means
modsim's loop is at least as fast) for the forward pass alone and for forward + backward.
"""

from __future__ import annotations


import torch
from torch import nn

from modsim.compile.cells.leaky import LeakyRNN
from modsim.spec.cells import LeakyCellSpec as LeakyCell
from timing import step_benchmark_args, timed  # benchmarks/timing.py (the script's directory is on sys.path)


def hand_written(u: torch.Tensor, w_in: torch.Tensor, w: torch.Tensor, b: torch.Tensor, alpha: float,
                 sigma: float) -> torch.Tensor:
    """The textbook loop: (B, T, in) inputs -> (B, T, N) rates."""
    batch, steps, _ = u.shape
    x = u.new_zeros(batch, w.shape[0])
    rates = []
    for t in range(steps):
        r = torch.tanh(x)
        x = (1 - alpha) * x + alpha * (u[:, t] @ w_in.T + r @ w.T + b) + sigma * torch.randn_like(x)
        rates.append(torch.tanh(x))
    return torch.stack(rates, dim=1)


def passes(cell, head: nn.Module, u: torch.Tensor, y: torch.Tensor):
    """(ours, theirs): modsim's loop and the hand-written one with a linear readout and MSE; each takes
    `backward` (run the backward pass too)."""
    w_in, w, b = cell.weight_ih_l0, cell.weight_hh_l0, cell.bias_l0

    def ours(backward: bool) -> None:
        rates, _ = cell(u)
        loss = nn.functional.mse_loss(head(rates), y)
        if backward:
            loss.backward()

    def theirs(backward: bool) -> None:
        rates = hand_written(u, w_in, w, b, cell.alpha, cell.sigma)
        loss = nn.functional.mse_loss(head(rates), y)
        if backward:
            loss.backward()

    return ours, theirs


def main() -> None:
    args, device = step_benchmark_args(__doc__, units=40, batch=20, length=2000, repeats=7)
    torch.manual_seed(0)
    cell = LeakyRNN(4, LeakyCell(kind="leaky", units=args.units)).to(device)
    head = nn.Linear(args.units, 2).to(device)
    u = (torch.rand(args.batch, args.length, 4, device=device) < 0.01).float()
    y = torch.sign(torch.randn(args.batch, args.length, 2, device=device))
    w_in, w, b = cell.weight_ih_l0, cell.weight_hh_l0, cell.bias_l0

    ours, theirs = passes(cell, head, u, y)

    with torch.no_grad():
        fwd_theirs = timed(lambda: theirs(False), args.repeats, device)
        fwd_ours = timed(lambda: ours(False), args.repeats, device)
    both_theirs = timed(lambda: theirs(True), args.repeats, device)
    both_ours = timed(lambda: ours(True), args.repeats, device)
    print(f"leaky RNN N={args.units} batch={args.batch} T={args.length} device={device} "
          f"threads={torch.get_num_threads()}")
    print(f"forward            hand-written {fwd_theirs * 1e3:8.1f} ms   modsim {fwd_ours * 1e3:8.1f} ms   "
          f"ratio {fwd_theirs / fwd_ours:.2f}")
    print(f"forward + backward hand-written {both_theirs * 1e3:8.1f} ms   modsim {both_ours * 1e3:8.1f} ms   "
          f"ratio {both_theirs / both_ours:.2f}")
    print(f"per time step (forward + backward): modsim {both_ours / args.length * 1e6:.1f} us")


if __name__ == "__main__":
    main()
