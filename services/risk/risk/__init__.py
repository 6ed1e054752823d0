"""Risk Service: Risk decisions from rules as data, velocity, OFAC and KYC."""
