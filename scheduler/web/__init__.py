"""The web dashboard (`campaign serve`): Now, Calendar, each post and the crisis switch, on the ledger and files."""
