"""Client adapters: the contract (``adapters.base``) and the built-in implementations."""
