"""Other ways to run the same loop: compiled whole (numba), in other array namespaces
(the array API standard), and over Dask arrays. Each registers itself with core."""
