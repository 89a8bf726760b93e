"""Local stand-ins for external services that have no public test server (dev/test only).

One Flask app (``sandbox.app.create_app``) with one blueprint per service: FX rates now;
carrier points, Amazon sourcing, parcel tracking and the customs check later. Tests inject
faults through ``/_controls``. See sandbox/README.md.
"""
