"""LinkedIn organization Pages: the channel (channel.py), LinkedIn's REST API and its errors (rest.py),
and the little text format of a post's commentary (little.py)."""
