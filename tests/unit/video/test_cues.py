"""Overlapping subtitle cues as the spans a one-sample-at-a-time text track shows."""

from __future__ import annotations

from mosaicflow.video.cues import MAX_SPAN_TEXT, Cue, CueTimeline, Span, joined, shown_text


def line(text: str) -> bytes:
    return f"0,0,Default,,0,0,0,,{text}".encode()


def spans_of(cues: list[Cue], open_ticks: int = 5000) -> list[tuple[int, int, str]]:
    timeline = CueTimeline(open_ticks)
    spans: list[Span] = []
    for cue in cues:
        spans += timeline.add(cue)
    spans += timeline.finish()
    return [(s.start, s.end, s.dialogue.split(b",", 8)[8].decode()) for s in spans]


def test_cues_that_do_not_overlap_come_out_as_they_are():
    cues = [Cue(200, 1000, line("Hello")), Cue(1100, 1800, line("World"))]
    assert spans_of(cues) == [(200, 1000, "Hello"), (1100, 1800, "World")]


def test_an_overlapping_cue_shows_with_the_ones_under_it_and_nothing_moves():
    cues = [
        Cue(500, 3000, line("[music]")),
        Cue(1000, 1800, line("A")),
        Cue(2000, 2800, line("B")),
        Cue(3200, 4000, line("C")),
        Cue(6000, 7000, line("D")),
    ]
    assert spans_of(cues) == [
        (500, 1000, "[music]"),
        (1000, 1800, "[music]\\NA"),
        (1800, 2000, "[music]"),
        (2000, 2800, "[music]\\NB"),
        (2800, 3000, "[music]"),
        (3200, 4000, "C"),
        (6000, 7000, "D"),
    ]


def test_cues_starting_together_show_together():
    cues = [Cue(0, 1000, line("one")), Cue(0, 500, line("two"))]
    assert spans_of(cues) == [(0, 500, "one\\Ntwo"), (500, 1000, "one")]


def test_a_cue_without_an_end_shows_until_the_next_or_for_the_open_limit():
    cues = [Cue(1000, None, line("A")), Cue(2000, None, line("B")), Cue(9000, None, line("C"))]
    assert spans_of(cues, open_ticks=5000) == [
        (1000, 2000, "A"),
        (2000, 7000, "B"),
        (9000, 14000, "C"),
    ]


def test_a_cue_out_of_order_is_shown_from_where_the_written_ones_end():
    timeline = CueTimeline(5000)
    spans = timeline.add(Cue(1000, 2000, line("A"))) + timeline.add(Cue(3000, 4000, line("B")))
    spans += timeline.add(Cue(1500, 3500, line("late")))  # after B's start was final
    spans += timeline.finish()
    texts = [(s.start, s.end, s.dialogue.split(b",", 8)[8].decode()) for s in spans]
    assert texts == [(1000, 2000, "A"), (3000, 3500, "B\\Nlate"), (3500, 4000, "B")]
    assert timeline.moved == 1


def test_joined_keeps_the_first_cue_fields_and_inline_styles():
    out = joined([Cue(0, 1, b"3,1,Sign,,0,0,0,,{\\b1}Exit"), Cue(0, 1, line("Hi, you"))])
    assert out == b"3,1,Sign,,0,0,0,,{\\b1}Exit\\NHi, you"


def test_drawings_are_left_out_and_a_span_of_only_a_drawing_is_none():
    sign = line("{\\p1}m 0 0 l 100 0 100 100{\\p0}")
    cues = [Cue(0, 2000, line("Hello, world")), Cue(1000, 3000, sign)]
    assert spans_of(cues) == [(0, 2000, "Hello, world")]
    assert shown_text(b"{\\pos(10,20)}A{\\p2}m 0 0{\\p0}B") == b"{\\pos(10,20)}A{\\p2}{\\p0}B"


def test_cues_without_an_end_starting_together_show_together():
    cues = [Cue(0, None, line("one")), Cue(0, None, line("two")), Cue(800, 900, line("x"))]
    assert spans_of(cues) == [(0, 800, "one\\Ntwo"), (800, 900, "x")]


def test_a_span_of_many_long_signs_keeps_under_the_sample_limit():
    cues = [Cue(0, 1000, line("s" * 3500)) for _ in range(25)]
    (span,) = spans_of(cues)
    assert len(span[2]) <= MAX_SPAN_TEXT and span[2].startswith("s" * 3500)


def test_a_cue_over_before_the_written_spans_end_is_counted_as_lost():
    timeline = CueTimeline(5000)
    timeline.add(Cue(1000, 2000, line("A")))
    timeline.add(Cue(3000, 4000, line("B")))
    timeline.add(Cue(1500, 2500, line("late and over")))
    assert (timeline.moved, timeline.lost) == (0, 1)
