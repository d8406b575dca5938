"""Timestamps of a source's packets made increasing across joins, as a muxer needs them.

Joined recordings (``cat a.ts b.ts``) and broadcast streams restart their timestamps: the packets
after the join come back in time. One :class:`JoinClock` watches every stream of the source (the
video's packets before they are decoded, the audio and subtitle packets before they are
written) and takes each join out with one shift for all of them, so the streams keep their sync:

- An audio or video packet whose decode time lies more than :data:`JOIN_SECONDS` behind its
  stream's last one starts a join, unless a join was already found since that stream's last
  packet. The shift grows so that this packet is shown where the furthest audio or video
  stream ended (the front). A cue that comes back in time first waits for the next audio or
  video packet.
- The first packet of every other stream after a join takes the new shift; where that still
  overlaps the stream's own last packet (its part ended a little later than the front's
  stream), the stream moves on by the overlap, so it stays contiguous.
- A decode time behind the stream's last one by less (a repeated or jittered timestamp) moves
  just past the last one: audio and video also on an equal time, subtitles only when it goes
  back (cues may start together).

In a format whose timestamps may jump (transport streams, FFmpeg's ``ts_discont`` formats), an
audio or video packet more than :data:`FORWARD_JUMP_SECONDS` ahead of the front also starts a
join (the next part was recorded later): the shift shrinks so that it is shown at the front.

Within one part, the file's own timestamps are kept. The clock starts with a shift (the
source's start moved to 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import av

#: A decode time further than this behind its stream's last one is a join (s), as FFmpeg's
#: discontinuity check for transport streams.
JOIN_SECONDS = 0.1
#: In a format with discontinuous timestamps, an audio or video packet further than this ahead
#: of the front is a join (s), as the ``ffmpeg`` command's ``dts_delta_threshold``.
FORWARD_JUMP_SECONDS = 10.0


@dataclass
class _StreamState:
    last: int  # last decode time written (ticks)
    end: float  # where the last packet ends (s, shifted)
    joins: int  # joins known when its last packet was written
    own: float = 0.0  # its own further shift after a join (s)


class JoinClock:
    """The shift of every stream's packets of one source (see the module).

    Args:
        shift: seconds added to every packet's times from the start.
        jumps: the format's timestamps may jump forward (a forward join, see the module).
    """

    def __init__(self, shift: float = 0.0, jumps: bool = False) -> None:
        self.shift = shift  # seconds added to every packet's times
        self.jumps = jumps
        self.joins = 0
        self.nudged: dict[int, int] = {}  # per stream: packets moved past a repeated time
        self._front: float | None = None  # the furthest audio or video end (s, shifted)
        self._streams: dict[int, _StreamState] = {}
        self._held: list[tuple[av.Packet, int]] = []  # cues waiting for the next audio or video

    def fix(self, packet: av.Packet, index: int, sparse: bool) -> list[tuple[av.Packet, int]]:
        """Shift the pts and dts of ``packet`` (of stream ``index``; demux order) in place.

        Returns the packets ready to use, with their streams, in order: this one, and cues held
        back before. A cue (``sparse``) that comes back in time before any audio or video does
        is held until the next audio or video packet tells whether a join came.
        """
        state = self._streams.get(index)
        if packet.dts is None:  # a B-frame stream's first packets in .mkv: a pts only
            if packet.pts is not None:
                packet.pts += round(self._moved(state) / Fraction(packet.time_base))
            return [(packet, index)]
        base = Fraction(packet.time_base)
        at = float(packet.dts * base) + self._moved(state)
        # back in time with no join found since its stream's last packet: a join starts here
        joined = (
            state is not None
            and state.joins == self.joins
            and at < float(state.last * base) - JOIN_SECONDS
        )
        if sparse:
            waiting = any(stream == index for _, stream in self._held)  # keep their order
            if waiting or joined:
                self._held.append((packet, index))
                return []
            self._place(packet, index, base, strict=False)
            return [(packet, index)]
        if not joined and self.jumps and self._front is not None:
            joined = self._shown(packet, base, at) > self._front + FORWARD_JUMP_SECONDS
        if joined and self._front is not None:
            self.joins += 1
            self.shift += self._front - self._shown(packet, base, at)
        self._place(packet, index, base, strict=True)
        ready = [(packet, index)]
        held, self._held = self._held, []
        for cue, stream in held:
            self._place(cue, stream, Fraction(cue.time_base), strict=False)
            ready.append((cue, stream))
        return ready

    def flush(self) -> list[tuple[av.Packet, int]]:
        """The cues still held at the end of the file, placed where they can go."""
        held, self._held = self._held, []
        for cue, stream in held:
            self._place(cue, stream, Fraction(cue.time_base), strict=False)
        return held

    def _moved(self, state: _StreamState | None) -> float:
        """Seconds a packet of the stream of ``state`` moves by: the shift and its own."""
        return self.shift + (state.own if state is not None else 0.0)

    @staticmethod
    def _shown(packet: av.Packet, base: Fraction, at: float) -> float:
        """Where ``packet`` is shown (a video frame's presentation comes after its decode time
        ``at``)."""
        start = packet.pts if packet.pts is not None else packet.dts
        return at + float((start - packet.dts) * base)

    def _place(self, packet: av.Packet, index: int, base: Fraction, strict: bool) -> None:
        """Move ``packet`` by the shift, on past its stream's last packet where needed."""
        state = self._streams.get(index)
        if state is not None and state.joins < self.joins:  # its first packet after a join
            state.joins = self.joins
            if strict:  # audio and video stay contiguous: on by what still overlaps
                shown = self._shown(packet, base, float(packet.dts * base) + self.shift + state.own)
                state.own += max(0.0, state.end - shown)
        ticks = round(self._moved(state) / base)
        dts = packet.dts + ticks
        if state is not None and (dts < state.last or (strict and dts == state.last)):
            self.nudged[index] = self.nudged.get(index, 0) + 1
            ticks += state.last + 1 - dts
        packet.dts += ticks
        if packet.pts is not None:
            packet.pts += ticks
        self._record(index, packet, base, strict)

    def _record(self, index: int, packet: av.Packet, base: Fraction, dense: bool) -> None:
        start = packet.pts if packet.pts is not None else packet.dts
        end = float((max(start, packet.dts) + (packet.duration or 0)) * base)
        state = self._streams.get(index)
        if state is None:
            state = self._streams[index] = _StreamState(packet.dts, end, self.joins)
        state.last, state.end = packet.dts, max(state.end, end)
        if dense:  # a cue may be shown past the end of its part's pictures and sound
            self._front = end if self._front is None else max(self._front, end)
