"""Account Service: Customers, accounts, double-entry ledger and holds."""
