"""Prompt builder (placeholder until written)."""
