"""Optional encoders that add evidence to spotted events (CLIP AU/caption encoder)."""
