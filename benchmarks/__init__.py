"""agentlight benchmarks (issue 10): latency, cost and scale, measured for real.

Run ``python -m benchmarks`` (``--quick`` for a short smoke run). Prints a table of
figures against their budgets and writes the same figures as JSON. Not part of the
test suite: the numbers depend on the machine.
"""
