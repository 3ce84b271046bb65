//! The pipeline through `app()`, with no socket (axum's `oneshot`), real
//! SigV4 signatures and a real audit trail: a REST-JSON service of the
//! tests' own (the first real one, emr-serverless, comes with issue 20)
//! and a handler that panics.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use keyward_crypto::RootKey;
use keyward_identity::Identities;
use keyward_kms::Kms;
use keyward_principal::{Caller, Clock};
use keyward_store::{AccountRow, Mutation, SqliteStore, Store};
use keyward_trail::{Entry, LookupAttribute, LookupQuery, Trail, TrailConfig, TrailError};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::audit::{cloudtrail_event, Outcome, RequestFacts};
use crate::error::WireError;
use crate::metrics::Metrics;
use crate::protocol::rest_json::{query_params, RestJson, Route};
use crate::protocol::Protocol;
use crate::service::{BoxFuture, Call, Called, Input, Registry, Reply, Service};
use crate::{app, AppState, Authenticator};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";

const ROUTES: &[Route] = &[
    Route {
        method: "GET",
        path: "/widgets",
        operation: "ListWidgets",
    },
    Route {
        method: "POST",
        path: "/widgets",
        operation: "CreateWidget",
    },
    Route {
        method: "GET",
        path: "/widgets/{widgetId}",
        operation: "GetWidget",
    },
    Route {
        method: "POST",
        path: "/widgets/{widgetId}/explode",
        operation: "Explode",
    },
];

/// A REST-JSON service that knows one widget, `w-1`.
struct Widgets {
    protocol: Protocol,
}

fn not_found(message: String) -> WireError {
    WireError {
        code: "ResourceNotFoundException",
        status: StatusCode::NOT_FOUND,
        message: Some(message),
    }
}

impl Widgets {
    fn answer(call: &Call<'_>) -> Result<Reply, WireError> {
        let Input::Rest { path, query, body } = &call.input else {
            return Err(not_found("not a REST call".into()));
        };
        let json = |status: StatusCode, value: Value| {
            Ok(Reply {
                status,
                body: Some(value.to_string().into_bytes()),
            })
        };
        match call.operation.unwrap_or_default() {
            "ListWidgets" => {
                let params = query_params(query);
                let states: Vec<&str> = params
                    .iter()
                    .filter(|(name, _)| name == "states")
                    .map(|(_, value)| value.as_str())
                    .collect();
                let max = params
                    .iter()
                    .find(|(name, _)| name == "maxResults")
                    .map(|(_, value)| value.as_str());
                json(
                    StatusCode::OK,
                    json!({"widgets": ["w-1"], "states": states, "maxResults": max}),
                )
            }
            "CreateWidget" => {
                let input: Value = serde_json::from_slice(body).map_err(|_| WireError {
                    code: "ValidationException",
                    status: StatusCode::BAD_REQUEST,
                    message: Some("the body is no JSON".into()),
                })?;
                json(
                    StatusCode::CREATED,
                    json!({"widgetId": "w-2", "name": input["name"]}),
                )
            }
            "GetWidget" => match path.get("widgetId") {
                Some("w-1") => json(StatusCode::OK, json!({"widgetId": "w-1"})),
                other => Err(not_found(format!(
                    "Widget {} does not exist",
                    other.unwrap_or_default()
                ))),
            },
            "Explode" => panic!("a handler bug"),
            other => Err(WireError {
                code: "UnknownOperationException",
                status: StatusCode::NOT_FOUND,
                message: Some(format!("No operation at this path ({other:?})")),
            }),
        }
    }
}

fn event(facts: &RequestFacts<'_>, caller: &Caller, failed: Option<&WireError>) -> Vec<Entry> {
    let outcome = match failed {
        Some(error) => Outcome::Failure {
            code: error.code,
            message: error.message.as_deref(),
        },
        None => Outcome::Success,
    };
    vec![Entry::new(&cloudtrail_event(facts, caller, None, outcome)).unwrap()]
}

