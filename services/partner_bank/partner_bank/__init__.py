"""Partner Bank API: The simulated sponsor bank: the bank of record."""
