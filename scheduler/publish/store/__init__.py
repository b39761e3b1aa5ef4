"""The ledger's stores: one module per noun, each with its tables' queries and its row types.

schema (every table) · db (engines, the transaction helper, upgrades) · wanted (files → ledger) ·
sends (claims, takeovers) · threads · settle (an outcome with its alert) · operators (pauses, actions)
· workers · alerts (and broken files) · results (snapshots) · replies · logins (the dashboard's) ·
views (what people read). `scheduler.publish.ledger.Ledger` holds one of each.
"""
