//! App role passwords, derived from the platform's secret so that none is ever stored.
//!
//! An app's password is `HMAC-SHA256(secret, "vibe-app-role-password:" ‖ app id)`, in hex. The
//! role is given its SCRAM-SHA-256 verifier rather than the password (computed here, with a salt
//! derived the same way), so the password itself never crosses the wire to the server nor appears
//! in a statement log, and provisioning again yields the same verifier.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// PostgreSQL's default SCRAM iteration count (`scram_iterations`).
const SCRAM_ITERATIONS: u32 = 4096;

/// The platform's secret. Never printed.
#[derive(Clone)]
pub(super) struct PlatformSecret(std::sync::Arc<[u8]>);

impl PlatformSecret {
    pub(super) fn new(bytes: &[u8]) -> Self {
        PlatformSecret(bytes.into())
    }

    fn mac(&self, label: &str, app_id: Uuid) -> [u8; 32] {
        hmac(&self.0, &[label.as_bytes(), b":", app_id.as_bytes()])
    }

    /// The password the app's connections log in with.
    pub(super) fn password(&self, app_id: Uuid) -> String {
        hex::encode(self.mac("vibe-app-role-password", app_id))
    }

    /// The SCRAM-SHA-256 verifier of [`Self::password`], as `CREATE ROLE … PASSWORD` takes it.
    pub(super) fn scram_verifier(&self, app_id: Uuid) -> String {
        let salt = &self.mac("vibe-app-role-salt", app_id)[..16];
        scram_verifier(self.password(app_id).as_bytes(), salt, SCRAM_ITERATIONS)
    }
}

impl std::fmt::Debug for PlatformSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlatformSecret(..)")
    }
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC hashes long keys and pads short ones: no key length is refused.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// `Hi(password, salt, i)` of RFC 5802: PBKDF2-HMAC-SHA256 with one output block.
fn salted_password(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut block = hmac(password, &[salt, &1u32.to_be_bytes()]);
    let mut result = block;
    for _ in 1..iterations {
        block = hmac(password, &[&block]);
        for (out, byte) in result.iter_mut().zip(block) {
            *out ^= byte;
        }
    }
    result
}

/// `ClientKey` and `ServerKey` of RFC 5802 for a salted password.
fn scram_keys(salted: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    (hmac(salted, &[b"Client Key"]), hmac(salted, &[b"Server Key"]))
}

/// The verifier PostgreSQL stores: `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
fn scram_verifier(password: &[u8], salt: &[u8], iterations: u32) -> String {
    let (client_key, server_key) = scram_keys(&salted_password(password, salt, iterations));
    let stored_key = Sha256::digest(client_key);
    format!(
        "SCRAM-SHA-256${iterations}:{}${}:{}",
        BASE64.encode(salt),
        BASE64.encode(stored_key),
        BASE64.encode(server_key)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exchange of RFC 7677, section 3: user `user`, password `pencil`.
    #[test]
    fn scram_keys_match_rfc_7677() {
        let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let (client_key, server_key) = scram_keys(&salted_password(b"pencil", &salt, 4096));
        let stored_key = Sha256::digest(client_key);
        let auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO,\
            r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,\
            c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let signature = hmac(&stored_key, &[auth_message.as_bytes()]);
        let proof: Vec<u8> = client_key.iter().zip(signature).map(|(k, s)| k ^ s).collect();
        assert_eq!(BASE64.encode(proof), "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
        let server_signature = hmac(&server_key, &[auth_message.as_bytes()]);
        assert_eq!(BASE64.encode(server_signature), "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    }

    #[test]
    fn passwords_differ_per_app_and_secret_and_are_stable() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let secret = PlatformSecret::new(b"one secret");
        assert_eq!(secret.password(a), secret.password(a));
        assert_ne!(secret.password(a), secret.password(b));
        assert_ne!(secret.password(a), PlatformSecret::new(b"another").password(a));
        assert_eq!(secret.scram_verifier(a), secret.scram_verifier(a));
        assert!(secret.scram_verifier(a).starts_with("SCRAM-SHA-256$4096:"));
        assert!(!secret.scram_verifier(a).contains(&secret.password(a)));
    }
}
