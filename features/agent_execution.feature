@agents
Feature: Agent execution
  A user sends a message to the agent. The request is accepted at once and the
  agent reports its progress as five events on the user's agent-events socket.

  Background:
    Given a new user "Alice" has registered and logged in
    And "Alice" has the agent-events socket open

  Scenario: Executing the agent is accepted and reports five events in order
    When "Alice" asks the agent "How many words are in this sentence"
    Then the execution is accepted with status 202 and status "started"
    And "Alice" receives the five agent events in order
    And every event carries the run id, the thread id, its sequence number and a timestamp
    And each event carries the data of its kind
    And the agent's reply is in "Alice"'s thread
    And the run's status is "completed"

  Scenario: Only the owner receives a run's events
    Given a new user "Bob" has registered and logged in
    And "Bob" has the agent-events socket open
    When "Alice" asks the agent "This is private to Alice"
    Then "Alice" receives the five agent events in order
    And "Bob" receives no agent events

  Scenario: The legacy execute route still works for old frontends
    When "Alice" asks the agent "Hello from an old frontend" through the legacy route
    Then the execution is accepted with status 202 and status "started"
    And "Alice" receives the five agent events in order

  Scenario: The agent answers in an existing thread
    Given "Alice" has started a thread titled "Planning"
    When "Alice" asks the agent "Plan my week" in that thread
    Then "Alice" receives the five agent events in order
    And the agent's reply is in "Alice"'s thread

  Scenario: Another user's thread cannot be used
    Given a new user "Bob" has registered and logged in
    And "Bob" has started a thread titled "Bob's notes"
    When "Alice" tries to ask the agent "Let me in" in "Bob"'s thread
    Then the request is refused with status 404

  Scenario: An unknown agent is refused
    When "Alice" tries to ask the agent named "nonexistent" "Hello"
    Then the request is refused with status 422 and error code "unknown_agent"

  Scenario: The agents report their status
    When "Alice" asks for the agents' status
    Then the default agent is listed as available or busy
    And the circuit breaker is "closed"
