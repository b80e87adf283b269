"""Reply step, HTTP side: `newsbot serve`, an OpenAI-compatible API, a native one and a web page.

``bot.server.app.build_app`` makes the ASGI application over one ``bot.service.Newsbot`` (the
same answering path as the CLI and Telegram); ``bot.server.run.serve`` runs it with uvicorn.
"""
