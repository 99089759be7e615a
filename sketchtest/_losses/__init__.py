"""Differentiable losses: SIGReg, any sliced test as a loss, and the Triton kernels behind them."""
