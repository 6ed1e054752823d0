-- A login (a refresh-token family) ends at an absolute time however often it is rotated:
-- every rotated token carries the family's end and never outlives it.
ALTER TABLE refresh_tokens ADD COLUMN family_expires_at TIMESTAMPTZ;
UPDATE refresh_tokens SET family_expires_at = created_at + interval '30 days' WHERE family_expires_at IS NULL;
ALTER TABLE refresh_tokens ALTER COLUMN family_expires_at SET NOT NULL;
