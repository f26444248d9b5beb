//! The egress policy: the one seam through which the component's HTTP leaves
//! the sandbox. Only the configured authorities (host and port) are allowed;
//! every other request is answered `HttpRequestDenied` and recorded.

use std::sync::{Arc, Mutex};

use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// The authorities a run may reach, and a record of what was denied.
#[derive(Clone, Default)]
pub struct EgressPolicy {
    allowed: Vec<String>,
    denied: Arc<Mutex<Vec<String>>>,
    on_body_bytes: Option<BodyCounter>,
}

/// Called with the bytes of a request body sent so far.
pub type BodyCounter = Arc<dyn Fn(u64) + Send + Sync>;

impl std::fmt::Debug for EgressPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EgressPolicy")
            .field("allowed", &self.allowed)
            .field("denied", &self.denied)
            .finish_non_exhaustive()
    }
}

impl EgressPolicy {
    /// A policy allowing exactly `authorities`: `host:port`, or `host` alone
    /// for port 443 (AWS's endpoints are HTTPS). Hosts compare without case.
    pub fn allow(authorities: impl IntoIterator<Item = String>) -> Self {
        EgressPolicy {
            allowed: authorities
                .into_iter()
                .map(|a| a.to_ascii_lowercase())
                .collect(),
            denied: Arc::default(),
            on_body_bytes: None,
        }
    }

    /// Reports the bytes of every allowed request's body as they are sent.
    pub fn counting_body_bytes(mut self, counter: BodyCounter) -> Self {
        self.on_body_bytes = Some(counter);
        self
    }

    /// The allowed authorities.
    pub fn allowed(&self) -> &[String] {
        &self.allowed
    }

    /// The URIs that were denied so far.
    pub fn denied(&self) -> Vec<String> {
        self.denied.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// Whether `uri` may be sent.
    pub fn permits(&self, uri: &http::Uri) -> bool {
        let Some(authority) = uri.authority() else {
            return false;
        };
        let host = authority.host().to_ascii_lowercase();
        let default_port = match uri.scheme_str() {
            Some("http") => 80,
            _ => 443,
        };
        let port = authority.port_u16().unwrap_or(default_port);
        self.allowed.iter().any(|allowed| {
            let (a_host, a_port) = split_authority(allowed);
            a_host == host && a_port == port
        })
    }
}

fn split_authority(authority: &str) -> (String, u16) {
    match authority.parse::<http::uri::Authority>() {
        Ok(a) => (a.host().to_ascii_lowercase(), a.port_u16().unwrap_or(443)),
        Err(_) => (authority.to_ascii_lowercase(), 443),
    }
}

impl WasiHttpHooks for EgressPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<WasiBody>,
                        Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                    ),
                    HttpError,
                >,
            > + Send,
    > {
        _ = fut;
        let permitted = self.permits(request.uri());
        let denied = self.denied.clone();
        let request = match (&self.on_body_bytes, permitted) {
            (Some(counter), true) => {
                let counter = counter.clone();
                let mut sent = 0u64;
                request.map(move |body| {
                    body.map_frame(move |frame| {
                        if let Some(data) = frame.data_ref() {
                            sent += data.len() as u64;
                            counter(sent);
                        }
                        frame
                    })
                    .boxed_unsync()
                })
            }
            _ => request,
        };
        Box::new(async move {
            if !permitted {
                let uri = request.uri().to_string();
                // Drain the body first, or the guest sees a closed stream
                // instead of the denial.
                let _ = request.into_body().collect().await;
                if let Ok(mut d) = denied.lock() {
                    d.push(uri);
                }
                return Err(HttpError::HttpRequestDenied);
            }
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = Result<(), HttpError>> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_authorities_pass() {
        let p = EgressPolicy::allow([
            "pinpoint.us-east-1.amazonaws.com".into(),
            "127.0.0.1:4566".into(),
        ]);
        assert!(
            p.permits(
                &"https://pinpoint.us-east-1.amazonaws.com/v1/apps"
                    .parse()
                    .unwrap()
            )
        );
        assert!(
            p.permits(
                &"https://PINPOINT.us-east-1.amazonaws.com:443/"
                    .parse()
                    .unwrap()
            )
        );
        assert!(p.permits(&"http://127.0.0.1:4566/b/k".parse().unwrap()));
        assert!(!p.permits(&"http://127.0.0.1:4567/b/k".parse().unwrap()));
        assert!(
            !p.permits(
                &"https://pinpoint.us-east-1.amazonaws.com.evil.example/"
                    .parse()
                    .unwrap()
            )
        );
        assert!(
            !p.permits(&"http://pinpoint.us-east-1.amazonaws.com/".parse().unwrap()),
            "port 80 is another authority"
        );
        assert!(!p.permits(&"https://169.254.169.254/latest".parse().unwrap()));
    }
}
