"""Composition root: CLI and wiring."""
