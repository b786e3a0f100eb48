"""hookbot's runtime: everything that does I/O (network, disk, clock, threads)."""
