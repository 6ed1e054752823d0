"""OFAC Service: Sanctions screening against the OFAC SDN list."""
