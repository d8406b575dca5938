"""What every carried track of a re-encoded video does with a source packet: copy it as it is,
or hand it to the track's converter."""

from __future__ import annotations

from typing import Any

import av


class CarriedTrack:
    """Base of :class:`~mosaicflow.video.audio.AudioTrack` and
    :class:`~mosaicflow.video.subtitles.SubtitleTrack`: a ``copied`` track muxes the source's
    packets into its ``stream`` unchanged; any other converts them (:meth:`_convert`)."""

    _container: Any
    stream: Any
    copied: bool
    packets: int

    def write(self, packet: av.Packet) -> None:
        """Copy one source packet, or convert it."""
        self.packets += 1
        if self.copied:
            packet.stream = self.stream
            self._container.mux(packet)
        else:
            self._convert(packet)

    def _convert(self, packet: av.Packet) -> None:
        raise NotImplementedError
