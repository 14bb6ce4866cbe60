"""The kernel door: the server in a Jupyter kernel, its Python API and `%sqlrooms`."""
