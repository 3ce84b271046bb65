//! The CloudTrail record: its type, its canonical bytes, and how keyward builds one.
//!
//! The members and their meaning are those of
//! <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html>;
//! the declared field order is the order CloudTrail writes (the seed records of
//! `shared/seeds/000…` and `003…`), so an event built here reads like one from
//! AWS and a record from AWS is written back member for member.
//!
//! Reading is strict about names (`deny_unknown_fields`): a member this type
//! does not know would otherwise be dropped silently and the record would no
//! longer round-trip. Reading is lenient about presence: every member that
//! AWS records sometimes omit is a [`Member`], which keeps absent and `null`
//! apart.
//!
//! What this module does not do: choose the identity, time, ids or parameters
//! of an event (they come in as arguments), or store it. [`CloudTrailEvent::encode`]
//! gives the bytes that the hash chain covers and that `LookupEvents` returns
//! as `CloudTrailEvent`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

use crate::error::AuditError;
use crate::event_object::EventObject;
use crate::identity::{UserIdentity, AWS_INTERNAL};
use crate::member::Member;
use crate::time_format::{format_event_time, parse_event_time};

/// The `eventVersion` keyward writes: the newest in the seed records.
pub const EVENT_VERSION: &str = "1.11";

/// `errorCode` and `errorMessage` hold at most 1 KB each; CloudTrail truncates
/// longer values (`errorMessage` on the record-contents page).
pub const MAX_ERROR_FIELD_BYTES: usize = 1024;

/// One CloudTrail record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloudTrailEvent {
    pub event_version: String,
    pub user_identity: UserIdentity,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`; kept as written so that a record with an
    /// unusual form still round-trips. See [`CloudTrailEvent::event_time`].
    pub event_time: String,
    pub event_source: String,
    pub event_name: String,
    pub aws_region: String,
    #[serde(
        rename = "sourceIPAddress",
        default,
        skip_serializing_if = "Member::is_absent"
    )]
    pub source_ip_address: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub user_agent: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub error_code: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub error_message: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub request_parameters: Member<EventObject>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub response_elements: Member<EventObject>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub additional_event_data: Member<EventObject>,
    #[serde(
        rename = "requestID",
        default,
        skip_serializing_if = "Member::is_absent"
    )]
    pub request_id: Member<String>,
    #[serde(rename = "eventID")]
    pub event_id: String,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub read_only: Member<bool>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub resources: Member<Vec<Resource>>,
    pub event_type: EventType,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub api_version: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub management_event: Member<bool>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub recipient_account_id: Member<String>,
    #[serde(
        rename = "sharedEventID",
        default,
        skip_serializing_if = "Member::is_absent"
    )]
    pub shared_event_id: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub service_event_details: Member<EventObject>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub vpc_endpoint_id: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub vpc_endpoint_account_id: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub event_category: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub addendum: Member<EventObject>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub tls_details: Member<TlsDetails>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub session_credential_from_console: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub edge_device_details: Member<EventObject>,
}

/// One entry of `resources`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    #[serde(
        rename = "accountId",
        default,
        skip_serializing_if = "Member::is_absent"
    )]
    pub account_id: Member<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Member::is_absent")]
    pub resource_type: Member<String>,
    #[serde(rename = "ARN", default, skip_serializing_if = "Member::is_absent")]
    pub arn: Member<String>,
}

/// `tlsDetails`, present when the request came over TLS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsDetails {
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub tls_version: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub cipher_suite: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub client_provided_host_header: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub key_exchange: Member<String>,
}

/// `eventType`. Names outside the documented list are kept as
/// [`EventType::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A call to a public API.
    AwsApiCall,
    /// An action the service took on its own (scheduled rotation, deletion).
    AwsServiceEvent,
    AwsConsoleAction,
    AwsConsoleSignIn,
    AwsCloudTrailInsight,
    AwsVpceEvent,
    Other(String),
}

/// What keyward knows about an API call when it finishes; see
/// [`CloudTrailEvent::api_call`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCall {
    pub user_identity: UserIdentity,
    /// When the request completed.
    pub event_time: OffsetDateTime,
    /// `kms.amazonaws.com`, `iam.amazonaws.com`, `sts.amazonaws.com` …
    pub event_source: String,
    /// The operation, e.g. `GenerateDataKey`.
    pub event_name: String,
    pub aws_region: String,
    /// The client's address, or the service name when a service made the call.
    pub source_ip_address: String,
    pub user_agent: String,
    /// The `x-amzn-RequestId` of the response.
    pub request_id: String,
    /// A fresh GUID for this event (randomness is the caller's).
    pub event_id: String,
    pub read_only: bool,
    /// The account that receives this copy of the event (the key owner, or the
    /// caller for the caller's copy of a cross-account call).
    pub recipient_account_id: String,
}

