"""notifications: every e-mail the portal sends, from a persisted mail queue with retries."""
