-- Changes back to back with nothing between them (held, then on its way to the bank) in one
-- statement: each step is the same compare-and-set UPDATE (the transition trigger checks it
-- and writes its history row) followed by its outbox event, as `store.transition` does for
-- one step. One round trip instead of BEGIN, a statement per step and COMMIT; a statement is
-- atomic, so every step happens with its event, or none does. No row when the payment was not
-- in `p_expected`; a later step that cannot follow raises, which undoes the earlier ones.
CREATE FUNCTION move_payment_through(
    p_payment_id TEXT, p_expected TEXT, p_steps TEXT[],
    p_event_ids TEXT[], p_topics TEXT[], p_keys TEXT[], p_events TEXT[], p_headers TEXT[]
) RETURNS SETOF payments LANGUAGE plpgsql AS $$
DECLARE
    previous TEXT := p_expected;
    moved payments;
BEGIN
    FOR i IN 1 .. cardinality(p_steps) LOOP
        UPDATE payments SET state = p_steps[i] WHERE payment_id = p_payment_id AND state = previous
            RETURNING * INTO moved;
        IF NOT FOUND THEN
            IF i = 1 THEN
                RETURN;
            END IF;
            RAISE EXCEPTION 'payment % left % within one statement', p_payment_id, previous;
        END IF;
        INSERT INTO outbox (event_id, topic, event_key, event, headers)
            VALUES (p_event_ids[i], p_topics[i], p_keys[i], p_events[i]::jsonb, p_headers[i]::jsonb);
        previous := p_steps[i];
    END LOOP;
    RETURN NEXT moved;
END $$;
