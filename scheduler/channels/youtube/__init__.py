"""YouTube: one channel's videos. The channel and its steps (channel.py), Google's OAuth token and the
answers of the YouTube Data API turned into the publisher's errors (google.py), and the resumable upload
(resumable.py)."""
