"""affectkit.evaluation (see docs/architecture.md)."""
