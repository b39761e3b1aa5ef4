"""Fake network services for tests: small real HTTP servers on 127.0.0.1."""
