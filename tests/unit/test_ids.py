"""Stable video ids: safe characters, stable across mounts, distinct for distinct paths."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mosaicflow.ids import VIDEO_ID_PATTERN, sanitise_stem, video_id


def test_id_is_stem_plus_path_hash():
    vid = video_id("clips/My Holiday (2019).mp4")
    assert re.fullmatch(VIDEO_ID_PATTERN, vid)
    assert vid.startswith("My_Holiday_2019-")


def test_same_relative_path_same_id_wherever_the_root_is():
    assert video_id("a/b.mp4") == video_id("a/b.mp4")
    assert video_id("a/b.mp4") != video_id("c/b.mp4")


def test_odd_names_become_safe():
    assert sanitise_stem('l\'été "chaud" — 東京') == "l_ete_chaud"
    assert sanitise_stem("---") == "video"
    assert re.fullmatch(VIDEO_ID_PATTERN, video_id("東京.mp4"))


@pytest.mark.parametrize("bad", ["/abs/x.mp4", "../x.mp4", "a/../../x.mp4"])
def test_paths_escaping_the_root_are_refused(bad):
    with pytest.raises(ValueError, match="relative to the source root"):
        video_id(bad)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=80).filter(lambda s: "/" not in s and "\0" not in s))
def test_any_file_name_gives_a_valid_id(name):
    if name in {".", ".."}:
        return
    assert re.fullmatch(VIDEO_ID_PATTERN, video_id(name + ".mp4"))
