@team
Feature: What our backend promises beyond the contract
  Our frontend shows each conversation under the title the agent gave it, so the
  title must be the start of the question, whoever asks.

  Scenario: The agent titles a new thread with the start of the question
    Given a new user "Dana" has registered and logged in
    When "Dana" asks the agent "Draft a reply to every customer who wrote in about the outage"
    Then "Dana"'s newest thread is titled "Draft a reply to every customer who wrot"