/// What keyward knows about an action it took by itself; see
/// [`CloudTrailEvent::service_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAction {
    pub account_id: String,
    pub event_time: OffsetDateTime,
    pub event_source: String,
    pub event_name: String,
    pub aws_region: String,
    pub event_id: String,
    pub read_only: bool,
}

impl CloudTrailEvent {
    /// An `AwsApiCall` management event with `"requestParameters": null` and
    /// `"responseElements": null` until the `with_*` methods say otherwise
    /// (AWS writes both members on every KMS call, `null` when empty).
    pub fn api_call(call: ApiCall) -> Self {
        CloudTrailEvent {
            event_version: EVENT_VERSION.to_owned(),
            user_identity: call.user_identity,
            event_time: format_event_time(call.event_time),
            event_source: call.event_source,
            event_name: call.event_name,
            aws_region: call.aws_region,
            source_ip_address: Member::Present(call.source_ip_address),
            user_agent: Member::Present(call.user_agent),
            error_code: Member::Absent,
            error_message: Member::Absent,
            request_parameters: Member::Null,
            response_elements: Member::Null,
            additional_event_data: Member::Absent,
            request_id: Member::Present(call.request_id),
            event_id: call.event_id,
            read_only: Member::Present(call.read_only),
            resources: Member::Absent,
            event_type: EventType::AwsApiCall,
            api_version: Member::Absent,
            management_event: Member::Present(true),
            recipient_account_id: Member::Present(call.recipient_account_id),
            shared_event_id: Member::Absent,
            service_event_details: Member::Absent,
            vpc_endpoint_id: Member::Absent,
            vpc_endpoint_account_id: Member::Absent,
            event_category: Member::Present("Management".to_owned()),
            addendum: Member::Absent,
            tls_details: Member::Absent,
            session_credential_from_console: Member::Absent,
            edge_device_details: Member::Absent,
        }
    }

    /// An `AwsServiceEvent`: the shape of KMS's scheduled-rotation record on
    /// <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/non-api-aws-service-events.html>,
    /// with "AWS Internal" as identity, address and user agent, and no request id.
    pub fn service_event(action: ServiceAction) -> Self {
        let mut event = CloudTrailEvent::api_call(ApiCall {
            user_identity: UserIdentity::aws_internal(action.account_id.clone()),
            event_time: action.event_time,
            event_source: action.event_source,
            event_name: action.event_name,
            aws_region: action.aws_region,
            source_ip_address: AWS_INTERNAL.to_owned(),
            user_agent: AWS_INTERNAL.to_owned(),
            request_id: String::new(),
            event_id: action.event_id,
            read_only: action.read_only,
            recipient_account_id: action.account_id,
        });
        event.request_id = Member::Absent;
        event.event_type = EventType::AwsServiceEvent;
        event
    }

    /// Records a failed call (denied, invalid, wrong key state, dry run). Each
    /// value is cut to [`MAX_ERROR_FIELD_BYTES`] on a character boundary.
    pub fn with_error(mut self, code: impl Into<String>, message: impl Into<String>) -> Self {
        let cut = |mut text: String| {
            text.truncate(truncate_to_bytes(&text, MAX_ERROR_FIELD_BYTES).len());
            text
        };
        self.error_code = Member::Present(cut(code.into()));
        self.error_message = Member::Present(cut(message.into()));
        self
    }

    pub fn with_request_parameters(mut self, parameters: impl Into<EventObject>) -> Self {
        self.request_parameters = Member::Present(parameters.into());
        self
    }

    pub fn with_response_elements(mut self, elements: impl Into<EventObject>) -> Self {
        self.response_elements = Member::Present(elements.into());
        self
    }

    pub fn with_additional_event_data(mut self, data: impl Into<EventObject>) -> Self {
        self.additional_event_data = Member::Present(data.into());
        self
    }

    pub fn with_service_event_details(mut self, details: impl Into<EventObject>) -> Self {
        self.service_event_details = Member::Present(details.into());
        self
    }

