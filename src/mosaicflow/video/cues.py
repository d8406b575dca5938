"""Subtitle cues laid out for a text track that shows one sample at a time (``mov_text`` in
``.mp4`` and ``.mov``).

Text subtitles overlap freely: a ``[music]`` line under the dialogue, two speakers, an ASS sign.
An ``.mp4`` text sample cannot overlap the next one (FFmpeg's muxer would push every later cue
back), so the cues are cut at every start and end into spans that show, joined line under line,
the text of every cue active in them. A cue without an end shows until the next cue starts, at
most :data:`OPEN_CUE_SECONDS`.
"""

from __future__ import annotations

import re
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


#: The most text one span carries (bytes): a ``mov_text`` sample holds at most 64 KiB.
MAX_SPAN_TEXT = 60_000
#: An ASS override block, and a drawing-mode switch inside one (``\\p1`` on, ``\\p0`` off).
_BLOCK = re.compile(rb"\{[^}]*\}")
_DRAWING = re.compile(rb"\\p(\d+)")


def shown_text(text: bytes) -> bytes:
    """An ASS event's text without its drawing commands (``{\\p1}m 0 0 l 100 0{\\p0}``, vector
    shapes a text track would show as letters); override blocks are kept."""
    out, drawing, at = [], False, 0
    for block in _BLOCK.finditer(text):
        if not drawing:
            out.append(text[at : block.start()])
        out.append(block.group())
        for level in _DRAWING.findall(block.group()):
            drawing = int(level) > 0
        at = block.end()
    if not drawing:
        out.append(text[at:])
    return b"".join(out)


def visible(text: bytes) -> bool:
    """Whether an ASS event's text shows anything once its override blocks are gone."""
    return bool(_BLOCK.sub(b"", text).replace(b"\\N", b"").replace(b"\\h", b"").strip())


def joined(cues: list[Cue]) -> bytes | None:
    """One ASS event line showing the text of every cue, the first cue's fields, one cue's text
    under the other's (``\\N``), drawings left out, at most :data:`MAX_SPAN_TEXT` bytes (the
    later cues dropped); None when no cue shows any text."""
    parts = [cue.dialogue.split(b",", 8) for cue in cues]
    texts = [shown_text(p[8]) if len(p) == 9 else cues[i].dialogue for i, p in enumerate(parts)]
    head = parts[0][:8] if len(parts[0]) == 9 else [b"0", b"0", b"Default", b"", b"0", b"0",
                                                     b"0", b""]  # fmt: skip
    kept: list[bytes] = []
    for text in (t for t in texts if visible(t)):
        if sum(map(len, kept)) + len(text) > MAX_SPAN_TEXT:
            break
        kept.append(text)
    return b",".join([*head, b"\\N".join(kept)]) if kept else None


class CueTimeline:
    """Cues in start order in, non-overlapping :class:`Span` out, as soon as they are final.

    Args:
        open_ticks: how long a cue without an end shows at most, in ticks.
    """

    def __init__(self, open_ticks: int) -> None:
        self._open = open_ticks
        self._active: list[Cue] = []
        self._done: int | None = None  # spans before this time are out
        self._pending: Span | None = None  # the last span, held until the next one
        self.moved = 0  # cues that started before a span already out (moved to its end)
        self.lost = 0  # cues that also ended before it (left out)

    def add(self, cue: Cue) -> list[Span]:
        """Take the next cue; return the spans that end by its start."""
        for other in self._active:  # cues without an end end here (not those starting too)
            if other.end is None and cue.start > other.start:
                other.end = min(other.start + self._open, cue.start)
        spans = self._merged(self._flush(cue.start))
        if self._done is not None and cue.start < self._done:
            if cue.end is not None and cue.end <= self._done:
                self.lost += 1  # over before the spans already out end
                return spans
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
        spans = self._merged(self._flush(max(ends)) if ends else [])
        if self._pending is not None:
            spans.append(self._pending)
            self._pending = None
        return spans

    def _merged(self, spans: list[Span]) -> list[Span]:
        """The spans that are final: a span is held back until the next one shows whether it
        goes on with the same text (then they are one)."""
        out = []
        for span in spans:
            last = self._pending
            if last is not None and last.end == span.start and last.dialogue == span.dialogue:
                self._pending = Span(last.start, span.end, span.dialogue)
                continue
            if last is not None:
                out.append(last)
            self._pending = span
        return out

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
            line = joined(showing) if showing else None
            if line is not None:
                spans.append(Span(a, b, line))
        self._active = [c for c in self._active if c.end is None or c.end > until]
        self._done = until
        return spans
