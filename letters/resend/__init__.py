"""Bulk re-send jobs: which letters, copy or renew, at a steady pace."""
