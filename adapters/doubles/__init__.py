"""Local doubles of the external systems: real servers on 127.0.0.1 that speak the same wire
protocol as the systems they stand for, and de-duplicate on the idempotency key the way the real
services do. They are part of the product (the demo, the tests and the benchmarks use them), so
they import nothing of the hub: a double only knows its wire protocol.
"""
