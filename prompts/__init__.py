"""Prompt templates shipped as the package data ``affectkit.prompts`` (see ``affectkit.prompting``)."""
