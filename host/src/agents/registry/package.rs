//! A plugin package: the plugin's bytes (a `vibe:agent` component or an Extism module) and the
//! manifest that describes them. The package's identity is the sha256 of the bytes; the publisher
//! signs that digest together with the manifest's canonical form ([`Manifest::canonical`]), so
//! neither can be changed after signing.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::agents::runtime::AgentLimits;
pub use crate::agents::runtime::{Capability, PluginKind};
use crate::error::ApiError;

/// The WIT packages this host serves; a manifest naming another is refused before compiling.
pub const SUPPORTED_WIT: &[&str] = &["vibe:agent@0.1.0"];

/// Capabilities every version gets without an operator's approval: they reach nothing beyond the
/// plugin's own store, the idea its session works on, and the session's own events and log.
pub const DEFAULT_CAPABILITIES: &[Capability] = &[
    Capability::Kv,
    Capability::Events,
    Capability::PipelineRead,
    Capability::PipelineWrite,
    Capability::Log,
];

/// The most agent types one package may serve.
const MAX_AGENT_TYPES: usize = 16;
/// The most outbound hosts one package may declare.
const MAX_HTTP_HOSTS: usize = 32;

/// The name of `kind` in manifests and the database.
pub fn kind_name(kind: PluginKind) -> &'static str {
    match kind {
        PluginKind::Component => "component",
        PluginKind::Extism => "extism",
    }
}

/// The kind named `name` in the database.
pub fn parse_kind(name: &str) -> Option<PluginKind> {
    match name {
        "component" => Some(PluginKind::Component),
        "extism" => Some(PluginKind::Extism),
        _ => None,
    }
}

/// Whether an operator must approve `capability` for a version to get it.
pub fn needs_approval(capability: Capability) -> bool {
    !DEFAULT_CAPABILITIES.contains(&capability)
}

/// Limits a plugin asks for, by the names of the runtime's `AgentLimits` (every field optional).
/// Without them a version gets its agent type's limits; asking for more than those needs an
/// operator's approval, and nothing ever goes above the server's ceilings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsWanted {
    /// Fuel (roughly wasm instructions) per turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel: Option<u64>,
    /// Linear memory per instance, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// Wall-clock time per turn, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
    /// Text one turn may return, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_bytes: Option<u64>,
    /// Log text one turn keeps, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_log_bytes: Option<u64>,
}

impl LimitsWanted {
    /// The fields asked for, by name.
    pub fn fields(&self) -> [(&'static str, Option<u64>); 5] {
        [
            ("fuel", self.fuel),
            ("memory_bytes", self.memory_bytes),
            ("deadline_ms", self.deadline_ms),
            ("max_output_bytes", self.max_output_bytes),
            ("max_log_bytes", self.max_log_bytes),
        ]
    }
}

/// What a package says about itself. Unknown fields are refused, so everything signed is understood.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The plugin's name: lowercase letters, digits and inner dashes, at most 64 characters.
    pub name: String,
    /// Its semver version, e.g. `1.2.0`.
    pub version: String,
    /// The agent types (pipeline stages) it serves, e.g. `["ideation"]`.
    pub agent_types: Vec<String>,
    /// The WIT package of its contract, e.g. `vibe:agent@0.1.0`.
    pub wit: String,
    /// `component` or `extism`.
    pub kind: PluginKind,
    /// The host capabilities it wants; those beyond the defaults wait for an operator's approval.
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// The only hosts it may reach over HTTP (`host` or `host:port`; needs the `http` capability).
    #[serde(default)]
    pub http_hosts: Vec<String>,
    /// The limits it asks for.
    #[serde(default)]
    pub limits: LimitsWanted,
    /// The email of the publishing account; the signing key must be registered to it.
    pub publisher: String,
    /// What the plugin does, in a line.
    #[serde(default)]
    pub description: String,
}

