DROP TABLE login_names;
