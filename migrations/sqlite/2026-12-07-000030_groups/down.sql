ALTER TABLE clients DROP COLUMN allowed_groups;
DROP TABLE group_members;
DROP TABLE user_groups;
