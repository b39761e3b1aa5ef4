"""Images made to fit each network before they go out (scheduler.media.renditions)."""
