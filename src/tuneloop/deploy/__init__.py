"""Deployment: promotion and rollback of registry aliases, and export to serving fleets (vLLM)."""
