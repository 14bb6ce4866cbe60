"""The Jupyter server extension: browser clients reach a kernel's SQLRooms server through Jupyter.

Same origin, same login: the relay authenticates the user with Jupyter, then
bridges the WebSocket to the kernel-side server over the private Unix socket
that the kernel announced in its discovery file.

- `extension`: the `ExtensionApp` (configuration, routes, shutdown)
- `handlers`: Tornado handlers: authentication, authorization, and the relayed socket's lifecycle
- `manager`: kernels, discovery, status and why a relayed socket closed
- `discovery`: finding and validating a kernel's discovery file
- `relay`: the WebSocket bridge (frames, backpressure, close codes), `kernel_link` its raw
  WebSocket client to the kernel's Unix socket
- `app_route`: the SQLRooms app's files, behind Jupyter's login
"""
