"""The lecture plan and the live walk through it (render/model/lecture_plan.py), against hand-made decks."""

from __future__ import annotations

from pathlib import Path

import pytest

from detviewer.errors import DetviewerError
from detviewer.render.model.deck import LECTURE_DECK, DeckSlide
from detviewer.render.model.lecture_plan import (
    SECTIONS,
    LecturePlan,
    live_parts,
    load_plan,
    part_range,
    plan_text,
)

ROOT = Path(__file__).resolve().parents[2]


def test_every_section_of_the_deck_has_a_key_and_the_default_plan_is_the_whole_deck():
    assert [title for _, title in SECTIONS] == list(dict.fromkeys(s.section for s in LECTURE_DECK))
    assert LecturePlan().deck() == LECTURE_DECK


def test_a_plan_orders_and_skips_sections():
    deck = LecturePlan(sections=("map", "classic")).deck()
    assert [s.section for s in deck] == ["mAP"] * 3 + ["Slide a window, classify every crop"] * 7


def test_the_plan_file_written_reads_back(tmp_path):
    plan = LecturePlan(sections=("yolo", "nms"), models=("demo-yolo", "demo-frcnn"))
    path = tmp_path / "plan.toml"
    path.write_text(plan_text(plan), encoding="utf-8")
    read = load_plan(path)
    assert (read.sections, read.models, read.source) == (plan.sections, plan.models, str(path))


def test_the_shipped_example_plan_is_the_default_plan():
    example = load_plan(ROOT / "docs" / "lecture-plan.toml")
    assert (example.sections, example.models) == (LecturePlan().sections, LecturePlan().models)


def test_a_plan_that_is_not_a_regular_file_is_one_sentence(tmp_path):
    with pytest.raises(DetviewerError, match="lecture plan"):
        load_plan(tmp_path)


_A, _B = "Section A", "Section B"
_DECK = (
    DeckSlide(_A, "a1", "nms", 0),
    DeckSlide(_A, "a2", "nms", 2),
    DeckSlide(_A, "a3", "sampling", "first rule"),
    DeckSlide(_A, "a4", "anchors", 1, {"color_by": "level"}),
    DeckSlide(_B, "b1", "sampling", "third rule"),
    DeckSlide(_B, "b2", "anchors", -1, {"color_by": "label"}),
    DeckSlide(_B, "b3", "sampling", "second rule"),
)
_LABELS = ["first rule", "second rule", "third rule", "fourth rule"]


def test_consecutive_slides_of_one_view_are_one_part_and_first_and_last_parts_are_marked():
    parts = live_parts(_DECK)
    assert [(p.section, p.view, [s.title for s in p.slides]) for p in parts] == [
        (_A, "nms", ["a1", "a2"]), (_A, "sampling", ["a3"]), (_A, "anchors", ["a4"]),
        (_B, "sampling", ["b1"]), (_B, "anchors", ["b2"]), (_B, "sampling", ["b3"])]
    assert [(p.from_start, p.to_end) for p in parts] == [(True, True), (True, False), (True, True),
                                                         (False, False), (True, True), (False, True)]
    assert parts[5].earlier == ("first rule", "third rule")


def test_part_ranges_walk_every_step_once_in_the_deck_order():
    parts = live_parts(_DECK)

    def label_of(i: int) -> str:
        return _LABELS[i]

    # nms: its only part runs from the first to the last step, whatever its slides name
    assert part_range(parts[0], 7, label_of) == (0, 6)
    # sampling's first part starts at step 0 and stops at the rule it names
    assert part_range(parts[1], 4, label_of) == (0, 0)
    # a later part shows only the step it names
    assert part_range(parts[3], 4, label_of) == (2, 2)
    # the last part runs to the end only past what earlier parts showed: "second rule" (1) is before "third rule" (2)
    assert part_range(parts[5], 4, label_of) == (1, 1)
    # a view's only part with other controls: every step
    assert part_range(parts[2], 5, label_of) == (0, 4) and part_range(parts[4], 5, label_of) == (0, 4)


def test_a_last_part_past_every_earlier_one_runs_to_the_end():
    deck = (DeckSlide(_A, "x", "sampling", "first rule"), DeckSlide(_B, "y", "sampling", "second rule"))
    parts = live_parts(deck)
    assert part_range(parts[1], 4, lambda i: _LABELS[i]) == (1, 3)


def test_a_part_whose_steps_this_model_has_not_got_is_left_out():
    parts = live_parts((DeckSlide(_A, "x", "sampling", "SSD rule"),))
    assert part_range(parts[0], 4, lambda i: _LABELS[i]) is None
