"""Math as a lecture writes it, in plain Unicode text (captions, tables, labels): sₖ, s′ₖ, tₓ, σ.

Unicode has no subscript w or y: tᵧ uses the subscript gamma and t_w two subscript v's (tᵥᵥ), which read as
tᵧ / t_w in the sans-serif fonts the figures use.
"""

from __future__ import annotations

__all__ = ["subscript", "S_K", "S_PRIME_K", "T_X", "T_Y", "T_W", "T_H", "T_VECTOR", "SIGMA", "s_of", "s_prime_of"]

_DIGITS = str.maketrans("0123456789+-()", "₀₁₂₃₄₅₆₇₈₉₊₋₍₎")

S_K = "sₖ"
S_PRIME_K = "s′ₖ"
T_X, T_Y, T_W, T_H = "tₓ", "tᵧ", "tᵥᵥ", "tₕ"
T_VECTOR = f"({T_X}, {T_Y}, {T_W}, {T_H})"
SIGMA = "σ"


def subscript(value) -> str:
    """12 -> '₁₂' (digits, signs and parentheses)."""
    return str(value).translate(_DIGITS)


def s_of(k: int) -> str:
    """'s₃' for k = 3."""
    return f"s{subscript(k)}"


def s_prime_of(k: int) -> str:
    """'s′₃' for k = 3."""
    return f"s′{subscript(k)}"
