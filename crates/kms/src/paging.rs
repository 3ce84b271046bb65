//! `Limit`/`Marker` pagination. Markers are opaque to clients: the base64url
//! of the sort key of the first item of the next page. A marker that does not
//! decode is `InvalidMarkerException`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::model::{Page, PageRequest};
use crate::validate::Violations;
use crate::KmsError;

/// Validates `Limit` against the model (`1..=1000`) and caps it at the
/// operation's documented maximum.
pub fn limit(
    request: &PageRequest,
    default: usize,
    cap: usize,
    violations: &mut Violations,
) -> usize {
    violations.range("limit", request.limit, 1, 1000);
    violations.length("marker", request.marker.as_deref(), 1, 1024);
    match request.limit {
        Some(n) if n >= 1 => usize::try_from(n).unwrap_or(cap).min(cap),
        _ => default,
    }
}

/// The sort key a marker stands for.
pub fn decode_marker(request: &PageRequest) -> Result<Option<String>, KmsError> {
    match &request.marker {
        None => Ok(None),
        Some(marker) => URL_SAFE_NO_PAD
            .decode(marker)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .map(Some)
            .ok_or(KmsError::InvalidMarker),
    }
}

/// Cuts a page from items sorted by `sort_key`, starting at `start`.
pub fn page<T>(
    items: Vec<T>,
    start: Option<&str>,
    limit: usize,
    sort_key: impl Fn(&T) -> String,
) -> Page<T> {
    let mut remaining: Vec<T> = items
        .into_iter()
        .filter(|item| start.is_none_or(|s| sort_key(item).as_str() >= s))
        .collect();
    let next_marker = remaining
        .get(limit)
        .map(|next| URL_SAFE_NO_PAD.encode(sort_key(next).as_bytes()));
    remaining.truncate(limit);
    Page {
        items: remaining,
        next_marker,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_walk_everything_once() {
        let items: Vec<String> = (0..7).map(|i| format!("k{i}")).collect();
        let mut seen = Vec::new();
        let mut marker = None;
        loop {
            let request = PageRequest {
                limit: Some(3),
                marker: marker.clone(),
            };
            let start = decode_marker(&request).unwrap();
            let page = page(items.clone(), start.as_deref(), 3, |s| s.clone());
            seen.extend(page.items);
            match page.next_marker {
                Some(m) => marker = Some(m),
                None => break,
            }
        }
        assert_eq!(seen, items);
        let bad = PageRequest {
            limit: None,
            marker: Some("***".into()),
        };
        assert!(matches!(decode_marker(&bad), Err(KmsError::InvalidMarker)));
    }
}
