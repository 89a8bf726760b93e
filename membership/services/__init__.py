"""Every write of the membership app: linking carrier accounts, the ledger, point holds
(hold, capture, release, refund) and the reconciliation with the carrier."""
