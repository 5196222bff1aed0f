"""Print the dependency ranges from setup.cfg, one per line, for `pip install -r /dev/stdin`.

The project runs from its checkout (its top-level packages have generic names such as `config`
and `state`, which must not be installed into site-packages), so we install what setup.cfg
requires rather than the project itself.
"""

import configparser
import sys
from pathlib import Path


def requirements(extras: list[str]) -> list[str]:
    cfg = configparser.ConfigParser()
    cfg.read(Path(__file__).resolve().parent.parent / "setup.cfg")
    lines = cfg["options"]["install_requires"].split("\n")
    for extra in extras:
        lines += cfg["options.extras_require"][extra].split("\n")
    return [line.strip() for line in lines if line.strip()]


if __name__ == "__main__":
    print("\n".join(requirements(sys.argv[1:])))
