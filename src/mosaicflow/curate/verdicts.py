"""The review verdicts table (``results/review/verdicts.parquet``): its columns and readers.

Kept apart from the import and the ranking so the clip index, which reads it, does not depend
on their code.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

#: Verdict values of a reviewed clip.
KEEP, DROP = "keep", "drop"
#: Columns of the verdicts table and their dtypes.
VERDICT_COLUMNS: dict[str, str] = {
    "clip": "string",
    "verdict": "string",
    "clip_sha256": "string",
    "source": "string",
}


def read_verdicts(path: Path) -> pd.DataFrame:
    """The verdicts table (empty when the file does not exist).

    Raises:
        ValueError: a file that is not a verdicts table (names it).
    """
    path = Path(path)
    if not path.exists():
        return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in VERDICT_COLUMNS.items()})
    frame = pd.read_parquet(path)
    missing = [c for c in VERDICT_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: not a verdicts table (missing columns {missing})")
    bad = sorted(set(frame["verdict"].dropna()) - {KEEP, DROP})
    if bad:
        raise ValueError(f"{path}: verdicts {bad} are neither {KEEP!r} nor {DROP!r}")
    return frame


def dropped_clips(verdicts: pd.DataFrame) -> dict[str, str]:
    """clip -> the SHA-256 of the clip file the drop verdict was given for (sorted by clip)."""
    drops = verdicts[verdicts["verdict"] == DROP].sort_values("clip")
    return dict(zip(drops["clip"].astype(str), drops["clip_sha256"].astype(str), strict=True))
