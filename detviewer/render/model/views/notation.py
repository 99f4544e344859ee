"""Math as a lecture writes it, in plain Unicode text (captions, tables, labels): sₖ, s′ₖ, σ.

The regression offsets are written tx, ty, tw, th, as Faster R-CNN's paper names them: Unicode has no
subscript y or w, and look-alike letters (gamma, double v) would be wrong in a slide someone copies.
"""

from __future__ import annotations

__all__ = ["subscript", "S_K", "S_PRIME_K", "T_X", "T_Y", "T_W", "T_H", "T_VECTOR", "SIGMA", "s_of", "s_prime_of"]

_DIGITS = str.maketrans("0123456789+-()", "₀₁₂₃₄₅₆₇₈₉₊₋₍₎")

S_K = "sₖ"
S_PRIME_K = "s′ₖ"
T_X, T_Y, T_W, T_H = "tx", "ty", "tw", "th"
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
