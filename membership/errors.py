"""What membership services raise (``ApplicationError`` subclasses with stable codes)."""

from __future__ import annotations

from storefront.errors import ApplicationError


class MembershipError(ApplicationError):
    code = "membership_error"


class CarrierNotLinked(MembershipError):
    code = "carrier_not_linked"


class CarrierLinkRefused(MembershipError):
    """Linking failed for a reason the shopper can act on (wrong code, not a member...)."""

    code = "carrier_link_refused"


class PointsNotAvailable(MembershipError):
    """No discount can be held for this order (used today, no points, no rule...)."""

    code = "points_not_available"


class PointsChanged(MembershipError):
    """The discount differs from the one the shopper saw: show the new quote."""

    code = "points_changed"


class PointsCarrierUnavailable(MembershipError):
    """The carrier did not answer; the shopper may place the order without points."""

    code = "points_carrier_unavailable"
