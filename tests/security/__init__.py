"""Security of the production settings, headers, admin login, logs and ownership."""
