"""Images read in place, without a store, as go-containerregistry's `layout` and
`tarball` read them: an OCI layout directory (`layout`), an oci-archive (`archive`)
and a docker-archive (`docker_archive`), each opened as a `store.oci.image.Image`
(`image.BlobImage`) over a `blobs.BlobSource`.

Every source is hostile input. Manifests, indexes and configs are bounded before a
byte is read and verified against their descriptors; layers stream through a
`VerifyingReader` that fails at EOF, or one byte past the size their descriptor gives.
`members` is what an archive's member names mean, shared with `store.archive_load`.
"""
