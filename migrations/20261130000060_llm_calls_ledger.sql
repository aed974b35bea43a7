-- The LLM gateway bills through the credit ledger (host/src/ledger): a call's credits are held as a
-- credit_reservations row keyed `llm_call:<call id>` before the provider is asked, settled with the real
-- cost after, released on failure, and released by the ledger's expiry sweep when the process died.
-- llm_calls keeps what the call was (provider, model, tokens, outcome, credits charged); the amount it
-- held lives with the reservation, so its own column and the index that summed it go.

DROP INDEX IF EXISTS llm_calls_pending;
ALTER TABLE llm_calls DROP COLUMN reserved_credits;
