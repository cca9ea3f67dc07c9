"""Deduplication: exact and near copies of one story end in one cluster.

- ``fingerprint``: plain data, no database: the content hash, MinHash
  signature and LSH band hashes of one article, and how alike two are;
- ``index``: the database side shared by every worker: band rows, the
  candidate query and the locks that serialise decisions about one story;
- ``clusters``: the policy: an exact copy shares a row, a near copy joins the
  cluster of its best match, and the earliest job of a cluster owns its
  canonical article whatever order the copies arrive in.
"""
