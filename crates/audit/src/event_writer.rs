//! The event of one KMS API call, written in one pass from borrowed inputs.
//!
//! Every call a server answers becomes an event that is made durable before
//! the answer leaves, so building one is on every request's path. Building a
//! [`crate::CloudTrailEvent`] with the typed builders and encoding it copies each
//! member into an owned `String` or a `JsonObject` and walks it again with
//! serde; this writer takes the same members as borrowed, typed views and
//! writes the canonical JSON straight into one buffer sized up front.
//!
//! The bytes are exactly those of [`crate::CloudTrailEvent::encode`] for the event
//! the typed builders make from the same members (`CloudTrailEvent::api_call`
//! and its `with_*` methods): members in the record type's declared order,
//! absent members left out, serde_json's compact form and escaping
//! (`json_text.rs`). The typed path stays the reference model, and the tests
//! check the writer against it. An event written here reads back with
//! [`crate::CloudTrailEvent::decode`] and re-encodes to the same bytes.
//!
//! The invariant of [`crate::event_object`] holds here too: every input is a
//! typed view whose fields are members AWS logs ([`IdentityView`],
//! [`KmsRequestView`], [`KmsAdditionalView`], key resources), or an
//! [`EventObject`], which upholds it itself. There is no free-form JSON input.
//!
//! What it does not do: the events of other services (IAM, STS, CloudTrail)
//! and service events, which are rarer and stay on the typed path; choosing
//! the members (the server does).

use std::fmt;
use std::io::Write as _;
use std::net::IpAddr;

use time::OffsetDateTime;

use crate::error::AuditError;
use crate::event::{truncate_to_bytes, EVENT_VERSION, MAX_ERROR_FIELD_BYTES};
use crate::event_object::EventObject;
use crate::identity_view::IdentityView;
use crate::json_text::{key, push_str, ObjectWriter};
use crate::kms_request_view::{KmsAdditionalView, KmsRequestView};
use crate::time_format::push_event_time;

/// What the event of one KMS API call says, borrowed from whoever holds it.
/// The members are those of [`crate::ApiCall`] and the `with_*` methods of
/// [`crate::CloudTrailEvent`].
#[derive(Debug, Clone, Copy)]
pub struct KmsCallEvent<'a> {
    pub user_identity: &'a IdentityView<'a>,
    /// When the request completed (written to the second).
    pub event_time: OffsetDateTime,
    pub event_source: &'a str,
    pub event_name: &'a str,
    pub aws_region: &'a str,
    /// The client's address, or the service name when a service made the call.
    pub source_ip_address: SourceAddress<'a>,
    pub user_agent: &'a str,
    /// A failed call's error code and message (each cut to
    /// [`MAX_ERROR_FIELD_BYTES`] on a character boundary, as
    /// [`crate::CloudTrailEvent::with_error`] cuts them).
    pub error: Option<CallError<'a>>,
    /// `None` writes `"requestParameters": null`.
    pub request_parameters: Option<&'a KmsRequestView<'a>>,
    /// `None` writes `"responseElements": null`. The few operations that log
    /// response elements (CreateKey, CreateGrant …) are rare, so they come
    /// from the typed builders.
    pub response_elements: Option<&'a EventObject>,
    /// `None` leaves `additionalEventData` out.
    pub additional_event_data: Option<&'a KmsAdditionalView<'a>>,
    /// The `x-amzn-RequestId` of the response.
    pub request_id: &'a str,
    /// A fresh GUID for this event (randomness is the caller's).
    pub event_id: EventId,
    pub read_only: bool,
    /// The keys the call acted on; none leaves `resources` out.
    pub resources: &'a [KeyResource<'a>],
    /// The account that receives this copy of the event.
    pub recipient_account_id: &'a str,
    /// Set on both copies of a call recorded for two accounts.
    pub shared_event_id: Option<EventId>,
}

/// `sourceIPAddress`: the address the request came from, or the name of the
/// service that made the call. An address is written by the writer itself
/// (its text never needs an escape).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceAddress<'a> {
    Ip(IpAddr),
    /// A service name (`emr-serverless.amazonaws.com`), or empty when the
    /// address is unknown.
    Name(&'a str),
}

