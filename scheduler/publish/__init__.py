"""plan → ledger → channel: the ledger, the publisher, the daemon and its alerts."""
