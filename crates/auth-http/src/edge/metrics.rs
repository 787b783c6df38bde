//! What `GET /metrics` reports: how many requests each route answered with which status,
//! and how long they took, in the OpenMetrics text format Prometheus
//! scrapes. [`measured`] records every request; routes are labelled by
//! their pattern (never the raw path), so the label values stay few.
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The content type of the OpenMetrics text format.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TableLabels {
    table: &'static str,
}

fn latency_histogram() -> Histogram {
    // 100 µs to ~3.3 s: from a cached introspection to an argon2id login
    // queued behind others.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// The registry and the metrics the middleware records.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    swept: Family<TableLabels, Counter>,
    sweeps: Counter,
    sweep_seconds: Counter<f64, std::sync::atomic::AtomicU64>,
    mail: Family<MailLabels, Counter>,
}

/// What became of a letter the sender took.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MailLabels {
    outcome: &'static str,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("portcullis");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route pattern and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from routing a request to its response, by route pattern",
            latency.clone(),
        );
        let swept = Family::<TableLabels, Counter>::default();
        registry.register(
            "swept_rows",
            "Expired rows the sweep deleted, by table",
            swept.clone(),
        );
        let sweeps = Counter::default();
        registry.register("sweeps", "Sweeps of expired rows run", sweeps.clone());
        let sweep_seconds = Counter::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "sweep_seconds",
            "Time spent sweeping expired rows, rests between batches included",
            sweep_seconds.clone(),
        );
        let mail = Family::<MailLabels, Counter>::default();
        registry.register(
            "mail_letters",
            "Letters the outbox sender took, by outcome: sent (the server accepted it), retried (it will try again), given_up (never delivered)",
            mail.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            swept,
            sweeps,
            sweep_seconds,
            mail,
        }
    }
}

/// The method label: one of the standard methods (RFC 9110 section 9 and
/// PATCH), else `other`, so made-up methods cannot grow the label set.
fn method_label(method: &str) -> &'static str {
    const STANDARD: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ];
    STANDARD
        .into_iter()
        .find(|m| *m == method)
        .unwrap_or("other")
}

impl Metrics {
    fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method_label(method),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Records one sweep: what it deleted, table by table, and how long it
    /// took.
    pub fn record_sweep(&self, report: &auth_core::ports::SweepReport, took: Duration) {
        let tables = [
            ("refresh_tokens", report.refresh_tokens),
            ("access_tokens", report.access_tokens),
            ("revoked_access_tokens", report.revoked_access_tokens),
            ("authorization_codes", report.authorization_codes),
            ("sessions", report.sessions),
            ("device_authorizations", report.device_authorizations),
            ("throttle_counters", report.throttle_counters),
            ("upstream_flows", report.upstream_flows),
            ("known_devices", report.known_devices),
            ("email_links", report.email_links),
            ("webauthn_ceremonies", report.webauthn_ceremonies),
        ];
        for (table, rows) in tables {
            self.swept
                .get_or_create(&TableLabels { table })
                .inc_by(rows);
        }
        self.sweeps.inc();
        self.sweep_seconds.inc_by(took.as_secs_f64());
    }

    /// Records one round of the outbox sender.
    pub fn record_mail(&self, sent: u32, retried: u32, given_up: u32) {
        for (outcome, n) in [("sent", sent), ("retried", retried), ("given_up", given_up)] {
            self.mail
                .get_or_create(&MailLabels { outcome })
                .inc_by(u64::from(n));
        }
    }

    pub(crate) fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Middleware body for `App::wrap_fn`: calls the route, then records it.
pub fn measured<S, B>(
    metrics: Arc<Metrics>,
    req: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
{
    let started = Instant::now();
    let method = req.method().clone();
    let call = service.call(req);
    async move {
        let response = call.await?;
        // Unknown paths share one label, so probes cannot grow the set.
        let route = response
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        metrics.observe(
            method.as_str(),
            &route,
            response.status().as_u16(),
            started.elapsed(),
        );
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn renders_counts_and_latencies_by_route() {
        let metrics = Metrics::default();
        metrics.observe("POST", "/token", 200, Duration::from_millis(2));
        metrics.observe("POST", "/token", 200, Duration::from_millis(3));
        metrics.observe("POST", "/token", 401, Duration::from_millis(1));
        let text = metrics.render().unwrap();
        assert!(
            text.contains(
                r#"portcullis_http_requests_total{method="POST",route="/token",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains(
            r#"portcullis_http_requests_total{method="POST",route="/token",status="401"} 1"#
        ));
        assert!(
            text.contains(r#"portcullis_http_request_duration_seconds_count{route="/token"} 3"#)
        );
        assert!(text.trim_end().ends_with("# EOF"));
    }

    #[test]
    fn made_up_methods_share_one_label() {
        let metrics = Metrics::default();
        for m in ["BREW", "PROPFIND", "X-ANYTHING", "get"] {
            metrics.observe(m, "unmatched", 404, Duration::from_millis(1));
        }
        let text = metrics.render().unwrap();
        assert!(
            text.contains(
                r#"portcullis_http_requests_total{method="other",route="unmatched",status="404"} 4"#
            ),
            "{text}"
        );
        assert!(!text.contains("BREW"));
    }
}