/// A GUID as CloudTrail writes `eventID` and `sharedEventID`: the 128 bits as
/// 32 lower-case hex digits, most significant first, in groups of 8-4-4-4-12
/// (RFC 9562 §4, what `uuid::Uuid` displays for the same bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventId(pub u128);

/// `errorCode` and `errorMessage` of a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallError<'a> {
    pub code: &'a str,
    pub message: &'a str,
}

/// One entry of `resources`: a KMS key and the account that owns it
/// (as [`crate::Resource::kms_key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyResource<'a> {
    pub account_id: &'a str,
    pub arn: &'a str,
}

impl KmsCallEvent<'_> {
    /// The canonical bytes of the event; see the module comment.
    pub fn encode(&self) -> Result<Vec<u8>, AuditError> {
        let mut out = Vec::with_capacity(self.size_hint());
        self.write(&mut out)?;
        Ok(out)
    }

    /// Appends the canonical bytes of the event to `out`.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), AuditError> {
        let mut event = ObjectWriter::open(out);
        event.plain_str(key!("eventVersion"), EVENT_VERSION);
        self.user_identity.write(event.member(key!("userIdentity")));
        push_event_time(event.member(key!("eventTime")), self.event_time);
        event.str(key!("eventSource"), self.event_source);
        event.str(key!("eventName"), self.event_name);
        event.str(key!("awsRegion"), self.aws_region);
        self.source_ip_address
            .write(event.member(key!("sourceIPAddress")));
        event.str(key!("userAgent"), self.user_agent);
        if let Some(error) = self.error {
            event.str(
                key!("errorCode"),
                truncate_to_bytes(error.code, MAX_ERROR_FIELD_BYTES),
            );
            event.str(
                key!("errorMessage"),
                truncate_to_bytes(error.message, MAX_ERROR_FIELD_BYTES),
            );
        }
        match self.request_parameters {
            Some(parameters) => parameters.write(event.member(key!("requestParameters"))),
            None => push_null(event.member(key!("requestParameters"))),
        }
        match self.response_elements {
            Some(elements) => {
                serde_json::to_writer(event.member(key!("responseElements")), elements)
                    .map_err(|source| AuditError::EventEncoding { source })?
            }
            None => push_null(event.member(key!("responseElements"))),
        }
        if let Some(data) = self.additional_event_data {
            data.write(event.member(key!("additionalEventData")));
        }
        event.str(key!("requestID"), self.request_id);
        self.event_id.write(event.member(key!("eventID")));
        event.bool(key!("readOnly"), self.read_only);
        if !self.resources.is_empty() {
            let out = event.member(key!("resources"));
            out.push(b'[');
            for (index, resource) in self.resources.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                let mut object = ObjectWriter::open(out);
                object.str(key!("accountId"), resource.account_id);
                object.plain_str(key!("type"), "AWS::KMS::Key");
                object.str(key!("ARN"), resource.arn);
                object.close();
            }
            out.push(b']');
        }
        event.plain_str(key!("eventType"), "AwsApiCall");
        event.bool(key!("managementEvent"), true);
        event.str(key!("recipientAccountId"), self.recipient_account_id);
        if let Some(shared_event_id) = self.shared_event_id {
            shared_event_id.write(event.member(key!("sharedEventID")));
        }
        event.plain_str(key!("eventCategory"), "Management");
        event.close();
        Ok(())
    }

    /// About the size of the event: an upper bound when no text needs an
    /// escape, so that the buffer is allocated once. Cheap on purpose: the
    /// lengths of the text, and a constant for the rest.
    fn size_hint(&self) -> usize {
        // Member names, punctuation and fixed values of an event with every
        // member this writer knows (and an IPv6 address).
        const FIXED: usize = 500;
        let text = [
            self.event_source,
            self.event_name,
            self.aws_region,
            match self.source_ip_address {
                SourceAddress::Ip(_) => "",
                SourceAddress::Name(name) => name,
            },
            self.user_agent,
            self.request_id,
            self.recipient_account_id,
        ];
        let error = self.error.map_or(0, |error| {
            error.code.len().min(MAX_ERROR_FIELD_BYTES)
                + error.message.len().min(MAX_ERROR_FIELD_BYTES)
        });
        let additional = self.additional_event_data.map_or(0, |data| {
            [
                data.key_material_id,
                data.grant_id,
                data.custom_key_store_id,
            ]
            .iter()
            .map(|member| member.map_or(0, str::len))
            .sum()
        });
        let resources: usize = self
            .resources
            .iter()
            .map(|resource| resource.account_id.len() + resource.arn.len() + 50)
            .sum();
        FIXED
            + text.iter().map(|member| member.len()).sum::<usize>()
            + self.user_identity.size_hint()
            + error
            + self.request_parameters.map_or(0, KmsRequestView::size_hint)
            + self.response_elements.map_or(0, |_| 512)
            + additional
            + resources
    }
}

