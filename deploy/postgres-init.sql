-- Run once by the postgres image when its volume is empty (/docker-entrypoint-initdb.d), as
-- the POSTGRES_USER (keel), who therefore owns these databases. One database per app keeps
-- their tables apart: the apps may use the same table names (users, orders, ...).
CREATE DATABASE keel_fitness;
CREATE DATABASE keel_coach;
CREATE DATABASE keel_queue;
CREATE DATABASE keel_shop;
CREATE DATABASE keel_badge;
