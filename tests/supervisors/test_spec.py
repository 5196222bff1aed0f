import pytest

from supervisors.spec import (
    AutoShutdown,
    ChildKind,
    ChildSpec,
    Flags,
    Restart,
    SpecError,
    validate_children,
)


def start() -> None:
    return None


def test_defaults_follow_otp() -> None:
    flags = Flags()
    assert (flags.intensity, flags.period_s, flags.auto_shutdown) == (1, 5.0, AutoShutdown.NEVER)
    assert ChildSpec(id="w", start=start).shutdown_timeout_s == 5.0
    assert ChildSpec(id="s", start=start, kind=ChildKind.SUPERVISOR).shutdown_timeout_s is None


def test_shutdown_forms_map_to_timeouts() -> None:
    assert ChildSpec(id="a", start=start, shutdown="brutal_kill").shutdown_timeout_s == 0.0
    assert ChildSpec(id="a", start=start, shutdown="infinity").shutdown_timeout_s is None
    assert ChildSpec(id="a", start=start, shutdown=2.5).shutdown_timeout_s == 2.5


@pytest.mark.parametrize("bad", [0, -1.0, "soon"])
def test_an_invalid_shutdown_is_rejected_naming_the_child_and_value(bad: object) -> None:
    with pytest.raises(SpecError, match=rf"child 'w'.*{bad!r}"):
        ChildSpec(id="w", start=start, shutdown=bad)  # type: ignore[arg-type]


def test_a_significant_permanent_child_is_a_bad_combination() -> None:
    with pytest.raises(SpecError, match="significant child cannot be permanent"):
        ChildSpec(id="w", start=start, significant=True)


def test_duplicate_child_ids_are_rejected() -> None:
    specs = (ChildSpec(id="w", start=start), ChildSpec(id="w", start=start))
    with pytest.raises(SpecError, match="duplicate child id 'w'"):
        validate_children(Flags(), specs)


def test_significance_needs_an_auto_shutdown() -> None:
    spec = ChildSpec(id="w", start=start, restart=Restart.TRANSIENT, significant=True)
    with pytest.raises(SpecError, match="auto_shutdown is never"):
        validate_children(Flags(), (spec,))
    validate_children(Flags(auto_shutdown=AutoShutdown.ANY_SIGNIFICANT), (spec,))


@pytest.mark.parametrize(("field", "value"), [("intensity", -1), ("period_s", 0.0)])
def test_invalid_flags_are_rejected(field: str, value: float) -> None:
    with pytest.raises(SpecError, match=field):
        Flags(**{field: value})  # type: ignore[arg-type]
