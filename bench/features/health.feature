@bench
Feature: Engine benchmark
  One step, one request: what the load engine adds on top of a plain HTTP client.
  The step is the acceptance suite's own health step (features/health.feature).

  Scenario: The health endpoint answers
    When the health endpoint is asked
