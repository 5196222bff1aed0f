"""Replay of recorded frames: counts, callbacks, identity learned from the feed, sources."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from venues.live.replay import MAX_KEPT_ERRORS, replay_frames
from venues.live.wire import Identity, WireEvent
from venues.types import BookSnapshot, LastTrade, OrderUpdate, PriceChange, Side, TradeUpdate

FIXTURES = Path(__file__).parent / "fixtures"
RECORDING = FIXTURES / "recording.jsonl"
SHARED_WS = Path(__file__).parents[4] / "shared" / "fixtures" / "polymarket" / "ws_messages"
OUR_MAKER_ORDER = "0x" + "a1" * 32


def test_a_recording_reports_frames_events_and_rejected_frames() -> None:
    result = replay_frames(RECORDING)

    # 7 non-blank lines (line 4 is blank): an array of two books, PONG, a price change, our order, our maker
    # fill, a book with a bad price and a line that is not a frame.
    assert result.frames == 7
    assert result.events == 5
    assert result.notices == 1
    assert result.rejected_frames == 2
    assert result.rejected_messages == 2
    assert result.summary() == {
        "frames": 7,
        "events": 5,
        "rejected_frames": 2,
        "rejected_messages": 2,
        "notices": 1,
    }


def test_rejection_reasons_name_the_line_and_the_field() -> None:
    result = replay_frames(RECORDING)

    assert result.errors[0].startswith("recording.jsonl:7: $.bids[0].price: not a number")
    assert result.errors[1].startswith("recording.jsonl:8: $: neither JSON nor a known text")


def test_every_event_reaches_the_callback_in_recorded_order() -> None:
    seen: list[WireEvent] = []

    replay_frames(RECORDING, seen.append)

    assert [type(event) for event in seen] == [
        BookSnapshot,
        BookSnapshot,
        PriceChange,
        OrderUpdate,
        TradeUpdate,
    ]
    first_book = seen[0]
    assert isinstance(first_book, BookSnapshot)
    assert first_book.best_bid == Decimal("0.48")
    assert first_book.best_ask == Decimal("0.52")


def test_without_an_identity_our_maker_fill_is_found_through_our_own_order_events() -> None:
    seen: list[WireEvent] = []

    replay_frames(RECORDING, seen.append)

    fills = [event for event in seen if isinstance(event, TradeUpdate)]
    assert len(fills) == 1
    assert fills[0].order_id == OUR_MAKER_ORDER
    assert fills[0].size == Decimal(6)
    assert fills[0].side is Side.BUY
    assert fills[0].is_maker


def test_a_given_identity_is_used_instead_of_learning_one() -> None:
    stranger = Identity.of(api_keys=["someone-else"])

    result = replay_frames(RECORDING, identity=stranger)

    # Our maker fill is not the stranger's: that trade frame is rejected, not misattributed.
    assert result.rejected_frames == 3
    assert any("maker_orders: we were maker but no maker order is ours" in e for e in result.errors)


def test_a_directory_replays_each_json_file_as_one_frame_in_name_order() -> None:
    seen: list[WireEvent] = []

    result = replay_frames(FIXTURES / "frames", seen.append)

    assert result.frames == 2  # README.txt is not a frame
    assert result.rejected_frames == 0
    assert [type(event) for event in seen] == [BookSnapshot, LastTrade]


def test_lines_already_read_replay_like_a_file() -> None:
    lines = RECORDING.read_text(encoding="utf-8").splitlines()

    from_lines = replay_frames(lines)

    assert from_lines.summary() == replay_frames(RECORDING).summary()
    assert from_lines.errors[0].startswith("line:7: ")


def test_only_the_first_rejection_reasons_are_kept_but_all_are_counted() -> None:
    lines = ["garbage"] * (MAX_KEPT_ERRORS + 5)

    result = replay_frames(lines)

    assert result.rejected_frames == MAX_KEPT_ERRORS + 5
    assert len(result.errors) == MAX_KEPT_ERRORS


def test_a_frame_with_one_bad_message_still_delivers_the_good_ones() -> None:
    good = {
        "event_type": "tick_size_change",
        "market": "0x01",
        "asset_id": "7",
        "old_tick_size": "0.01",
        "new_tick_size": "0.001",
        "timestamp": "1773307201000",
    }
    bad = {"event_type": "no_such_event"}
    seen: list[WireEvent] = []

    result = replay_frames([json.dumps([good, bad])], seen.append)

    assert result.frames == 1
    assert result.rejected_frames == 1
    assert result.rejected_messages == 1
    assert len(seen) == 1


@pytest.mark.skipif(not SHARED_WS.is_dir(), reason="shared Polymarket fixtures are not present")
def test_replay_over_the_shared_websocket_fixtures_rejects_no_frame() -> None:
    result = replay_frames(SHARED_WS)

    assert result.errors == ()
    assert result.rejected_frames == 0
    assert result.frames == len(list(SHARED_WS.glob("*.json")))
    assert result.events >= result.frames


def test_a_single_pretty_printed_json_file_is_one_frame() -> None:
    seen: list[WireEvent] = []

    result = replay_frames(FIXTURES / "frames" / "01_book.json", seen.append)

    assert (result.frames, result.rejected_frames) == (1, 0)
    assert [type(event) for event in seen] == [BookSnapshot]


def test_recorder_envelopes_replay_exactly_like_the_raw_frames_they_wrap(tmp_path: Path) -> None:
    raw = [line for line in RECORDING.read_text(encoding="utf-8").splitlines() if line.strip()]
    wrapped = tmp_path / "recorded.jsonl"
    wrapped.write_text(
        "".join(
            json.dumps({"t": 1_773_307_201.5, "channel": "market", "frame": line}) + "\n"
            for line in raw
        ),
        encoding="utf-8",
    )

    direct, replayed = replay_frames(RECORDING), replay_frames(wrapped)

    assert replayed.summary() == direct.summary()


def test_a_venue_message_that_starts_like_an_envelope_is_read_as_itself() -> None:
    # Only the recorder's exact three keys are unwrapped.
    lookalike = json.dumps({"t": 1, "channel": "x", "frame": "PONG", "extra": True})

    result = replay_frames([lookalike])

    assert (result.frames, result.notices, result.rejected_frames) == (1, 0, 1)
