"""KYC Service: KYC records, tiers and limits."""
