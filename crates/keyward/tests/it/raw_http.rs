//! A tiny HTTP/1.1 client for the requests the AWS SDK cannot make: `/health`,
//! the dev clock, and deliberately unsigned or malformed KMS calls.
//!
//! One request per connection (`Connection: close`); it understands
//! `Content-Length`, chunked and read-to-EOF bodies, nothing more.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header names lower-cased, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("response body is not JSON ({err}): {}", self.body_text()))
    }
}

/// Sends `method path` to `endpoint` (`http://host:port`) and reads the whole answer.
pub async fn request(
    endpoint: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<RawResponse, String> {
    let authority = endpoint
        .strip_prefix("http://")
        .ok_or_else(|| format!("endpoint {endpoint} is not http://"))?
        .trim_end_matches('/');
    let mut stream = TcpStream::connect(authority)
        .await
        .map_err(|err| format!("connect {authority}: {err}"))?;

    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|err| format!("write: {err}"))?;
    stream
        .write_all(body)
        .await
        .map_err(|err| format!("write: {err}"))?;

    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .await
        .map_err(|err| format!("read: {err}"))?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Result<RawResponse, String> {
    let head_end = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| format!("no end of headers in {:?}", String::from_utf8_lossy(raw)))?;
    let head =
        std::str::from_utf8(&raw[..head_end]).map_err(|err| format!("non-UTF-8 head: {err}"))?;
    let rest = &raw[head_end + 4..];

    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();

    let header = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let body =
        if header("transfer-encoding").is_some_and(|value| value.eq_ignore_ascii_case("chunked")) {
            decode_chunked(rest)?
        } else if let Some(length) = header("content-length") {
            let length: usize = length
                .parse()
                .map_err(|_| format!("bad content-length {length:?}"))?;
            rest.get(..length)
                .ok_or_else(|| format!("body shorter than content-length {length}"))?
                .to_vec()
        } else {
            rest.to_vec()
        };
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

fn decode_chunked(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunk size line not terminated")?;
        let size_text =
            std::str::from_utf8(&rest[..line_end]).map_err(|_| "non-UTF-8 chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or("chunk shorter than its size")?;
        body.extend_from_slice(chunk);
        rest = rest.get(size + 2..).ok_or("chunk not followed by CRLF")?;
    }
}
