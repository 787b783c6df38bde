DROP INDEX login_names_skeleton;
ALTER TABLE login_names DROP COLUMN skeleton;
