"""Clients of the MoodWatch public API that run outside the server (no Django imports)."""
