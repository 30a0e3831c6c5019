"""affectkit.face (see docs/architecture.md)."""