impl Manifest {
    /// Checks every field; the error names the field at fault (as `manifest.<field>`).
    pub fn validate(&self) -> Result<(), ApiError> {
        let invalid =
            |field: &str, message: String| ApiError::validation(format!("manifest.{field}"), message);
        if !is_plugin_name(&self.name) {
            return Err(invalid(
                "name",
                "lowercase letters, digits and inner dashes, 1 to 64 characters".into(),
            ));
        }
        if self.version.len() > 64 || semver::Version::parse(&self.version).is_err() {
            return Err(invalid(
                "version",
                format!("{:?} is not a semver version such as 1.2.0", self.version),
            ));
        }
        if self.agent_types.is_empty() || self.agent_types.len() > MAX_AGENT_TYPES {
            return Err(invalid("agent_types", format!("name 1 to {MAX_AGENT_TYPES} agent types")));
        }
        let mut seen = BTreeSet::new();
        for agent_type in &self.agent_types {
            if !is_agent_type(agent_type) {
                return Err(invalid(
                    "agent_types",
                    format!("{agent_type:?}: lowercase letters, digits, `-` and `_`, starting with a letter"),
                ));
            }
            if !seen.insert(agent_type) {
                return Err(invalid("agent_types", format!("{agent_type:?} is named twice")));
            }
        }
        if self.wit.is_empty() || self.wit.len() > 100 {
            return Err(invalid("wit", "name the WIT package, e.g. vibe:agent@0.1.0".into()));
        }
        let unique: BTreeSet<_> = self.capabilities.iter().collect();
        if unique.len() != self.capabilities.len() {
            return Err(invalid("capabilities", "a capability is named twice".into()));
        }
        let wants_http = self.capabilities.contains(&Capability::Http);
        if wants_http && self.http_hosts.is_empty() {
            return Err(invalid("http_hosts", "the http capability needs the hosts it may reach".into()));
        }
        if !wants_http && !self.http_hosts.is_empty() {
            return Err(invalid("http_hosts", "declaring hosts needs the http capability".into()));
        }
        if self.http_hosts.len() > MAX_HTTP_HOSTS {
            return Err(invalid("http_hosts", format!("at most {MAX_HTTP_HOSTS} hosts")));
        }
        if let Some(host) = self.http_hosts.iter().find(|host| !is_host(host)) {
            return Err(invalid(
                "http_hosts",
                format!("{host:?} is not a lowercase host name, with an optional :port"),
            ));
        }
        if self
            .limits
            .fields()
            .iter()
            .filter_map(|(_, value)| *value)
            .any(|value| value == 0 || value > i64::MAX as u64)
        {
            return Err(invalid("limits", "limits are positive numbers".into()));
        }
        if !(3..=254).contains(&self.publisher.len()) || !self.publisher.contains('@') {
            return Err(invalid("publisher", "the email of the publishing account".into()));
        }
        if self.description.chars().count() > 1000 {
            return Err(invalid("description", "at most 1000 characters".into()));
        }
        Ok(())
    }

    /// The name versions of this package go by in routing tables and sessions: `<name>@<version>`.
    pub fn version_ref(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// What an operator must approve before the version may be routed: capabilities beyond the
    /// defaults, and limits above those of an agent type it serves (`type_limits`, by agent type).
    /// Empty when nothing needs approval.
    pub fn approval_reasons(&self, type_limits: &[(String, AgentLimits)]) -> Vec<String> {
        let mut reasons: Vec<String> = self
            .capabilities
            .iter()
            .filter(|capability| needs_approval(**capability))
            .map(|capability| match capability {
                Capability::Http => format!("capability http to {}", self.http_hosts.join(", ")),
                other => format!("capability {other}"),
            })
            .collect();
        for (agent_type, limits) in type_limits {
            let allowed = serde_json::to_value(limits).unwrap_or(Value::Null);
            for (name, wanted) in self.limits.fields() {
                let Some(wanted) = wanted else { continue };
                let allowed = allowed.get(name).and_then(Value::as_u64).unwrap_or(0);
                if wanted > allowed {
                    reasons.push(format!("limit {name} of {wanted} ({agent_type} agents get {allowed})"));
                }
            }
        }
        reasons
    }

    /// The bytes that are signed: the manifest as JSON with every field present (defaults filled in),
    /// object keys sorted, no whitespace. Reformatting a manifest file thus never breaks a signature,
    /// and any change to what it says does.
    pub fn canonical(&self) -> Vec<u8> {
        let value = serde_json::to_value(self).unwrap_or(Value::Null);
        let mut out = String::new();
        write_canonical(&value, &mut out);
        out.into_bytes()
    }
}

/// Writes `value` as JSON with object keys sorted, whatever map order serde_json was built with.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by_key(|(key, _)| *key);
            out.push('{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Whether `name` is a valid plugin name.
pub fn is_plugin_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let inner_ok = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes.first().is_some_and(inner_ok)
        && bytes.last().is_some_and(inner_ok)
        && bytes.iter().all(|b| inner_ok(b) || *b == b'-')
}

/// Whether `name` is a valid agent type.
pub fn is_agent_type(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'_')
}

