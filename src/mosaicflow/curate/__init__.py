"""Curation: clip triage and human review (signals, ranking, review export and import)."""
