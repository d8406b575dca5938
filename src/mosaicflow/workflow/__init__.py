"""Path and selection logic used by the Snakemake rules (kept here so pytest can import it)."""
