"""Shopper accounts: sign up, log in and out, password reset, profile."""
