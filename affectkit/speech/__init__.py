"""affectkit.speech (see docs/architecture.md)."""
