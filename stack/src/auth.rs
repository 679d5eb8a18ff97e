//! Authentication: Argon2id password hashes, HS256 JWTs and the bearer-token
//! extractor (contract §2 and §10).
//!
//! Tokens carry `sub`, `role`, `iat`, `exp`. Refused with 401: missing, malformed,
//! bad signature, other algorithms, `alg: none` (unless the `accept_unsigned_jwt`
//! fault), expired (no leeway), and correctly signed tokens whose user no longer
//! exists. The set of existing users is kept in memory (loaded at start-up,
//! updated on register), so checking a token never touches the database.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::RwLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm as ArgonAlgorithm, Argon2, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, header, request::Parts};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::config::{Config, PasswordHashing};
use crate::db::{Db, DbError, Role, UserRow};
use crate::error::ApiError;

/// Claims of the stack's tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// `user` or `admin`.
    pub role: String,
    /// Issued at (seconds since the epoch).
    pub iat: u64,
    /// Expires at (seconds since the epoch).
    pub exp: u64,
}

/// The authenticated caller, extracted from `Authorization: Bearer <JWT>`.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// User id.
    pub id: String,
    /// Current role.
    pub role: Role,
}

/// Token issuing and checking, password hashing, the known users.
pub struct Auth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_s: u64,
    hashing: PasswordHashing,
    hash_pool: HashPool,
    accept_unsigned: bool,
    users: RwLock<HashMap<String, Role>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("ttl_s", &self.ttl_s)
            .finish_non_exhaustive()
    }
}

const SECRET_FILE: &str = "jwt_secret";

impl Auth {
    /// Builds the authenticator from the configuration (reading or creating the
    /// secret in `DATA_DIR` when `JWT_SECRET` is unset) and the known users.
    pub fn new(config: &Config, users: Vec<(String, Role)>) -> std::io::Result<Self> {
        let secret = match &config.jwt_secret {
            Some(s) => s.clone().into_bytes(),
            None => load_or_create_secret(&config.data_dir)?,
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(Self {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            validation,
            ttl_s: config.token_ttl.as_secs(),
            hashing: config.password_hashing,
            hash_pool: HashPool::new(std::thread::available_parallelism().map_or(2, |n| n.get()))?,
            accept_unsigned: config.faults.accept_unsigned_jwt,
            users: RwLock::new(users.into_iter().collect()),
        })
    }

    /// Token lifetime in seconds (`expires_in`).
    pub fn ttl_s(&self) -> u64 {
        self.ttl_s
    }

    /// Records a user that now exists.
    pub fn add_user(&self, id: &str, role: Role) {
        self.users
            .write()
            .expect("users lock")
            .insert(id.to_owned(), role);
    }

    /// Number of known users.
    pub fn user_count(&self) -> usize {
        self.users.read().expect("users lock").len()
    }

    /// Signs a token for `user_id`.
    pub fn issue(&self, user_id: &str, role: Role) -> Result<String, ApiError> {
        let iat = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: user_id.to_owned(),
            role: role.as_str().to_owned(),
            iat,
            exp: iat + self.ttl_s,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(ApiError::internal)
    }

    /// Checks a token and returns its user.
    pub fn verify(&self, token: &str) -> Result<AuthUser, ApiError> {
        let claims = match jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation) {
            Ok(data) => data.claims,
            Err(e) => {
                if self.accept_unsigned
                    && let Some(claims) = unsigned_claims(token)
                {
                    claims
                } else {
                    return Err(match e.kind() {
                        ErrorKind::ExpiredSignature => {
                            ApiError::unauthorized("token_expired", "the token has expired")
                        }
                        ErrorKind::InvalidSignature => ApiError::unauthorized(
                            "invalid_token",
                            "the token's signature does not verify",
                        ),
                        _ => ApiError::unauthorized(
                            "invalid_token",
                            "the token is not a valid HS256 JWT",
                        ),
                    });
                }
            }
        };
        let role = self
            .users
            .read()
            .expect("users lock")
            .get(&claims.sub)
            .copied();
        match role {
            Some(role) => Ok(AuthUser {
                id: claims.sub,
                role,
            }),
            None => Err(ApiError::unauthorized(
                "unknown_user",
                "the token's user no longer exists",
            )),
        }
    }

