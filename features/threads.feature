@threads
Feature: Thread messages
  A conversation is a thread of messages that belongs to the user who started it.
  A message that was acknowledged is never lost.

  Background:
    Given a new user "Alice" has registered and logged in
    And "Alice" has started a thread titled "Groceries"

  Scenario: Messages are read back oldest first
    When "Alice" posts the message "Milk" to the thread
    And "Alice" posts the message "Bread" to the thread
    And "Alice" posts the message "Coffee" to the thread
    Then "Alice"'s thread still holds every message

  Scenario: A thread is private to its owner
    Given a new user "Bob" has registered and logged in
    When "Bob" tries to read "Alice"'s thread
    Then the request is refused with status 404
    When "Bob" tries to post the message "Hi" to "Alice"'s thread
    Then the request is refused with status 404

  Scenario Outline: Message sizes are checked
    When "Alice" tries to post a message of <size> characters to the thread
    Then the response status is <status>

    Examples:
      | size  | status |
      | 1     | 201    |
      | 16384 | 201    |
      | 0     | 422    |
      | 16385 | 422    |

  Scenario: A body over 64 KiB is refused
    When "Alice" tries to send a request body of 70000 bytes to the thread
    Then the request is refused with status 413

  Scenario: Malformed JSON is refused
    When "Alice" tries to send malformed JSON to the thread
    Then the request is refused with status 400
