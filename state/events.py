"""Journal events: the frozen, versioned `Event` base, its registry, and the record codec.

An event is a fact an actor owns, in its own stream (`stream_id` is the owner's identity, e.g.
"position/BTC-15m-1767225600-UP"). Event classes register themselves with `@event` at import
time, so trading modules can define their events next to their logic and stay in the registry
without this module knowing them.

`to_record` turns an event into an `EventRecord` (plain strings and numbers, what the journal
stores); `from_record` turns it back. The payload is JSON whose shape follows the field types:
`Decimal` as its exact string, enums by value, tuples and frozensets as arrays, nested frozen
dataclasses as objects, `None` as null. Encoding is strict (a float in a `Decimal` field is
refused, naming the field) because the journal is where a wrong type would otherwise become
a permanent wrong fact.

Event ids make appends idempotent (invariant 2: a resent event is stored once). An event gets a
fresh id `"{stream_id}:{uuid4 hex}"` when it is constructed, so resending the *same object*
(a retried ask) is idempotent; a caller that may *rebuild* an event after a crash and send it
again passes a deterministic `event_id` (e.g. derived from a client order id) instead.

Errors:

    EventError
    ├── EventRegistrationError  a class given to @event is not a valid event
    ├── EventEncodeError        a field value does not match its declared type
    └── EventDecodeError        unknown type, newer version, missing upcast, malformed payload
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

__all__ = [
    "ActorStarted",
    "ActorStopped",
    "ChildRestarted",
    "Event",
    "EventDecodeError",
    "EventEncodeError",
    "EventError",
    "EventRecord",
    "EventRegistrationError",
    "RunStarted",
    "RunStopped",
    "SupervisorGaveUp",
    "decode_all",
    "event",
    "event_type",
    "from_record",
    "new_event_id",
    "registered_event_types",
    "to_record",
]


class EventError(Exception):
    """Root of the event module's errors (tree in the module docstring)."""


class EventRegistrationError(EventError, TypeError):
    """A class given to `@event` is not a frozen, slotted, keyword-only `Event` dataclass."""


class EventEncodeError(EventError, TypeError):
    """A field value does not match its declared type, or the event class is not registered."""


class EventDecodeError(EventError, ValueError):
    """A record cannot become an event: unknown type, newer version, or a malformed payload."""


# The fields every event has, stored as columns rather than in the payload.
_ENVELOPE_FIELDS = frozenset({"stream_id", "ts", "event_id"})


