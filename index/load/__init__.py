"""Loading articles: files and pages → decoded text, metadata, cleaned body, chunks."""
