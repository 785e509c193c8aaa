"""Named actions: each state change, owning its transaction."""
