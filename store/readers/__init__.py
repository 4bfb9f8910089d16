"""Images read in place, without a store. `blobs` reads what only a descriptor
vouches for, bounded and verified; `members` is what an image archive's member names
mean, shared with `store.archive_load`.
"""
