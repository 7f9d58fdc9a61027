"""The huddle board's page: its templates and locally served assets (its data comes from pathway.services.board)."""