    /// Adds one entry to `resources` (ReEncrypt lists both keys).
    pub fn with_resource(mut self, resource: Resource) -> Self {
        match &mut self.resources {
            Member::Present(resources) => resources.push(resource),
            Member::Absent | Member::Null => self.resources = Member::Present(vec![resource]),
        }
        self
    }

    /// Marks this copy of a call that is recorded for two accounts (caller and
    /// key owner); both copies carry the same `sharedEventID`.
    pub fn with_shared_event_id(mut self, shared_event_id: impl Into<String>) -> Self {
        self.shared_event_id = Member::Present(shared_event_id.into());
        self
    }

    pub fn with_tls_details(mut self, tls_details: TlsDetails) -> Self {
        self.tls_details = Member::Present(tls_details);
        self
    }

    /// The canonical bytes: compact JSON with members in declared order. These
    /// are the bytes the chain hashes, so they are produced once, stored, and
    /// never re-derived from a parsed event.
    pub fn encode(&self) -> Result<Vec<u8>, AuditError> {
        serde_json::to_vec(self).map_err(|source| AuditError::EventEncoding { source })
    }

    /// Reads one record.
    pub fn decode(bytes: &[u8]) -> Result<Self, AuditError> {
        serde_json::from_slice(bytes).map_err(|source| AuditError::EventDecoding { source })
    }

    /// `eventTime` as a time.
    pub fn event_time(&self) -> Result<OffsetDateTime, AuditError> {
        parse_event_time(&self.event_time)
    }
}

impl Resource {
    /// `{"accountId": <owner>, "type": "AWS::KMS::Key", "ARN": <key ARN>}`.
    pub fn kms_key(account_id: impl Into<String>, key_arn: impl Into<String>) -> Self {
        Resource {
            account_id: Member::Present(account_id.into()),
            resource_type: Member::Present("AWS::KMS::Key".to_owned()),
            arn: Member::Present(key_arn.into()),
        }
    }
}

impl TlsDetails {
    pub fn new(
        tls_version: impl Into<String>,
        cipher_suite: impl Into<String>,
        client_provided_host_header: impl Into<String>,
    ) -> Self {
        TlsDetails {
            tls_version: Member::Present(tls_version.into()),
            cipher_suite: Member::Present(cipher_suite.into()),
            client_provided_host_header: Member::Present(client_provided_host_header.into()),
            key_exchange: Member::Absent,
        }
    }
}

impl EventType {
    /// The name CloudTrail writes.
    pub fn as_str(&self) -> &str {
        match self {
            EventType::AwsApiCall => "AwsApiCall",
            EventType::AwsServiceEvent => "AwsServiceEvent",
            EventType::AwsConsoleAction => "AwsConsoleAction",
            EventType::AwsConsoleSignIn => "AwsConsoleSignIn",
            EventType::AwsCloudTrailInsight => "AwsCloudTrailInsight",
            EventType::AwsVpceEvent => "AwsVpceEvent",
            EventType::Other(name) => name,
        }
    }

