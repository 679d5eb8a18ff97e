@contract
Feature: The frontend's endpoints exist
  A frontend breaks with a 404 when an endpoint it relies on is missing or moved.
  Every endpoint these scenarios use must be published and must answer.

  Scenario: Every endpoint the frontend relies on is listed in the API description
    When the API description is fetched
    Then it is an OpenAPI 3 document
    And it lists every endpoint the scenarios rely on

  Scenario: Every endpoint the frontend relies on answers something other than 404
    Given a new user "Alice" has registered and logged in
    Then every endpoint the scenarios rely on answers something other than 404 for "Alice"

  Scenario: The API documentation renders without the internet
    When the API documentation page is fetched
    Then it is an HTML page that describes the API
    And it loads nothing from another site
