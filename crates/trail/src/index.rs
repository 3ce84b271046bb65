//! The columns LookupEvents filters on, taken from an event once, when it is
//! appended, so that a lookup never parses stored events to filter them.

use keyward_audit::{CloudTrailEvent, IdentityType, Member};

/// What a stored event is indexed by (see `store.rs`, table `events`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventIndex {
    /// Unix seconds of `eventTime`.
    pub event_time: i64,
    pub event_id: String,
    pub event_name: String,
    pub event_source: String,
    /// LookupEvents' `Username` (see [`lookup_username`]).
    pub username: Option<String>,
    pub access_key_id: Option<String>,
    pub read_only: Option<bool>,
    /// The account whose trail this copy belongs to (`recipientAccountId`).
    pub account_id: String,
    /// `(type, ARN)` of each entry of `resources`.
    pub resources: Vec<(String, String)>,
}

impl EventIndex {
    /// The index entry of `event`.
    pub fn of(event: &CloudTrailEvent) -> Result<Self, keyward_audit::AuditError> {
        let event_time = event.event_time()?.unix_timestamp();
        let identity = &event.user_identity;
        let account_id = event
            .recipient_account_id
            .get()
            .or(identity.account_id.get())
            .cloned()
            .unwrap_or_default();
        let resources = match &event.resources {
            Member::Present(resources) => resources
                .iter()
                .filter_map(|r| Some((r.resource_type.get()?.clone(), r.arn.get()?.clone())))
                .collect(),
            _ => Vec::new(),
        };
        Ok(EventIndex {
            event_time,
            event_id: event.event_id.clone(),
            event_name: event.event_name.clone(),
            event_source: event.event_source.clone(),
            username: lookup_username(event),
            access_key_id: identity.access_key_id.get().cloned(),
            read_only: event.read_only.get().copied(),
            account_id,
            resources,
        })
    }
}

/// The `Username` LookupEvents shows and filters by: the IAM user name, `root`
/// for the root user, the session name of a role session (the last part of
/// the `assumed-role` ARN), or the service for a service principal. This is
/// what the CloudTrail console's "User name" column shows for those identity
/// types (CloudTrail user guide, "Viewing CloudTrail events").
pub fn lookup_username(event: &CloudTrailEvent) -> Option<String> {
    let identity = &event.user_identity;
    if let Some(name) = identity.user_name.get() {
        return Some(name.clone());
    }
    match identity.identity_type.get() {
        Some(IdentityType::Root) => Some("root".to_owned()),
        Some(IdentityType::AssumedRole) => identity
            .arn
            .get()
            .and_then(|arn| arn.rsplit('/').next())
            .map(str::to_owned),
        Some(IdentityType::AwsService) => identity.invoked_by.get().cloned(),
        _ => None,
    }
}
