@dashboard
Feature: The operations dashboard socket
  The dashboard connects without a token from an allowed origin, receives
  statistics on a fixed cadence and hears about every completed agent run.

  Scenario: The dashboard is acknowledged and receives statistics on cadence
    When the dashboard connects from the allowed origin
    Then the dashboard receives a connection acknowledgement
    And the dashboard receives 2 statistics updates about one interval apart

  Scenario: The dashboard hears about a completed agent run
    Given a new user "Alice" has registered and logged in
    And "Alice" has the agent-events socket open
    And the dashboard connects from the allowed origin
    When "Alice" asks the agent "Tell the dashboard"
    Then "Alice" receives the five agent events in order
    And the dashboard receives a query-complete notice for that run

  Scenario Outline: A dashboard from a foreign origin is turned away
    When the dashboard connects from <origin>
    Then the dashboard is closed with code 1008 and reason "Origin not allowed"

    Examples:
      | origin                      |
      | the origin "http://evil.example" |
      | no origin                   |

  @own-stack
  Scenario: The eleventh dashboard from one address is turned away
    Given 10 dashboards are connected from the allowed origin
    When the dashboard connects from the allowed origin
    Then the dashboard is closed with code 1008 and reason "Connection limit exceeded"
