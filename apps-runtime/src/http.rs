//! Serving one request: admission (concurrency limit, request body limit), a fresh store and
//! instance from the app's pre-instantiation, the call to `wasi:http/incoming-handler`, and the
//! response, all under the request's wall-clock deadline and CPU budget.
//!
//! The response body is collected (up to the app's limit) before it is passed on, so that every
//! failure, including a body that turns out too large or a trap halfway through it, can still be
//! answered with a clean error status instead of a truncated 200.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderValue;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use tokio::task::JoinHandle;
use tokio::time::timeout_at;
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi_http::p2::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};

use crate::app::LoadedApp;
use crate::engine::CpuMeter;
use crate::failure::{Failure, REQUEST_ID_HEADER};
use crate::log::{LogBudget, truncate};
use crate::state::{CpuUsage, RequestState};

/// The body of every response the runtime gives.
pub type ResponseBody = Full<Bytes>;

/// Facts about one served request, attached to its response as an extension (for the host's
/// analytics and logs).
#[derive(Clone, Debug)]
pub struct RequestStats {
    /// The request id (also in the `x-request-id` header).
    pub request_id: String,
    /// From the call to [`LoadedApp::handle`] to the response.
    pub duration: Duration,
    /// CPU time the app's code used, in milliseconds (epoch ticks or fuel, converted); `None`
    /// when the app was stopped before it could be measured.
    pub cpu_ms: Option<u64>,
    /// Fuel consumed, under [`CpuMeter::Fuel`].
    pub fuel: Option<u64>,
    /// The failure's code (as in the error body), or `None` when the app's answer was passed on.
    pub failure: Option<&'static str>,
}

/// How a guest's run ended, with what its store recorded.
struct GuestRun {
    result: Result<(), GuestEnd>,
    cpu: CpuUsage,
    memory_refused: bool,
    fuel_left: Option<u64>,
}

enum GuestEnd {
    Error(wasmtime::Error),
    Deadline,
}

/// The guest's task, stopped if the request is abandoned (a failure, or the client went away).
struct GuestTask(JoinHandle<GuestRun>);

impl Drop for GuestTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl GuestTask {
    async fn finish(&mut self) -> Result<GuestRun, Failure> {
        (&mut self.0).await.map_err(|error| Failure::Internal(format!("the app's task failed: {error}")))
    }
}

