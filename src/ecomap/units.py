"""Area units used by Chinese forestry reporting: 亩 (mu), hectares, km²."""

from __future__ import annotations

__all__ = ["M2_PER_HA", "M2_PER_KM2", "M2_PER_MU", "ha_from_m2", "km2_from_m2", "m2_from_mu",
           "mu_from_m2"]

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
