"""Sanctions (list → services, with scope, severity and lifting by a record) and the sharing
agreements that carry platform-scoped entries from one platform to others.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from socialcredit.policy.model.base import _Strict

__all__ = ["LiftingRule", "SanctionSpec", "SharingAgreement"]


class LiftingRule(_Strict):
    """A record of ``kind`` with the entry's trigger ``key`` lifts this sanction for the service
    named in its ``service_field`` (from its date, until the date in ``until_field`` if given):
    SPC Several Provisions on Restricting High Consumption (2015), Art. 9 lets a court allow a
    restricted debtor a flight or a first-class seat for medical care, a funeral or an exam."""

    kind: str
    key: str
    service_field: str
    until_field: str | None = None


class SanctionSpec(_Strict):
    """List → services. ``scope: platform`` refuses only on the platform that listed (and the
    platforms a sharing agreement names); ``severity`` grades the sanction (1 mild … 5 most
    severe), shown with every refusal; ``lifting`` lets a record lift it for one entry."""

    list: str
    services: tuple[str, ...] = Field(min_length=1)
    legal_basis: str = Field(min_length=3)
    scope: Literal["all", "platform"] = "all"
    severity: int = Field(3, ge=1, le=5)
    lifting: LiftingRule | None = None


class SharingAgreement(_Strict):
    """Platform-scoped entries of ``lists`` made by ``source`` also refuse on the ``recipients``
    platforms (e.g. the ride-hail industry's shared safety list of banned riders)."""

    name: str
    source: str
    recipients: tuple[str, ...] = Field(min_length=1)
    lists: tuple[str, ...] = Field(min_length=1)
    legal_basis: str = Field(min_length=3)
