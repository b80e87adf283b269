"""HTTP plumbing shared by remote clients: OpenAI-compatible API errors and retries."""
