@golden @load
Feature: The golden path
  A person signs up, asks the agent something, watches it work in real time,
  continues the conversation, and loses nothing when the backend restarts.
  This is the path that frontends keep breaking, end to end, in one scenario.
  The load mode runs this same scenario as many concurrent users.

  @restart
  Scenario: A new user completes the golden path across a backend restart
    Given a new user "Alice" has registered and logged in
    And "Alice" has the agent-events socket open
    When "Alice" asks the agent "Summarise the quarterly report for me"
    Then "Alice" receives the five agent events in order
    And the agent's reply is in "Alice"'s thread
    When "Alice" posts the message "Thanks, that is what I needed" to the thread
    And the backend is restarted by an administrator
    Then the backend comes back with a new boot id
    And "Alice" reconnects the agent-events socket
    And "Alice"'s thread still holds every message
    When "Alice" asks the agent "One more question after the restart"
    Then "Alice" receives the five agent events in order
