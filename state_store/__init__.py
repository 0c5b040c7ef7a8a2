"""Small objects kept beside a stack's Pulumi state, where every operator and CI runner of the stack reads
them: the deployer's send journal, and whatever else must outlive one runner's checkout.

A location is the Pulumi backend URL's own place: `file:///dir` (a folder, a shared volume included) or
`s3://bucket/prefix?region=...&endpoint=...` (the documented public-stack backend). Objects go under
`<backend>/.tonsurance/`, never among Pulumi's own `.pulumi/` files.

Every write is conditional, so two writers can never both win:
- `create(name, data)` succeeds only if the object does not exist (S3 `If-None-Match: *`; a hard link on a
  folder);
- `replace(name, data, version)` succeeds only if the object is still the version the writer read (S3
  `If-Match: <etag>`; a content hash compared under a lock on a folder).
A lost race is `StoreConflict`; a store that cannot be read or written is `StoreUnavailable` naming the
location and what to check. Stores hold plain settings and build their clients in each call, so they pickle.
"""
