"""Model clients: the OpenAI-compatible chat client and the bundled local server."""
