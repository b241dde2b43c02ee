"""Sample-level processing: numba kernels, the ring buffer, resampling."""
