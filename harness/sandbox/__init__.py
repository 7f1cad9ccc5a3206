"""Images (offline bootstrap), sandboxed builds, hardened service containers, cleanup by label."""
