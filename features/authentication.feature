@auth
Feature: Authentication
  Every user signs up with an email and a password and receives a signed token.
  Tokens that are expired, forged, unsigned or malformed are refused.

  Scenario: A new user registers and logs in
    When a visitor registers as "Carol" with a valid email and password
    Then the registration is accepted with status 201 and returns a user id
    When "Carol" logs in with the right password
    Then "Carol" receives a bearer token that expires in 3600 seconds

  Scenario: The same email cannot register twice
    Given a new user "Carol" has registered and logged in
    When a visitor tries to register again with "Carol"'s email
    Then the request is refused with status 409

  Scenario Outline: Invalid registrations are refused
    When a visitor tries to register with <problem>
    Then the request is refused with status 422

    Examples:
      | problem                          |
      | an email without an at sign      |
      | a password of 7 characters       |
      | no display name                  |

  Scenario: A wrong password is refused
    Given a new user "Carol" has registered and logged in
    When "Carol" tries to log in with a wrong password
    Then the request is refused with status 401

  Scenario Outline: Bad tokens are refused before anything else
    Given a new user "Carol" has registered and logged in
    When "Carol" tries to list her threads with <token>
    Then the request is refused with status 401

    Examples:
      | token                                  |
      | no token                               |
      | an expired token                       |
      | a token signed with another secret     |
      | an unsigned token with algorithm none  |
      | a malformed token                      |