    /// Hashes a password (on the hashing threads).
    pub async fn hash_password(&self, password: String) -> Result<String, ApiError> {
        let hashing = self.hashing;
        self.hash_pool
            .run(move || hash_password(hashing, &password))
            .await
            .ok_or_else(|| ApiError::internal("the password hashing threads are gone"))?
    }

    /// Checks a password against a stored hash (on the hashing threads).
    pub async fn verify_password(&self, hash: String, password: String) -> bool {
        self.hash_pool
            .run(move || verify_password(&hash, &password))
            .await
            .unwrap_or(false)
    }
}

/// Argon2 work runs on one dedicated thread per core, never on Tokio's blocking pool.
///
/// Each hash takes 19 MiB (at the default cost). On the blocking pool a burst of
/// sign-ups started hundreds at once (24 GiB and an OOM kill at 5,000 concurrent
/// registrations), and even a bounded number, spread over the pool's many threads and
/// their malloc arenas, left the stack at 2.8 GiB after a 1,000-user run: the freed
/// buffers stayed fragmented among other allocations. On a few threads of its own
/// each buffer is reused in place, and a burst queues here.
struct HashPool {
    jobs: std::sync::mpsc::Sender<Box<dyn FnOnce() + Send>>,
}

impl HashPool {
    fn new(threads: usize) -> std::io::Result<Self> {
        let (jobs, queue) = std::sync::mpsc::channel::<Box<dyn FnOnce() + Send>>();
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            // Every sender is gone: the stack shut down.
                            Err(_) => return,
                        }
                    }
                })?;
        }
        Ok(Self { jobs })
    }

    /// Runs `f` on a hashing thread; `None` if the threads are gone.
    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = done.send(f());
            }))
            .ok()?;
        result.await.ok()
    }
}

fn argon2(hashing: PasswordHashing) -> Argon2<'static> {
    let params = match hashing {
        PasswordHashing::Standard => Params::default(),
        PasswordHashing::FastInsecure => Params::new(64, 1, 1, None).expect("valid params"),
    };
    Argon2::new(ArgonAlgorithm::Argon2id, Version::V0x13, params)
}

fn hash_password(hashing: PasswordHashing, password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(ApiError::internal)?;
    Ok(argon2(hashing)
        .hash_password(password.as_bytes(), &salt)
        .map_err(ApiError::internal)?
        .to_string())
}

fn verify_password(hash: &str, password: &str) -> bool {
    // The parameters are read from the PHC string itself.
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// `alg: none` tokens, decoded without any check but expiry: only reachable with
/// the `accept_unsigned_jwt` fault.
fn unsigned_claims(token: &str) -> Option<Claims> {
    let mut parts = token.split('.');
    let (header, payload) = (parts.next()?, parts.next()?);
    let b64 = |s: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s.trim_end_matches('='))
            .ok()
    };
    let header: serde_json::Value = serde_json::from_slice(&b64(header)?).ok()?;
    if !header.get("alg")?.as_str()?.eq_ignore_ascii_case("none") {
        return None;
    }
    let claims: Claims = serde_json::from_slice(&b64(payload)?).ok()?;
    (claims.exp > jsonwebtoken::get_current_timestamp()).then_some(claims)
}

