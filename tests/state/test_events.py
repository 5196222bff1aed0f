"""Events: registry, exact record round-trips, strict encoding, versioning and upcasts."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, NewType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from state.events import (
    ActorStarted,
    ActorStopped,
    ChildRestarted,
    Event,
    EventDecodeError,
    EventEncodeError,
    EventRecord,
    EventRegistrationError,
    RunStarted,
    RunStopped,
    SupervisorGaveUp,
    decode_all,
    event,
    event_type,
    from_record,
    registered_event_types,
    to_record,
)

SampleOrderId = NewType("SampleOrderId", str)


class SampleSide(StrEnum):
    UP = "UP"
    DOWN = "DOWN"


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleFill:
    price: Decimal
    size: Decimal
    note: str | None


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class SampleEverything(Event):
    """Every supported field shape, to prove each survives the journal exactly."""

    order_id: SampleOrderId
    side: SampleSide
    price: Decimal
    maybe_price: Decimal | None
    count: int
    ratio: float
    is_live: bool
    sizes: tuple[Decimal, ...]
    pair: tuple[str, int]
    tags: frozenset[str]
    fill: SampleFill
    fills: tuple[SampleFill, ...]
    label: str | None


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class SampleRenamedField(Event):
    """v1 stored `qty`; v2 calls it `size` and upcasts old payloads."""

    version: ClassVar[int] = 2
    size: Decimal

    @classmethod
    def upcast(cls, version: int, payload: dict[str, Any]) -> dict[str, Any]:
        if version == 1:
            return {"size": payload["qty"]}
        return super().upcast(version, payload)


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class SampleBumpedWithoutUpcast(Event):
    version: ClassVar[int] = 3
    size: Decimal


def sample(**overrides: Any) -> SampleEverything:
    fields: dict[str, Any] = {
        "stream_id": "position/BTC-15m-1767225600-UP",
        "ts": 1_767_225_600.25,
        "order_id": SampleOrderId("0xabc"),
        "side": SampleSide.UP,
        "price": Decimal("0.51"),
        "maybe_price": None,
        "count": 3,
        "ratio": 0.1,
        "is_live": True,
        "sizes": (Decimal("10.50"), Decimal("0.000001")),
        "pair": ("a", 1),
        "tags": frozenset({"x", "y"}),
        "fill": SampleFill(price=Decimal("0.99"), size=Decimal(5), note=None),
        "fills": (),
        "label": "hello",
    }
    fields.update(overrides)
    return SampleEverything(**fields)


def test_an_event_round_trips_through_its_record_exactly() -> None:
    original = sample()
    record = to_record(original)
    restored = from_record(record)
    assert restored == original
    assert isinstance(restored, SampleEverything)
    assert type(restored.price) is Decimal
    assert str(restored.sizes[0]) == "10.50"  # the exponent is kept


def test_the_record_carries_the_envelope_in_columns_and_the_rest_as_json() -> None:
    original = sample()
    record = to_record(original)
    assert (record.type_name, record.version, record.stream_id, record.ts) == (
        "SampleEverything",
        1,
        original.stream_id,
        original.ts,
    )
    assert record.event_id == original.event_id
    assert record.seq is None
    payload = json.loads(record.payload)
    assert payload["price"] == "0.51"
    assert payload["side"] == "UP"
    assert payload["maybe_price"] is None
    assert payload["fill"] == {"price": "0.99", "size": "5", "note": None}
    assert set(payload) & {"stream_id", "ts", "event_id"} == set()


def test_an_event_without_an_id_gets_a_unique_one_prefixed_by_its_stream() -> None:
    first = ActorStarted(stream_id="actor/risk", ts=1.0, name="risk", incarnation=1)
    second = ActorStarted(stream_id="actor/risk", ts=1.0, name="risk", incarnation=1)
    assert first.event_id.startswith("actor/risk:")
    assert first.event_id != second.event_id


def test_a_caller_supplied_event_id_is_kept() -> None:
    evt = ActorStarted(stream_id="s", ts=1.0, event_id="s:intent:coid-7", name="n", incarnation=1)
    assert evt.event_id == "s:intent:coid-7"
    assert from_record(to_record(evt)).event_id == "s:intent:coid-7"


def test_an_empty_stream_id_is_refused() -> None:
    with pytest.raises(ValueError, match="stream_id"):
        ActorStarted(stream_id="", ts=1.0, name="n", incarnation=1)


small_decimals = st.decimals(allow_nan=False)
texts = st.text(max_size=20)
fills = st.builds(SampleFill, price=small_decimals, size=small_decimals, note=st.none() | texts)


@given(
    price=small_decimals,
    maybe_price=st.none() | small_decimals,
    count=st.integers(),
    ratio=st.floats(allow_nan=False, allow_infinity=False),
    is_live=st.booleans(),
    sizes=st.lists(small_decimals, max_size=5).map(tuple),
    pair=st.tuples(texts, st.integers()),
    tags=st.frozensets(texts, max_size=5),
    fill=fills,
    fills_=st.lists(fills, max_size=3).map(tuple),
    label=st.none() | texts,
    side=st.sampled_from(SampleSide),
    stream_id=texts.filter(bool),
    ts=st.floats(min_value=0, max_value=4e9),
)
def test_any_supported_values_round_trip_exactly(
    price: Decimal,
    maybe_price: Decimal | None,
    count: int,
    ratio: float,
    is_live: bool,
    sizes: tuple[Decimal, ...],
    pair: tuple[str, int],
    tags: frozenset[str],
    fill: SampleFill,
    fills_: tuple[SampleFill, ...],
    label: str | None,
    side: SampleSide,
    stream_id: str,
    ts: float,
) -> None:
    original = sample(
        stream_id=stream_id,
        ts=ts,
        price=price,
        maybe_price=maybe_price,
        count=count,
        ratio=ratio,
        is_live=is_live,
        sizes=sizes,
        pair=pair,
        tags=tags,
        fill=fill,
        fills=fills_,
        label=label,
        side=side,
    )
    restored = from_record(to_record(original))
    assert restored == original
    assert isinstance(restored, SampleEverything)
    # Decimal equality ignores the exponent ("1.0" == "1.00"); the journal must not.
    assert [str(d) for d in restored.sizes] == [str(d) for d in sizes]
    assert str(restored.price) == str(price)


def test_a_nan_decimal_round_trips_as_nan() -> None:
    restored = from_record(to_record(sample(price=Decimal("NaN"))))
    assert restored.price.is_nan()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("field", "bad", "expected"),
    [
        ("price", 0.51, "SampleEverything.price: expected Decimal"),
        ("count", True, "SampleEverything.count: expected int"),
        ("count", Decimal(1), "SampleEverything.count: expected int"),
        ("side", "UP", "SampleEverything.side: expected SampleSide"),
        ("sizes", [Decimal(1)], "SampleEverything.sizes: expected tuple"),
        ("sizes", (Decimal(1), 2.0), r"SampleEverything.sizes\[\]: expected Decimal"),
        ("pair", ("a", 1, 2), r"SampleEverything.pair: expected tuple of 2"),
        ("tags", {"x"}, "SampleEverything.tags: expected frozenset"),
        ("label", 5, "SampleEverything.label: expected str"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_naming_the_field(
    field: str, bad: object, expected: str
) -> None:
    with pytest.raises(EventEncodeError, match=expected):
        to_record(sample(**{field: bad}))


def test_floats_are_not_allowed_in_nested_money_fields_either() -> None:
    bad_fill = SampleFill(price=0.5, size=Decimal(1), note=None)  # type: ignore[arg-type]
    with pytest.raises(EventEncodeError, match=r"SampleEverything.fill.price: expected Decimal"):
        to_record(sample(fill=bad_fill))


def test_an_unregistered_event_class_cannot_be_encoded() -> None:
    @dataclass(frozen=True, slots=True, kw_only=True)
    class NotRegistered(Event):
        x: int

    with pytest.raises(EventEncodeError, match="not registered: decorate it with @event"):
        to_record(NotRegistered(stream_id="s", ts=1.0, x=1))


def test_an_unknown_type_name_is_a_clear_decode_error() -> None:
    record = replace(to_record(sample()), type_name="NoSuchEvent")
    with pytest.raises(EventDecodeError, match="unknown event type 'NoSuchEvent'"):
        from_record(record)
    with pytest.raises(EventDecodeError, match="NoSuchEvent"):
        event_type("NoSuchEvent")


def test_a_payload_from_a_newer_version_is_refused() -> None:
    record = replace(to_record(sample()), version=2)
    with pytest.raises(
        EventDecodeError, match="written at v2 by newer code; this code knows up to v1"
    ):
        from_record(record)


def test_an_older_payload_is_upcast_by_the_class_hook() -> None:
    old = EventRecord(
        event_id="s:1",
        type_name="SampleRenamedField",
        version=1,
        stream_id="s",
        ts=2.0,
        payload='{"qty":"7.5"}',
    )
    restored = from_record(old)
    assert restored == SampleRenamedField(
        stream_id="s", ts=2.0, event_id="s:1", size=Decimal("7.5")
    )


def test_an_older_payload_without_an_upcast_is_refused_by_name() -> None:
    old = EventRecord(
        event_id="s:1",
        type_name="SampleBumpedWithoutUpcast",
        version=2,
        stream_id="s",
        ts=2.0,
        payload='{"size":"1"}',
    )
    with pytest.raises(
        EventDecodeError, match=r"SampleBumpedWithoutUpcast v2 .* defines no upcast"
    ):
        from_record(old)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("not json", "payload is not JSON"),
        ("[1]", "payload must be a JSON object"),
        ('{"size":"1","extra":1}', r"unexpected \['extra'\]"),
        ("{}", r"missing \['size'\]"),
        ('{"size":1.5}', "field 'size' = 1.5 does not decode"),
        ('{"size":"abc"}', "field 'size' = 'abc' does not decode"),
    ],
)
def test_a_malformed_payload_is_a_decode_error_naming_the_problem(
    payload: str, expected: str
) -> None:
    record = EventRecord(
        event_id="s:1",
        type_name="SampleRenamedField",
        version=2,
        stream_id="s",
        ts=1.0,
        payload=payload,
    )
    with pytest.raises(EventDecodeError, match=expected):
        from_record(record)


def test_registering_a_subclass_that_is_not_itself_a_dataclass_is_refused() -> None:
    with pytest.raises(EventRegistrationError, match=r"decorate with @dataclass\(frozen=True"):

        @event
        class Undecorated(Event):
            __slots__ = ()


def test_registering_a_dataclass_without_slots_is_refused() -> None:
    with pytest.raises(EventRegistrationError, match="slots=True"):

        @event
        @dataclass(frozen=True, kw_only=True)
        class Unslotted(Event):
            x: int


def test_registering_a_class_that_is_not_an_event_is_refused() -> None:
    with pytest.raises(EventRegistrationError, match="subclass of Event"):

        @event
        @dataclass(frozen=True, slots=True, kw_only=True)
        class NotAnEvent:  # type: ignore[type-var]
            x: int


def test_registering_a_field_type_the_journal_cannot_store_exactly_is_refused() -> None:
    with pytest.raises(EventRegistrationError, match=r"WithList.items: type list\[int\]"):

        @event
        @dataclass(frozen=True, slots=True, kw_only=True)
        class WithList(Event):
            items: list[int]


def test_an_ambiguous_union_is_refused_at_registration() -> None:
    with pytest.raises(EventRegistrationError, match=re.escape("only `X | None` unions")):

        @event
        @dataclass(frozen=True, slots=True, kw_only=True)
        class WithUnion(Event):
            value: int | str


def test_a_second_class_cannot_take_a_registered_name() -> None:
    with pytest.raises(EventRegistrationError, match="'ActorStarted' is taken"):

        @event
        @dataclass(frozen=True, slots=True, kw_only=True)
        class ActorStarted(Event):  # the clash with the lifecycle event is the point
            x: int


def test_the_lifecycle_events_are_registered_and_round_trip() -> None:
    lifecycle = [
        ActorStarted(stream_id="actor/risk", ts=1.0, name="risk", incarnation=2),
        ActorStopped(stream_id="actor/risk", ts=2.0, name="risk", incarnation=2, reason="Shutdown"),
        ChildRestarted(
            stream_id="supervisor/root",
            ts=3.0,
            supervisor="root",
            child="risk",
            incarnation=3,
            reason="Crash(ValueError)",
        ),
        SupervisorGaveUp(
            stream_id="supervisor/root", ts=4.0, supervisor="root", reason="intensity"
        ),
        RunStarted(stream_id="run", ts=5.0, mode="paper", runtime="pykka", config_digest="ab12"),
        RunStopped(
            stream_id="run",
            ts=6.0,
            reason="duration",
            exit_code=0,
            wall_seconds=5.5,
            sim_seconds=60.0,
        ),
    ]
    names = registered_event_types()
    for evt in lifecycle:
        assert names[type(evt).__name__] is type(evt)
    assert decode_all(to_record(e) for e in lifecycle) == lifecycle
