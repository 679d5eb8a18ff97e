//! `POST /api/auth/register` and `POST /api/auth/login` (contract §2; dialect B
//! shapes the login answer differently, see [`crate::dialect`]).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{ErrorBody, json_response};
use crate::AppState;
use crate::db::{DbError, Role, UserRow};
use crate::error::{ApiError, ApiJson, Validate};

/// Register body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// A valid email address (stored lower-cased).
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// At least 8 characters.
    #[schema(example = "correct horse battery")]
    pub password: String,
    /// Required, 1..=100 characters.
    #[schema(example = "Ada")]
    pub display_name: String,
}

/// Register answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterResponse {
    /// New user id.
    pub user_id: String,
    /// The email, lower-cased.
    pub email: String,
}

/// Login body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
}

/// Login answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// HS256 JWT with `sub`, `role`, `iat`, `exp`.
    pub access_token: String,
    /// Always `bearer`.
    #[schema(example = "bearer")]
    pub token_type: String,
    /// Seconds until the token expires.
    #[schema(example = 3600)]
    pub expires_in: u64,
}

/// A plausible email address: one `@`, a non-empty local part, a dotted domain,
/// no whitespace.
pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

impl Validate for RegisterRequest {
    fn validate(&self) -> Result<(), ApiError> {
        if !valid_email(self.email.trim()) {
            return Err(ApiError::invalid(
                "invalid_email",
                "email is not a valid address",
            ));
        }
        let len = self.password.chars().count();
        if len < 8 {
            return Err(ApiError::invalid(
                "password_too_short",
                "password must be at least 8 characters",
            ));
        }
        if len > 1024 {
            return Err(ApiError::invalid(
                "password_too_long",
                "password must be at most 1024 characters",
            ));
        }
        let name = self.display_name.trim().chars().count();
        if name == 0 || name > 100 {
            return Err(ApiError::invalid(
                "invalid_display_name",
                "display_name must be 1 to 100 characters",
            ));
        }
        Ok(())
    }
}

impl Validate for LoginRequest {
    fn validate(&self) -> Result<(), ApiError> {
        Ok(())
    }
}

/// Creates a user account.
#[utoipa::path(
    post, path = "/api/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created", body = RegisterResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 409, description = "Email taken (`email_taken`)", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 422, description = "Invalid email, password under 8 characters, missing display_name", body = ErrorBody),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<Response, ApiError> {
    let email = req.email.trim().to_lowercase();
    let taken = || ApiError::conflict("email_taken", "an account with that email already exists");
    if state.db.user_by_email(email.clone()).await?.is_some() {
        return Err(taken());
    }
    let user = UserRow {
        id: uuid::Uuid::new_v4().to_string(),
        email: email.clone(),
        display_name: req.display_name.trim().to_owned(),
        password_hash: state.auth.hash_password(req.password).await?,
        role: Role::User,
        created_at: crate::now(),
    };
    let user_id = user.id.clone();
    match state.db.insert_user(user).await {
        Ok(()) => {}
        Err(DbError::Conflict) => return Err(taken()),
        Err(e) => return Err(e.into()),
    }
    state.auth.add_user(&user_id, Role::User);
    state.stats.user_added();
    state
        .activity
        .record("user_registered", json!({"user_id": user_id}));
    Ok(json_response(
        StatusCode::CREATED,
        RegisterResponse { user_id, email },
    ))
}

/// Exchanges credentials for a bearer token.
#[utoipa::path(
    post, path = "/api/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Token issued", body = TokenResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Wrong credentials (`invalid_credentials`)", body = ErrorBody),
        (status = 422, description = "Missing fields", body = ErrorBody),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let wrong = || ApiError::unauthorized("invalid_credentials", "wrong email or password");
    let email = req.email.trim().to_lowercase();
    let Some(user) = state.db.user_by_email(email).await? else {
        return Err(wrong());
    };
    if !state
        .auth
        .verify_password(user.password_hash.clone(), req.password)
        .await
    {
        return Err(wrong());
    }
    let access_token = state.auth.issue(&user.id, user.role)?;
    Ok(state
        .config
        .dialect
        .login_answer(access_token, state.auth.ttl_s(), user.id))
}
