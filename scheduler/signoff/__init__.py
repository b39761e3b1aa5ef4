"""Sign-off: a post goes out only when the people it names approved exactly what goes out.

`fingerprint` (what is approved), `tokens` (the links a person approves through), `page` (what that
person's page shows). The ledger's tables are scheduler.publish.store.signoffs; the check when a post
leaves is in scheduler.publish.store.sends.about_to_send."""
