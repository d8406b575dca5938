"""What every carried track of a re-encoded video does with a source packet: copy it as it is,
or hand it to the track's converter."""

from __future__ import annotations

from typing import Any

import av

#: Output formats that keep a packet the source marks as discarded (before the start of a
#: cut file) hidden, with an edit list.
EDIT_LIST_FORMATS = frozenset({"mp4", "mov", "ipod", "ismv", "3gp", "3g2", "psp", "f4v"})


class CarriedTrack:
    """Base of :class:`~mosaicflow.video.audio.AudioTrack` and
    :class:`~mosaicflow.video.subtitles.SubtitleTrack`: a ``copied`` track muxes the source's
    packets into its ``stream`` unchanged; any other converts them (:meth:`_convert`).

    Packets the source marks as discarded (sound before the start of a file cut without
    re-encoding, or an encoder's priming, which the source's edit list hides) are copied only
    into a format that hides them the same way (:data:`EDIT_LIST_FORMATS`). Elsewhere they
    would be heard: only the last one before the kept sound is copied, which the decoder needs
    to start that sound cleanly.
    """

    _container: Any
    stream: Any
    copied: bool
    packets: int
    _preroll: av.Packet | None = None

    def write(self, packet: av.Packet) -> None:
        """Copy one source packet, or convert it."""
        if not self.copied:
            self.packets += 1
            self._convert(packet)
            return
        if packet.is_discard and self._container.format.name not in EDIT_LIST_FORMATS:
            self._preroll = packet
            return
        if self._preroll is not None:
            self._copy(self._preroll)
            self._preroll = None
        self._copy(packet)

    def _copy(self, packet: av.Packet) -> None:
        self.packets += 1
        packet.stream = self.stream
        self._container.mux(packet)

    def _convert(self, packet: av.Packet) -> None:
        raise NotImplementedError
