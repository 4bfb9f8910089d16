"""The OCI image model as values, with no I/O of its own: what every part of pybuild
(the front end included) may import from the store. Today it holds `Platform`
(store.oci.platform)."""
