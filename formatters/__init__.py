"""Pure formatters: Event(s) + template → Message, clamped to Discord's limits."""