impl SourceAddress<'_> {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            SourceAddress::Ip(IpAddr::V4(address)) => {
                // As `Ipv4Addr`'s `Display` writes it, without the formatter.
                out.push(b'"');
                for (index, octet) in address.octets().into_iter().enumerate() {
                    if index > 0 {
                        out.push(b'.');
                    }
                    if octet >= 100 {
                        out.push(b'0' + octet / 100);
                    }
                    if octet >= 10 {
                        out.push(b'0' + octet / 10 % 10);
                    }
                    out.push(b'0' + octet % 10);
                }
                out.push(b'"');
            }
            SourceAddress::Ip(address @ IpAddr::V6(_)) => {
                out.push(b'"');
                // Hex digits, colons and dots: nothing to escape. Writing to
                // a vector cannot fail.
                let written = write!(out, "{address}");
                debug_assert!(written.is_ok());
                out.push(b'"');
            }
            SourceAddress::Name(name) => push_str(out, name),
        }
    }
}

impl fmt::Display for SourceAddress<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceAddress::Ip(address) => address.fmt(formatter),
            SourceAddress::Name(name) => formatter.write_str(name),
        }
    }
}

impl EventId {
    /// The 36 characters of the GUID.
    fn text(self) -> [u8; 36] {
        const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
        // Where the two digits of each of the 16 bytes go.
        const DIGITS_AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
        let mut text = [b'-'; 36];
        for (byte, at) in self.0.to_be_bytes().into_iter().zip(DIGITS_AT) {
            if let Some(digits) = text.get_mut(at..at + 2) {
                digits.copy_from_slice(&[
                    HEX_DIGITS[usize::from(byte >> 4)],
                    HEX_DIGITS[usize::from(byte & 0x0F)],
                ]);
            }
        }
        text
    }

    fn write(self, out: &mut Vec<u8>) {
        out.push(b'"');
        out.extend_from_slice(&self.text());
        out.push(b'"');
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.text();
        formatter.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

fn push_null(out: &mut Vec<u8>) {
    out.extend_from_slice(b"null");
}

#[cfg(test)]
use crate::event::CloudTrailEvent;

/// The same event built with the typed builders: the reference model.
#[cfg(test)]
impl KmsCallEvent<'_> {
    pub(crate) fn reference_event(&self) -> CloudTrailEvent {
        use crate::event::{ApiCall, Resource};
        use crate::identity::UserIdentity;
        use crate::kms_elements::{KmsAdditionalEventData, KmsRequestParameters};

        let mut event = CloudTrailEvent::api_call(ApiCall {
            user_identity: UserIdentity::from(self.user_identity),
            event_time: self.event_time,
            event_source: self.event_source.to_owned(),
            event_name: self.event_name.to_owned(),
            aws_region: self.aws_region.to_owned(),
            source_ip_address: self.source_ip_address.to_string(),
            user_agent: self.user_agent.to_owned(),
            request_id: self.request_id.to_owned(),
            event_id: self.event_id.to_string(),
            read_only: self.read_only,
            recipient_account_id: self.recipient_account_id.to_owned(),
        });
        if let Some(error) = self.error {
            event = event.with_error(error.code, error.message);
        }
        if let Some(parameters) = self.request_parameters {
            event = event.with_request_parameters(KmsRequestParameters::from(parameters));
        }
        if let Some(elements) = self.response_elements {
            event = event.with_response_elements(elements.clone());
        }
        if let Some(data) = self.additional_event_data {
            event = event.with_additional_event_data(KmsAdditionalEventData::from(data));
        }
        for resource in self.resources {
            event = event.with_resource(Resource::kms_key(resource.account_id, resource.arn));
        }
        if let Some(shared) = self.shared_event_id {
            event = event.with_shared_event_id(shared.to_string());
        }
        event
    }
}

#[cfg(test)]
#[path = "event_writer_test.rs"]
mod tests;
