"""affectkit.spotting (see docs/architecture.md)."""
