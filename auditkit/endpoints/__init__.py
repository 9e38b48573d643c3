"""Deployed models over HTTP: JSON contracts, a resilient client, and a server that puts a local model behind a
contract.
"""
