"""Tools for testing channel adapters, the package's own and third parties' (docs/adapters.md).

Only tests import this package: it needs pytest, which the daemon does not."""
