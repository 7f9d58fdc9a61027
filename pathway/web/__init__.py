"""The huddle board: a server-rendered page, its data, and its locally served assets."""
