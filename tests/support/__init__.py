"""Test support: throwaway servers and helpers that only tests and benchmarks use, kept out of the
production package."""
