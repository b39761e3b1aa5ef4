"""After publishing: public counts at fixed ages, replies that need a person, and the retrospective."""
