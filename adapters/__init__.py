"""I/O adapters that drive the sans-IO core: requests, anyio and h11."""
