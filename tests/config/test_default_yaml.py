"""config/default.yaml stays complete, commented, and equal to the model's defaults."""

import re
from pathlib import Path

import yaml

from config.loader import load_settings
from config.settings import RELOAD_POLICY, Settings

DEFAULT_YAML = Path(__file__).resolve().parents[2] / "config" / "default.yaml"
KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[a-z_]+):")


def yaml_leaf_keys(tree, prefix=""):
    for key, value in tree.items():
        path = f"{prefix}{key}"
        # A mapping-valued key of the model (e.g. rates by kind) is one key, not a section.
        if isinstance(value, dict) and path not in RELOAD_POLICY:
            yield from yaml_leaf_keys(value, f"{path}.")
        else:
            yield path


def commented_keys() -> dict[str, str]:
    """Each key path -> the comment lines directly above it."""
    comments: dict[str, str] = {}
    sections: list[str] = []
    block: list[str] = []
    for line in DEFAULT_YAML.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            block.append(stripped)
            continue
        match = KEY_LINE.match(line)
        if match:
            depth = len(match["indent"]) // 2
            sections = [*sections[:depth], match["key"]]
            comments[".".join(sections)] = " ".join(block)
        block = []
    return comments


def test_default_yaml_loads_and_equals_the_model_defaults():
    assert load_settings(DEFAULT_YAML) == Settings()


def test_default_yaml_is_a_paper_configuration():
    assert yaml.safe_load(DEFAULT_YAML.read_text())["mode"] == "paper"


def test_every_key_of_the_model_appears_in_default_yaml_and_nothing_else():
    tree = yaml.safe_load(DEFAULT_YAML.read_text())
    assert sorted(yaml_leaf_keys(tree)) == sorted(RELOAD_POLICY)


def test_every_key_is_commented_with_its_true_reload_policy():
    comments = commented_keys()
    for key, reload in RELOAD_POLICY.items():
        comment = comments.get(key, "")
        assert comment, f"{key} has no comment above it in default.yaml"
        assert f"[{reload}]" in comment, f"{key} must be marked [{reload}] in default.yaml"
