"""The seam's contract, on the deterministic and the pykka backends alike."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from runtime.api import (
    Actor,
    ActorDead,
    AskTimeout,
    ChildExited,
    Crash,
    InitFailed,
    NameTaken,
    Normal,
    Reply,
    Shutdown,
    StartFailed,
    UnhandledMessage,
)
from runtime.clock import ManualClock, SimulatedClock
from runtime.deterministic import DeterministicRuntime
from runtime.pykka_backend import PykkaRuntime


class Echo(Actor):
    def __init__(self, seen: list[object] | None = None) -> None:
        self.seen = seen if seen is not None else []
        self.crashed_hook = False

    def receive(self, message: object) -> object:
        match message:
            case "boom":
                raise ValueError("boom")
            case "stop":
                self.ctx.stop_self()
                return None
            case ("later", delay, payload):
                self.ctx.schedule(delay, payload)
                return None
            case ("wait", threading.Event() as gate):
                gate.wait(5)
                return None
            case "seen":
                return list(self.seen)
            case int() | str():
                self.seen.append(message)
                return message
            case _:
                return super().receive(message)

    def on_crash(self) -> None:
        self.seen.append("on_crash")


class Sink(Actor):
    def __init__(self, exits: list[ChildExited]) -> None:
        self.exits = exits

    def receive(self, message: object) -> object:
        assert isinstance(message, ChildExited)
        self.exits.append(message)
        return None


class Sleepy(Actor):
    def on_start(self) -> None:
        raise RuntimeError("no")


@pytest.fixture(params=["deterministic", "pykka"])
def rt(request) -> Iterator[object]:
    clock = ManualClock()
    runtime = (
        DeterministicRuntime(clock) if request.param == "deterministic" else PykkaRuntime(clock)
    )
    yield runtime
    runtime.shutdown(timeout_s=2.0)


def settle(rt, predicate, timeout_s=5.0):
    if isinstance(rt, DeterministicRuntime):
        rt.run_until_idle()
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def test_tells_arrive_in_order_before_a_later_ask(rt):
    ref = rt.spawn(Echo, name="echo")
    for i in range(100):
        ref.tell(i)
    assert ref.ask("seen") == list(range(100))


def test_a_crash_on_tell_is_reported_once_to_the_watcher_and_runs_on_crash(rt):
    exits: list[ChildExited] = []
    sink = rt.spawn(lambda: Sink(exits), name="sink")
    seen: list[object] = []
    ref = rt.spawn(lambda: Echo(seen), name="echo", incarnation=7, watcher=sink)
    ref.tell("boom")
    settle(rt, lambda: len(exits) == 1)
    assert exits[0].name == "echo"
    assert exits[0].incarnation == 7
    assert isinstance(exits[0].reason, Crash)
    assert "ValueError('boom')" in exits[0].reason.error
    assert "Traceback" in exits[0].reason.traceback
    assert seen == ["on_crash"]
    assert not ref.is_alive()
    with pytest.raises(ActorDead):
        ref.tell(1)


def test_a_crash_on_ask_reaches_the_asker_and_still_crashes_the_actor(rt):
    exits: list[ChildExited] = []
    sink = rt.spawn(lambda: Sink(exits), name="sink")
    ref = rt.spawn(Echo, name="echo", watcher=sink)
    with pytest.raises(ValueError, match="boom"):
        ref.ask("boom")
    settle(rt, lambda: len(exits) == 1)
    assert isinstance(exits[0].reason, Crash)


def test_an_unknown_message_is_a_crash_not_a_silent_drop(rt):
    ref = rt.spawn(Echo, name="echo")
    with pytest.raises(UnhandledMessage, match="Echo has no case for"):
        ref.ask(3.5)


def test_stop_self_is_a_normal_exit_and_stop_is_a_shutdown(rt):
    exits: list[ChildExited] = []
    sink = rt.spawn(lambda: Sink(exits), name="sink")
    a = rt.spawn(Echo, name="a", watcher=sink)
    b = rt.spawn(Echo, name="b", watcher=sink)
    a.tell("stop")
    assert b.stop(5.0)
    settle(rt, lambda: len(exits) == 2)
    reasons = {e.name: e.reason for e in exits}
    assert reasons == {"a": Normal(), "b": Shutdown()}


def test_a_live_name_cannot_be_taken_twice_but_is_free_after_exit(rt):
    ref = rt.spawn(Echo, name="echo")
    with pytest.raises(NameTaken, match="'echo'"):
        rt.spawn(Echo, name="echo")
    ref.stop(5.0)
    assert rt.spawn(Echo, name="echo", incarnation=2).ask(5) == 5


def test_an_address_follows_the_name_across_incarnations(rt):
    address = rt.address("echo")
    first = rt.spawn(Echo, name="echo")
    assert address.ask(1) == 1
    first.stop(5.0)
    with pytest.raises(ActorDead):
        address.tell(2)
    rt.spawn(Echo, name="echo", incarnation=2)
    assert address.ask(3) == 3
    assert address.ask("seen") == [3]


def test_on_start_failure_is_raised_to_the_spawner_and_frees_the_name(rt):
    with pytest.raises(StartFailed) as failed:
        rt.spawn(Sleepy, name="sleepy")
    assert isinstance(failed.value.reason, InitFailed)
    assert "RuntimeError('no')" in failed.value.reason.error
    rt.spawn(Echo, name="sleepy")


def test_timers_fire_on_the_runtime_clock(rt):
    ref = rt.spawn(Echo, name="echo")
    ref.tell(("later", 10.0, "ten"))
    ref.tell(("later", 5.0, "five"))
    assert ref.ask("seen") == []
    if isinstance(rt, DeterministicRuntime):
        rt.advance(7.0)
    else:
        rt.clock.advance(7.0)
    settle(rt, lambda: ref.ask("seen") == ["five"])
    if isinstance(rt, DeterministicRuntime):
        rt.advance(3.0)
    else:
        rt.clock.advance(3.0)
    settle(rt, lambda: ref.ask("seen") == ["five", "ten"])


def test_a_pykka_ask_times_out_without_cancelling_the_message():
    runtime = PykkaRuntime(ManualClock())
    try:
        ref = runtime.spawn(Echo, name="echo")
        gate = threading.Event()
        ref.tell(("wait", gate))
        with pytest.raises(AskTimeout, match=r"did not answer int in 0\.05s"):
            ref.ask(42, timeout_s=0.05)
        gate.set()
        settle(runtime, lambda: ref.ask("seen") == [42])  # it still ran, later
    finally:
        runtime.shutdown()


def test_pykka_timers_follow_a_sped_up_clock():
    clock = SimulatedClock(start=0.0, speed=100.0)
    runtime = PykkaRuntime(clock)
    try:
        ref = runtime.spawn(Echo, name="echo")
        started = time.monotonic()
        ref.tell(("later", 20.0, "done"))  # 20 simulated seconds = 0.2 s real
        settle(runtime, lambda: ref.ask("seen") == ["done"])
        assert time.monotonic() - started < 2.0
    finally:
        runtime.shutdown()


def test_shutdown_stops_supervised_children_through_their_roots_first():
    rt = DeterministicRuntime(ManualClock())
    exits: list[ChildExited] = []
    sink = rt.spawn(lambda: Sink(exits), name="sink")
    rt.spawn(Echo, name="child", watcher=sink)
    rt.shutdown()
    assert rt.names() == []


class Relay(Actor):
    """Tells its target two numbers, then asks it for what it has seen, in one handler."""

    def receive(self, message: object) -> object:
        target = self.ctx.runtime.lookup("echo")
        target.tell(1)
        target.tell(2)
        return target.ask("seen")


def test_an_ask_from_a_handler_is_handled_after_the_tells_sent_before_it(rt):
    rt.spawn(Echo, name="echo")
    relay = rt.spawn(Relay, name="relay")
    assert relay.ask("go") == [1, 2]


class Asker(Actor):
    """Asks the actor named in the message, from inside its handler."""

    def receive(self, message: object) -> object:
        match message:
            case ("ask", str() as name, inner):
                return self.ctx.runtime.lookup(name).ask(inner, timeout_s=0.2)
            case "ping":
                return "pong"
            case _:
                return super().receive(message)


def test_an_ask_cycle_times_out_instead_of_running_a_busy_actor_again():
    rt = DeterministicRuntime(ManualClock())
    a = rt.spawn(Asker, name="a")
    rt.spawn(Asker, name="b")
    assert a.ask(("ask", "b", "ping")) == "pong"
    with pytest.raises(AskTimeout, match="ask cycle"):
        a.ask(("ask", "b", ("ask", "a", "ping")))


# --- deferred replies ------------------------------------------------------------------------


class Batcher(Actor):
    """Defers every ask it can until "answer" (a tell) answers them all at once, each with how
    many were answered together; answers on return where there is nothing to defer."""

    def __init__(self) -> None:
        self.waiting: list[tuple[Reply, object]] = []
        self.answered_on_return: list[object] = []

    def receive(self, message: object) -> object:
        match message:
            case "answer":
                waiting, self.waiting = self.waiting, []
                for reply, item in waiting:
                    reply.send((item, len(waiting)))
                return None
            case "fail":
                waiting, self.waiting = self.waiting, []
                for reply, _ in waiting:
                    reply.fail(ValueError("refused together"))
                return None
            case "waiting":
                return len(self.waiting)
            case "on return":
                return list(self.answered_on_return)
            case "stop":
                self.ctx.stop_self()
                return None
            case ("defer then crash", _):
                assert self.ctx.defer_reply() is not None
                raise ValueError("boom after deferring")
            case _:
                reply = self.ctx.defer_reply()
                if reply is None:
                    self.answered_on_return.append(message)
                    return (message, 1)
                self.waiting.append((reply, message))
                return "ignored: answered later"


def ask_from_threads(ref, items, timeout_s=5.0):
    """Ask each item from its own thread; returns the threads and {item: answer or error}."""
    answers: dict[object, object] = {}

    def ask(item: object) -> None:
        try:
            answers[item] = ref.ask(item, timeout_s=timeout_s)
        except Exception as e:  # collected and asserted on
            answers[item] = e

    threads = [threading.Thread(target=ask, args=(i,), daemon=True) for i in items]
    for t in threads:
        t.start()
    return threads, answers


def joined(threads) -> None:
    for t in threads:
        t.join(5.0)
        assert not t.is_alive()


@pytest.fixture
def pykka_rt() -> Iterator[PykkaRuntime]:
    runtime = PykkaRuntime(ManualClock())
    yield runtime
    runtime.shutdown(timeout_s=2.0)


def test_deferred_asks_are_answered_later_each_with_its_own_value(pykka_rt):
    ref = pykka_rt.spawn(Batcher, name="batcher")
    threads, answers = ask_from_threads(ref, ["a", "b", "c"])
    settle(pykka_rt, lambda: ref.ask("waiting") == 3)
    assert answers == {}  # nobody is answered before the actor says so
    ref.tell("answer")
    joined(threads)
    assert answers == {"a": ("a", 3), "b": ("b", 3), "c": ("c", 3)}


def test_a_deferred_ask_can_fail_every_asker_with_the_error(pykka_rt):
    ref = pykka_rt.spawn(Batcher, name="batcher")
    threads, answers = ask_from_threads(ref, ["a", "b"])
    settle(pykka_rt, lambda: ref.ask("waiting") == 2)
    ref.tell("fail")
    joined(threads)
    assert all(isinstance(e, ValueError) and "refused together" in str(e) for e in answers.values())
    assert ref.is_alive()  # failing a reply is an answer, not a crash


def test_a_deferred_ask_never_answered_times_out_within_the_askers_timeout(pykka_rt):
    ref = pykka_rt.spawn(Batcher, name="batcher")
    started = time.monotonic()
    with pytest.raises(AskTimeout, match=r"did not answer str in 0\.1s \(it deferred the reply\)"):
        ref.ask("x", timeout_s=0.1)
    assert time.monotonic() - started < 1.0


def test_deferred_asks_outstanding_when_the_actor_stops_fail_at_once(pykka_rt):
    ref = pykka_rt.spawn(Batcher, name="batcher")
    threads, answers = ask_from_threads(ref, ["a", "b"], timeout_s=30.0)
    settle(pykka_rt, lambda: ref.ask("waiting") == 2)
    started = time.monotonic()
    ref.tell("stop")
    joined(threads)
    assert time.monotonic() - started < 5.0
    assert all(isinstance(e, ActorDead) for e in answers.values()), answers


def test_a_handler_that_crashes_after_deferring_gives_its_asker_the_error(pykka_rt):
    exits: list[ChildExited] = []
    sink = pykka_rt.spawn(lambda: Sink(exits), name="sink")
    ref = pykka_rt.spawn(Batcher, name="batcher", watcher=sink)
    with pytest.raises(ValueError, match="boom after deferring"):
        ref.ask(("defer then crash", 1))
    settle(pykka_rt, lambda: len(exits) == 1)
    assert isinstance(exits[0].reason, Crash)


def test_a_tell_has_no_reply_to_defer(rt):
    ref = rt.spawn(Batcher, name="batcher")
    ref.tell("told")
    settle(rt, lambda: ref.ask("on return") == ["told"])


def test_the_deterministic_backend_answers_every_ask_on_return():
    rt = DeterministicRuntime(ManualClock())
    ref = rt.spawn(Batcher, name="batcher")
    assert ref.ask("a") == ("a", 1)  # an ask is a direct call: nothing queues up to share
    assert ref.ask("waiting") == 0
