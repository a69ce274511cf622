-- Administrators may read the audit and manage accounts; the first account is one.
ALTER TABLE staff ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;
UPDATE staff SET admin = 1 WHERE id = (SELECT MIN(id) FROM staff);