def new_event_id(stream_id: str) -> str:
    """A fresh, globally unique event id, prefixed by its stream so it reads well in SQL."""
    return f"{stream_id}:{uuid.uuid4().hex}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every journal event. Subclass it, then decorate with `@event`.

    Subclasses are `@dataclass(frozen=True, slots=True, kw_only=True)`, set `version` when their
    payload shape changes, and may override `upcast` to read payloads of older versions. A
    subclass that needs `__post_init__` must call `Event.__post_init__(self)` explicitly
    (zero-argument `super()` does not work in slotted dataclasses before Python 3.14).
    """

    version: ClassVar[int] = 1

    stream_id: str
    ts: float  # epoch seconds, from the runtime clock
    event_id: str = ""  # empty: a fresh unique id is assigned at construction

    def __post_init__(self) -> None:
        if not self.stream_id:
            msg = f"{type(self).__name__}: stream_id must be a non-empty string"
            raise ValueError(msg)
        if not self.event_id:
            object.__setattr__(self, "event_id", new_event_id(self.stream_id))

    @classmethod
    def upcast(cls, version: int, payload: dict[str, Any]) -> dict[str, Any]:
        """Rewrite a payload stored at an older `version` into the current shape.

        The default refuses: a class that bumps `version` overrides this to keep old journals
        readable.
        """
        msg = (
            f"{cls.__name__} v{version} payload is older than the code's v{cls.version} and "
            f"{cls.__name__} defines no upcast for it"
        )
        raise EventDecodeError(msg)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRecord:
    """An event as the journal stores it: envelope columns plus the JSON payload.

    `seq` is the journal's position, assigned when the record is committed (None before).
    """

    event_id: str
    type_name: str
    version: int
    stream_id: str
    ts: float
    payload: str
    seq: int | None = None


# --- registry ------------------------------------------------------------------------------

_Encoder = Callable[[Any], Any]
_Decoder = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Registered:
    cls: type[Event]
    payload_fields: tuple[tuple[str, _Encoder, _Decoder], ...]


_REGISTRY: dict[str, _Registered] = {}

EventT = TypeVar("EventT", bound=type[Event])


def event(cls: EventT) -> EventT:
    """Register an event class under its class name; apply on top of `@dataclass(...)`.

    Raises:
        EventRegistrationError: the class is not a frozen, slotted, keyword-only dataclass
            subclassing `Event`, has a field type the codec cannot store exactly, or its name
            is already taken by a different class.
    """
    name = cls.__name__
    if not (isinstance(cls, type) and issubclass(cls, Event)) or cls is Event:
        msg = f"@event needs a subclass of Event, got {cls!r}"
        raise EventRegistrationError(msg)
    params = getattr(cls, "__dataclass_params__", None)
    if "__dataclass_fields__" not in cls.__dict__ or params is None or not params.frozen:
        msg = f"event {name}: decorate with @dataclass(frozen=True, slots=True, kw_only=True) below @event"
        raise EventRegistrationError(msg)
    if "__slots__" not in cls.__dict__:
        msg = f"event {name}: the dataclass must use slots=True"
        raise EventRegistrationError(msg)
    if not isinstance(cls.version, int) or cls.version < 1:
        msg = f"event {name}: version must be an int >= 1, got {cls.version!r}"
        raise EventRegistrationError(msg)
    previous = _REGISTRY.get(name)
    # The same class re-imported (module reload) replaces itself; a different class may not.
    if previous is not None and _qualified(previous.cls) != _qualified(cls):
        msg = f"event type name {name!r} is taken by {_qualified(previous.cls)}; rename {_qualified(cls)}"
        raise EventRegistrationError(msg)
    hints = _type_hints(cls)
    payload_fields = tuple(
        (f.name, *_codec(hints[f.name], f"{name}.{f.name}"))
        for f in dataclasses.fields(cls)
        if f.name not in _ENVELOPE_FIELDS
    )
    _REGISTRY[name] = _Registered(cls=cls, payload_fields=payload_fields)
    return cls


def event_type(type_name: str) -> type[Event]:
    """The registered class for `type_name`; raises EventDecodeError naming it if unknown."""
    registered = _REGISTRY.get(type_name)
    if registered is None:
        msg = (
            f"unknown event type {type_name!r}: no class registered with @event under that name "
            f"(is the module defining it imported?)"
        )
        raise EventDecodeError(msg)
    return registered.cls


def registered_event_types() -> Mapping[str, type[Event]]:
    """A snapshot of the registry: type name -> class."""
    return types.MappingProxyType({name: r.cls for name, r in _REGISTRY.items()})


# --- records -------------------------------------------------------------------------------


def to_record(evt: Event) -> EventRecord:
    """Encode `evt` for the journal. Raises EventEncodeError naming the offending field."""
    cls = type(evt)
    registered = _REGISTRY.get(cls.__name__)
    if registered is None or registered.cls is not cls:
        msg = f"event class {_qualified(cls)} is not registered: decorate it with @event"
        raise EventEncodeError(msg)
    payload = {name: encode(getattr(evt, name)) for name, encode, _ in registered.payload_fields}
    return EventRecord(
        event_id=evt.event_id,
        type_name=cls.__name__,
        version=cls.version,
        stream_id=evt.stream_id,
        ts=float(evt.ts),
        payload=json.dumps(payload, separators=(",", ":"), allow_nan=False),
    )


def from_record(record: EventRecord) -> Event:
    """Decode a stored record, upcasting older versions. Raises EventDecodeError if it cannot."""
    cls = event_type(record.type_name)
    registered = _REGISTRY[record.type_name]
    where = f"{record.type_name} event {record.event_id!r}"
    if record.version > cls.version:
        msg = (
            f"{where} was written at v{record.version} by newer code; this code knows up to "
            f"v{cls.version}"
        )
        raise EventDecodeError(msg)
    try:
        payload = json.loads(record.payload)
    except json.JSONDecodeError as e:
        msg = f"{where}: payload is not JSON: {e}"
        raise EventDecodeError(msg) from e
    if not isinstance(payload, dict):
        msg = f"{where}: payload must be a JSON object, got {type(payload).__name__}"
        raise EventDecodeError(msg)
    if record.version < cls.version:
        payload = cls.upcast(record.version, payload)
    expected = {name for name, _, _ in registered.payload_fields}
    missing, extra = expected - payload.keys(), payload.keys() - expected
    if missing or extra:
        msg = f"{where}: payload fields do not match v{cls.version}: missing {sorted(missing)}, unexpected {sorted(extra)}"
        raise EventDecodeError(msg)
    values: dict[str, Any] = {}
    for name, _, decode in registered.payload_fields:
        try:
            values[name] = decode(payload[name])
        except (TypeError, ValueError, ArithmeticError) as e:
            msg = f"{where}: field {name!r} = {payload[name]!r} does not decode: {e}"
            raise EventDecodeError(msg) from e
    return cls(stream_id=record.stream_id, ts=record.ts, event_id=record.event_id, **values)


def decode_all(records: Iterable[EventRecord]) -> list[Event]:
    """Decode records in order (what a reader does with the journal's `ReadStream` reply)."""
    return [from_record(r) for r in records]


# --- type-directed codec -------------------------------------------------------------------


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _type_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except NameError as e:
        msg = (
            f"{_qualified(cls)}: cannot resolve field annotations ({e}); define it at module level"
        )
        raise EventRegistrationError(msg) from e


def _codec(tp: Any, where: str) -> tuple[_Encoder, _Decoder]:
    """Encoder and decoder for one declared type; refuses types it cannot round-trip exactly."""
    supertype = getattr(tp, "__supertype__", None)
    if supertype is not None:  # NewType: stored as its underlying type
        return _codec(supertype, where)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return _optional_codec(args, where)
    if origin is tuple:
        return _tuple_codec(args, where)
    if origin is frozenset:
        return _frozenset_codec(args, where)
    if isinstance(tp, type):
        if issubclass(tp, enum.Enum):
            return _enum_codec(tp, where)
        if issubclass(tp, Decimal):
            return _decimal_codec(where)
        if dataclasses.is_dataclass(tp):
            return _dataclass_codec(tp, where)
        if tp in (str, int, bool):
            return _scalar_codec(tp, where)
        if tp is float:
            return _float_codec(where)
    msg = (
        f"{where}: type {tp!r} cannot be journaled exactly; use str, int, float, bool, Decimal, "
        f"an Enum, a frozen dataclass, tuple[...], frozenset[...] or X | None"
    )
    raise EventRegistrationError(msg)


def _refuse(where: str, expected: str, value: object) -> EventEncodeError:
    return EventEncodeError(f"{where}: expected {expected}, got {type(value).__name__} {value!r}")


def _scalar_codec(tp: type, where: str) -> tuple[_Encoder, _Decoder]:
    def encode(value: Any) -> Any:
        # bool is an int subclass: an int field holding True is almost certainly a bug.
        if type(value) is not tp and not (
            tp is int and isinstance(value, int) and not isinstance(value, bool)
        ):
            raise _refuse(where, tp.__name__, value)
        return value

    def decode(value: Any) -> Any:
        if type(value) is not tp:
            msg = f"{where}: expected JSON {tp.__name__}, got {value!r}"
            raise TypeError(msg)
        return value

    return encode, decode


def _float_codec(where: str) -> tuple[_Encoder, _Decoder]:
    def encode(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _refuse(where, "float", value)
        return float(value)

    def decode(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            msg = f"{where}: expected a JSON number, got {value!r}"
            raise TypeError(msg)
        return float(value)

    return encode, decode


def _decimal_codec(where: str) -> tuple[_Encoder, _Decoder]:
    def encode(value: Any) -> Any:
        if not isinstance(value, Decimal):
            raise _refuse(where, "Decimal (never float, for money)", value)
        return str(value)  # exact, keeps the exponent: "1.50" stays "1.50"

    def decode(value: Any) -> Any:
        if not isinstance(value, str):
            msg = f"{where}: expected a decimal string, got {value!r}"
            raise TypeError(msg)
        return Decimal(value)

    return encode, decode


def _enum_codec(tp: type[enum.Enum], where: str) -> tuple[_Encoder, _Decoder]:
    def encode(value: Any) -> Any:
        if not isinstance(value, tp):
            raise _refuse(where, tp.__name__, value)
        return value.value

    return encode, tp


def _optional_codec(args: tuple[Any, ...], where: str) -> tuple[_Encoder, _Decoder]:
    present = [a for a in args if a is not type(None)]
    if len(present) != 1 or len(args) != 2:
        msg = f"{where}: only `X | None` unions can be journaled, got {' | '.join(map(repr, args))}"
        raise EventRegistrationError(msg)
    encode_present, decode_present = _codec(present[0], where)

    def encode(value: Any) -> Any:
        return None if value is None else encode_present(value)

    def decode(value: Any) -> Any:
        return None if value is None else decode_present(value)

    return encode, decode


def _tuple_codec(args: tuple[Any, ...], where: str) -> tuple[_Encoder, _Decoder]:
    if len(args) == 2 and args[1] is Ellipsis:
        encode_item, decode_item = _codec(args[0], f"{where}[]")

        def encode_any(value: Any) -> Any:
            if not isinstance(value, tuple):
                raise _refuse(where, "tuple", value)
            return [encode_item(v) for v in value]

        def decode_any(value: Any) -> Any:
            if not isinstance(value, list):
                msg = f"{where}: expected a JSON array, got {value!r}"
                raise TypeError(msg)
            return tuple(decode_item(v) for v in value)

        return encode_any, decode_any
    if not args or Ellipsis in args:
        msg = f"{where}: use tuple[X, ...] or a fixed tuple[X, Y], got tuple{list(args)}"
        raise EventRegistrationError(msg)
    codecs = [_codec(a, f"{where}[{i}]") for i, a in enumerate(args)]

    def encode_fixed(value: Any) -> Any:
        if not isinstance(value, tuple) or len(value) != len(codecs):
            raise _refuse(where, f"tuple of {len(codecs)}", value)
        return [enc(v) for (enc, _), v in zip(codecs, value, strict=True)]

    def decode_fixed(value: Any) -> Any:
        if not isinstance(value, list) or len(value) != len(codecs):
            msg = f"{where}: expected a JSON array of {len(codecs)}, got {value!r}"
            raise TypeError(msg)
        return tuple(dec(v) for (_, dec), v in zip(codecs, value, strict=True))

    return encode_fixed, decode_fixed


def _frozenset_codec(args: tuple[Any, ...], where: str) -> tuple[_Encoder, _Decoder]:
    encode_item, decode_item = _codec(args[0], f"{where}{{}}")

    def encode(value: Any) -> Any:
        if not isinstance(value, frozenset):
            raise _refuse(where, "frozenset", value)
        # Sorted by their JSON text so the same set is always stored the same way.
        items = [encode_item(v) for v in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))

    def decode(value: Any) -> Any:
        if not isinstance(value, list):
            msg = f"{where}: expected a JSON array, got {value!r}"
            raise TypeError(msg)
        return frozenset(decode_item(v) for v in value)

    return encode, decode


def _dataclass_codec(tp: type, where: str) -> tuple[_Encoder, _Decoder]:
    params = getattr(tp, "__dataclass_params__", None)
    if params is None or not params.frozen:
        msg = f"{where}: nested dataclass {tp.__name__} must be frozen"
        raise EventRegistrationError(msg)
    hints = _type_hints(tp)
    fields = tuple(
        (f.name, *_codec(hints[f.name], f"{where}.{f.name}"))
        for f in dataclasses.fields(tp)
        if f.init
    )

    def encode(value: Any) -> Any:
        if type(value) is not tp:
            raise _refuse(where, tp.__name__, value)
        return {name: enc(getattr(value, name)) for name, enc, _ in fields}

    def decode(value: Any) -> Any:
        if not isinstance(value, dict):
            msg = f"{where}: expected a JSON object for {tp.__name__}, got {value!r}"
            raise TypeError(msg)
        names = {name for name, _, _ in fields}
        if value.keys() != names:
            msg = f"{where}: {tp.__name__} fields {sorted(names)} != stored {sorted(value)}"
            raise ValueError(msg)
        return tp(**{name: dec(value[name]) for name, _, dec in fields})

    return encode, decode


# --- lifecycle events (the foundation's own facts) -----------------------------------------


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class ActorStarted(Event):
    """An actor incarnation finished `on_start`."""

    name: str
    incarnation: int


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class ActorStopped(Event):
    """An actor incarnation exited; `reason` is the exit reason's text (e.g. "Shutdown")."""

    name: str
    incarnation: int
    reason: str


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class ChildRestarted(Event):
    """A supervisor restarted `child` as `incarnation` after it exited for `reason`."""

    supervisor: str
    child: str
    incarnation: int
    reason: str


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class SupervisorGaveUp(Event):
    """A supervisor exceeded its restart intensity, stopped its children and escalated."""

    supervisor: str
    reason: str


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted(Event):
    """`run.py` started the tree. `config_digest` identifies the settings in force."""

    mode: str
    runtime: str
    config_digest: str


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class CollateralBaseRecorded(Event):
    """The live account's collateral at the first live start: the base its equity counts
    from (plus the P&L journaled since), the same for every later start on this journal."""

    collateral: Decimal


@event
@dataclass(frozen=True, slots=True, kw_only=True)
class RunStopped(Event):
    """`run.py` stopped the tree; `exit_code` is what the process exits with."""

    reason: str
    exit_code: int
    wall_seconds: float
    sim_seconds: float
