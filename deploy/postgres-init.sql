-- photoflow's records live beside Temporal's databases, in their own database and role.
CREATE ROLE photoflow LOGIN PASSWORD 'photoflow';
CREATE DATABASE photoflow OWNER photoflow;
