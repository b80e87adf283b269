"""Articles from the web: the guarded fetcher, pages and feeds."""
