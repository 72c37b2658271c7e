"""Reference models every searched architecture is compared with."""
