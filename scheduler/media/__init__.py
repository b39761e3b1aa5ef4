"""Media files: images made to fit each network before they go out (renditions), and videos as they are:
what a video's container says, its poster frame, and its captions.
The one place where PyAV's and the caption libraries' errors become messages a person reads."""
