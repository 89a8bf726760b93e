"""Benchmarks: the synthetic catalog generator (``bench.synth``) and the load benchmark
(``bench.run``). Results are recorded in bench/results/ and docs/performance.md."""
