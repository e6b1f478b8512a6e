"""Side-by-side benchmarks of osfutures against openstacksdk's own waiters.

``python -m benchmarks.run`` (or ``benchmarks/run`` on a fresh clone) measures every
approach on the same seeded FakeCloud scenarios and writes ``RESULTS.md``,
``results.json`` and ``results.png``. See ``benchmarks/README.md``.
"""
