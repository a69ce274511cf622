-- Refusals are recorded one row per burst with a count; accounts can be
-- disabled. Filters of the audit view read by kind and by staff.
ALTER TABLE audit ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
CREATE INDEX audit_kind ON audit(kind, id);
CREATE INDEX audit_staff ON audit(staff_id, id);
ALTER TABLE staff ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
CREATE INDEX logins_staff ON logins(staff_id);
