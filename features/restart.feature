@restart
Feature: Restart and reconnect
  The backend runs in a container under a restart policy. Whether an administrator
  restarts it or the engine stops and starts it, it comes back as a new process,
  possibly on another host port, with every acknowledged message still there.

  Background:
    Given a new user "Alice" has registered and logged in
    And "Alice" has the agent-events socket open
    And "Alice" has started a thread titled "Before the restart"
    And "Alice" posts the message "This must survive" to the thread

  Scenario: An administrator restarts the backend and nothing is lost
    When the backend is restarted by an administrator
    Then "Alice"'s agent-events socket is closed by the server
    And the backend comes back with a new boot id
    And "Alice" reconnects the agent-events socket
    And "Alice"'s thread still holds every message
    When "Alice" asks the agent "Are you back?"
    Then "Alice" receives the five agent events in order

  @engine
  Scenario: The container engine stops and starts the backend and nothing is lost
    When the container engine stops and starts the backend
    Then the backend comes back with a new boot id
    And "Alice" reconnects the agent-events socket
    And "Alice"'s thread still holds every message
    When "Alice" asks the agent "Still there after the engine restart?"
    Then "Alice" receives the five agent events in order

  Scenario: A user who is not an administrator cannot restart the backend
    When "Alice" tries to restart the backend
    Then the request is refused with status 403
    And the backend has not restarted

  Scenario: Nobody can restart the backend without a token
    When someone tries to restart the backend without a token
    Then the request is refused with status 401
    And the backend has not restarted