impl Service for Widgets {
    fn signing_names(&self) -> &'static [&'static str] {
        &["widgets"]
    }

    fn protocol(&self) -> &Protocol {
        &self.protocol
    }

    fn event_source(&self) -> &'static str {
        "widgets.amazonaws.com"
    }

    fn call<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Called> {
        Box::pin(async move {
            let reply = Widgets::answer(&call);
            let events = Ok(event(&call.facts, call.caller, reply.as_ref().err()));
            Called { reply, events }
        })
    }

    fn internal_error(&self) -> WireError {
        WireError {
            code: "InternalServerException",
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: Some("An internal error occurred.".into()),
        }
    }

    fn failure_events(
        &self,
        facts: &RequestFacts<'_>,
        caller: &Caller,
        error: &WireError,
    ) -> Result<Vec<Entry>, TrailError> {
        Ok(event(facts, caller, Some(error)))
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    state: Arc<AppState>,
    trail: Arc<Trail>,
    access_key_id: String,
    secret: String,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("db.sqlite")).unwrap());
    store
        .apply(&[Mutation::PutAccount(AccountRow {
            account_id: ACCOUNT.into(),
            created_ms: 0,
        })])
        .unwrap();
    let store: Arc<dyn Store> = store;
    let snapshot = store.load().unwrap();
    let root_key = RootKey::generate().unwrap();
    let clock = Arc::new(Clock::new());
    let kms = Arc::new(
        Kms::open(
            Arc::clone(&store),
            &snapshot,
            root_key.clone(),
            REGION,
            Arc::clone(&clock),
        )
        .unwrap(),
    );
    let identities =
        Arc::new(Identities::open(store, &snapshot, root_key, clock, ACCOUNT).unwrap());
    let key = identities
        .create_access_key(&Caller::root(ACCOUNT), None)
        .unwrap();
    let trail = Arc::new(Trail::open(dir.path(), TrailConfig::new()).unwrap());
    let auth = Arc::new(Authenticator::new(identities, false, REGION));
    let mut state = AppState::new(
        Arc::clone(&kms),
        auth,
        false,
        crate::DEFAULT_REQUEST_TIMEOUT,
        Some(Arc::clone(&trail)),
        Arc::new(Metrics::new()),
    );
    state.services = Registry::new(
        Arc::new(Widgets {
            protocol: Protocol::RestJson(RestJson { routes: ROUTES }),
        }),
        Vec::new(),
    );
    Fixture {
        _dir: dir,
        state: Arc::new(state),
        trail,
        access_key_id: key.metadata.access_key_id.clone(),
        secret: key.secret_access_key.to_string(),
    }
}

impl Fixture {
    /// A request signed for the widgets service.
    fn signed(&self, method: &str, uri: &str, body: &str) -> Request<Body> {
        let amz_date = keyward_sigv4::format_amz_date(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64,
        );
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        let headers = [("host", "localhost"), ("x-amz-date", amz_date.as_str())];
        let authorization = keyward_sigv4::sign(
            &keyward_sigv4::RequestParts {
                method,
                path,
                query,
                headers: &headers,
                body: body.as_bytes(),
            },
            &self.access_key_id,
            &self.secret,
            REGION,
            "widgets",
            &amz_date,
        );
        Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "localhost")
            .header("x-amz-date", &amz_date)
            .header("authorization", authorization)
            .body(Body::from(body.to_owned()))
            .unwrap()
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, Option<String>, Value) {
        let response = app(Arc::clone(&self.state)).oneshot(request).await.unwrap();
        let status = response.status();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .map(|value| value.to_str().unwrap().to_owned());
        assert!(response.headers().contains_key("x-amzn-requestid"));
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, error_type, body)
    }

    fn events_named(&self, name: &str) -> Vec<Value> {
        let page = self
            .trail
            .lookup(&LookupQuery {
                account_id: ACCOUNT.into(),
                attribute: Some(LookupAttribute::EventName(name.into())),
                start_time: None,
                end_time: None,
                max_results: 50,
                before_sequence: None,
            })
            .unwrap();
        page.events
            .iter()
            .map(|found| serde_json::from_slice(&found.event).unwrap())
            .collect()
    }
}

