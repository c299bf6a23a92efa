"""Who hears a change: the per-process hub on the channel layer, the websocket consumer and its
parts (subscriptions, presence, row watches, badges' socket side), permissions and routing."""
