"""The WebSocket server: routes, connections, the transport, the server's lifecycle."""
