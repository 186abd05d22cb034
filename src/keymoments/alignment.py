"""Where the user's key moments and the provider's coincide or clash.

Each moment gets one quadrant:

- ``sweet_spot``: key for both perspectives; fixing it pays twice;
- ``conflict``: fixing it helps one side and hurts the other, both effects
  significant (intervals exclude zero) and neither trivial (|gearing| ≥ 0.5,
  half an average moment, on both sides); the dealer's add-on pitch is the
  textbook case;
- ``user_only`` / ``provider_only``: key for one side only;
- ``minor``: key for neither.

Example:
    >>> quadrant(key_user=True, key_provider=True, user=None, provider=None)
    'sweet_spot'
"""

from __future__ import annotations

from typing import Literal

from keymoments.gearing import PerspectiveImpact

__all__ = ["QUADRANTS", "Quadrant", "quadrant"]

Quadrant = Literal["sweet_spot", "user_only", "provider_only", "conflict", "minor"]
QUADRANTS: tuple[Quadrant, ...] = ("sweet_spot", "user_only", "provider_only", "conflict", "minor")
# With many cases even a sliver of an effect is significant; half an average
# moment on each side is the least that makes a trade-off worth a manager's time.
_MATERIAL = 0.5


def quadrant(
    *,
    key_user: bool,
    key_provider: bool,
    user: PerspectiveImpact | None,
    provider: PerspectiveImpact | None,
) -> Quadrant:
    """The quadrant of one moment from its key flags and deciding impacts."""
    if _conflicting(user, provider):
        return "conflict"
    if key_user and key_provider:
        return "sweet_spot"
    if key_user:
        return "user_only"
    if key_provider:
        return "provider_only"
    return "minor"


def _conflicting(user: PerspectiveImpact | None, provider: PerspectiveImpact | None) -> bool:
    if user is None or provider is None:
        return False
    if not (user.significant and provider.significant):
        return False
    if user.recoverable * provider.recoverable >= 0:
        return False
    return min(abs(user.gearing), abs(provider.gearing)) >= _MATERIAL
