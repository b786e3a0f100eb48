"""Where deliveries come in: the aiohttp routes and the group-commit writer."""
