"""The live Polymarket venue: wire formats (`wire`), recorded-feed replay (`replay`), and the
adapter, feeds and local exchange built on them."""
