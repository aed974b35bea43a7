//! The router: routes of a method and a path pattern to handlers.
//!
//! A pattern is literal segments and `{name}` captures (one whole segment each, percent-decoded),
//! optionally ending in `{*name}`, which captures the rest of the path. When several patterns
//! match, the most literal one wins (`/entries/new` before `/entries/{id}`), whatever the order
//! they were added in. A trailing slash is ignored (`/entries/` is `/entries`). An unknown path
//! answers 404; a known path with another method 405 with `Allow`; `OPTIONS` 204 with `Allow`;
//! `HEAD` runs the `GET` route without its body.
//!
//! State-changing requests (`POST`, `PUT`, `PATCH`, `DELETE`) sent by a browser from another
//! origin (another site, or another app on the apps domain) are refused with 403, so a form on
//! someone else's page cannot act for the user ([`Request::is_cross_origin`]). An app that is
//! called from other origins on purpose opts out with [`Router::allow_cross_origin`].

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::{Error, Result};
use crate::request::{Method, Request};
use crate::response::Response;

type Handler = Box<dyn Fn(&Request) -> Result<Response>>;

enum Segment {
    Literal(String),
    Param(String),
    Rest(String),
}

struct Route {
    method: Method,
    segments: Vec<Segment>,
    handler: Handler,
}

/// Routes requests to handlers; see the [module documentation](self).
#[derive(Default)]
pub struct Router {
    routes: Vec<Route>,
    allow_cross_origin: bool,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").field("routes", &self.routes.len()).finish_non_exhaustive()
    }
}

impl Router {
    /// A router without routes (every path is a 404).
    pub fn new() -> Router {
        Router::default()
    }

    /// Adds a route. Panics if `pattern` is malformed (not starting with `/`, a brace that is
    /// not a whole `{name}` segment, `{*name}` before the end): a bug in the app, found by its
    /// first request.
    pub fn route<H>(mut self, method: Method, pattern: &str, handler: H) -> Router
    where
        H: Fn(&Request) -> Result<Response> + 'static,
    {
        let segments =
            parse_pattern(pattern).unwrap_or_else(|why| panic!("route pattern `{pattern}`: {why}"));
        self.routes.push(Route { method, segments, handler: Box::new(handler) });
        self
    }

    /// Adds a `GET` route (which also serves `HEAD`).
    pub fn get<H: Fn(&Request) -> Result<Response> + 'static>(self, pattern: &str, handler: H) -> Router {
        self.route(Method::Get, pattern, handler)
    }

    /// Adds a `POST` route.
    pub fn post<H: Fn(&Request) -> Result<Response> + 'static>(self, pattern: &str, handler: H) -> Router {
        self.route(Method::Post, pattern, handler)
    }

    /// Adds a `PUT` route.
    pub fn put<H: Fn(&Request) -> Result<Response> + 'static>(self, pattern: &str, handler: H) -> Router {
        self.route(Method::Put, pattern, handler)
    }

    /// Adds a `PATCH` route.
    pub fn patch<H: Fn(&Request) -> Result<Response> + 'static>(self, pattern: &str, handler: H) -> Router {
        self.route(Method::Patch, pattern, handler)
    }

    /// Adds a `DELETE` route.
    pub fn delete<H: Fn(&Request) -> Result<Response> + 'static>(self, pattern: &str, handler: H) -> Router {
        self.route(Method::Delete, pattern, handler)
    }

    /// Accepts state-changing requests from other origins too (an API meant for other sites).
    pub fn allow_cross_origin(mut self) -> Router {
        self.allow_cross_origin = true;
        self
    }

    /// Answers `request`: the matching handler's response, or the error it became (as JSON or
    /// HTML, see [`Request::wants_json`]). A handler that panics gives a 500 where the target
    /// can unwind (on wasm32 a panic aborts the instance, and the runtime answers 500).
    pub fn handle(&self, mut request: Request) -> Response {
        let json = request.wants_json();
        let head = *request.method() == Method::Head;
        let result = self.dispatch(&mut request);
        let response = result.unwrap_or_else(|error| error.into_response(json));
        if head { response.with_body(Vec::new()) } else { response }
    }

    fn dispatch(&self, request: &mut Request) -> Result<Response> {
        if !request.method().is_safe() && !self.allow_cross_origin && request.is_cross_origin() {
            return Err(Error::forbidden("Requests from other sites may not change anything here."));
        }
        let path: Vec<String> = segments(request.path()).ok_or_else(Error::not_found)?;
        let matches: Vec<(&Route, Vec<(String, String)>)> =
            self.routes.iter().filter_map(|route| Some((route, captures(&route.segments, &path)?))).collect();
        if matches.is_empty() {
            return Err(Error::not_found());
        }
        let method = request.method().clone();
        let serves =
            |route: &Route| route.method == method || (method == Method::Head && route.method == Method::Get);
        let best = matches
            .iter()
            .filter(|(route, _)| serves(route))
            .min_by_key(|(route, _)| (rank(&route.segments), route.method != method));
        let Some((route, params)) = best else {
            let mut allowed: Vec<&str> = matches.iter().map(|(route, _)| route.method.as_str()).collect();
            if allowed.contains(&"GET") {
                allowed.push("HEAD");
            }
            allowed.push("OPTIONS");
            allowed.sort_unstable();
            allowed.dedup();
            if method == Method::Options {
                return Ok(Response::no_content().with_header("allow", allowed.join(", ")));
            }
            return Err(Error::method_not_allowed(&allowed));
        };
        request.set_params(params.clone());
        let handler = &route.handler;
        catch_unwind(AssertUnwindSafe(|| handler(request))).unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(Error::internal(format!("the handler panicked: {message}")))
        })
    }
}

