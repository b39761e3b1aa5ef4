"""Fake network services for tests and benchmarks: small real HTTP servers on 127.0.0.1 that play a
network's API (success and error bodies, rate-limit headers, dropped connections)."""
