"""The Discord side: the bot client and the `!hook` / `/hook` Cog."""
