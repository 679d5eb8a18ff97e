@health
Feature: Health and agent status
  Operators and load balancers ask the backend whether it is healthy, and prove
  a restart happened by its boot id.

  Scenario: The backend reports that it is healthy
    When the health endpoint is asked
    Then the backend reports "healthy" with a version, a boot id, a start time and an uptime

  Scenario: The backend reports the health of its dependencies
    When the detailed health endpoint is asked
    Then the database is reported "connected"

  Scenario: The boot id does not change without a restart
    When the health endpoint is asked
    And the health endpoint is asked again
    Then the boot id is the same both times
