"""The Telegram front end: application, handlers, rendering, streaming, stored chats."""
