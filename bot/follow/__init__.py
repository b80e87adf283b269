"""Following stories: standing questions per chat, alerts when new articles concern them, digests of what is new."""
