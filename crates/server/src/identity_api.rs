//! IAM and STS at the endpoint: two Query services over the identity
//! domain, each with its operation table (`iam_api::OPERATIONS`,
//! `sts_api::OPERATIONS`) and dispatch.
//!
//! Every IAM change is a durable store write, so calls run on the blocking
//! pool. The caller is authenticated by the pipeline before the action runs
//! (the action may delete the very access key that signed it), so the event
//! names who asked either way.

use std::sync::Arc;

use keyward_principal::Caller;
use keyward_trail::{Entry, TrailError};

use crate::audit::{query_event, Outcome, QueryFacts, RequestFacts};
use crate::auth::Authenticator;
use crate::error::WireError;
use crate::protocol::query::xml::{IAM_NAMESPACE, STS_NAMESPACE};
use crate::protocol::query::{Query, QueryError, QueryService};
use crate::protocol::Protocol;
use crate::service::{BoxFuture, Call, Called, Input, Operation, Reply, Service};
use crate::{iam_api, sts_api};

/// IAM or STS.
pub(crate) struct IdentityService {
    kind: QueryService,
    auth: Arc<Authenticator>,
    protocol: Protocol,
}

impl IdentityService {
    pub fn iam(auth: Arc<Authenticator>) -> IdentityService {
        IdentityService {
            kind: QueryService::Iam,
            auth,
            protocol: Protocol::Query(Query {
                namespace: IAM_NAMESPACE,
                claims: &[],
            }),
        }
    }

    pub fn sts(auth: Arc<Authenticator>) -> IdentityService {
        IdentityService {
            kind: QueryService::Sts,
            auth,
            protocol: Protocol::Query(Query {
                namespace: STS_NAMESPACE,
                claims: &["AssumeRole", "GetCallerIdentity"],
            }),
        }
    }

    fn operations(&self) -> &'static [Operation] {
        match self.kind {
            QueryService::Iam => iam_api::OPERATIONS,
            QueryService::Sts => sts_api::OPERATIONS,
        }
    }

    fn operation(&self, name: &str) -> Option<&'static Operation> {
        self.operations().iter().find(|row| row.name == name)
    }

    async fn run(&self, call: Call<'_>) -> Called {
        let form = match call.input {
            Input::Query(form) => form,
            Input::Json(_) | Input::Rest { .. } => Err(QueryError::MissingAction),
        };
        let mut facts = QueryFacts::of_form(form.as_ref().ok());
        let result = match form {
            Err(error) => Err(error),
            Ok(request) if self.operation(&request.action).is_none() => {
                Err(QueryError::InvalidAction(request.action))
            }
            Ok(request) => {
                let auth = Arc::clone(&self.auth);
                let caller = call.caller.clone();
                let request_id = call.facts.request_id.to_owned();
                let kind = self.kind;
                let ran = tokio::task::spawn_blocking(move || {
                    let mut facts = QueryFacts::default();
                    let result = match kind {
                        QueryService::Iam => {
                            iam_api::dispatch(&auth, &caller, &request, &request_id, &mut facts)
                        }
                        QueryService::Sts => {
                            sts_api::dispatch(&auth, &caller, &request, &request_id, &mut facts)
                        }
                    };
                    (result, facts.response_elements)
                })
                .await;
                match ran {
                    Ok((result, response_elements)) => {
                        facts.response_elements = response_elements;
                        result
                    }
                    Err(error) => Err(QueryError::Internal(format!(
                        "operation task failed: {error}"
                    ))),
                }
            }
        };
        let reply = match result {
            Ok(xml) => Ok(Reply::ok(Some(xml.into_bytes()))),
            Err(error) => {
                let wire = error.wire(self.kind);
                if wire.status.is_server_error() {
                    tracing::error!(request_id = call.facts.request_id, code = wire.code, error = ?error, "query request failed");
                }
                Err(wire)
            }
        };
        let events = if call.record {
            let read_only = self
                .operation(call.facts.event_name)
                .is_some_and(|row| row.read_only);
            let event = query_event(
                &call.facts,
                call.caller,
                read_only,
                facts,
                Outcome::of(&reply),
            );
            Entry::new(&event).map(|entry| vec![entry])
        } else {
            Ok(Vec::new())
        };
        Called { reply, events }
    }
}

impl Service for IdentityService {
    fn signing_names(&self) -> &'static [&'static str] {
        match self.kind {
            QueryService::Iam => &["iam"],
            QueryService::Sts => &["sts"],
        }
    }

    fn protocol(&self) -> &Protocol {
        &self.protocol
    }

    fn event_source(&self) -> &'static str {
        match self.kind {
            QueryService::Iam => "iam.amazonaws.com",
            QueryService::Sts => "sts.amazonaws.com",
        }
    }

    fn call<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Called> {
        Box::pin(self.run(call))
    }

    fn internal_error(&self) -> WireError {
        QueryError::internal(self.kind)
    }

    fn failure_events(
        &self,
        facts: &RequestFacts<'_>,
        caller: &Caller,
        error: &WireError,
    ) -> Result<Vec<Entry>, TrailError> {
        let failed: Result<(), WireError> = Err(error.clone());
        let read_only = self
            .operation(facts.event_name)
            .is_some_and(|row| row.read_only);
        let event = query_event(
            facts,
            caller,
            read_only,
            QueryFacts::default(),
            Outcome::of(&failed),
        );
        Entry::new(&event).map(|entry| vec![entry])
    }
}
