"""The streams a re-encoded video carries over from its source besides the video: every audio
track (:mod:`mosaicflow.video.audio`) and every subtitle track
(:mod:`mosaicflow.video.subtitles`), in the source's order, each with its language, title and
disposition (default, forced, commentary...).

A subtitle track the output container cannot hold in any form is left out with a warning and
listed in :attr:`CarriedStreams.dropped`; so are, by :func:`left_out_streams`, the source's
streams that are neither its video nor audio nor subtitles (cover art, attached fonts, data).
The file's tags and chapters and the video stream's own tags: :mod:`.file_identity`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av

from mosaicflow.video.audio import AudioTrack
from mosaicflow.video.file_identity import is_chapter_track
from mosaicflow.video.subtitles import SubtitleTrack, subtitle_plan

log = logging.getLogger(__name__)

#: Stream tags copied to the output's stream (the muxer writes its own durations, encoder and
#: handler).
KEPT_TAGS = ("language", "title", "handler_name")


def carried_streams(container: Any) -> list[Any]:
    """The audio and subtitle streams of an opened source, in the file's order."""
    return [s for s in container.streams if s.type in ("audio", "subtitle")]


def left_out_streams(container: Any, video: Any) -> list[str]:
    """The streams of an opened source that are neither its ``video`` stream (the one decoded
    and restored) nor audio nor subtitles, as ``#<index> <type> (<codec>)``: cover art, a second
    video stream, attachments, data. An ``.mp4``'s chapter track is not one: the chapters are
    kept (:mod:`mosaicflow.video.file_identity`)."""
    kept = ("audio", "subtitle")
    return [
        describe(s)
        for s in container.streams
        if s.index != video.index and s.type not in kept and not is_chapter_track(container, s)
    ]


def describe(stream: Any) -> str:
    """``#<index> <type> (<codec>)``; a stream without a codec is named by its handler or MIME
    type (a timecode track's ``TimeCodeHandler``, an attached font's ``font/ttf``)."""
    context, tags = stream.codec_context, stream.metadata
    if context is not None:
        name = context.codec.canonical_name
    else:
        name = tags.get("handler_name") or tags.get("mimetype") or "no codec"
    return f"#{stream.index} {stream.type} ({name})"


#: Languages whose two ISO 639-2 codes (terminology and bibliographic) QuickTime's language table
#: (FFmpeg's ``.mov`` muxer) holds in one form only: the code given -> the form it holds.
QUICKTIME_LANGUAGE = {"sqi": "alb", "hye": "arm", "eus": "baq", "mya": "bur", "zho": "chi",
                      "nld": "dut", "kat": "geo", "deu": "ger", "ell": "gre", "isl": "ice",
                      "mkd": "mac", "msa": "may", "fas": "per", "bod": "tib", "cym": "wel",
                      "cze": "ces", "fre": "fra", "rum": "ron", "slo": "slk"}  # fmt: skip


def keep_identity(template: Any, stream: Any, container_format: str) -> None:
    """Give ``stream`` (in a file of ``container_format``) the language, title, handler name
    (where an ``.mp4``/``.mov`` track may keep its name) and disposition of the source's
    ``template``."""
    tags = {key.lower(): value for key, value in template.metadata.items()}  # mkv: HANDLER_NAME
    tags.setdefault("title", tags.get("name"))  # an .mp4 track's title reads back as "name"
    if container_format == "mov" and tags.get("language"):
        tags["language"] = QUICKTIME_LANGUAGE.get(tags["language"], tags["language"])
    for key in KEPT_TAGS:
        if tags.get(key):
            stream.metadata[key] = tags[key]
    stream.disposition = template.disposition


