-- How far the search index has caught up with the log, per index name. The indexer reads
-- committed entries after `last_id` (ids are the chain's positions: appends are serialized, so
-- they commit in id order with no gaps), sends them to Elasticsearch, then moves the cursor.
-- An entry is indexed only after its transaction committed; a failure leaves the cursor where
-- it was and the same entries are sent again (the document id is the event id).
CREATE TABLE IF NOT EXISTS search_index_cursor (
    index_name TEXT        PRIMARY KEY CHECK (index_name <> ''),
    last_id    BIGINT      NOT NULL CHECK (last_id >= 0),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
