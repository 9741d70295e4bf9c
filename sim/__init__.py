"""factory5g: a simulated 5G + industrial-IoT factory testbed."""

__version__ = "0.1.0"
