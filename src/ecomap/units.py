"""Area units used by Chinese forestry reporting: 亩 (mu), hectares, km²."""

from __future__ import annotations

__all__ = ["DECIMALS", "JSON_DECIMALS", "M2_PER_HA", "M2_PER_KM2", "M2_PER_MU", "ha_from_m2",
           "km2_from_m2", "m2_from_mu", "mu_from_m2", "number_text", "report_area"]

#: 1 mu = 10000/15 m² (exactly 666.66… m²), the statutory 市亩.
M2_PER_MU: float = 10000.0 / 15.0
M2_PER_HA: float = 10000.0
M2_PER_KM2: float = 1_000_000.0


def mu_from_m2(m2):
    """Square metres to mu (亩); works on scalars, arrays and Series."""
    return m2 / M2_PER_MU


def m2_from_mu(mu):
    """Mu (亩) to square metres."""
    return mu * M2_PER_MU


def ha_from_m2(m2):
    """Square metres to hectares."""
    return m2 / M2_PER_HA


def km2_from_m2(m2):
    """Square metres to square kilometres."""
    return m2 / M2_PER_KM2


# --- numbers as a report prints them ---------------------------------------------------
#: Decimals shown for each unit in tables and on pages: 亩 to one, ha and km² to two,
#: percentages to one.  JSON keeps what the geometry carries (``JSON_DECIMALS``).
DECIMALS: dict[str, int] = {"mu": 1, "ha": 2, "km2": 2, "pct": 1}
#: Decimals kept in JSON: about a square metre (0.01 mu ≈ 6.7 m², 1e-4 ha = 1 m²).
JSON_DECIMALS: dict[str, int] = {"mu": 2, "ha": 4, "km2": 6, "pct": 1}


def number_text(value: float, decimals: int = 1) -> str:
    """``12345.678`` → ``"12,345.7"``: thousands separated, fixed decimals."""
    return f"{float(value):,.{decimals}f}"


def report_area(mu: float, *, lang: str = "zh") -> str:
    """An area the way the county's report writes it: 6460亩, 1.47万亩, 5312.3亩.

    Up to one decimal in 亩, 万亩 (two decimals) from 10,000 亩 on; trailing zeros dropped.
    """
    def short(x: float, decimals: int) -> str:
        return f"{x:.{decimals}f}".rstrip("0").rstrip(".") or "0"

    if lang != "zh":
        return f"{mu:,.1f} mu".replace(".0 mu", " mu")
    if mu >= 10_000:
        return f"{short(mu / 10_000, 2)}万亩"
    return f"{short(mu, 1)}亩"
