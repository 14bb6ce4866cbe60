"""Benchmarks of this server against its peers and the floors (see README.md).

The package: `run` (the entry: the full comparison), `specs` (which workloads, at which
size), `rounds` (the interleaved rounds), `peers` (how each server is started and
stopped, their venvs and data files), `procs` (ports, CPU and RSS of processes),
`workloads` and `wsclient` (the client side), `report` (tables, ratios, RESULTS.md),
`goals` (the report's rows and their goals),
`jupyter_door`; `servers/` (the processes the run starts: floors, echo, Mosaic, the data
builder), `stress/` (fuzzing and soak), `diagnose/` (profiles, stages, A/B, wake-ups);
`app`, `export` and `cluster` measure one thing each. `internals` is the one place that
imports the server package's internals. Every script has `--smoke` (a few seconds, tiny
data, ours only), run by tests/e2e/benchmarks/test_smoke.py.
"""
