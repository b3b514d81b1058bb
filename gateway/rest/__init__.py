"""The REST API (Litestar on uvicorn), beside the WebSocket API on the same node."""