impl LoadedApp {
    /// Serves one request with a fresh instance of the app. Never fails: a limit hit or a failure
    /// of the app becomes a clean error response with a request id (and an entry in the app's
    /// log). The request id is the request's `x-request-id` when it is a short token, else new.
    pub async fn handle<B>(&self, request: http::Request<B>) -> http::Response<ResponseBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let started = Instant::now();
        let request_id = request_id_of(request.headers());
        let limits = &self.shared.limits;
        let logs = LogBudget::new(
            self.shared.capabilities.logs.clone(),
            self.shared.app_id,
            request_id.clone(),
            limits.max_log_bytes_per_request,
        );
        let (outcome, run) = self.serve(request, &logs, started).await;
        let (mut response, failure) = match outcome {
            Ok(response) => (response, None),
            Err(failure) => {
                logs.runtime(failure.log_level(), &failure.log_message());
                tracing::debug!(app_id = %self.shared.app_id, %request_id, code = failure.code(), "app request failed");
                (failure.response(&request_id), Some(failure.code()))
            }
        };
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        let (cpu_ms, fuel) = run.map_or((None, None), |run| self.cpu_used(&run));
        response.extensions_mut().insert(RequestStats {
            request_id,
            duration: started.elapsed(),
            cpu_ms,
            fuel,
            failure,
        });
        response
    }

    async fn serve<B>(
        &self,
        request: http::Request<B>,
        logs: &LogBudget,
        started: Instant,
    ) -> (Result<http::Response<ResponseBody>, Failure>, Option<GuestRun>)
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let limits = &self.shared.limits;
        let deadline = tokio::time::Instant::from_std(started + limits.deadline());
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            return (Err(Failure::Busy { limit: limits.max_concurrent_requests }), None);
        };
        let request = match read_body(request, limits.max_request_body_bytes, deadline).await {
            Ok(request) => request,
            Err(failure) => return (Err(failure), None),
        };

        let mut store = self.new_store(logs.clone());
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let handles =
            store.data_mut().http().new_incoming_request(Scheme::Http, request).and_then(|incoming| {
                let outparam = store.data_mut().http().new_response_outparam(sender)?;
                Ok((incoming, outparam))
            });
        let (incoming, outparam) = match handles {
            Ok(handles) => handles,
            Err(error) => return (Err(Failure::BadRequest(format!("{error:#}"))), None),
        };
        let pre = self.version.pre.clone();
        let mut guest = GuestTask(tokio::spawn(async move {
            let _permit = permit;
            let run = async {
                let app = pre.instantiate_async(&mut store).await?;
                app.wasi_http_incoming_handler().call_handle(&mut store, incoming, outparam).await
            };
            let result = match timeout_at(deadline, run).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(GuestEnd::Error(error)),
                Err(_) => Err(GuestEnd::Deadline),
            };
            let state = store.data();
            GuestRun {
                result,
                cpu: state.cpu,
                memory_refused: state.limiter.memory_refused,
                fuel_left: store.get_fuel().ok(),
            }
        }));

        let response = match timeout_at(deadline, receiver).await {
            Err(_) => return (Err(Failure::Deadline { deadline_ms: limits.deadline_ms }), None),
            Ok(Ok(Ok(response))) => response,
            Ok(Ok(Err(code))) => {
                let run = guest.finish().await.ok();
                return (Err(Failure::AppError(format!("{code:?}"))), run);
            }
            // The guest dropped the response outparam: it returned or failed without answering.
            Ok(Err(_)) => return self.failed(guest.finish().await, Failure::NoResponse),
        };

        let (parts, body) = response.into_parts();
        let limit = usize::try_from(limits.max_response_body_bytes).unwrap_or(usize::MAX);
        let body = match timeout_at(deadline, Limited::new(body, limit).collect()).await {
            Err(_) => return (Err(Failure::Deadline { deadline_ms: limits.deadline_ms }), None),
            Ok(Err(error)) if error.downcast_ref::<LengthLimitError>().is_some() => {
                return (Err(Failure::ResponseTooLarge { limit: limits.max_response_body_bytes }), None);
            }
            Ok(Err(error)) => {
                let fallback = Failure::Trap(format!("the response body failed: {error}"));
                return self.failed(guest.finish().await, fallback);
            }
            Ok(Ok(collected)) => collected.to_bytes(),
        };
        // The body is complete, so the guest is returning: wait for it, to account for its CPU
        // and to log a failure after its answer (which the client still gets).
        let run = guest.finish().await;
        if let Ok(GuestRun { result: Err(_), .. }) = &run {
            let (failure, _) = self.failed(run, Failure::NoResponse);
            if let Err(failure) = failure {
                logs.runtime(failure.log_level(), &format!("after answering: {}", failure.log_message()));
            }
            return (Ok(http::Response::from_parts(parts, Full::new(body))), None);
        }
        (Ok(http::Response::from_parts(parts, Full::new(body))), run.ok())
    }

    /// The failure a finished guest run stands for (`otherwise` when it ended without error).
    fn failed(
        &self,
        run: Result<GuestRun, Failure>,
        otherwise: Failure,
    ) -> (Result<http::Response<ResponseBody>, Failure>, Option<GuestRun>) {
        let limits = &self.shared.limits;
        match run {
            Err(failure) => (Err(failure), None),
            Ok(run) => {
                let failure = match &run.result {
                    Ok(()) => otherwise,
                    Err(GuestEnd::Deadline) => Failure::Deadline { deadline_ms: limits.deadline_ms },
                    Err(GuestEnd::Error(error)) => {
                        Failure::from_guest(error, run.cpu, run.memory_refused, limits)
                    }
                };
                (Err(failure), Some(run))
            }
        }
    }

    /// Creates a fresh store and instance of the app exactly as a request does (the request's
    /// store data, memory limiter and CPU meter, then the pre-instantiation) and drops them
    /// without calling the app: instantiation alone, for benchmarks (`benches/serve_compare`).
    /// Fails with wasmtime's reason, for instance when the instance pool is exhausted.
    pub async fn instantiate_only(&self) -> Result<(), String> {
        let limits = &self.shared.limits;
        let logs = LogBudget::new(
            self.shared.capabilities.logs.clone(),
            self.shared.app_id,
            String::new(),
            limits.max_log_bytes_per_request,
        );
        let mut store = self.new_store(logs);
        match self.version.pre.instantiate_async(&mut store).await {
            Ok(_instance) => Ok(()),
            Err(error) => Err(format!("{error:#}")),
        }
    }

    fn new_store(&self, logs: LogBudget) -> Store<RequestState> {
        let engine = &self.runtime.engine;
        let mut store = Store::new(engine, RequestState::new(self.shared.clone(), logs));
        store.limiter(|state| &mut state.limiter);
        let cpu_ms = self.shared.limits.cpu_ms;
        match self.runtime.cpu_meter {
            CpuMeter::Epoch { tick } => {
                let tick_ms = tick.as_millis().max(1);
                let budget = u64::try_from(u128::from(cpu_ms).div_ceil(tick_ms)).unwrap_or(u64::MAX);
                store.data_mut().cpu.budget = budget;
                store.set_epoch_deadline(1);
                store.epoch_deadline_callback(|mut context| {
                    let cpu = &mut context.data_mut().cpu;
                    cpu.ticks += 1;
                    if cpu.ticks > cpu.budget {
                        cpu.exhausted = true;
                        return Ok(UpdateDeadline::Interrupt);
                    }
                    // Yielding at every tick keeps a busy app from holding an executor thread.
                    Ok(UpdateDeadline::Yield(1))
                });
            }
            CpuMeter::Fuel { fuel_per_ms, yield_interval } => {
                // Both calls only fail when fuel is not enabled, which this meter guarantees.
                let _ = store.set_fuel(cpu_ms.saturating_mul(fuel_per_ms));
                let _ = store.fuel_async_yield_interval(Some(yield_interval));
            }
        }
        store
    }

    fn cpu_used(&self, run: &GuestRun) -> (Option<u64>, Option<u64>) {
        match self.runtime.cpu_meter {
            CpuMeter::Epoch { tick } => {
                let tick_ms = u64::try_from(tick.as_millis()).unwrap_or(u64::MAX);
                (Some(run.cpu.ticks.saturating_mul(tick_ms)), None)
            }
            CpuMeter::Fuel { fuel_per_ms, .. } => {
                let granted = self.shared.limits.cpu_ms.saturating_mul(fuel_per_ms);
                let used = run.fuel_left.map(|left| granted.saturating_sub(left));
                (used.map(|fuel| fuel / fuel_per_ms.max(1)), used)
            }
        }
    }
}

/// Reads the request body, refusing one over `limit` bytes, and hands back a request the guest
/// can read.
async fn read_body<B>(
    request: http::Request<B>,
    limit: u64,
    deadline: tokio::time::Instant,
) -> Result<http::Request<http_body_util::combinators::BoxBody<Bytes, ErrorCode>>, Failure>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let declared = request
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(Failure::RequestTooLarge { limit });
    }
    let (parts, body) = request.into_parts();
    let bytes = match timeout_at(
        deadline,
        Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX)).collect(),
    )
    .await
    {
        Err(_) => return Err(Failure::RequestTimeout),
        Ok(Err(error)) if error.downcast_ref::<LengthLimitError>().is_some() => {
            return Err(Failure::RequestTooLarge { limit });
        }
        Ok(Err(error)) => return Err(Failure::BadRequest(format!("cannot read the request body: {error}"))),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let body = Full::new(bytes).map_err(|never: Infallible| -> ErrorCode { match never {} }).boxed();
    Ok(http::Request::from_parts(parts, body))
}

/// The client's request id when it is a short printable token, a new UUID otherwise.
pub(crate) fn request_id_of(headers: &http::HeaderMap) -> String {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= 64)
        .filter(|id| id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), |id| truncate(id, 64).to_owned())
}
