"""`campaign new`: a campaign that validates at once and teaches by example (scheduler.starter.new)."""