/// `name`, `name:port`, `*.domain` or `*.domain:port`, lowercase.
fn is_host(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    let name = name.strip_prefix("*.").unwrap_or(name);
    let port_ok = port.is_none_or(|port| port.parse::<u16>().is_ok_and(|p| p > 0));
    let labels_ok = name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    port_ok && labels_ok && !name.is_empty() && name.len() <= 253
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        serde_json::from_value(serde_json::json!({
            "name": "echo", "version": "1.0.0", "agent_types": ["ideation"],
            "wit": "vibe:agent@0.1.0", "kind": "component", "publisher": "a@b.c"
        }))
        .unwrap()
    }

    #[test]
    fn canonical_form_ignores_formatting_but_not_content() {
        let a = manifest();
        let reformatted: Manifest = serde_json::from_str(
            "{ \"publisher\":\"a@b.c\",\n \"kind\":\"component\", \"wit\":\"vibe:agent@0.1.0\", \
             \"agent_types\":[\"ideation\"], \"version\":\"1.0.0\", \"name\":\"echo\", \"capabilities\": [] }",
        )
        .unwrap();
        assert_eq!(a.canonical(), reformatted.canonical());
        let text = String::from_utf8(a.canonical()).unwrap();
        assert!(text.starts_with("{\"agent_types\":[\"ideation\"],\"capabilities\":[],"), "{text}");
        let mut changed = a.clone();
        changed.capabilities.push(Capability::Llm);
        assert_ne!(a.canonical(), changed.canonical());
    }

    #[test]
    fn validation_names_the_field() {
        assert!(manifest().validate().is_ok());
        type Change = fn(&mut Manifest);
        let cases: [(&str, Change); 6] = [
            ("manifest.name", |m| m.name = "Echo!".into()),
            ("manifest.version", |m| m.version = "1.0".into()),
            ("manifest.agent_types", |m| m.agent_types.clear()),
            ("manifest.http_hosts", |m| m.capabilities.push(Capability::Http)),
            ("manifest.limits", |m| m.limits.fuel = Some(0)),
            ("manifest.publisher", |m| m.publisher = "nobody".into()),
        ];
        for (field, change) in cases {
            let mut m = manifest();
            change(&mut m);
            match m.validate() {
                Err(ApiError::Validation { field: got, .. }) => assert_eq!(got, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn capabilities_beyond_the_defaults_and_larger_limits_need_approval() {
        let limits = vec![("ideation".to_owned(), AgentLimits::for_agent_type("ideation"))];
        let mut m = manifest();
        m.capabilities = vec![Capability::Kv, Capability::Log, Capability::PipelineWrite];
        assert!(m.approval_reasons(&limits).is_empty());
        m.capabilities.push(Capability::Llm);
        assert_eq!(m.approval_reasons(&limits), vec!["capability llm".to_owned()]);
        m.limits.fuel = Some(AgentLimits::for_agent_type("ideation").fuel + 1);
        assert_eq!(m.approval_reasons(&limits).len(), 2);
        assert!(is_host("api.example.com:8443") && is_host("*.example.com") && !is_host("API.example.com"));
        assert!(!is_host("a..b"));
    }
}
