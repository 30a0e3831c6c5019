"""affectkit.encoder (see docs/architecture.md)."""
