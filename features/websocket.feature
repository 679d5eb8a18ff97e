@websocket
Feature: The agent-events WebSocket
  Browsers connect to the agent-events socket and authenticate with a subprotocol;
  other clients may use an Authorization header. The legacy path stays an alias.

  Background:
    Given a new user "Alice" has registered and logged in

  Scenario Outline: The socket accepts a valid token on both paths and both ways
    When "Alice" opens the agent-events socket on the <path> path with <auth>
    Then the connection is established for "Alice"
    And a ping is answered with a pong

    Examples:
      | path    | auth                      |
      | primary | subprotocol auth          |
      | primary | the authorization header  |
      | legacy  | subprotocol auth          |
      | legacy  | the authorization header  |

  Scenario: The server selects the jwt-auth subprotocol that browsers need
    When "Alice" opens the agent-events socket on the primary path with subprotocol auth
    Then the server selected the "jwt-auth" subprotocol

  Scenario Outline: The socket refuses a connection without a valid token
    When someone tries to open the agent-events socket on the <path> path with <token>
    Then the upgrade is refused with status 401

    Examples:
      | path    | token                              |
      | primary | no token                           |
      | primary | a token signed with another secret |
      | legacy  | no token                           |
      | legacy  | an expired token                   |

  Scenario: Events arrive on the legacy path too
    Given "Alice" has the agent-events socket open on the legacy path
    When "Alice" asks the agent "Legacy socket check"
    Then "Alice" receives the five agent events in order
