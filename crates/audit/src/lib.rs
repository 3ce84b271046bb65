//! The audit trail's pure core: CloudTrail records, a hash chain over them,
//! signed digests, whole-trail verification, and CloudTrail-style export files
//! (issue #4). The modules arrive in the following commits.
#![forbid(unsafe_code)]
