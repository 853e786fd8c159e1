"""Benchmarks that print tables; run each as a module from the repository root
(`.venv/bin/python -m bench.fitness`), so `bench/queue.py` never hides the standard library's
`queue` from the packages it imports."""