def lost_flags(path: Any, flags: Sequence[tuple[str, int, int]]) -> list[str]:
    """The disposition flags of carried streams that the written file at ``path`` does not hold,
    as ``#<index> <type> (<codec>): forced, comment``, each logged as a warning. ``flags`` is
    :attr:`CarriedStreams.flags`. ``default`` is left out: every muxer sets it by its own rule.
    FFmpeg's ``.mov`` muxer keeps no other flag, ``.mp4`` some, ``.mkv`` most."""
    members = [(name, int(flag)) for name, flag in av.stream.Disposition.__members__.items()
               if name != "default" and int(flag).bit_count() == 1]  # fmt: skip
    lost = []
    with av.open(str(path)) as written:
        for name, source, index in flags:
            kept = int(written.streams[index].disposition)
            names = [flag for flag, bit in members if source & bit and not kept & bit]
            if names:
                lost.append(f"{name}: {', '.join(names)}")
    for entry in lost:
        log.warning("stream %s: the %s container does not keep these flags (an .mkv output "
                    "keeps most)", entry, Path(str(path)).suffix or "output")  # fmt: skip
    return lost


def without_parameters(stream: Any) -> bool:
    """An audio stream FFmpeg's probe found no sample rate or channels for (a listed track
    without data, or one that starts after the probe's window)."""
    context = stream.codec_context
    return (
        stream.type == "audio"
        and context is not None
        and not (context.sample_rate and context.channels)
    )


class CarriedStreams:
    """The output's audio and subtitle tracks, fed with the source's packets.

    Args:
        container: the output container (opened for writing, header not written yet).
        templates: the source streams to carry (:func:`carried_streams`), in order.
    """

    def __init__(self, container: Any, templates: Sequence[Any]) -> None:
        self.tracks: dict[int, AudioTrack | SubtitleTrack] = {}
        self.dropped: list[str] = []
        #: Per carried stream: its description, its source's disposition, its output index.
        self.flags: list[tuple[str, int, int]] = []
        for template in templates:
            track = self._track(container, template)
            if track is None:
                self.dropped.append(describe(template))
                continue
            keep_identity(template, track.stream, container.format.name)
            self.tracks[template.index] = track
            self.flags.append((describe(template), int(template.disposition), track.stream.index))

    @staticmethod
    def _track(container: Any, template: Any) -> AudioTrack | SubtitleTrack | None:
        fmt, name = container.format.name, describe(template)
        context = template.codec_context
        if context is None:  # no decoder in this FFmpeg: DVB teletext, TTML, ARIB captions
            log.warning("stream %s: FFmpeg has no decoder for it; left out", name)
            return None
        if template.type == "audio":
            if without_parameters(template):  # a listed track with no data
                log.warning("audio: stream %s has no sample rate or channels after reading "
                            "60 s or 200 MB of the file (a listed track without sound, or one "
                            "that starts later, as in recordings joined end to end); left out: "
                            "to keep it, remux the file first with `ffmpeg -analyzeduration "
                            "4000M -probesize 4000M -i IN -map 0 -c copy OUT.mkv`",
                            name)  # fmt: skip
                return None
            return AudioTrack(container, template)
        plan = subtitle_plan(template, fmt)
        if plan is None:
            hint = "" if fmt == "matroska" else " (an .mkv output keeps most subtitles)"
            log.warning("subtitles: stream %s cannot go into %s in any form; left out%s",
                        name, fmt, hint)  # fmt: skip
            return None
        return SubtitleTrack(container, template, plan)

    def write(self, packet: av.Packet) -> None:
        """Copy or transcode one packet of a carried source stream (others are ignored)."""
        track = self.tracks.get(packet.stream.index)
        if track is not None:
            track.write(packet)

    def close(self) -> None:
        """Drain every track's decoder and encoder."""
        for track in self.tracks.values():
            track.close()

    def _of(self, kind: type) -> list[Any]:
        return [t for t in self.tracks.values() if isinstance(t, kind)]

    @property
    def audio_packets(self) -> int:
        """Source audio packets written (copied or transcoded), all audio tracks together."""
        return sum(t.packets for t in self._of(AudioTrack))

    @property
    def audio(self) -> str | None:
        """How each audio track is written (``copy (aac), aac from wmav2``), or None."""
        return ", ".join(t.description for t in self._of(AudioTrack)) or None

    @property
    def subtitles(self) -> str | None:
        """How each subtitle track is written (``copy (subrip), mov_text from ass``), or None."""
        return ", ".join(t.description for t in self._of(SubtitleTrack)) or None
