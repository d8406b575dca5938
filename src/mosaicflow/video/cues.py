"""Subtitle cues laid out for a text track that shows one sample at a time (``mov_text`` in
``.mp4`` and ``.mov``).

Text subtitles overlap freely: a ``[music]`` line under the dialogue, two speakers, an ASS sign.
An ``.mp4`` text sample cannot overlap the next one (FFmpeg's muxer would push every later cue
back), so the cues are cut at every start and end into spans that show, joined line under line,
the text of every cue active in them. A cue without an end shows until the next cue starts, at
most :data:`OPEN_CUE_SECONDS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

#: How long a cue without an end (no duration in the source) shows when no cue follows soon (s).
OPEN_CUE_SECONDS = 5.0


@dataclass
class Cue:
    """One cue: ``start`` and ``end`` in ticks of the track's time base (``end`` None: until
    the next cue starts), ``dialogue`` an ASS event line
    (``ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect,Text``)."""

    start: int
    end: int | None
    dialogue: bytes


@dataclass(frozen=True)
class Span:
    """A stretch of the track showing one ASS event line (the joined cues active in it)."""

    start: int
    end: int
    dialogue: bytes


def joined(cues: list[Cue]) -> bytes:
    """One ASS event line showing the text of every cue, the first cue's fields, one cue's text
    under the other's (``\\N``)."""
    parts = [cue.dialogue.split(b",", 8) for cue in cues]
    texts = [p[8] if len(p) == 9 else cues[i].dialogue for i, p in enumerate(parts)]
    head = parts[0][:8] if len(parts[0]) == 9 else [b"0", b"0", b"Default", b"", b"0", b"0",
                                                     b"0", b""]  # fmt: skip
    return b",".join([*head, b"\\N".join(texts)])


class CueTimeline:
    """Cues in start order in, non-overlapping :class:`Span` out, as soon as they are final.

    Args:
        open_ticks: how long a cue without an end shows at most, in ticks.
    """

    def __init__(self, open_ticks: int) -> None:
        self._open = open_ticks
        self._active: list[Cue] = []
        self._done: int | None = None  # spans before this time are out
        self.moved = 0  # cues that started before a span already out (moved to its end)

    def add(self, cue: Cue) -> list[Span]:
        """Take the next cue; return the spans that end by its start."""
        for other in self._active:
            if other.end is None:
                other.end = max(other.start + 1, min(other.start + self._open, cue.start))
        spans = self._flush(cue.start)
        if self._done is not None and cue.start < self._done:
            self.moved += 1
            cue = Cue(self._done, cue.end, cue.dialogue)
        if cue.end is None or cue.end > cue.start:
            self._active.append(cue)
        return spans

    def finish(self) -> list[Span]:
        """The remaining spans."""
        for other in self._active:
            if other.end is None:
                other.end = other.start + self._open
        ends = [cue.end for cue in self._active if cue.end is not None]
        return self._flush(max(ends)) if ends else []

    def _flush(self, until: int) -> list[Span]:
        """Spans up to ``until`` from the active cues (every end before it is known)."""
        if self._done is not None and until <= self._done:
            return []
        edges = {until}
        for cue in self._active:
            edges.add(cue.start)
            if cue.end is not None:
                edges.add(cue.end)
        low = self._done if self._done is not None else min(edges)
        times = sorted(t for t in edges if low <= t <= until)
        spans = []
        for a, b in pairwise(times):
            showing = [c for c in self._active if c.start <= a and (c.end is None or a < c.end)]
            if showing:
                spans.append(Span(a, b, joined(showing)))
        self._active = [c for c in self._active if c.end is None or c.end > until]
        self._done = until
        return spans
