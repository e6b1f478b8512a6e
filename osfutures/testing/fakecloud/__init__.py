"""FakeCloud's implementation, one folder per service (moto's layout).

The public names are exported by :mod:`osfutures.testing`; see README.md here for how
the parts fit and how to add a service.
"""
