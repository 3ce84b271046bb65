//! Freshly SigV4-signed KMS requests, one signature per request.
//!
//! A pre-signed request replayed by wrk or oha would measure a server that
//! caches or skips verification as well as one that does the work, and goes
//! stale after AWS's 15-minute skew. Signing each request with keyward-sigv4's
//! signer (the same code the server verifies with, tested against the AWS
//! SDKs' signer) makes the server pay the full SigV4 cost every time, as it
//! does for a real SDK client.
//!
//! The signer is cheap to keep per worker: the `X-Amz-Date` string and header
//! are re-made only when the second changes, bodies are shared `Bytes`, and
//! the static headers are `HeaderValue`s built once.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::Full;
use keyward_sigv4::{format_amz_date, sign, RequestParts};

use crate::target::Target;

/// AWS JSON 1.1, as the SDKs send it for KMS.
const JSON_1_1: &str = "application/x-amz-json-1.1";
const X_AMZ_DATE: HeaderName = HeaderName::from_static("x-amz-date");
const X_AMZ_TARGET: HeaderName = HeaderName::from_static("x-amz-target");

/// Signs requests for one target. Clone one per worker: it caches the date.
#[derive(Clone)]
pub struct Signer {
    access_key_id: String,
    secret_access_key: String,
    region: String,
    host: String,
    host_value: HeaderValue,
    date_epoch: i64,
    amz_date: String,
    amz_date_value: HeaderValue,
}

impl Signer {
    pub fn new(target: &Target) -> anyhow::Result<Signer> {
        Ok(Signer {
            access_key_id: target.credentials.access_key_id.clone(),
            secret_access_key: target.credentials.secret_access_key.clone(),
            region: target.credentials.region.clone(),
            host: target.host.clone(),
            host_value: HeaderValue::from_str(&target.host)?,
            date_epoch: i64::MIN,
            amz_date: String::new(),
            amz_date_value: HeaderValue::from_static(""),
        })
    }

    /// A `POST /` request for `TrentService.<operation>` with `body`, signed now.
    pub fn request(
        &mut self,
        x_amz_target: &'static str,
        body: &Bytes,
    ) -> anyhow::Result<Request<Full<Bytes>>> {
        self.refresh_date()?;
        // Every header sent is signed, as botocore does for these.
        let headers = [
            ("content-type", JSON_1_1),
            ("host", self.host.as_str()),
            ("x-amz-date", self.amz_date.as_str()),
            ("x-amz-target", x_amz_target),
        ];
        let authorization = sign(
            &RequestParts {
                method: "POST",
                path: "/",
                query: "",
                headers: &headers,
                body,
            },
            &self.access_key_id,
            &self.secret_access_key,
            &self.region,
            "kms",
            &self.amz_date,
        );
        let mut request = Request::new(Full::new(body.clone()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = Uri::from_static("/");
        let map = request.headers_mut();
        map.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_1_1));
        map.insert(HOST, self.host_value.clone());
        map.insert(X_AMZ_DATE, self.amz_date_value.clone());
        map.insert(X_AMZ_TARGET, HeaderValue::from_static(x_amz_target));
        map.insert(AUTHORIZATION, HeaderValue::try_from(authorization)?);
        Ok(request)
    }

    fn refresh_date(&mut self) -> anyhow::Result<()> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        if now != self.date_epoch {
            self.amz_date = format_amz_date(now);
            self.amz_date_value = HeaderValue::from_str(&self.amz_date)?;
            self.date_epoch = now;
        }
        Ok(())
    }
}
