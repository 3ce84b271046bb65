//! `userIdentity` borrowed from what the caller already holds, for the event
//! writer, and the owned [`UserIdentity`] it stands for.
//!
//! A view has the members keyward fills in for a caller (type, ids, ARNs,
//! access key, user name, a role session's context, `invokedBy`) as borrowed
//! text; [`UserIdentity::from`] turns it into the record type, so a server
//! decides a caller's identity once and gets both. Members keyward never
//! fills in (`identityProvider`, `onBehalfOf` …) are not in the view; a
//! record from AWS that has them is read and written as a [`UserIdentity`].
//!
//! Members are written in [`UserIdentity`]'s declared order, and a `None`
//! member is left out, as an absent [`crate::Member`] is.

use time::OffsetDateTime;

use crate::identity::{
    IdentityType, SessionAttributes, SessionContext, SessionIssuer, UserIdentity,
};
use crate::json_text::{key, ObjectWriter};
use crate::member::Member;
use crate::time_format::push_event_time;

/// The `userIdentity` of one call, borrowed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdentityView<'a> {
    pub identity_type: Option<IdentityType>,
    pub principal_id: Option<&'a str>,
    pub arn: Option<&'a str>,
    pub account_id: Option<&'a str>,
    pub access_key_id: Option<&'a str>,
    pub user_name: Option<&'a str>,
    pub session_context: Option<SessionContextView<'a>>,
    /// The service that made the call, for the caller or as itself.
    pub invoked_by: Option<&'a str>,
}

/// `sessionContext` of a role session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionContextView<'a> {
    pub session_issuer: Option<SessionIssuerView<'a>>,
    pub attributes: Option<SessionAttributesView>,
}

/// `sessionContext.sessionIssuer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionIssuerView<'a> {
    pub issuer_type: Option<&'a str>,
    pub principal_id: Option<&'a str>,
    pub arn: Option<&'a str>,
    pub account_id: Option<&'a str>,
    pub user_name: Option<&'a str>,
}

/// `sessionContext.attributes`: written as [`SessionAttributes::new`] writes
/// them (`creationDate` as an event time, `mfaAuthenticated` as a string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionAttributesView {
    pub creation_date: OffsetDateTime,
    pub mfa_authenticated: bool,
}

impl<'a> IdentityView<'a> {
    /// As [`UserIdentity::root`].
    pub fn root(account_id: &'a str, arn: &'a str) -> Self {
        IdentityView {
            identity_type: Some(IdentityType::Root),
            principal_id: Some(account_id),
            arn: Some(arn),
            account_id: Some(account_id),
            ..IdentityView::default()
        }
    }

    /// As [`UserIdentity::iam_user`].
    pub fn iam_user(
        principal_id: &'a str,
        arn: &'a str,
        account_id: &'a str,
        user_name: &'a str,
    ) -> Self {
        IdentityView {
            identity_type: Some(IdentityType::IamUser),
            principal_id: Some(principal_id),
            arn: Some(arn),
            account_id: Some(account_id),
            user_name: Some(user_name),
            ..IdentityView::default()
        }
    }

    /// As [`UserIdentity::assumed_role`].
    pub fn assumed_role(
        principal_id: &'a str,
        arn: &'a str,
        account_id: &'a str,
        session_context: SessionContextView<'a>,
    ) -> Self {
        IdentityView {
            identity_type: Some(IdentityType::AssumedRole),
            principal_id: Some(principal_id),
            arn: Some(arn),
            account_id: Some(account_id),
            session_context: Some(session_context),
            ..IdentityView::default()
        }
    }

    /// As [`UserIdentity::aws_service`].
    pub fn aws_service(invoked_by: &'a str) -> Self {
        IdentityView {
            identity_type: Some(IdentityType::AwsService),
            invoked_by: Some(invoked_by),
            ..IdentityView::default()
        }
    }

    pub fn with_access_key_id(mut self, access_key_id: &'a str) -> Self {
        self.access_key_id = Some(access_key_id);
        self
    }

    pub fn with_invoked_by(mut self, service: &'a str) -> Self {
        self.invoked_by = Some(service);
        self
    }

    /// Appends the `userIdentity` object.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        let mut object = ObjectWriter::open(out);
        match &self.identity_type {
            Some(IdentityType::Other(name)) => object.str(key!("type"), name),
            // The names of this crate's types need no escape.
            Some(known) => object.plain_str(key!("type"), known.as_str()),
            None => {}
        }
        object.opt_str(key!("principalId"), self.principal_id);
        object.opt_str(key!("arn"), self.arn);
        object.opt_str(key!("accountId"), self.account_id);
        object.opt_str(key!("accessKeyId"), self.access_key_id);
        object.opt_str(key!("userName"), self.user_name);
        if let Some(context) = &self.session_context {
            context.write(object.member(key!("sessionContext")));
        }
        object.opt_str(key!("invokedBy"), self.invoked_by);
        object.close();
    }

    /// About how many bytes [`IdentityView::write`] writes (to size the
    /// buffer): the text, and a constant for names and punctuation.
    pub(crate) fn size_hint(&self) -> usize {
        let text: usize = [
            self.principal_id,
            self.arn,
            self.account_id,
            self.access_key_id,
            self.user_name,
            self.invoked_by,
        ]
        .iter()
        .map(|member| member.map_or(0, str::len))
        .sum();
        let context = self.session_context.map_or(0, |context| {
            let issuer = context.session_issuer.map_or(0, |issuer| {
                [
                    issuer.principal_id,
                    issuer.arn,
                    issuer.account_id,
                    issuer.user_name,
                ]
                .iter()
                .map(|member| member.map_or(0, str::len))
                .sum()
            });
            issuer + 200
        });
        text + context + 110
    }
}