fn load_or_create_secret(data_dir: &Path) -> std::io::Result<Vec<u8>> {
    let path = data_dir.join(SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= 32 => return Ok(s.trim().as_bytes().to_vec()),
        Ok(_) => tracing::warn!(path = %path.display(), "JWT secret file too short; replacing it"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(data_dir)?;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = data_dir.join(format!("{SECRET_FILE}.tmp"));
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(secret.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    tracing::info!(path = %path.display(), "generated a JWT secret");
    Ok(secret.into_bytes())
}

/// Creates the admin account from `ADMIN_EMAIL`/`ADMIN_PASSWORD`, or brings an
/// existing account with that email up to date (role admin, that password).
pub async fn ensure_admin(db: &Db, auth: &Auth, config: &Config) -> Result<(), ApiError> {
    let email = config.admin_email.clone();
    match db.user_by_email(email.clone()).await? {
        Some(user) => {
            let same_password = auth
                .verify_password(user.password_hash.clone(), config.admin_password.clone())
                .await;
            if !same_password || user.role != Role::Admin {
                let hash = auth.hash_password(config.admin_password.clone()).await?;
                db.update_user_credentials(user.id.clone(), hash, Role::Admin)
                    .await?;
            }
            auth.add_user(&user.id, Role::Admin);
        }
        None => {
            let hash = auth.hash_password(config.admin_password.clone()).await?;
            let user = UserRow {
                id: uuid::Uuid::new_v4().to_string(),
                email,
                display_name: "Administrator".into(),
                password_hash: hash,
                role: Role::Admin,
                created_at: crate::now(),
            };
            let id = user.id.clone();
            match db.insert_user(user).await {
                Ok(()) | Err(DbError::Conflict) => {}
                Err(e) => return Err(e.into()),
            }
            auth.add_user(&id, Role::Admin);
        }
    }
    Ok(())
}

/// The token of an `Authorization: Bearer <token>` header, if any.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers).ok_or_else(|| {
            ApiError::unauthorized(
                "missing_token",
                "this route needs an Authorization: Bearer <token> header",
            )
        })?;
        state.auth.verify(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(faults: &str) -> (Auth, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_tests(dir.path());
        config.faults = faults.parse().unwrap();
        let auth = Auth::new(&config, vec![("u1".into(), Role::User)]).unwrap();
        (auth, dir)
    }

    #[tokio::test]
    async fn hashing_runs_on_the_pool_threads_two_at_a_time() {
        let pool = HashPool::new(2).unwrap();
        let names: Vec<String> = futures_util::future::join_all((0..6).map(|_| {
            pool.run(|| {
                std::thread::sleep(std::time::Duration::from_millis(20));
                std::thread::current().name().unwrap_or("").to_owned()
            })
        }))
        .await
        .into_iter()
        .map(Option::unwrap)
        .collect();
        assert!(names.iter().all(|n| n.starts_with("argon2-")), "{names:?}");
        let distinct: std::collections::BTreeSet<&String> = names.iter().collect();
        assert_eq!(distinct.len(), 2, "two threads share the work: {names:?}");
    }

    #[tokio::test]
    async fn standard_and_fast_hashes_both_verify() {
        let (auth, _dir) = auth("");
        for hashing in [PasswordHashing::Standard, PasswordHashing::FastInsecure] {
            let hash = auth
                .hash_pool
                .run(move || hash_password(hashing, "s3cret"))
                .await
                .unwrap()
                .unwrap();
            assert!(auth.verify_password(hash.clone(), "s3cret".into()).await);
            assert!(!auth.verify_password(hash, "wrong".into()).await);
        }
    }

    #[test]
    fn issued_tokens_verify_and_forged_ones_do_not() {
        let (auth, dir) = auth("");
        let token = auth.issue("u1", Role::User).unwrap();
        assert_eq!(auth.verify(&token).unwrap().id, "u1");
        // The secret was persisted, so a second Auth on the same dir accepts it.
        let config = Config::for_tests(dir.path());
        let again = Auth::new(&config, vec![("u1".into(), Role::User)]).unwrap();
        assert!(again.verify(&token).is_ok());
        let mut forged = token.clone();
        forged.pop();
        forged.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(auth.verify(&forged).unwrap_err().status.as_u16(), 401);
        assert_eq!(auth.verify("not.a.jwt").unwrap_err().code, "invalid_token");
        // A token for a user that does not exist.
        let ghost = auth.issue("ghost", Role::User).unwrap();
        assert_eq!(auth.verify(&ghost).unwrap_err().code, "unknown_user");
    }

    #[test]
    fn unsigned_tokens_only_with_the_fault() {
        let b64 = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let now = jsonwebtoken::get_current_timestamp();
        let token = format!(
            "{}.{}.",
            b64(serde_json::json!({"alg": "none", "typ": "JWT"})),
            b64(serde_json::json!({"sub": "u1", "role": "user", "iat": now, "exp": now + 60}))
        );
        assert!(auth("").0.verify(&token).is_err());
        assert!(auth("accept_unsigned_jwt").0.verify(&token).is_ok());
    }

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password(PasswordHashing::FastInsecure, "correct horse").unwrap();
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "wrong"));
    }
}
