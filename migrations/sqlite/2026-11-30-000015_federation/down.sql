DROP TABLE upstream_flows;
DROP TABLE federated_identities;
