@bench-idle
Feature: Memory benchmark
  Each virtual user registers, logs in and opens its agent-events socket once, then
  holds it: the harness's memory per connected user.

  Scenario: A user holds the agent-events socket open
    Given a new user "Alice" has registered and logged in
    And "Alice" has the agent-events socket open
