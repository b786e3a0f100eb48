"""Where messages go out: the outbox workers and one module per kind of destination.

- outbox.py: the generic worker: one per destination key, claims, sends, records
- base.py: the errors a send raises; Sink (a Message) and Destination (rows)
- destinations.py: the registry: destination key → sink or destination
- messages.py: Discord message payloads: coalescing and Discord's retry policy
- console.py: `console`
- discord_webhook.py: `webhook:<url>`
- discord_channel.py: `discord:channel:<id>`
- http.py: `forward:<id>`: signed POSTs, the forward retry policy
- forwarding.py: checking a forward, queuing its requests, `forward test`
- guard.py: forwards never reach private networks
- quota.py: 1,000 requests an hour per forward
- words.py: how forwards and tries out read in the shell and in chat
"""
