"""Readers for tune collections stored outside plain ABC files (Session dumps, JSON lines)."""
