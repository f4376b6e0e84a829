"""A person's data on request: the access export (GDPR art. 15)."""
