"""The use cases: each call is one unit of work over the domain and the store."""
