"""Small real HTTP servers that play a network's API, for adapter tests and benchmarks.

Each is a context manager with `.url`, the network's state (`.statuses`, `.messages`), a log of
`.requests`, and failure knobs (`fail`, `drop_after_processing`, `latency_ms`); see `server`.
"""
