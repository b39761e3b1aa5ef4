"""Channel adapters: one module a network, all behind the interface in `base`."""
