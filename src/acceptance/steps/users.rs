//! Registration, login and bad tokens (contract §2).

use cucumber::{given, then, when};

use super::expect_status;
use crate::acceptance::tokens::{TokenKind, mint};
use crate::acceptance::world::{GoldenWorld, Outcome, User};
use crate::client::RawRequest;
use crate::client::success;

#[given(expr = "a new user {string} has registered and logged in")]
async fn registered_and_logged_in(w: &mut GoldenWorld, name: String) {
    w.ensure_logged_in(&name).await;
}

#[when(expr = "a visitor registers as {string} with a valid email and password")]
async fn registers(w: &mut GoldenWorld, name: String) {
    let user = User::fresh(&name);
    let registered = w
        .client()
        .register(&user.email, &user.password, &user.display_name)
        .await
        .unwrap_or_else(|e| panic!("registering {name:?} failed: {e}"));
    w.last = Some(Outcome::Answered {
        endpoint: "register".into(),
        status: success::REGISTER,
        code: None,
        message: Some(registered.user_id.clone()),
    });
    w.users.insert(
        name,
        User {
            user_id: Some(registered.user_id),
            ..user
        },
    );
}

#[then("the registration is accepted with status 201 and returns a user id")]
async fn registration_accepted(w: &mut GoldenWorld) {
    expect_status(w, success::REGISTER, None);
    let Some(Outcome::Answered {
        message: Some(id), ..
    }) = &w.last
    else {
        panic!("the registration returned no user id");
    };
    assert!(!id.is_empty(), "the registration returned an empty user id");
}

#[when(expr = "{string} logs in with the right password")]
async fn logs_in(w: &mut GoldenWorld, name: String) {
    let user = w.user(&name).clone();
    let session = w
        .client()
        .login(&user.email, &user.password)
        .await
        .unwrap_or_else(|e| panic!("{name:?} could not log in: {e}"));
    w.users.get_mut(&name).expect("registered above").session = Some(session);
}

#[then(expr = "{string} receives a bearer token that expires in {int} seconds")]
async fn token_expires_in(w: &mut GoldenWorld, name: String, seconds: i64) {
    let user = w.user(&name).clone();
    let answer = w
        .client()
        .login_answer(&user.email, &user.password)
        .await
        .unwrap_or_else(|e| panic!("logging {name:?} in failed: {e}"));
    let fields = &w.contract().fields;
    let kind = answer.token_type.unwrap_or_default();
    assert!(
        kind.eq_ignore_ascii_case("bearer"),
        "{} is {kind:?}, expected \"bearer\"",
        fields.token_type
    );
    assert_eq!(
        answer.expires_in,
        Some(seconds),
        "{} is {:?}, expected {seconds}",
        fields.expires_in,
        answer.expires_in
    );
}

#[when(expr = "a visitor tries to register again with {string}'s email")]
async fn registers_again(w: &mut GoldenWorld, name: String) {
    let user = w.user(&name).clone();
    let result = w
        .client()
        .register(&user.email, "another-password", "Someone Else")
        .await;
    w.record_result(result, "register", success::REGISTER);
}

#[when(
    regex = r"^a visitor tries to register with (an email without an at sign|a password of 7 characters|no display name)$"
)]
async fn registers_invalid(w: &mut GoldenWorld, problem: String) {
    let user = User::fresh("visitor");
    let f = w.contract().fields.clone();
    let mut body = serde_json::json!({
        f.email.as_str(): user.email,
        f.password.as_str(): user.password,
        f.display_name.as_str(): user.display_name,
    });
    match problem.as_str() {
        "an email without an at sign" => body[f.email.as_str()] = "no-at-sign.example.com".into(),
        "a password of 7 characters" => body[f.password.as_str()] = "1234567".into(),
        _ => {
            body.as_object_mut()
                .expect("an object")
                .remove(f.display_name.as_str());
        }
    }
    let path = w.contract().paths.register.as_str().to_owned();
    let result = w.client().send(RawRequest::post(path).json(body)).await;
    w.record(result, "POST register");
}

#[when(expr = "{string} tries to log in with a wrong password")]
async fn wrong_password(w: &mut GoldenWorld, name: String) {
    let email = w.user(&name).email.clone();
    let result = w.client().login(&email, "not-the-password").await;
    w.record_result(result, "login", success::LOGIN);
}

#[when(regex = r#"^"([^"]+)" tries to list her threads with (.+)$"#)]
async fn list_threads_with(w: &mut GoldenWorld, name: String, token: String) {
    let kind =
        TokenKind::from_words(&token).unwrap_or_else(|| panic!("unknown kind of token: {token:?}"));
    let user_id = w.user(&name).user_id.clone().unwrap_or_default();
    let token = mint(kind, &user_id, w.jwt_secret().as_deref()).unwrap_or_else(|e| panic!("{e}"));
    let path = w.contract().paths.threads.as_str().to_owned();
    let mut request = RawRequest::get(path);
    if let Some(token) = token {
        request = request.bearer(token);
    }
    let result = w.client().send(request).await;
    w.record(result, "GET threads");
}

#[then(expr = "the request is refused with status {int} and error code {string}")]
async fn refused_with_code(w: &mut GoldenWorld, status: u16, code: String) {
    expect_status(w, status, Some(&code));
}

#[then(expr = "the request is refused with status {int}")]
async fn refused(w: &mut GoldenWorld, status: u16) {
    expect_status(w, status, None);
}

#[then(expr = "the response status is {int}")]
async fn response_status(w: &mut GoldenWorld, status: u16) {
    expect_status(w, status, None);
}