impl SessionContextView<'_> {
    fn write(&self, out: &mut Vec<u8>) {
        let mut object = ObjectWriter::open(out);
        if let Some(issuer) = &self.session_issuer {
            let mut issuer_object = ObjectWriter::open(object.member(key!("sessionIssuer")));
            issuer_object.opt_str(key!("type"), issuer.issuer_type);
            issuer_object.opt_str(key!("principalId"), issuer.principal_id);
            issuer_object.opt_str(key!("arn"), issuer.arn);
            issuer_object.opt_str(key!("accountId"), issuer.account_id);
            issuer_object.opt_str(key!("userName"), issuer.user_name);
            issuer_object.close();
        }
        if let Some(attributes) = &self.attributes {
            let mut attributes_object = ObjectWriter::open(object.member(key!("attributes")));
            push_event_time(
                attributes_object.member(key!("creationDate")),
                attributes.creation_date,
            );
            attributes_object.plain_str(
                key!("mfaAuthenticated"),
                if attributes.mfa_authenticated {
                    "true"
                } else {
                    "false"
                },
            );
            attributes_object.close();
        }
        object.close();
    }
}

impl<'a> SessionIssuerView<'a> {
    /// As [`SessionIssuer::role`].
    pub fn role(
        principal_id: &'a str,
        arn: &'a str,
        account_id: &'a str,
        role_name: &'a str,
    ) -> Self {
        SessionIssuerView {
            issuer_type: Some("Role"),
            principal_id: Some(principal_id),
            arn: Some(arn),
            account_id: Some(account_id),
            user_name: Some(role_name),
        }
    }
}

fn owned(text: Option<&str>) -> Member<String> {
    Member::from_option(text.map(str::to_owned))
}

impl From<&IdentityView<'_>> for UserIdentity {
    fn from(view: &IdentityView<'_>) -> Self {
        UserIdentity {
            identity_type: Member::from_option(view.identity_type.clone()),
            principal_id: owned(view.principal_id),
            arn: owned(view.arn),
            account_id: owned(view.account_id),
            access_key_id: owned(view.access_key_id),
            user_name: owned(view.user_name),
            session_context: Member::from_option(view.session_context.map(SessionContext::from)),
            invoked_by: owned(view.invoked_by),
            ..UserIdentity::default()
        }
    }
}

impl From<SessionContextView<'_>> for SessionContext {
    fn from(view: SessionContextView<'_>) -> Self {
        SessionContext {
            session_issuer: Member::from_option(view.session_issuer.map(|issuer| SessionIssuer {
                issuer_type: owned(issuer.issuer_type),
                principal_id: owned(issuer.principal_id),
                arn: owned(issuer.arn),
                account_id: owned(issuer.account_id),
                user_name: owned(issuer.user_name),
            })),
            attributes: Member::from_option(view.attributes.map(|attributes| {
                SessionAttributes::new(attributes.creation_date, attributes.mfa_authenticated)
            })),
            ..SessionContext::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn check(view: IdentityView<'_>) {
        let mut written = Vec::new();
        view.write(&mut written);
        let reference = serde_json::to_vec(&UserIdentity::from(&view)).unwrap();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            String::from_utf8(reference).unwrap()
        );
    }

    #[test]
    fn every_shape_keyward_writes_matches_the_record_type() {
        check(IdentityView::root(
            "111122223333",
            "arn:aws:iam::111122223333:root",
        ));
        check(
            IdentityView::iam_user("AIDA", "arn:aws:iam::1:user/A\"\\", "1", "A\"\\")
                .with_access_key_id("AKIA"),
        );
        let context = SessionContextView {
            session_issuer: Some(SessionIssuerView::role("AROA", "arn:r/role", "1", "role")),
            attributes: Some(SessionAttributesView {
                creation_date: datetime!(2025-08-07 13:45:45 UTC),
                mfa_authenticated: false,
            }),
        };
        check(
            IdentityView::assumed_role("AROA:s", "arn:sts/s", "1", context)
                .with_access_key_id("ASIA")
                .with_invoked_by("emr.amazonaws.com"),
        );
        check(IdentityView::assumed_role(
            "AROA:s",
            "arn:sts/s",
            "1",
            SessionContextView::default(),
        ));
        check(IdentityView::aws_service("emr-serverless.amazonaws.com"));
        check(IdentityView {
            identity_type: Some(IdentityType::Unknown),
            principal_id: Some(""),
            account_id: Some("\u{0}\u{1f}"),
            ..IdentityView::default()
        });
        check(IdentityView::default());
        check(IdentityView {
            identity_type: Some(IdentityType::Other("New\"Type\u{1}".to_owned())),
            ..IdentityView::default()
        });
    }
}
