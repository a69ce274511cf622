-- Roles: agents run their own sessions, supervisors also watch and take over
-- any session, administrators also read the audit and manage accounts. The
-- admin column stays, kept equal to role = 'admin'.
ALTER TABLE staff ADD COLUMN role TEXT NOT NULL DEFAULT 'agent';
UPDATE staff SET role = 'admin' WHERE admin = 1;
