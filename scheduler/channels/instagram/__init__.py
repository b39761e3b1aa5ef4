"""Instagram (`type: instagram`): posts with images, Reels and carousels through the container flow that it
shares with Threads (scheduler.channels.meta)."""
