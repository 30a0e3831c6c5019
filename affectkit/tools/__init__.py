"""affectkit.tools (see docs/architecture.md)."""
