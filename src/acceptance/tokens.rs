//! Bad tokens on purpose: expired, signed with another secret, unsigned (`alg: none`),
//! malformed. The stack must refuse every one of them with 401 (contract §2).

use jsonwebtoken::{EncodingKey, Header, encode};
use serde::Serialize;

/// The kinds of token a scenario can present, as the feature files name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    None,
    Expired,
    ForeignSecret,
    Unsigned,
    Malformed,
}

impl TokenKind {
    /// Parse the Gherkin wording (`no token`, `an expired token`, ...).
    pub fn from_words(words: &str) -> Option<Self> {
        Some(match words.trim() {
            "no token" => Self::None,
            "an expired token" => Self::Expired,
            "a token signed with another secret" => Self::ForeignSecret,
            "an unsigned token with algorithm none" => Self::Unsigned,
            "a malformed token" => Self::Malformed,
            _ => return None,
        })
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    role: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error(
        "minting an expired token needs the stack's JWT secret: goldenpath sets it for the \
         stacks it starts; for a running stack put it in target.env.JWT_SECRET"
    )]
    NoSecret,
    #[error("signing a token: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// The `Authorization` token to present for `kind`, for the user `user_id`.
/// `None` means: send no token at all.
pub fn mint(
    kind: TokenKind,
    user_id: &str,
    secret: Option<&str>,
) -> Result<Option<String>, MintError> {
    let now = chrono::Utc::now().timestamp();
    let valid = Claims {
        sub: user_id,
        role: "user",
        iat: now,
        exp: now + 3600,
    };
    Ok(match kind {
        TokenKind::None => None,
        TokenKind::Malformed => Some("not-a-jwt".to_owned()),
        TokenKind::Expired => {
            let secret = secret.ok_or(MintError::NoSecret)?;
            let expired = Claims {
                iat: now - 7200,
                exp: now - 3600,
                ..valid
            };
            Some(encode(
                &Header::default(),
                &expired,
                &EncodingKey::from_secret(secret.as_bytes()),
            )?)
        }
        TokenKind::ForeignSecret => Some(encode(
            &Header::default(),
            &valid,
            &EncodingKey::from_secret(b"a-secret-that-is-not-the-stacks"),
        )?),
        TokenKind::Unsigned => {
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
            let claims = serde_json::to_vec(&valid).unwrap_or_default();
            Some(format!("{header}.{}.", b64.encode(claims)))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_token_has_alg_none_and_empty_signature() {
        let token = mint(TokenKind::Unsigned, "u1", None).unwrap().unwrap();
        let parts: Vec<_> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert!(parts[2].is_empty());
        let header = jsonwebtoken::decode_header(&token).err();
        // jsonwebtoken itself refuses `none`: that is the point of the token.
        assert!(header.is_some() || token.starts_with("eyJhbGciOiJub25lIi"));
    }

    #[test]
    fn expired_token_needs_the_secret() {
        assert!(matches!(
            mint(TokenKind::Expired, "u1", None),
            Err(MintError::NoSecret)
        ));
        assert!(mint(TokenKind::Expired, "u1", Some("s")).unwrap().is_some());
    }

    #[test]
    fn wording_is_parsed() {
        assert_eq!(
            TokenKind::from_words("an unsigned token with algorithm none"),
            Some(TokenKind::Unsigned)
        );
        assert_eq!(TokenKind::from_words("a token"), None);
    }
}