    /// The type named `name`; unknown names become [`EventType::Other`].
    pub fn from_name(name: &str) -> Self {
        match name {
            "AwsApiCall" => EventType::AwsApiCall,
            "AwsServiceEvent" => EventType::AwsServiceEvent,
            "AwsConsoleAction" => EventType::AwsConsoleAction,
            "AwsConsoleSignIn" => EventType::AwsConsoleSignIn,
            "AwsCloudTrailInsight" => EventType::AwsCloudTrailInsight,
            "AwsVpceEvent" => EventType::AwsVpceEvent,
            other => EventType::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(EventType::from_name(&name))
    }
}

/// `text` cut to at most `max_bytes` bytes without splitting a character
/// (also what the event writer keeps of an error).
pub(crate) fn truncate_to_bytes(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kms_elements::{KmsAdditionalEventData, KmsRequestParameters};
    use time::macros::datetime;

    fn generate_data_key_call() -> ApiCall {
        ApiCall {
            user_identity: UserIdentity::iam_user(
                "AIDAEXAMPLE",
                "arn:aws:iam::111122223333:user/Alice",
                "111122223333",
                "Alice",
            )
            .with_access_key_id("AKIAEXAMPLE"),
            event_time: datetime!(2025-08-07 13:45:45.5 UTC),
            event_source: "kms.amazonaws.com".into(),
            event_name: "GenerateDataKey".into(),
            aws_region: "us-east-1".into(),
            source_ip_address: "192.0.2.7".into(),
            user_agent: "aws-cli/2.17".into(),
            request_id: "56764d19-1eb1-48f1-8044-594aa7dd05c4".into(),
            event_id: "1371b402-f1dc-4c47-8f3a-1004e4803c5a".into(),
            read_only: true,
            recipient_account_id: "111122223333".into(),
        }
    }

    #[test]
    fn an_api_call_has_the_shape_of_the_seed_records() {
        let key_arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let event = CloudTrailEvent::api_call(generate_data_key_call())
            .with_request_parameters(KmsRequestParameters {
                key_id: Some(key_arn.into()),
                key_spec: Some("AES_256".into()),
                ..KmsRequestParameters::default()
            })
            .with_additional_event_data(KmsAdditionalEventData {
                key_material_id: Some("ab".repeat(32)),
                ..KmsAdditionalEventData::default()
            })
            .with_resource(Resource::kms_key("111122223333", key_arn));
        let text = String::from_utf8(event.encode().unwrap()).unwrap();
        let expected = format!(
            concat!(
                r#"{{"eventVersion":"1.11","userIdentity":{{"type":"IAMUser","principalId":"AIDAEXAMPLE","#,
                r#""arn":"arn:aws:iam::111122223333:user/Alice","accountId":"111122223333","#,
                r#""accessKeyId":"AKIAEXAMPLE","userName":"Alice"}},"eventTime":"2025-08-07T13:45:45Z","#,
                r#""eventSource":"kms.amazonaws.com","eventName":"GenerateDataKey","awsRegion":"us-east-1","#,
                r#""sourceIPAddress":"192.0.2.7","userAgent":"aws-cli/2.17","#,
                r#""requestParameters":{{"keyId":"{arn}","keySpec":"AES_256"}},"responseElements":null,"#,
                r#""additionalEventData":{{"keyMaterialId":"{material}"}},"#,
                r#""requestID":"56764d19-1eb1-48f1-8044-594aa7dd05c4","#,
                r#""eventID":"1371b402-f1dc-4c47-8f3a-1004e4803c5a","readOnly":true,"#,
                r#""resources":[{{"accountId":"111122223333","type":"AWS::KMS::Key","ARN":"{arn}"}}],"#,
                r#""eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","#,
                r#""eventCategory":"Management"}}"#
            ),
            arn = key_arn,
            material = "ab".repeat(32)
        );
        assert_eq!(text, expected);
        assert_eq!(CloudTrailEvent::decode(text.as_bytes()).unwrap(), event);
    }

    #[test]
    fn a_service_event_has_the_shape_of_the_rotation_record() {
        let event = CloudTrailEvent::service_event(ServiceAction {
            account_id: "111122223333".into(),
            event_time: datetime!(2021-01-14 01:41:59 UTC),
            event_source: "kms.amazonaws.com".into(),
            event_name: "RotateKey".into(),
            aws_region: "us-west-2".into(),
            event_id: "a24b3967-ddad-417f-9b22-2332b918db06".into(),
            read_only: false,
        });
        let value: serde_json::Value = serde_json::from_slice(&event.encode().unwrap()).unwrap();
        assert_eq!(
            value["userIdentity"],
            serde_json::json!({"accountId": "111122223333", "invokedBy": "AWS Internal"})
        );
        assert_eq!(value["sourceIPAddress"], "AWS Internal");
        assert_eq!(value["eventType"], "AwsServiceEvent");
        assert!(value.get("requestID").is_none());
        assert!(value["requestParameters"].is_null());
    }

    #[test]
    fn error_fields_are_cut_to_one_kilobyte_on_a_character_boundary() {
        let message = "é".repeat(600); // 1200 bytes
        let event = CloudTrailEvent::api_call(generate_data_key_call())
            .with_error("AccessDeniedException", message);
        let kept = event.error_message.get().unwrap();
        assert_eq!(kept.len(), 1024);
        assert!(kept.chars().all(|character| character == 'é'));
    }

    #[test]
    fn unknown_members_are_rejected_rather_than_dropped() {
        let mut value: serde_json::Value = serde_json::from_slice(
            &CloudTrailEvent::api_call(generate_data_key_call())
                .encode()
                .unwrap(),
        )
        .unwrap();
        value["somethingNew"] = serde_json::json!(1);
        let bytes = serde_json::to_vec(&value).unwrap();
        assert!(matches!(
            CloudTrailEvent::decode(&bytes),
            Err(AuditError::EventDecoding { .. })
        ));
    }
}
