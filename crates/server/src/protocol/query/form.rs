//! Decoding an AWS Query request: `Action=...&Version=...&Name=value`,
//! form-urlencoded in a POST body or in a GET query string
//! (<https://docs.aws.amazon.com/IAM/latest/APIReference/iam-api.pdf>, "Making
//! Query Requests"). Lists are `Name.member.N`, which no operation we serve
//! needs yet.

use super::error::QueryError;

/// A decoded Query request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryRequest {
    pub action: String,
    pub version: Option<String>,
    params: Vec<(String, String)>,
}

/// `%XX` and `+` decoding of one form component; `None` when malformed.
fn decode_component(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = raw.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

impl QueryRequest {
    /// Parses the form parameters of `sources` (query string, then body); a
    /// name given twice keeps its first value.
    pub fn parse(sources: &[&str]) -> Result<QueryRequest, QueryError> {
        let mut params: Vec<(String, String)> = Vec::new();
        for source in sources {
            for pair in source.split('&').filter(|p| !p.is_empty()) {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                let (Some(name), Some(value)) = (decode_component(name), decode_component(value))
                else {
                    return Err(QueryError::MalformedQueryString(format!(
                        "The parameter {} is not properly encoded.",
                        name.chars().take(64).collect::<String>()
                    )));
                };
                if !params.iter().any(|(n, _)| *n == name) {
                    params.push((name, value));
                }
            }
        }
        let action = params
            .iter()
            .find(|(n, _)| n == "Action")
            .map(|(_, v)| v.clone())
            .filter(|a| !a.is_empty())
            .ok_or(QueryError::MissingAction)?;
        let version = params
            .iter()
            .find(|(n, _)| n == "Version")
            .map(|(_, v)| v.clone());
        Ok(QueryRequest {
            action,
            version,
            params,
        })
    }

    /// The value of parameter `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A required parameter; `member` is its name in validation messages
    /// (camelCase, as AWS writes it).
    pub fn required(&self, name: &str, member: &str) -> Result<&str, QueryError> {
        self.get(name)
            .ok_or_else(|| QueryError::MissingParameter(member.to_string()))
    }

    /// An optional integer parameter.
    pub fn integer(&self, name: &str, member: &str) -> Result<Option<i64>, QueryError> {
        match self.get(name) {
            None => Ok(None),
            Some(text) => text.trim().parse::<i64>().map(Some).map_err(|_| {
                QueryError::InvalidParameter(format!(
                    "1 validation error detected: Value '{text}' at '{member}' failed to satisfy constraint: Member must be a number"
                ))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_forms() {
        let request = QueryRequest::parse(&[
            "",
            "Action=CreateUser&Version=2010-05-08&UserName=a%2Bb+c&Path=%2Fx%2F&Empty=",
        ])
        .unwrap();
        assert_eq!(request.action, "CreateUser");
        assert_eq!(request.version.as_deref(), Some("2010-05-08"));
        assert_eq!(request.get("UserName"), Some("a+b c"));
        assert_eq!(request.get("Path"), Some("/x/"));
        assert_eq!(request.get("Empty"), Some(""));
        assert_eq!(request.get("Nope"), None);
        assert!(matches!(
            QueryRequest::parse(&["Version=1"]),
            Err(QueryError::MissingAction)
        ));
        assert!(matches!(
            QueryRequest::parse(&["Action=X&Bad=%zz"]),
            Err(QueryError::MalformedQueryString(_))
        ));
        assert!(matches!(
            QueryRequest::parse(&["Action=X&Bad=%e2%28"]),
            Err(QueryError::MalformedQueryString(_))
        ));
    }
}