fn parse_pattern(pattern: &str) -> std::result::Result<Vec<Segment>, &'static str> {
    if !pattern.starts_with('/') {
        return Err("a pattern starts with `/`");
    }
    let parts: Vec<&str> = pattern.trim_matches('/').split('/').filter(|part| !part.is_empty()).collect();
    let last = parts.len().saturating_sub(1);
    parts
        .iter()
        .enumerate()
        .map(|(index, part)| match part.strip_prefix('{').and_then(|part| part.strip_suffix('}')) {
            Some(name) if name.contains(['{', '}']) || name.is_empty() => Err("a capture is `{name}`"),
            Some(name) => match name.strip_prefix('*') {
                Some(_) if index != last => Err("`{*name}` can only be the last segment"),
                Some(rest) if !rest.is_empty() => Ok(Segment::Rest(rest.to_owned())),
                Some(_) => Err("a capture is `{*name}`"),
                None => Ok(Segment::Param(name.to_owned())),
            },
            None if part.contains(['{', '}']) => Err("a capture is a whole segment"),
            None => {
                Ok(Segment::Literal(crate::url::decode(part, false).unwrap_or_else(|| (*part).to_owned())))
            }
        })
        .collect()
}

/// The path's segments, percent-decoded; `None` if one is not UTF-8 once decoded.
fn segments(path: &str) -> Option<Vec<String>> {
    path.split('/').filter(|part| !part.is_empty()).map(|part| crate::url::decode(part, false)).collect()
}

/// The captures of `pattern` on `path`, if it matches.
fn captures(pattern: &[Segment], path: &[String]) -> Option<Vec<(String, String)>> {
    let mut params = Vec::new();
    for (index, segment) in pattern.iter().enumerate() {
        match segment {
            Segment::Rest(name) => {
                params.push((name.clone(), path.get(index..).unwrap_or_default().join("/")));
                return Some(params);
            }
            Segment::Literal(literal) => {
                if path.get(index) != Some(literal) {
                    return None;
                }
            }
            Segment::Param(name) => params.push((name.clone(), path.get(index)?.clone())),
        }
    }
    (path.len() == pattern.len()).then_some(params)
}

/// Orders matching patterns: literal segments before captures before the rest, left to right.
fn rank(pattern: &[Segment]) -> Vec<u8> {
    pattern
        .iter()
        .map(|segment| match segment {
            Segment::Literal(_) => 0,
            Segment::Param(_) => 1,
            Segment::Rest(_) => 2,
        })
        .collect()
}

#[cfg(test)]
#[path = "router_tests.rs"]
mod tests;