#[tokio::test]
async fn rest_json_routes_on_method_and_path() {
    let f = fixture();
    let (status, error, body) = f.send(f.signed("GET", "/widgets/w-1", "")).await;
    assert_eq!((status, error), (StatusCode::OK, None));
    assert_eq!(body, json!({"widgetId": "w-1"}));

    let (status, _, body) = f
        .send(f.signed("GET", "/widgets?maxResults=5&states=NEW&states=OLD", ""))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["maxResults"], "5");
    assert_eq!(body["states"], json!(["NEW", "OLD"]));

    // The operation's own status code.
    let (status, _, body) = f
        .send(f.signed("POST", "/widgets", r#"{"name":"gear"}"#))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body, json!({"widgetId": "w-2", "name": "gear"}));
}

#[tokio::test]
async fn rest_json_errors_name_their_type_in_a_header() {
    let f = fixture();
    let (status, error, body) = f.send(f.signed("GET", "/widgets/w-9", "")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error.as_deref(), Some("ResourceNotFoundException"));
    assert_eq!(body, json!({"message": "Widget w-9 does not exist"}));

    let (status, error, _) = f.send(f.signed("POST", "/widgets", "not json")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error.as_deref(), Some("ValidationException"));

    // A method and path no operation has is the service's unknown
    // operation, recorded like any call.
    let (status, error, _) = f.send(f.signed("DELETE", "/gadgets", "")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error.as_deref(), Some("UnknownOperationException"));

    // Unsigned: refused in REST-JSON's words, before the service sees it.
    let unsigned = Request::builder()
        .method("GET")
        .uri("/widgets/w-1")
        .body(Body::empty())
        .unwrap();
    let (status, error, body) = f.send(unsigned).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        error.as_deref(),
        Some("MissingAuthenticationTokenException")
    );
    assert!(body["message"].is_string());

    // A wrong secret.
    let mut forged = f.signed("GET", "/widgets/w-1", "");
    let header = forged.headers()["authorization"]
        .to_str()
        .unwrap()
        .to_owned();
    let tampered = format!(
        "{}0",
        header.trim_end_matches(|c: char| c.is_ascii_hexdigit())
    );
    forged
        .headers_mut()
        .insert("authorization", tampered.parse().unwrap());
    let (status, error, _) = f.send(forged).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error.as_deref(), Some("InvalidSignatureException"));
}

#[tokio::test]
async fn every_call_is_recorded_with_its_path_operation() {
    let f = fixture();
    f.send(f.signed("GET", "/widgets/w-9", "")).await;
    let events = f.events_named("GetWidget");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["eventSource"], "widgets.amazonaws.com");
    assert_eq!(events[0]["errorCode"], "ResourceNotFoundException");
    assert_eq!(events[0]["userIdentity"]["type"], "Root");
}

/// A handler that panics answers the service's internal error in its
/// protocol, the call is still recorded, and the server keeps serving.
#[tokio::test]
async fn a_panic_answers_an_internal_error_and_is_recorded() {
    let f = fixture();
    let (status, error, body) = f.send(f.signed("POST", "/widgets/w-1/explode", "")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(error.as_deref(), Some("InternalServerException"));
    assert_eq!(body, json!({"message": "An internal error occurred."}));
    let events = f.events_named("Explode");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["errorCode"], "InternalServerException");
    let (status, _, _) = f.send(f.signed("GET", "/widgets/w-1", "")).await;
    assert_eq!(status, StatusCode::OK);
}
