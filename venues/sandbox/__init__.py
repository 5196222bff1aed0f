"""A local, wire-compatible Polymarket CLOB (HTTP + websockets) on the simulated market and the
paper exchange, for dry runs of the live stack: `serve(SandboxSettings())`."""

from venues.sandbox.server import SandboxServer, serve
from venues.sandbox.settings import SandboxSettings

__all__ = ["SandboxServer", "SandboxSettings", "serve"]
