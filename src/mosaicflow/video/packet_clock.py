"""Timestamps of a carried stream's packets made increasing, as a muxer needs them.

Joined recordings (``cat a.ts b.ts``) and broadcast streams restart their timestamps: the packets
after the join come back in time. The video's frames take the jump out
(:class:`~mosaicflow.inference.video_io.FrameClock`: one frame period after the previous), so
each audio and subtitle stream does the same with its packets:

- A decode time at most :data:`JITTER_PACKETS` packet lengths behind the last one (a repeated or
  jittered timestamp) moves just past the last one; the packets after it keep theirs.
- A decode time further back is a jump. A dense stream (audio) continues where its last packet
  ended, and the packets after it keep that spacing. A sparse stream (subtitles, with seconds
  between cues) cannot tell how much time passed since its last cue, so it takes the shift the
  dense streams took at the same join, when one has.
"""

from __future__ import annotations

from fractions import Fraction

import av

#: Packet lengths a decode time may fall behind the last one before it counts as a jump.
JITTER_PACKETS = 2


class PacketClock:
    """One stream's shift of its packets' timestamps (ticks of its time base).

    Args:
        time_base: the stream's time base.
        dense: whether the stream's packets follow each other without gaps (audio).
    """

    def __init__(self, time_base: Fraction, dense: bool) -> None:
        self.time_base, self.dense = Fraction(time_base), dense
        self.offset = 0
        self.jumps = 0  # joins taken out
        self.nudged = 0  # packets moved past a repeated or jittered timestamp
        self._last: int | None = None  # last decode time written (shifted)
        self._end: int | None = None  # where the last packet ends (shifted)
        self._length = 1  # the last packet's length in ticks

    @property
    def shift_seconds(self) -> float:
        """The shift the stream's packets take now, in seconds."""
        return float(self.offset * self.time_base)

    def fix(self, packet: av.Packet, shared_seconds: float | None = None) -> bool:
        """Shift ``packet``'s pts and dts in place; return whether it starts a jump.

        Args:
            packet: the stream's next packet (demux order).
            shared_seconds: the shift the dense streams took at the latest join (a sparse
                stream takes it at its own jump, where it keeps the stream increasing).
        """
        if packet.dts is None:
            return False
        dts = packet.dts + self.offset
        jumped = False
        if self._last is not None and dts <= self._last:
            if self._last - dts <= JITTER_PACKETS * self._length:
                self.nudged += 1
                self._move(packet, self.offset + self._last + 1 - dts)
                self._record(packet)
                return False
            self.offset += self._jump(dts, shared_seconds)
            self.jumps += 1
            jumped = True
        self._move(packet, self.offset)
        self._record(packet)
        return jumped

    def _jump(self, dts: int, shared_seconds: float | None) -> int:
        """How far the packets move at a jump, in ticks."""
        last = self._last if self._last is not None else dts
        after = self._end if self._end is not None and self._end > last else last + 1
        if not self.dense and shared_seconds is not None:
            shared = round(shared_seconds / self.time_base) - self.offset
            if dts + shared > last:
                return shared
        return after - dts

    @staticmethod
    def _move(packet: av.Packet, ticks: int) -> None:
        packet.dts += ticks
        if packet.pts is not None:
            packet.pts += ticks

    def _record(self, packet: av.Packet) -> None:
        self._last = packet.dts
        if packet.duration:
            self._length = packet.duration
        start = packet.pts if packet.pts is not None else packet.dts
        self._end = start + packet.duration if packet.duration else None
